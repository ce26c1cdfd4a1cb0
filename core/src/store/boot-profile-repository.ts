import type { Kysely, Selectable } from 'kysely';
import type { BootProfile, BootProfileSpec } from '../boot/model.js';
import { ConflictError, NotFoundError, staleVersionError } from '../errors.js';
import type { EngineAdapter } from './database.js';
import { fromJson, toJson } from './json.js';
import type { BootProfilesTable, DatabaseSchema } from './schema.js';

export class BootProfileRepository {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #adapter: EngineAdapter;

  constructor(db: Kysely<DatabaseSchema>, adapter: EngineAdapter) {
    this.#db = db;
    this.#adapter = adapter;
  }

  async create(name: string, spec: BootProfileSpec): Promise<BootProfile> {
    const now = new Date().toISOString();
    try {
      await this.#db
        .insertInto('boot_profiles')
        .values({ name, kind: spec.kind, spec: toJson(spec), resource_version: 1, created_at: now, updated_at: now })
        .execute();
    } catch (error) {
      if (this.#adapter.isUniqueViolation(error)) throw new ConflictError(`boot profile ${name} already exists`, { name });
      throw error;
    }
    return this.require(name);
  }

  async get(name: string): Promise<BootProfile | null> {
    const row = await this.#db.selectFrom('boot_profiles').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toProfile(row) : null;
  }

  async require(name: string): Promise<BootProfile> {
    const profile = await this.get(name);
    if (!profile) throw new NotFoundError('boot profile', name);
    return profile;
  }

  async list(): Promise<BootProfile[]> {
    const rows = await this.#db.selectFrom('boot_profiles').selectAll().orderBy('name').execute();
    return rows.map(toProfile);
  }

  async replace(name: string, spec: BootProfileSpec, expectedVersion?: number): Promise<BootProfile> {
    const current = await this.require(name);
    const version = expectedVersion ?? current.resourceVersion;
    const result = await this.#db
      .updateTable('boot_profiles')
      .set({ kind: spec.kind, spec: toJson(spec), resource_version: version + 1, updated_at: new Date().toISOString() })
      .where('name', '=', name)
      .where('resource_version', '=', version)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      throw staleVersionError('boot profile', name, version, current.resourceVersion);
    }
    return this.require(name);
  }

  /** Refuses while an intent still names the profile. */
  async delete(name: string): Promise<void> {
    await this.require(name);
    const user = await this.#db.selectFrom('boot_intents').select('id').where('profile', '=', name).executeTakeFirst();
    if (user) throw new ConflictError(`boot profile ${name} is used by boot intent ${user.id}`, { name, intentId: user.id });
    await this.#db.deleteFrom('boot_profiles').where('name', '=', name).execute();
  }
}

function toProfile(row: Selectable<BootProfilesTable>): BootProfile {
  return {
    name: row.name,
    spec: fromJson<BootProfileSpec>(row.spec),
    resourceVersion: Number(row.resource_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
