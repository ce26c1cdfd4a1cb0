import { InputError, MetalplaneError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { IpamProvider, IpClaimRequest } from '../extension-points/ipam.js';
import type { Store } from '../store/store.js';
import { BuiltinIpam, PoolExhaustedError } from './builtin-ipam.js';
import { normalizeAddress } from './ip.js';
import { BUILTIN_IPAM, type IpClaim, type IpClaimSpec, type IpPool } from './model.js';

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
    const { claim, created } = await this.#store.ipClaims.ensure({ ...spec, ...(requested ? { requestedAddress: requested } : {}) });
    if (claim.status.phase === 'bound') return { claim, created };
    try {
      return { claim: await this.#allocate(pool, claim, signal), created };
    } catch (error) {
      // A claim that never got an address is not kept when the request itself is refused.
      if (created && (error instanceof PoolExhaustedError || error instanceof InputError || isConflict(error))) {
        await this.#store.ipClaims.delete(claim.id);
      }
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

  async #allocate(pool: IpPool, claim: IpClaim, signal: AbortSignal): Promise<IpClaim> {
    let allocation;
    try {
      allocation = await this.#provider(pool).allocate(this.#request(pool, claim), signal);
    } catch (error) {
      if (error instanceof PoolExhaustedError || error instanceof InputError || isConflict(error)) throw error;
      // Unreachable provider and the like: the claim waits, with the reason, for a retry.
      const message = error instanceof Error ? error.message : String(error);
      return this.#store.ipClaims.setStatus(claim.id, { phase: 'pending', error: message });
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

function isConflict(error: unknown): boolean {
  return error instanceof MetalplaneError && error.code === 'conflict';
}
