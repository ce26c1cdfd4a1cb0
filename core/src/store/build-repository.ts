import type { Kysely, Selectable } from 'kysely';
import { NotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import type { Build, BuildArtifacts, BuildStatus } from '../model/build.js';
import { fromJson, toJson } from './json.js';
import type { BuildsTable, DatabaseSchema } from './schema.js';

export interface BuildResult {
  readonly status: Extract<BuildStatus, 'succeeded' | 'failed' | 'cancelled'>;
  readonly artifacts?: BuildArtifacts;
  readonly error?: string;
}

export class BuildRepository {
  readonly #db: Kysely<DatabaseSchema>;

  constructor(db: Kysely<DatabaseSchema>) {
    this.#db = db;
  }

  /** Queues a build; it stays `pending` until a builder takes it. */
  async create(machineId: string, spec: Record<string, unknown>): Promise<Build> {
    const now = new Date().toISOString();
    const id = newId();
    await this.#db
      .insertInto('builds')
      .values({
        id,
        machine_id: machineId,
        status: 'pending',
        spec: toJson(spec),
        artifacts: null,
        error: null,
        lease_owner: null,
        lease_expires_at: null,
        created_at: now,
        updated_at: now,
        finished_at: null,
      })
      .execute();
    return this.require(id);
  }

  async get(id: string): Promise<Build | null> {
    const row = await this.#db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toBuild(row) : null;
  }

  async require(id: string): Promise<Build> {
    const build = await this.get(id);
    if (!build) throw new NotFoundError('build', id);
    return build;
  }

  async listForMachine(machineId: string): Promise<Build[]> {
    const rows = await this.#db.selectFrom('builds').selectAll().where('machine_id', '=', machineId).orderBy('id', 'desc').execute();
    return rows.map(toBuild);
  }

  /** The newest build that produced artifacts, which is what a nixos profile boots. */
  async latestSucceeded(machineId: string): Promise<Build | null> {
    const row = await this.#db
      .selectFrom('builds')
      .selectAll()
      .where('machine_id', '=', machineId)
      .where('status', '=', 'succeeded')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toBuild(row) : null;
  }

  async finish(id: string, result: BuildResult): Promise<Build> {
    const now = new Date().toISOString();
    await this.#db
      .updateTable('builds')
      .set({
        status: result.status,
        artifacts: result.artifacts ? toJson(result.artifacts) : null,
        error: result.error ?? null,
        lease_owner: null,
        lease_expires_at: null,
        updated_at: now,
        finished_at: now,
      })
      .where('id', '=', id)
      .execute();
    return this.require(id);
  }
}

function toBuild(row: Selectable<BuildsTable>): Build {
  return {
    id: row.id,
    machineId: row.machine_id,
    status: row.status as BuildStatus,
    spec: fromJson<Record<string, unknown>>(row.spec),
    artifacts: row.artifacts ? fromJson<BuildArtifacts>(row.artifacts) : null,
    error: row.error,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}
