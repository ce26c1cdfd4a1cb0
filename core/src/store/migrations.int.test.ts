import { Migrator, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '../testing/databases.js';
import { openDatabase } from './database.js';
import { coreMigrations } from './migrations.js';
import { Store } from './store.js';

describe.each(testDatabaseNames())('migration 0002_inventory_index (%s)', (engine) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('fills the filter columns of machines enrolled before it', async () => {
    const old = openDatabase(db.config);
    const migrator = new Migrator({
      db: old.db,
      provider: { getMigrations: async () => coreMigrations },
      migrationTableName: 'metalplane_migrations',
      migrationLockTableName: 'metalplane_migrations_lock',
    });
    expect((await migrator.migrateTo('0001_initial')).error).toBeUndefined();
    const hardware = JSON.stringify({ cpu: { architecture: 'aarch64', threads: 4 }, memory: { totalBytes: 8 * 2 ** 30 }, disks: [{ type: 'nvme' }] });
    const now = new Date().toISOString();
    await sql`insert into machines (id, hostname, phase, roles, taints, conditions, hardware, boot_from_disk, netboot, resource_version, created_at, updated_at)
      values ('m-old', null, 'enrolled', '[]', '[]', '[]', ${hardware}, 'exit', '{"attemptsSinceProgress":0}', 1, ${now}, ${now})`.execute(old.db);
    await old.db.destroy();

    const store = await Store.open(db.config);
    try {
      const found = await store.machines.list({ limit: 10, arch: 'arm64', minMemoryBytes: 8 * 2 ** 30, minCpuThreads: 4, diskType: 'nvme', gpu: false });
      expect(found.items.map((m) => m.id)).toEqual(['m-old']);
      expect((await store.machines.list({ limit: 10, arch: 'amd64' })).items).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
