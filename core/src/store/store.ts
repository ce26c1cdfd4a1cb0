import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { MetalplaneError } from '../errors.js';
import { BootEventRepository } from './boot-event-repository.js';
import { BootIntentRepository } from './boot-intent-repository.js';
import { BootProfileRepository } from './boot-profile-repository.js';
import { BuildRepository } from './build-repository.js';
import { IpAllocationRepository } from './ip-allocation-repository.js';
import { IpClaimRepository } from './ip-claim-repository.js';
import { IpPoolRepository } from './ip-pool-repository.js';
import type { StoreConfig } from './config.js';
import { openDatabase, type EngineAdapter } from './database.js';
import { MachineEventRepository } from './machine-event-repository.js';
import { MachineRepository } from './machine-repository.js';
import { coreMigrations } from './migrations.js';
import type { DatabaseSchema } from './schema.js';

/** The repositories, bound either to the database or to one transaction. */
export interface Repositories {
  readonly machines: MachineRepository;
  readonly machineEvents: MachineEventRepository;
  readonly bootProfiles: BootProfileRepository;
  readonly bootIntents: BootIntentRepository;
  readonly builds: BuildRepository;
  readonly ipPools: IpPoolRepository;
  readonly ipClaims: IpClaimRepository;
  readonly ipAllocations: IpAllocationRepository;
  readonly bootEvents: BootEventRepository;
}

function repositories(db: Kysely<DatabaseSchema>, adapter: EngineAdapter): Repositories {
  return {
    machines: new MachineRepository(db, adapter),
    machineEvents: new MachineEventRepository(db),
    bootProfiles: new BootProfileRepository(db, adapter),
    bootIntents: new BootIntentRepository(db, adapter),
    builds: new BuildRepository(db),
    ipPools: new IpPoolRepository(db, adapter),
    ipClaims: new IpClaimRepository(db, adapter),
    ipAllocations: new IpAllocationRepository(db),
    bootEvents: new BootEventRepository(db),
  };
}

/**
 * The persistence of core: one kysely instance over SQLite or PostgreSQL, its migrations
 * and its repositories.
 */
export class Store implements Repositories {
  readonly machines: MachineRepository;
  readonly machineEvents: MachineEventRepository;
  readonly bootProfiles: BootProfileRepository;
  readonly bootIntents: BootIntentRepository;
  readonly builds: BuildRepository;
  readonly ipPools: IpPoolRepository;
  readonly ipClaims: IpClaimRepository;
  readonly ipAllocations: IpAllocationRepository;
  readonly bootEvents: BootEventRepository;
  readonly engine: StoreConfig['driver'];
  readonly #db: Kysely<DatabaseSchema>;
  readonly #adapter: EngineAdapter;

  private constructor(db: Kysely<DatabaseSchema>, adapter: EngineAdapter) {
    this.#db = db;
    this.#adapter = adapter;
    this.engine = adapter.engine;
    ({
      machines: this.machines,
      machineEvents: this.machineEvents,
      bootProfiles: this.bootProfiles,
      bootIntents: this.bootIntents,
      builds: this.builds,
      ipPools: this.ipPools,
      ipClaims: this.ipClaims,
      ipAllocations: this.ipAllocations,
      bootEvents: this.bootEvents,
    } = repositories(db, adapter));
  }

  /** Opens the database and brings core's schema up to date (idempotent; safe from several processes). */
  static async open(config: StoreConfig): Promise<Store> {
    const { db, adapter } = openDatabase(config);
    const store = new Store(db, adapter);
    try {
      await store.migrate('metalplane', coreMigrations);
    } catch (error) {
      await db.destroy();
      throw error;
    }
    return store;
  }

  /**
   * Applies pending migrations of one owner (core, or a plugin with tables of its own),
   * each owner in its own bookkeeping table. Returns the names applied now.
   */
  async migrate(owner: string, migrations: Record<string, Migration>): Promise<string[]> {
    const safeOwner = owner.replace(/[^a-z0-9]/g, '_');
    const migrator = new Migrator({
      db: this.#db,
      provider: { getMigrations: async () => migrations },
      migrationTableName: `${safeOwner}_migrations`,
      migrationLockTableName: `${safeOwner}_migrations_lock`,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      throw new MetalplaneError('migration_failed', `migration ${failed ?? '(unknown)'} of ${owner} failed: ${String(error)}`, { owner, migration: failed }, { cause: error });
    }
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  /** Runs `work` in one database transaction: everything it writes commits or none of it. */
  async transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute((trx) => work(repositories(trx, this.#adapter)));
  }

  /** Resolves when the database answers a trivial query. */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  /** The kysely instance, for plugins that own tables (their own migrations via `migrate`). */
  get db(): Kysely<DatabaseSchema> {
    return this.#db;
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}
