import type { Kysely } from 'kysely';
import { newId } from '../ids.js';
import type { BootEvent, BootStep } from '../boot/timeline.js';
import { fromJson, toJson } from './json.js';
import type { Page } from './machine-repository.js';
import type { DatabaseSchema } from './schema.js';

/** The steps of a machine's network boots (its boot timeline), newest kept, oldest pruned. */
export class BootEventRepository {
  readonly #db: Kysely<DatabaseSchema>;

  constructor(db: Kysely<DatabaseSchema>) {
    this.#db = db;
  }

  async append(machineId: string, step: BootStep, detail: Readonly<Record<string, unknown>>, at: Date = new Date()): Promise<BootEvent> {
    const event: BootEvent = { id: newId(at.getTime()), machineId, step, detail: { ...detail }, at: at.toISOString() };
    await this.#db
      .insertInto('boot_events')
      .values({ id: event.id, machine_id: machineId, step, detail: toJson(event.detail), created_at: event.at })
      .execute();
    return event;
  }

  /** A machine's boot steps, newest first (`before`: the id of the last event of the previous page). */
  async listForMachine(machineId: string, options: { limit: number; before?: string }): Promise<Page<BootEvent>> {
    let query = this.#db
      .selectFrom('boot_events')
      .selectAll()
      .where('machine_id', '=', machineId)
      .orderBy('id', 'desc')
      .limit(options.limit + 1);
    if (options.before) query = query.where('id', '<', options.before);
    const rows = await query.execute();
    const items = rows.slice(0, options.limit).map(
      (r): BootEvent => ({ id: r.id, machineId: r.machine_id, step: r.step as BootStep, detail: fromJson(r.detail), at: r.created_at }),
    );
    return { items, next: rows.length > options.limit ? (items.at(-1)?.id ?? null) : null };
  }

  /** Keeps the newest `keep` events of the machine; returns how many were deleted. */
  async prune(machineId: string, keep: number): Promise<number> {
    const boundary = await this.#db
      .selectFrom('boot_events')
      .select('id')
      .where('machine_id', '=', machineId)
      .orderBy('id', 'desc')
      .offset(keep)
      .limit(1)
      .executeTakeFirst();
    if (!boundary) return 0;
    const result = await this.#db.deleteFrom('boot_events').where('machine_id', '=', machineId).where('id', '<=', boundary.id).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
