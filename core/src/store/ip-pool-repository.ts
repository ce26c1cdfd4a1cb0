import type { Kysely, Selectable } from 'kysely';
import { ConflictError, NotFoundError, staleVersionError } from '../errors.js';
import { BUILTIN_IPAM, type IpPool, type IpPoolSpec } from '../ipam/model.js';
import type { EngineAdapter } from './database.js';
import { fromJson, toJson } from './json.js';
import type { DatabaseSchema, IpPoolsTable } from './schema.js';

export class IpPoolRepository {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #adapter: EngineAdapter;

  constructor(db: Kysely<DatabaseSchema>, adapter: EngineAdapter) {
    this.#db = db;
    this.#adapter = adapter;
  }

  async create(name: string, spec: IpPoolSpec): Promise<IpPool> {
    const now = new Date().toISOString();
    try {
      await this.#db
        .insertInto('ip_pools')
        .values({ name, provider: spec.provider ?? BUILTIN_IPAM, spec: toJson(spec), resource_version: 1, created_at: now, updated_at: now })
        .execute();
    } catch (error) {
      if (this.#adapter.isUniqueViolation(error)) throw new ConflictError(`IP pool ${name} already exists`, { name });
      throw error;
    }
    return this.require(name);
  }

  async get(name: string): Promise<IpPool | null> {
    const row = await this.#db.selectFrom('ip_pools').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toPool(row) : null;
  }

  async require(name: string): Promise<IpPool> {
    const pool = await this.get(name);
    if (!pool) throw new NotFoundError('IP pool', name);
    return pool;
  }

  async list(): Promise<IpPool[]> {
    return (await this.#db.selectFrom('ip_pools').selectAll().orderBy('name').execute()).map(toPool);
  }

  /** Replaces the spec. The prefix and provider of a pool with claims cannot change under them. */
  async replace(name: string, spec: IpPoolSpec, expectedVersion?: number): Promise<IpPool> {
    const current = await this.require(name);
    const claimed = await this.#db.selectFrom('ip_claims').select('id').where('pool', '=', name).executeTakeFirst();
    if (claimed && (spec.cidr !== current.spec.cidr || (spec.provider ?? BUILTIN_IPAM) !== (current.spec.provider ?? BUILTIN_IPAM))) {
      throw new ConflictError(`IP pool ${name} has claims: its cidr and provider cannot change`, { name, claimId: claimed.id });
    }
    const version = expectedVersion ?? current.resourceVersion;
    const result = await this.#db
      .updateTable('ip_pools')
      .set({ spec: toJson(spec), provider: spec.provider ?? BUILTIN_IPAM, resource_version: version + 1, updated_at: new Date().toISOString() })
      .where('name', '=', name)
      .where('resource_version', '=', version)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw staleVersionError('IP pool', name, version, current.resourceVersion);
    return this.require(name);
  }

  /** Refuses while any claim (released ones included) names the pool. */
  async delete(name: string): Promise<void> {
    await this.require(name);
    const claim = await this.#db.selectFrom('ip_claims').select('id').where('pool', '=', name).executeTakeFirst();
    if (claim) throw new ConflictError(`IP pool ${name} has claims (e.g. ${claim.id}); delete them first`, { name, claimId: claim.id });
    await this.#db.deleteFrom('ip_pools').where('name', '=', name).execute();
  }
}

function toPool(row: Selectable<IpPoolsTable>): IpPool {
  return {
    name: row.name,
    spec: fromJson<IpPoolSpec>(row.spec),
    resourceVersion: Number(row.resource_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
