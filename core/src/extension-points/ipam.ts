import type { IpPoolSpec } from '../ipam/model.js';
import { createServiceRef } from '../plugins/service-ref.js';

/** Whose address it is: a machine's interface, or a free-form owner key. */
export interface IpClaimOwner {
  readonly machineId?: string;
  readonly mac?: string;
  /** Stable key of the owner; providers tag their records with it to stay idempotent. */
  readonly key: string;
}

/** A request for one address from one pool, as core hands it to a provider. */
export interface IpClaimRequest {
  /** Stable id of the claim; every call with the same id concerns the same address. */
  readonly claimId: string;
  readonly owner: IpClaimOwner;
  /** The pool as configured; `spec.providerRef` carries e.g. a NetBox prefix id. */
  readonly pool: { readonly name: string; readonly spec: IpPoolSpec };
  readonly requestedAddress?: string;
}

export interface IpAllocation {
  /** Address without prefix length, e.g. `10.0.0.12` or `2001:db8::12`. */
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway?: string;
  readonly dnsServers?: readonly string[];
  /** Provider-specific reference, e.g. the NetBox IP address id. */
  readonly providerRef?: Readonly<Record<string, unknown>>;
}

/**
 * An IP address manager. Core calls it from the claim reconcile loop, at most once at a
 * time per claim id, and again after any failure (so every method must be idempotent by
 * `claimId`: asking twice returns the same address and never allocates a second one).
 *
 * Dispatch: `all` — every provider is kept; each pool names the provider (by `id`) that
 * allocates from it.
 */
export interface IpamProvider {
  /** Matches `IPPool.provider`. */
  readonly id: string;
  /**
   * Allocates (or finds the existing) address for the claim.
   * @throws ConflictError with code `pool_exhausted` when the pool has no free address.
   */
  allocate(claim: IpClaimRequest, signal: AbortSignal): Promise<IpAllocation>;
  /** Releases the claim's address; resolves when there is none (already released). */
  release(claim: IpClaimRequest, signal: AbortSignal): Promise<void>;
  /** The claim's current address, or null when the provider holds none for it. */
  get(claim: IpClaimRequest, signal: AbortSignal): Promise<IpAllocation | null>;
}

export const ipamExtensionPoint = createServiceRef<IpamProvider>()({
  id: 'metalplane.ipam',
  dispatch: 'all',
  description: 'IP address allocation by claim',
});
