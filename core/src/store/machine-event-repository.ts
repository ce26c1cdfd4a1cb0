import type { Kysely } from 'kysely';
import { newId } from '../ids.js';
import type { MachinePhase } from '../lifecycle/phases.js';
import type { DatabaseSchema } from './schema.js';
import type { Page } from './machine-repository.js';

/** One audit row: who moved a machine from which phase to which, when and why. */
export interface MachineEvent {
  readonly id: string;
  readonly machineId: string;
  readonly transition: string;
  readonly from: MachinePhase;
  readonly to: MachinePhase;
  readonly actor: string;
  readonly reason: string | null;
  readonly createdAt: string;
}

export type NewMachineEvent = Omit<MachineEvent, 'id' | 'createdAt'>;

export class MachineEventRepository {
  readonly #db: Kysely<DatabaseSchema>;

  constructor(db: Kysely<DatabaseSchema>) {
    this.#db = db;
  }

  async append(event: NewMachineEvent): Promise<MachineEvent> {
    const stored: MachineEvent = { ...event, id: newId(), createdAt: new Date().toISOString() };
    await this.#db
      .insertInto('machine_events')
      .values({
        id: stored.id,
        machine_id: stored.machineId,
        transition: stored.transition,
        from_phase: stored.from,
        to_phase: stored.to,
        actor: stored.actor,
        reason: stored.reason,
        created_at: stored.createdAt,
      })
      .execute();
    return stored;
  }

  /** A machine's events, oldest first. */
  async listForMachine(machineId: string, options: { limit: number; after?: string }): Promise<Page<MachineEvent>> {
    let query = this.#db
      .selectFrom('machine_events')
      .selectAll()
      .where('machine_id', '=', machineId)
      .orderBy('id')
      .limit(options.limit + 1);
    if (options.after) query = query.where('id', '>', options.after);
    const rows = await query.execute();
    const page = rows.slice(0, options.limit).map((r) => ({
      id: r.id,
      machineId: r.machine_id,
      transition: r.transition,
      from: r.from_phase as MachinePhase,
      to: r.to_phase as MachinePhase,
      actor: r.actor,
      reason: r.reason,
      createdAt: r.created_at,
    }));
    return { items: page, next: rows.length > options.limit ? (page.at(-1)?.id ?? null) : null };
  }
}
