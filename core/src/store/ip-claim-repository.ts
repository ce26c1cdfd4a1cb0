import type { Kysely, Selectable } from 'kysely';
import { InputError, NotFoundError, staleVersionError } from '../errors.js';
import { newId } from '../ids.js';
import type { IpClaim, IpClaimPhase, IpClaimSpec, IpClaimStatus } from '../ipam/model.js';
import type { EngineAdapter } from './database.js';
import { fromJson, toJson } from './json.js';
import type { Page } from './machine-repository.js';
import type { DatabaseSchema, IpClaimsTable } from './schema.js';

export interface IpClaimFilter {
  readonly pool?: string;
  readonly machineId?: string;
  readonly phase?: IpClaimPhase;
  readonly limit: number;
  readonly after?: string;
}

export class IpClaimRepository {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #adapter: EngineAdapter;

  constructor(db: Kysely<DatabaseSchema>, adapter: EngineAdapter) {
    this.#db = db;
    this.#adapter = adapter;
  }

  /**
   * The claim of this owner in this pool: the existing one, or a new `pending` one.
   * Idempotent and race-free (a unique constraint on pool and owner).
   */
  async ensure(spec: IpClaimSpec): Promise<{ claim: IpClaim; created: boolean }> {
    const existing = await this.findByOwner(spec.pool, spec.owner.key);
    if (existing) return { claim: existing, created: false };
    const now = new Date().toISOString();
    const id = newId();
    try {
      await this.#db
        .insertInto('ip_claims')
        .values({
          id,
          pool: spec.pool,
          owner_key: spec.owner.key,
          machine_id: spec.owner.machineId ?? null,
          spec: toJson(spec),
          phase: 'pending',
          address: null,
          status: toJson({ phase: 'pending' } satisfies IpClaimStatus),
          resource_version: 1,
          created_at: now,
          updated_at: now,
        })
        .execute();
    } catch (error) {
      if (this.#adapter.isForeignKeyViolation(error)) {
        throw new InputError(`IP pool ${spec.pool} does not exist`, [{ path: '/pool', message: `no IP pool named ${spec.pool}` }]);
      }
      if (!this.#adapter.isUniqueViolation(error)) throw error;
      // Another request made the same claim a moment ago: that one is ours too.
      const raced = await this.findByOwner(spec.pool, spec.owner.key);
      if (raced) return { claim: raced, created: false };
      throw error;
    }
    return { claim: await this.require(id), created: true };
  }

  async findByOwner(pool: string, ownerKey: string): Promise<IpClaim | null> {
    const row = await this.#db.selectFrom('ip_claims').selectAll().where('pool', '=', pool).where('owner_key', '=', ownerKey).executeTakeFirst();
    return row ? toClaim(row) : null;
  }

  async get(id: string): Promise<IpClaim | null> {
    const row = await this.#db.selectFrom('ip_claims').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toClaim(row) : null;
  }

  async require(id: string): Promise<IpClaim> {
    const claim = await this.get(id);
    if (!claim) throw new NotFoundError('IP claim', id);
    return claim;
  }

  async list(filter: IpClaimFilter): Promise<Page<IpClaim>> {
    let query = this.#db.selectFrom('ip_claims').selectAll().orderBy('id').limit(filter.limit + 1);
    if (filter.pool) query = query.where('pool', '=', filter.pool);
    if (filter.machineId) query = query.where('machine_id', '=', filter.machineId);
    if (filter.phase) query = query.where('phase', '=', filter.phase);
    if (filter.after) query = query.where('id', '>', filter.after);
    const rows = await query.execute();
    const items = rows.slice(0, filter.limit).map(toClaim);
    return { items, next: rows.length > filter.limit ? (items.at(-1)?.id ?? null) : null };
  }

  /** Records what the provider said; with `expectedVersion`, only over that version. */
  async setStatus(id: string, status: IpClaimStatus, expectedVersion?: number): Promise<IpClaim> {
    let query = this.#db
      .updateTable('ip_claims')
      .set((eb) => ({
        phase: status.phase,
        address: status.address ?? null,
        status: toJson(status),
        resource_version: eb('resource_version', '+', 1),
        updated_at: new Date().toISOString(),
      }))
      .where('id', '=', id);
    if (expectedVersion !== undefined) query = query.where('resource_version', '=', expectedVersion);
    const result = await query.executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      const current = await this.require(id);
      throw staleVersionError('IP claim', id, expectedVersion ?? current.resourceVersion, current.resourceVersion);
    }
    return this.require(id);
  }

  async delete(id: string): Promise<void> {
    await this.#db.deleteFrom('ip_claims').where('id', '=', id).execute();
  }
}

function toClaim(row: Selectable<IpClaimsTable>): IpClaim {
  const spec = fromJson<IpClaimSpec>(row.spec);
  // The column is the truth about the owning machine: folding machine records moves it.
  const { machineId: _stored, ...owner } = spec.owner;
  return {
    id: row.id,
    spec: { ...spec, owner: row.machine_id ? { ...owner, machineId: row.machine_id } : owner },
    status: fromJson<IpClaimStatus>(row.status),
    resourceVersion: Number(row.resource_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
