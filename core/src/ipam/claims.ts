import { InputError, MetalplaneError, PluginError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { IpamProvider, IpClaimRequest } from '../extension-points/ipam.js';
import type { Store } from '../store/store.js';
import { BuiltinIpam, PoolExhaustedError } from './builtin-ipam.js';
import { normalizeAddress } from './ip.js';
import { BUILTIN_IPAM, poolAssignsTo, type IpClaim, type IpClaimSpec, type IpPool } from './model.js';
import { machineMacs, type Machine } from '../model/machine.js';

/** Backoff of a claim whose provider failed: 2 s, 4 s, 8 s, ... up to 5 minutes. */
const RETRY_BASE_MS = 2000;
const RETRY_MAX_MS = 5 * 60 * 1000;

export interface ReconcileReport {
  readonly assigned: number;
  readonly retried: number;
  readonly bound: number;
  readonly released: number;
  readonly conflicts: number;
}

export interface ClaimResult {
  readonly claim: IpClaim;
  /** False when the owner already had this claim (asking twice returns the same address). */
  readonly created: boolean;
}

/**
 * Claims, allocation and release over whichever provider a pool names: the built-in one
 * (the store) or an IPAM plugin.
 */
export class IpClaims {
  readonly #store: Store;
  readonly #events: EventBus;
  readonly #plugins: () => readonly IpamProvider[];
  readonly #builtin: BuiltinIpam;

  constructor(store: Store, events: EventBus, plugins: () => readonly IpamProvider[]) {
    this.#store = store;
    this.#events = events;
    this.#plugins = plugins;
    this.#builtin = new BuiltinIpam(store.ipAllocations);
  }

  /**
   * Makes (or finds) the owner's claim in the pool and asks the provider for its address.
   * A provider that cannot answer now leaves the claim `pending` with the error, for the
   * reconcile loop to retry.
   *
   * @throws PoolExhaustedError (nothing is kept of a new claim) when the pool is full.
   * @throws InputError for an unknown pool or an address that cannot be requested.
   */
  async claim(spec: IpClaimSpec, signal: AbortSignal = new AbortController().signal): Promise<ClaimResult> {
    const pool = await this.#store.ipPools.get(spec.pool);
    if (!pool) throw new InputError(`IP pool ${spec.pool} does not exist`, [{ path: '/pool', message: `no IP pool named ${spec.pool}` }]);
    const requested = spec.requestedAddress === undefined ? undefined : normalizeAddress(spec.requestedAddress);
    if (requested === null) {
      throw new InputError(`requestedAddress ${spec.requestedAddress} is not an IP address`, [
        { path: '/requestedAddress', message: 'must be an IP address' },
      ]);
    }
    if (spec.owner.machineId !== undefined && !(await this.#store.machines.get(spec.owner.machineId))) {
      throw new InputError(`machine ${spec.owner.machineId} does not exist`, [{ path: '/owner/machineId', message: 'no such machine' }]);
    }
    const { claim, created } = await this.#store.ipClaims.ensure({ ...spec, ...(requested ? { requestedAddress: requested } : {}) });
    if (claim.status.phase === 'bound') return { claim, created };
    try {
      return { claim: await this.#allocate(pool, claim, signal), created };
    } catch (error) {
      // A claim that never got an address is not kept when the request itself is refused.
      if (created && refusal(error)) await this.#store.ipClaims.delete(claim.id);
      throw error;
    }
  }

  /** Gives the claim's address back to its provider and marks it `released`. Idempotent. */
  async release(claimId: string, signal: AbortSignal = new AbortController().signal): Promise<IpClaim> {
    const claim = await this.#store.ipClaims.require(claimId);
    if (claim.status.phase === 'released') return claim;
    const pool = await this.#store.ipPools.require(claim.spec.pool);
    await this.#provider(pool).release(this.#request(pool, claim), signal);
    const released = await this.#store.ipClaims.setStatus(claim.id, { phase: 'released' });
    this.#events.emit('claim.released', { claimId: claim.id, pool: pool.name, address: claim.status.address ?? null });
    return released;
  }

  /**
   * Claims an address on the machine's boot NIC (the first MAC it was known by) from every
   * pool whose `assignTo` rule matches it. Discovered and retired machines get none. A
   * full pool is logged by the caller and retried by the reconcile loop.
   */
  async assignForMachine(machine: Machine, signal: AbortSignal = new AbortController().signal): Promise<ClaimResult[]> {
    const mac = machineMacs(machine)[0];
    if (!mac || machine.phase === 'discovered' || machine.phase === 'retired') return [];
    const pools = (await this.#store.ipPools.list()).filter((p) => poolAssignsTo(p.spec, machine));
    const results: ClaimResult[] = [];
    for (const pool of pools) {
      const owner = { key: `${machine.id}/${mac}`, machineId: machine.id, mac };
      results.push(await this.claim({ pool: pool.name, owner }, signal));
    }
    return results;
  }

  /**
   * One pass of the reconcile loop: gives machines the addresses their pools' rules say,
   * retries pending claims whose backoff has passed, releases the claims of retired or
   * deleted machines, and asks providers whether bound addresses are still held by us
   * (a provider that says otherwise puts the claim in `conflict`, with details).
   */
  async reconcile(now: Date = new Date(), signal: AbortSignal = new AbortController().signal): Promise<ReconcileReport> {
    let assigned = 0;
    let retried = 0;
    let bound = 0;
    let released = 0;
    let conflicts = 0;

    const assigning = (await this.#store.ipPools.list()).filter((p) => p.spec.assignTo);
    for await (const machine of this.#machines()) {
      if (assigning.length === 0) break;
      const held = new Set(machine.addresses.map((a) => a.pool));
      const pools = assigning.filter((p) => poolAssignsTo(p.spec, machine) && !held.has(p.name));
      if (pools.length === 0) continue;
      try {
        assigned += (await this.assignForMachine(machine, signal)).filter((r) => r.created).length;
      } catch (error) {
        if (!(refusal(error) instanceof PoolExhaustedError)) throw error;
      }
    }

    for await (const claim of this.#claims()) {
      if (claim.status.phase === 'released') continue;
      const machine = claim.spec.owner.machineId ? await this.#store.machines.get(claim.spec.owner.machineId) : undefined;
      if (machine === null || machine?.phase === 'retired') {
        try {
          await this.release(claim.id, signal);
          released++;
        } catch (error) {
          // One provider that cannot release now must not stop the pass for every other claim.
          const message = messageOf(error);
          await this.#store.ipClaims.setStatus(claim.id, { ...claim.status, error: `release failed: ${message}` });
        }
        continue;
      }
      const pool = await this.#store.ipPools.require(claim.spec.pool);
      if (claim.status.phase === 'pending' || claim.status.phase === 'failed') {
        if (claim.status.nextAttemptAt && Date.parse(claim.status.nextAttemptAt) > now.getTime()) continue;
        retried++;
        try {
          if ((await this.#allocate(pool, claim, signal)).status.phase === 'bound') bound++;
        } catch (error) {
          const message = messageOf(error);
          const attempts = (claim.status.attempts ?? 0) + 1;
          const nextAttemptAt = new Date(now.getTime() + Math.min(RETRY_BASE_MS * 2 ** (attempts - 1), RETRY_MAX_MS)).toISOString();
          await this.#store.ipClaims.setStatus(claim.id, { ...claim.status, phase: 'failed', error: message, attempts, nextAttemptAt });
        }
        continue;
      }
      if (claim.status.phase === 'bound' && (await this.#checkDrift(pool, claim, signal))) conflicts++;
    }
    return { assigned, retried, bound, released, conflicts };
  }

  /** True when the provider no longer holds the claim's address for us; the claim then says why. */
  async #checkDrift(pool: IpPool, claim: IpClaim, signal: AbortSignal): Promise<boolean> {
    let actual;
    try {
      actual = await this.#provider(pool).get(this.#request(pool, claim), signal);
    } catch {
      return false; // Unreachable now: not evidence of drift.
    }
    if (actual?.address === claim.status.address) return false;
    const error = actual
      ? `the provider holds ${actual.address} for this claim, not ${claim.status.address}`
      : `the provider no longer holds ${claim.status.address} for this claim (deleted or taken by something else)`;
    await this.#store.ipClaims.setStatus(claim.id, { ...claim.status, phase: 'conflict', error });
    return true;
  }

  async *#machines(): AsyncGenerator<Machine> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#store.machines.list({ limit: 200, ...(after ? { after } : {}) });
      yield* page.items;
      if (!page.next) return;
      after = page.next;
    }
  }

  async *#claims(): AsyncGenerator<IpClaim> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#store.ipClaims.list({ limit: 500, ...(after ? { after } : {}) });
      yield* page.items;
      if (!page.next) return;
      after = page.next;
    }
  }

  async #allocate(pool: IpPool, claim: IpClaim, signal: AbortSignal): Promise<IpClaim> {
    let allocation;
    try {
      allocation = await this.#provider(pool).allocate(this.#request(pool, claim), signal);
    } catch (error) {
      const refused = refusal(error);
      if (refused) throw refused;
      // Unreachable provider and the like: the claim waits, with the reason, for the reconcile loop.
      const message = messageOf(error);
      const attempts = (claim.status.attempts ?? 0) + 1;
      const delayMs = Math.min(RETRY_BASE_MS * 2 ** (attempts - 1), RETRY_MAX_MS);
      return this.#store.ipClaims.setStatus(claim.id, {
        phase: 'pending',
        error: message,
        attempts,
        nextAttemptAt: new Date(Date.now() + delayMs).toISOString(),
      });
    }
    const bound = await this.#store.ipClaims.setStatus(claim.id, {
      phase: 'bound',
      address: allocation.address,
      prefixLength: allocation.prefixLength,
      ...(allocation.gateway ? { gateway: allocation.gateway } : {}),
      ...(allocation.dnsServers ? { dnsServers: [...allocation.dnsServers] } : {}),
      ...(allocation.providerRef ? { providerRef: { ...allocation.providerRef } } : {}),
      boundAt: new Date().toISOString(),
    });
    this.#events.emit('claim.allocated', { claimId: claim.id, pool: pool.name, address: allocation.address });
    return bound;
  }

  #provider(pool: IpPool): IpamProvider {
    const id = pool.spec.provider ?? BUILTIN_IPAM;
    if (id === BUILTIN_IPAM) return this.#builtin;
    const plugin = this.#plugins().find((p) => p.id === id);
    if (!plugin) throw new MetalplaneError('provider_missing', `IP pool ${pool.name} names IPAM provider ${id}, which is not loaded`, { pool: pool.name, provider: id });
    return plugin;
  }

  #request(pool: IpPool, claim: IpClaim): IpClaimRequest {
    return {
      claimId: claim.id,
      owner: claim.spec.owner,
      pool: { name: pool.name, spec: pool.spec },
      ...(claim.spec.requestedAddress ? { requestedAddress: claim.spec.requestedAddress } : {}),
    };
  }
}

/**
 * The error when the request itself was refused (full pool, bad input, address taken), as
 * opposed to a provider that cannot answer now. A plugin's refusal arrives wrapped in a
 * PluginError; the original is what the caller (and the API's status code) must see.
 */
function refusal(error: unknown): MetalplaneError | undefined {
  const original = error instanceof PluginError ? error.cause : error;
  if (original instanceof PoolExhaustedError || original instanceof InputError) return original;
  if (original instanceof MetalplaneError && original.code === 'conflict') return original;
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
