import { createHash } from 'node:crypto';
import { ConflictError, InputError, MetalplaneError } from '../errors.js';
import type { IpAllocation, IpamProvider, IpClaimRequest } from '../extension-points/ipam.js';
import type { IpAllocationRepository } from '../store/ip-allocation-repository.js';
import { addressToBigInt, bigIntToAddress, contains, familyOf, parsePrefix, usableRange, type Prefix } from './ip.js';
import { BUILTIN_IPAM, parseAddressRange, type IpPoolSpec } from './model.js';

/** The pool has no address left for a new claim. 409 in the API. */
export class PoolExhaustedError extends MetalplaneError {
  constructor(pool: string) {
    super('pool_exhausted', `IP pool ${pool} is exhausted: no free address`, { pool });
  }
}

export interface Span {
  readonly first: bigint;
  readonly last: bigint;
}

/** The addresses a pool may hand out: its usable range, narrowed by `range`, minus reserved and gateway. */
export function candidateSpan(prefix: Prefix, spec: IpPoolSpec): { span: Span; excluded: Span[] } {
  const usable = usableRange(prefix);
  let span: Span = usable;
  if (spec.range) {
    const start = addressToBigInt(spec.range.start);
    const end = addressToBigInt(spec.range.end);
    span = { first: start > usable.first ? start : usable.first, last: end < usable.last ? end : usable.last };
  }
  const excluded = (spec.reserved ?? []).flatMap((entry) => {
    const range = parseAddressRange(entry);
    return range ? [range] : [];
  });
  if (spec.gateway) {
    const gateway = addressToBigInt(spec.gateway);
    excluded.push({ first: gateway, last: gateway });
  }
  return { span, excluded };
}

/**
 * Candidates in the order a strategy tries them: from the first address (`sequential`), or
 * from one derived from the owner (`hash`), wrapping around once.
 */
function* candidates(span: Span, excluded: readonly Span[], start: bigint): Generator<bigint> {
  const isExcluded = (value: bigint) => excluded.some((r) => value >= r.first && value <= r.last);
  for (let value = start; value <= span.last; value++) if (!isExcluded(value)) yield value;
  for (let value = span.first; value < start; value++) if (!isExcluded(value)) yield value;
}

/**
 * The free candidate to try after `losses` lost races: the first one, and after a loss one of
 * the first few at random — contenders that all re-read the same ledger would otherwise all
 * go for the same next address again, and one claim could lose for as long as the load lasts.
 * Uncontended, this is the strategy's own order (lowest free for `sequential`).
 */
function pick(ordered: Iterable<bigint>, taken: ReadonlySet<bigint>, losses: number): bigint | undefined {
  const spread = Math.min(2 ** losses, MAX_SPREAD);
  const choice = Math.floor(Math.random() * spread);
  let last: bigint | undefined;
  let index = 0;
  for (const value of ordered) {
    if (taken.has(value)) continue;
    last = value;
    if (index++ === choice) break;
  }
  return last;
}

/** How many free candidates a claim that keeps losing spreads its next try over, at most. */
const MAX_SPREAD = 64;

function hashStart(span: Span, ownerKey: string): bigint {
  const size = span.last - span.first + 1n;
  const digest = BigInt(`0x${createHash('sha256').update(ownerKey).digest('hex').slice(0, 32)}`);
  return span.first + (digest % size);
}

/**
 * IP allocation in metalplane's own database. Race-free across host processes: an address
 * belongs to the claim whose row in `ip_allocations` (primary key pool + address) was
 * written first; a loser moves on to the next candidate.
 */
export class BuiltinIpam implements IpamProvider {
  readonly id = BUILTIN_IPAM;
  readonly #ledger: IpAllocationRepository;

  constructor(ledger: IpAllocationRepository) {
    this.#ledger = ledger;
  }

  async allocate(claim: IpClaimRequest, signal: AbortSignal): Promise<IpAllocation> {
    const { name, spec } = claim.pool;
    const prefix = parsePrefix(spec.cidr);
    if (!prefix) throw new InputError(`IP pool ${name} has an invalid cidr ${spec.cidr}`);
    const existing = await this.#ledger.forClaim(claim.claimId);
    if (existing) return this.#allocation(existing.address, prefix, spec);

    if (claim.requestedAddress !== undefined) return this.#allocateRequested(claim, prefix);

    const { span, excluded } = candidateSpan(prefix, spec);
    if (span.first > span.last) throw new PoolExhaustedError(name);
    const start = spec.strategy === 'hash' ? hashStart(span, claim.owner.key) : span.first;
    for (let losses = 0; ; losses++) {
      signal.throwIfAborted();
      const taken = new Set((await this.#ledger.addressesOf(name)).map((a) => addressToBigInt(a)));
      const value = pick(candidates(span, excluded, start), taken, losses);
      if (value === undefined) break;
      const address = bigIntToAddress(value, prefix.family);
      if (await this.#ledger.take(name, address, claim.claimId)) return this.#allocation(address, prefix, spec);
      // Lost a race for it, or this claim got an address meanwhile (a retry of the same claim).
      const mine = await this.#ledger.forClaim(claim.claimId);
      if (mine) return this.#allocation(mine.address, prefix, spec);
    }
    throw new PoolExhaustedError(name);
  }

  async release(claim: IpClaimRequest): Promise<void> {
    await this.#ledger.release(claim.claimId);
  }

  async get(claim: IpClaimRequest): Promise<IpAllocation | null> {
    const prefix = parsePrefix(claim.pool.spec.cidr);
    const existing = await this.#ledger.forClaim(claim.claimId);
    return existing && prefix ? this.#allocation(existing.address, prefix, claim.pool.spec) : null;
  }

  async #allocateRequested(claim: IpClaimRequest, prefix: Prefix): Promise<IpAllocation> {
    const { name, spec } = claim.pool;
    const requested = claim.requestedAddress!;
    if (familyOf(requested) !== prefix.family || !contains(prefix, addressToBigInt(requested))) {
      throw new InputError(`requested address ${requested} is not in IP pool ${name} (${spec.cidr})`, [
        { path: '/requestedAddress', message: `must lie in ${spec.cidr}` },
      ]);
    }
    const value = addressToBigInt(requested);
    const { excluded } = candidateSpan(prefix, spec);
    if (excluded.some((r) => value >= r.first && value <= r.last)) {
      throw new InputError(`requested address ${requested} is reserved in IP pool ${name}`, [
        { path: '/requestedAddress', message: 'is reserved (or the gateway)' },
      ]);
    }
    const address = bigIntToAddress(value, prefix.family);
    if (await this.#ledger.take(name, address, claim.claimId)) return this.#allocation(address, prefix, spec);
    throw new ConflictError(`address ${address} of IP pool ${name} already belongs to another claim`, { pool: name, address });
  }

  #allocation(address: string, prefix: Prefix, spec: IpPoolSpec): IpAllocation {
    return {
      address,
      prefixLength: prefix.length,
      ...(spec.gateway ? { gateway: spec.gateway } : {}),
      ...(spec.dnsServers ? { dnsServers: spec.dnsServers } : {}),
    };
  }
}
