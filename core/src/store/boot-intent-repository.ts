import type { Kysely, Selectable } from 'kysely';
import type { BootIntent, BootIntentSpec } from '../boot/model.js';
import { InputError, NotFoundError, staleVersionError } from '../errors.js';
import { newId } from '../ids.js';
import type { EngineAdapter } from './database.js';
import { fromJson, toJson } from './json.js';
import type { BootIntentsTable, DatabaseSchema } from './schema.js';

export class BootIntentRepository {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #adapter: EngineAdapter;

  constructor(db: Kysely<DatabaseSchema>, adapter: EngineAdapter) {
    this.#db = db;
    this.#adapter = adapter;
  }

  async create(spec: BootIntentSpec): Promise<BootIntent> {
    const now = new Date().toISOString();
    const id = newId();
    await this.#write(spec, () =>
      this.#db
        .insertInto('boot_intents')
        .values({ id, profile: spec.profile, spec: toJson(spec), consumed_at: null, resource_version: 1, created_at: now, updated_at: now })
        .execute(),
    );
    return this.require(id);
  }

  async get(id: string): Promise<BootIntent | null> {
    const row = await this.#db.selectFrom('boot_intents').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toIntent(row) : null;
  }

  async require(id: string): Promise<BootIntent> {
    const intent = await this.get(id);
    if (!intent) throw new NotFoundError('boot intent', id);
    return intent;
  }

  /** All intents, oldest first. Intents are few (one per machine or group), so no paging. */
  async list(): Promise<BootIntent[]> {
    const rows = await this.#db.selectFrom('boot_intents').selectAll().orderBy('id').execute();
    return rows.map(toIntent);
  }

  /** Replaces the spec; attempts and consumption start over, as for a new intent. */
  async replace(id: string, spec: BootIntentSpec, expectedVersion?: number): Promise<BootIntent> {
    const current = await this.require(id);
    const version = expectedVersion ?? current.resourceVersion;
    const result = await this.#write(spec, () =>
      this.#db
        .updateTable('boot_intents')
        .set({
          profile: spec.profile,
          spec: toJson(spec),
          attempts: 0,
          consumed_at: null,
          resource_version: version + 1,
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', id)
        .where('resource_version', '=', version)
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) {
      throw staleVersionError('boot intent', id, version, current.resourceVersion);
    }
    return this.require(id);
  }

  /** Counts one netboot served under the intent. */
  async recordAttempt(id: string): Promise<void> {
    await this.#db
      .updateTable('boot_intents')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), updated_at: new Date().toISOString() }))
      .where('id', '=', id)
      .execute();
  }

  /** Marks the intent fulfilled: the installed OS reported success. Idempotent. */
  async consume(id: string, at: Date = new Date()): Promise<BootIntent> {
    await this.require(id);
    await this.#db
      .updateTable('boot_intents')
      .set((eb) => ({ consumed_at: at.toISOString(), resource_version: eb('resource_version', '+', 1), updated_at: at.toISOString() }))
      .where('id', '=', id)
      .where('consumed_at', 'is', null)
      .execute();
    return this.require(id);
  }

  async delete(id: string): Promise<void> {
    await this.require(id);
    await this.#db.deleteFrom('boot_intents').where('id', '=', id).execute();
  }

  async #write<T>(spec: BootIntentSpec, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (this.#adapter.isForeignKeyViolation(error)) {
        throw new InputError(`boot profile ${spec.profile} does not exist`, [
          { path: '/profile', message: `no boot profile named ${spec.profile}` },
        ]);
      }
      throw error;
    }
  }
}

function toIntent(row: Selectable<BootIntentsTable>): BootIntent {
  return {
    id: row.id,
    spec: fromJson<BootIntentSpec>(row.spec),
    attempts: Number(row.attempts),
    consumedAt: row.consumed_at,
    resourceVersion: Number(row.resource_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
