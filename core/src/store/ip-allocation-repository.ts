import type { Kysely } from 'kysely';
import type { DatabaseSchema } from './schema.js';

/** The built-in IPAM's ledger of which address of a pool belongs to which claim. */
export class IpAllocationRepository {
  readonly #db: Kysely<DatabaseSchema>;

  constructor(db: Kysely<DatabaseSchema>) {
    this.#db = db;
  }

  async forClaim(claimId: string): Promise<{ pool: string; address: string } | null> {
    const row = await this.#db.selectFrom('ip_allocations').select(['pool', 'address']).where('claim_id', '=', claimId).executeTakeFirst();
    return row ?? null;
  }

  async addressesOf(pool: string): Promise<string[]> {
    return (await this.#db.selectFrom('ip_allocations').select('address').where('pool', '=', pool).execute()).map((r) => r.address);
  }

  /**
   * Takes `address` for the claim. False when the address (or the claim) is already taken:
   * the primary key decides, so two processes never get one address. A conflict is not an
   * error here (DO NOTHING): losing a race is the normal case under load, and PostgreSQL
   * would log every unique violation.
   */
  async take(pool: string, address: string, claimId: string): Promise<boolean> {
    const result = await this.#db
      .insertInto('ip_allocations')
      .values({ pool, address, claim_id: claimId, created_at: new Date().toISOString() })
      .onConflict((conflict) => conflict.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async release(claimId: string): Promise<void> {
    await this.#db.deleteFrom('ip_allocations').where('claim_id', '=', claimId).execute();
  }
}
