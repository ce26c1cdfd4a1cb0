import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { inventoryIndex } from '../inventory/inventory-index.js';
import type { HardwareInventory } from '../model/hardware.js';

/**
 * Core's schema, in order. Only types that mean the same on SQLite and PostgreSQL are
 * used (text, integer); a migration once released is never edited, only followed.
 */
export const coreMigrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('machines')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('hostname', 'text')
        .addColumn('phase', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('taints', 'text', (c) => c.notNull())
        .addColumn('conditions', 'text', (c) => c.notNull())
        .addColumn('hardware', 'text', (c) => c.notNull())
        .addColumn('boot_from_disk', 'text', (c) => c.notNull())
        .addColumn('netboot', 'text', (c) => c.notNull())
        .addColumn('resource_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text')
        .execute();
      await db.schema.createIndex('machines_phase').on('machines').column('phase').execute();
      await db.schema.createIndex('machines_hostname').on('machines').column('hostname').execute();

      // One row per key; the primary key is what makes a MAC or serial belong to one machine.
      await db.schema
        .createTable('machine_identities')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('machine_identities_pk', ['kind', 'value'])
        .execute();
      await db.schema.createIndex('machine_identities_machine').on('machine_identities').column('machine_id').execute();

      await db.schema
        .createTable('machine_labels')
        .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('machine_labels_pk', ['machine_id', 'key'])
        .execute();
      await db.schema.createIndex('machine_labels_key_value').on('machine_labels').columns(['key', 'value']).execute();

      await db.schema
        .createTable('machine_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id').onDelete('cascade'))
        .addColumn('transition', 'text', (c) => c.notNull())
        .addColumn('from_phase', 'text', (c) => c.notNull())
        .addColumn('to_phase', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('machine_events_machine').on('machine_events').columns(['machine_id', 'id']).execute();

      await db.schema
        .createTable('boot_profiles')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('resource_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('boot_intents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // No cascade: a profile in use cannot be deleted out from under its intents.
        .addColumn('profile', 'text', (c) => c.notNull().references('boot_profiles.name'))
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('consumed_at', 'text')
        .addColumn('resource_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('boot_intents_profile').on('boot_intents').column('profile').execute();

      await db.schema
        .createTable('builds')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id').onDelete('cascade'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('artifacts', 'text')
        .addColumn('error', 'text')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('builds_machine').on('builds').columns(['machine_id', 'created_at']).execute();
      await db.schema.createIndex('builds_status').on('builds').columns(['status', 'created_at']).execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['builds', 'boot_intents', 'boot_profiles', 'machine_events', 'machine_labels', 'machine_identities', 'machines']) {
        await sql`drop table if exists ${sql.table(table)}`.execute(db);
      }
    },
  },
};

coreMigrations['0002_inventory_index'] = {
  async up(db: Kysely<unknown>) {
    // Filter columns derived from the inventory JSON, so hardware queries stay plain SQL on both engines.
    await db.schema.alterTable('machines').addColumn('arch', 'text').execute();
    await db.schema.alterTable('machines').addColumn('memory_bytes', 'bigint').execute();
    await db.schema.alterTable('machines').addColumn('cpu_threads', 'integer').execute();
    await db.schema.alterTable('machines').addColumn('disk_types', 'text', (c) => c.notNull().defaultTo('')).execute();
    await db.schema.alterTable('machines').addColumn('gpu_count', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.createIndex('machines_arch').on('machines').column('arch').execute();
    const rows = await sql<{ id: string; hardware: string }>`select id, hardware from machines`.execute(db);
    for (const row of rows.rows) {
      const index = inventoryIndex(JSON.parse(row.hardware) as HardwareInventory);
      await sql`update machines set arch = ${index.arch}, memory_bytes = ${index.memoryBytes}, cpu_threads = ${index.cpuThreads},
        disk_types = ${index.diskTypes}, gpu_count = ${index.gpuCount} where id = ${row.id}`.execute(db);
    }
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('machines_arch').execute();
    for (const column of ['arch', 'memory_bytes', 'cpu_threads', 'disk_types', 'gpu_count']) {
      await db.schema.alterTable('machines').dropColumn(column).execute();
    }
  },
};

coreMigrations['0003_inventory_reported_at'] = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('machines').addColumn('inventory_reported_at', 'text').execute();
    // Machines enrolled before this column existed last reported when they were last updated.
    await sql`update machines set inventory_reported_at = updated_at where hardware <> '{}'`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('machines').dropColumn('inventory_reported_at').execute();
  },
};

coreMigrations['0004_ipam'] = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('ip_pools')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('resource_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('ip_claims')
      .addColumn('id', 'text', (c) => c.primaryKey())
      // No cascade: a pool with claims cannot be deleted out from under them.
      .addColumn('pool', 'text', (c) => c.notNull().references('ip_pools.name'))
      .addColumn('owner_key', 'text', (c) => c.notNull())
      .addColumn('machine_id', 'text')
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('phase', 'text', (c) => c.notNull())
      .addColumn('address', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('resource_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      // Asking twice for the same owner in the same pool is the same claim.
      .addUniqueConstraint('ip_claims_pool_owner', ['pool', 'owner_key'])
      .execute();
    await db.schema.createIndex('ip_claims_machine').on('ip_claims').column('machine_id').execute();
    await db.schema.createIndex('ip_claims_phase').on('ip_claims').column('phase').execute();
    // The built-in IPAM's ledger: the primary key is what keeps two processes from handing out one address.
    await db.schema
      .createTable('ip_allocations')
      .addColumn('pool', 'text', (c) => c.notNull().references('ip_pools.name'))
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('claim_id', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('ip_allocations_pk', ['pool', 'address'])
      .execute();
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['ip_allocations', 'ip_claims', 'ip_pools']) await sql`drop table if exists ${sql.table(table)}`.execute(db);
  },
};

coreMigrations['0005_boot_timeline'] = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('boot_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id').onDelete('cascade'))
      .addColumn('step', 'text', (c) => c.notNull())
      .addColumn('detail', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('boot_events_machine').on('boot_events').columns(['machine_id', 'id']).execute();
  },
  async down(db: Kysely<unknown>) {
    await sql`drop table if exists boot_events`.execute(db);
  },
};

export const coreMigrationProvider: MigrationProvider = {
  getMigrations: async () => coreMigrations,
};
