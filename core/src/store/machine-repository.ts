import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import { ConflictError, NotFoundError, staleVersionError } from '../errors.js';
import { newId } from '../ids.js';
import type { MachinePhase } from '../lifecycle/phases.js';
import type { DiskType, HardwareInventory } from '../model/hardware.js';
import { inventoryIndex, normalizeArch } from '../inventory/inventory-index.js';
import type { IpClaimSpec, IpClaimStatus } from '../ipam/model.js';
import {
  identityKeyString,
  type BootFromDiskMethod,
  type Condition,
  type IdentityKey,
  type Machine,
  type MachineAddress,
  type MachineRole,
  type MachineSpec,
  type NetbootState,
  type Taint,
} from '../model/machine.js';
import type { EngineAdapter } from './database.js';
import { fromJson, toJson } from './json.js';
import type { DatabaseSchema, MachinesTable } from './schema.js';

export interface NewMachine extends MachineSpec {
  readonly identity: readonly IdentityKey[];
  readonly hardware?: HardwareInventory;
  readonly phase?: MachinePhase;
  readonly lastSeenAt?: string;
}

/** Observed state that enrollment and plugins write, beside the operator's spec. */
export interface MachineUpdate extends Omit<MachineSpec, 'hostname'> {
  /** A string sets it, null clears it, undefined keeps it. */
  readonly hostname?: string | null;
  readonly hardware?: HardwareInventory;
  readonly conditions?: readonly Condition[];
  readonly netboot?: NetbootState;
  /** Keys to add; existing keys are kept. */
  readonly addIdentity?: readonly IdentityKey[];
}

export interface MachineListFilter {
  readonly phase?: MachinePhase;
  /** `amd64`, `arm64`, ... (`x86_64` and `aarch64` are accepted too). */
  readonly arch?: string;
  readonly minMemoryBytes?: number;
  readonly minCpuThreads?: number;
  /** Machines with at least one disk of this type. */
  readonly diskType?: DiskType;
  /** true: with a GPU; false: without. */
  readonly gpu?: boolean;
  /** Every label must match exactly. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly mac?: string;
  readonly limit: number;
  /** The id of the last machine of the previous page. */
  readonly after?: string;
}

export interface Page<T> {
  readonly items: T[];
  /** Pass as `after` to get the next page; null on the last page. */
  readonly next: string | null;
}

type Executor = Kysely<DatabaseSchema>;

export class MachineRepository {
  readonly #db: Executor;
  readonly #adapter: EngineAdapter;

  constructor(db: Executor, adapter: EngineAdapter) {
    this.#db = db;
    this.#adapter = adapter;
  }

  /** Creates the machine with its keys and labels, all or nothing. */
  async create(input: NewMachine): Promise<Machine> {
    return this.#atomically((repository) => repository.#create(input));
  }

  async #create(input: NewMachine): Promise<Machine> {
    const now = new Date().toISOString();
    const id = newId();
    const row: Insertable<MachinesTable> = {
      id,
      hostname: input.hostname ?? null,
      phase: input.phase ?? 'discovered',
      roles: toJson(input.roles ?? []),
      taints: toJson(input.taints ?? []),
      conditions: toJson([]),
      hardware: toJson(input.hardware ?? {}),
      boot_from_disk: input.bootFromDisk ?? 'exit',
      netboot: toJson({ attemptsSinceProgress: 0 } satisfies NetbootState),
      resource_version: 1,
      created_at: now,
      updated_at: now,
      last_seen_at: input.lastSeenAt ?? null,
      inventory_reported_at: input.hardware ? now : null,
      ...indexColumns(input.hardware ?? {}),
    };
    await this.#db.insertInto('machines').values(row).execute();
    await this.#insertIdentity(id, input.identity, now);
    await this.#replaceLabels(id, input.labels ?? {});
    return this.require(id);
  }

  async get(id: string): Promise<Machine | null> {
    const row = await this.#db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const [machine] = await this.#hydrate([row]);
    return machine ?? null;
  }

  async require(id: string): Promise<Machine> {
    const machine = await this.get(id);
    if (!machine) throw new NotFoundError('machine', id);
    return machine;
  }

  /** Every machine that holds at least one of the keys, oldest first. */
  async findByIdentity(keys: readonly IdentityKey[]): Promise<Machine[]> {
    if (keys.length === 0) return [];
    const rows = await this.#db
      .selectFrom('machine_identities')
      .select('machine_id')
      .distinct()
      .where((eb) => eb.or(keys.map((k) => eb.and([eb('kind', '=', k.kind), eb('value', '=', k.value)]))))
      .execute();
    const ids = rows.map((r) => r.machine_id).sort();
    if (ids.length === 0) return [];
    const machines = await this.#db.selectFrom('machines').selectAll().where('id', 'in', ids).orderBy('id').execute();
    return this.#hydrate(machines);
  }

  async list(filter: MachineListFilter): Promise<Page<Machine>> {
    let query = this.#db.selectFrom('machines').selectAll().orderBy('id').limit(filter.limit + 1);
    if (filter.phase) query = query.where('phase', '=', filter.phase);
    if (filter.arch) query = query.where('arch', '=', normalizeArch(filter.arch));
    if (filter.minMemoryBytes !== undefined) query = query.where('memory_bytes', '>=', filter.minMemoryBytes);
    if (filter.minCpuThreads !== undefined) query = query.where('cpu_threads', '>=', filter.minCpuThreads);
    if (filter.diskType) query = query.where('disk_types', 'like', `%,${filter.diskType},%`);
    if (filter.gpu !== undefined) query = query.where('gpu_count', filter.gpu ? '>' : '=', 0);
    if (filter.after) query = query.where('id', '>', filter.after);
    if (filter.mac) {
      const mac = filter.mac;
      query = query.where('id', 'in', (eb) =>
        eb.selectFrom('machine_identities').select('machine_id').where('kind', '=', 'mac').where('value', '=', mac),
      );
    }
    for (const [key, value] of Object.entries(filter.labels ?? {})) {
      query = query.where('id', 'in', (eb) =>
        eb.selectFrom('machine_labels').select('machine_id').where('key', '=', key).where('value', '=', value),
      );
    }
    const rows = await query.execute();
    const page = rows.slice(0, filter.limit);
    const items = await this.#hydrate(page);
    return { items, next: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null };
  }

  /**
   * Writes `update` if the stored resource version is `expectedVersion` (when given),
   * and bumps the version. A stale version is a ConflictError: the caller re-reads.
   */
  async update(id: string, update: MachineUpdate, expectedVersion?: number): Promise<Machine> {
    return this.#atomically((repository) => repository.#update(id, update, expectedVersion));
  }

  async #update(id: string, update: MachineUpdate, expectedVersion?: number): Promise<Machine> {
    const now = new Date().toISOString();
    // Only the fields given are written, so a writer never puts back a stale copy of a
    // field it did not mean to change; the version check is for callers that read first.
    const changes: Updateable<MachinesTable> = {
      updated_at: now,
      ...(update.hostname !== undefined ? { hostname: update.hostname } : {}),
      ...(update.roles ? { roles: toJson(update.roles) } : {}),
      ...(update.taints ? { taints: toJson(update.taints) } : {}),
      ...(update.conditions ? { conditions: toJson(update.conditions) } : {}),
      ...(update.hardware ? { hardware: toJson(update.hardware), inventory_reported_at: now, ...indexColumns(update.hardware) } : {}),
      ...(update.bootFromDisk ? { boot_from_disk: update.bootFromDisk } : {}),
      ...(update.netboot ? { netboot: toJson(update.netboot) } : {}),
    };
    let query = this.#db
      .updateTable('machines')
      .set((eb) => ({ ...changes, resource_version: eb('resource_version', '+', 1) }))
      .where('id', '=', id);
    if (expectedVersion !== undefined) query = query.where('resource_version', '=', expectedVersion);
    const result = await query.executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      const current = await this.require(id);
      throw staleVersionError('machine', id, expectedVersion ?? current.resourceVersion, current.resourceVersion);
    }
    if (update.labels) await this.#replaceLabels(id, update.labels);
    if (update.addIdentity) await this.#insertIdentity(id, update.addIdentity, now);
    return this.require(id);
  }

  /** Drops identity keys of a machine (e.g. an SMBIOS UUID a new motherboard replaced). */
  async removeIdentity(id: string, keys: readonly IdentityKey[]): Promise<void> {
    for (const key of keys) {
      await this.#db
        .deleteFrom('machine_identities')
        .where('machine_id', '=', id)
        .where('kind', '=', key.kind)
        .where('value', '=', key.value)
        .execute();
    }
  }

  /**
   * Folds other records of the same machine into `survivorId`: their identity keys,
   * lifecycle events and IP claims move over, then the records are deleted. Used for records DHCP made
   * from single MACs before the machine enrolled.
   */
  async absorb(survivorId: string, absorbedIds: readonly string[]): Promise<void> {
    if (absorbedIds.length === 0) return;
    await this.#atomically(async (repository) => {
      const db = repository.#db;
      await db.updateTable('machine_identities').set({ machine_id: survivorId }).where('machine_id', 'in', absorbedIds).execute();
      await db.updateTable('machine_events').set({ machine_id: survivorId }).where('machine_id', 'in', absorbedIds).execute();
      await db.updateTable('ip_claims').set({ machine_id: survivorId }).where('machine_id', 'in', absorbedIds).execute();
      await db.deleteFrom('machines').where('id', 'in', absorbedIds).execute();
    });
  }

  /**
   * Moves a machine to `phase`. Only the lifecycle's `transition()` calls this: it checks
   * the transition table and writes the audit row in the same transaction.
   */
  async writePhase(id: string, phase: MachinePhase, expectedVersion: number, netboot?: NetbootState): Promise<void> {
    const result = await this.#db
      .updateTable('machines')
      .set({
        phase,
        resource_version: expectedVersion + 1,
        updated_at: new Date().toISOString(),
        ...(netboot ? { netboot: toJson(netboot) } : {}),
      })
      .where('id', '=', id)
      .where('resource_version', '=', expectedVersion)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      const current = await this.require(id);
      throw staleVersionError('machine', id, expectedVersion, current.resourceVersion);
    }
  }

  /** Records contact; does not bump the resource version, so it never races an operator's edit. */
  async touch(id: string, at: Date = new Date()): Promise<void> {
    await this.#db.updateTable('machines').set({ last_seen_at: at.toISOString() }).where('id', '=', id).execute();
  }

  /** A write of several rows (machine, keys, labels) must not stay half done when a key is taken. */
  async #atomically<T>(work: (repository: MachineRepository) => Promise<T>): Promise<T> {
    if (this.#db.isTransaction) return work(this);
    return this.#db.transaction().execute((trx) => work(new MachineRepository(trx, this.#adapter)));
  }

  async #insertIdentity(machineId: string, keys: readonly IdentityKey[], now: string): Promise<void> {
    if (keys.length === 0) return;
    // Look before inserting: on PostgreSQL a failed insert would abort the caller's transaction.
    const owners = await this.#db
      .selectFrom('machine_identities')
      .selectAll()
      .where((eb) => eb.or(keys.map((k) => eb.and([eb('kind', '=', k.kind), eb('value', '=', k.value)]))))
      .execute();
    const foreign = owners.find((o) => o.machine_id !== machineId);
    if (foreign) {
      throw new ConflictError(`${foreign.kind} ${foreign.value} already belongs to machine ${foreign.machine_id}`, {
        key: { kind: foreign.kind, value: foreign.value },
        machineId: foreign.machine_id,
      });
    }
    const owned = new Set(owners.map((o) => identityKeyString({ kind: o.kind as IdentityKey['kind'], value: o.value })));
    const rows = dedupe(keys)
      .filter((k) => !owned.has(identityKeyString(k)))
      .map((k) => ({ kind: k.kind, value: k.value, machine_id: machineId, created_at: now }));
    if (rows.length === 0) return;
    try {
      await this.#db.insertInto('machine_identities').values(rows).execute();
    } catch (error) {
      if (!this.#adapter.isUniqueViolation(error)) throw error;
      throw new ConflictError('an identity key was claimed by another machine at the same time; retry', {
        keys: rows.map(({ kind, value }) => ({ kind, value })),
      });
    }
  }

  async #replaceLabels(machineId: string, labels: Readonly<Record<string, string>>): Promise<void> {
    await this.#db.deleteFrom('machine_labels').where('machine_id', '=', machineId).execute();
    const rows = Object.entries(labels).map(([key, value]) => ({ machine_id: machineId, key, value }));
    if (rows.length > 0) await this.#db.insertInto('machine_labels').values(rows).execute();
  }

  async #hydrate(rows: readonly Selectable<MachinesTable>[]): Promise<Machine[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [identities, labels, claims] = await Promise.all([
      this.#db.selectFrom('machine_identities').selectAll().where('machine_id', 'in', ids).orderBy('created_at').orderBy('kind').orderBy('value').execute(),
      this.#db.selectFrom('machine_labels').selectAll().where('machine_id', 'in', ids).orderBy('key').execute(),
      this.#db
        .selectFrom('ip_claims')
        .select(['id', 'pool', 'machine_id', 'spec', 'status'])
        .where('machine_id', 'in', ids)
        .where('phase', '<>', 'released')
        .orderBy('id')
        .execute(),
    ]);
    return rows.map((row) => ({
      id: row.id,
      hostname: row.hostname,
      phase: row.phase as MachinePhase,
      identity: identities
        .filter((i) => i.machine_id === row.id)
        .map((i) => ({ kind: i.kind as IdentityKey['kind'], value: i.value })),
      labels: Object.fromEntries(labels.filter((l) => l.machine_id === row.id).map((l) => [l.key, l.value])),
      roles: fromJson<MachineRole[]>(row.roles),
      taints: fromJson<Taint[]>(row.taints),
      conditions: fromJson<Condition[]>(row.conditions),
      hardware: fromJson<HardwareInventory>(row.hardware),
      bootFromDisk: row.boot_from_disk as BootFromDiskMethod,
      netboot: fromJson<NetbootState>(row.netboot),
      resourceVersion: Number(row.resource_version),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      lastSeenAt: row.last_seen_at,
      inventoryReportedAt: row.inventory_reported_at,
      addresses: claims.filter((c) => c.machine_id === row.id).map((c) => toMachineAddress(c)),
    }));
  }

}

function toMachineAddress(row: { id: string; pool: string; spec: string; status: string }): MachineAddress {
  const spec = fromJson<IpClaimSpec>(row.spec);
  const status = fromJson<IpClaimStatus>(row.status);
  return {
    claimId: row.id,
    pool: row.pool,
    phase: status.phase,
    ...(status.address ? { address: status.address } : {}),
    ...(status.prefixLength !== undefined ? { prefixLength: status.prefixLength } : {}),
    ...(spec.owner.mac ? { mac: spec.owner.mac } : {}),
  };
}

function indexColumns(hardware: HardwareInventory) {
  const index = inventoryIndex(hardware);
  return {
    arch: index.arch,
    memory_bytes: index.memoryBytes,
    cpu_threads: index.cpuThreads,
    disk_types: index.diskTypes,
    gpu_count: index.gpuCount,
  };
}

function dedupe(keys: readonly IdentityKey[]): IdentityKey[] {
  const seen = new Map<string, IdentityKey>();
  for (const key of keys) seen.set(identityKeyString(key), key);
  return [...seen.values()];
}
