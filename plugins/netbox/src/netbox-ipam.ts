import { createHash } from 'node:crypto';
import {
  addressToBigInt,
  ConflictError,
  familyOf,
  InputError,
  normalizeAddress,
  parsePrefix,
  PoolExhaustedError,
  silentLogger,
  type IpAllocation,
  type IpamProvider,
  type IpClaimRequest,
  type IpFamily,
  type Logger,
} from '@metalplane/core';
import type { NetboxClient, Query } from './client.js';
import type { ReleaseMode } from './config.js';
import { delay } from './delay.js';
import { NetboxExhaustedError, NetboxNotFoundError, NetboxUnavailableError, NetboxValidationError } from './errors.js';
import type { NetboxInterfaces } from './inventory.js';
import { KeyedMutex } from './keyed-mutex.js';
import { choiceValue, type NetboxIpAddress, type NetboxIpRange, type NetboxPrefix, type NetboxTag } from './netbox-types.js';

export interface NetboxIpamOptions {
  readonly client: NetboxClient;
  /** Slug of the tag on every address this provider made (default `managed-by-metalplane`). */
  readonly ownershipTag?: string;
  /** Per-owner tags are `<ownerTagPrefix>-<hash>` (default `metalplane-owner`). */
  readonly ownerTagPrefix?: string;
  readonly releaseMode?: ReleaseMode;
  /** Assign new addresses to the NetBox interface with the claim's MAC (default true). */
  readonly interfaces?: NetboxInterfaces;
  /** The machine's hostname, written as `dns_name`; null when it has none. */
  readonly hostnameOf?: (machineId: string, signal: AbortSignal) => Promise<string | null>;
  /** How often an allocation is tried when NetBox may or may not have applied a POST (default 4). */
  readonly attempts?: number;
  readonly retryBaseMs?: number;
  readonly logger?: Logger;
  /** Tests only: turn the per-prefix serialisation off to show why it is there. */
  readonly serialize?: boolean;
}

/** A pool's NetBox parent, resolved once from its `providerRef`. */
export interface NetboxPoolTarget {
  readonly kind: 'prefix' | 'range';
  readonly id: number;
  readonly vrfId: number | null;
  readonly family: IpFamily;
  /** Addresses of the parent (inclusive); ours are looked for only in here. */
  readonly first: bigint;
  readonly last: bigint;
  /** Mask length NetBox gives addresses from this parent. */
  readonly prefixLength: number;
  /** `/api/ipam/prefixes/12/` or `/api/ipam/ip-ranges/3/`. */
  readonly path: string;
  /** e.g. `NetBox prefix 10.0.0.0/24 (id 12)`, for messages. */
  readonly label: string;
}

const DESCRIPTION_MAX = 200;

/**
 * The NetBox IPAM provider. An address is ours when it carries the ownership tag; it is the
 * claim's when it also carries the owner tag `<prefix>-<sha256(owner key)[:24]>` and lies in
 * the pool's NetBox prefix or IP range. Every method first looks for that address, so
 * calling twice (or after a crash between NetBox's answer and core's write) returns the
 * same address and never allocates a second one.
 *
 * Allocation goes through NetBox's `available-ips` endpoint, serialised per prefix/range in
 * this process because NetBox's own allocation has raced under concurrency (netbox#2519).
 * Across processes, the lowest NetBox id wins: a second address of the same owner, or a
 * second record of the same address, made by a concurrent allocation is deleted again.
 */
export class NetboxIpam implements IpamProvider {
  readonly id = 'netbox';
  readonly #client: NetboxClient;
  readonly #ownershipTag: string;
  readonly #ownerTagPrefix: string;
  readonly #releaseMode: ReleaseMode;
  readonly #interfaces: NetboxInterfaces | undefined;
  readonly #hostnameOf: NetboxIpamOptions['hostnameOf'];
  readonly #attempts: number;
  readonly #retryBaseMs: number;
  readonly #logger: Logger;
  readonly #serialize: boolean;
  readonly #mutex = new KeyedMutex();
  readonly #pools = new Map<string, Promise<NetboxPoolTarget>>();
  readonly #tags = new Map<string, NetboxTag>();
  readonly #stopped = new AbortController();

  constructor(options: NetboxIpamOptions) {
    this.#client = options.client;
    this.#ownershipTag = options.ownershipTag ?? 'managed-by-metalplane';
    this.#ownerTagPrefix = options.ownerTagPrefix ?? 'metalplane-owner';
    this.#releaseMode = options.releaseMode ?? 'delete';
    this.#interfaces = options.interfaces;
    this.#hostnameOf = options.hostnameOf;
    this.#attempts = Math.max(1, options.attempts ?? 4);
    this.#retryBaseMs = options.retryBaseMs ?? 250;
    this.#logger = options.logger ?? silentLogger;
    this.#serialize = options.serialize ?? true;
  }

  /** The owner tag slug of an owner key: stable, short, and free of anything NetBox rejects in a slug. */
  ownerTag(ownerKey: string): string {
    return `${this.#ownerTagPrefix}-${createHash('sha256').update(ownerKey).digest('hex').slice(0, 24)}`;
  }

  async allocate(claim: IpClaimRequest, signal: AbortSignal): Promise<IpAllocation> {
    const linked = this.#link(signal);
    const pool = await this.pool(claim, linked);
    const ownerTag = this.ownerTag(claim.owner.key);

    const existing = await this.#settle(pool, ownerTag, { reactivate: true, checkDuplicate: true }, linked);
    if (existing) return this.#allocation(claim, pool, existing);

    let body = await this.#newAddressBody(claim, ownerTag, linked);
    if (claim.requestedAddress !== undefined) return this.#allocateRequested(claim, pool, ownerTag, body, linked);

    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (attempt > 1) {
        await delay(this.#retryBaseMs * 2 ** (attempt - 2) * (0.5 + Math.random() / 2), linked);
        // A POST that may have been applied, or a record that lost a race: look before trying again.
        const found = await this.#settle(pool, ownerTag, { reactivate: true, checkDuplicate: true }, linked);
        if (found) return this.#allocation(claim, pool, found);
      }
      let created: NetboxIpAddress;
      try {
        created = await this.#serialized(pool.path, () => this.#client.post<NetboxIpAddress>(`${pool.path}available-ips/`, body, { signal: linked }), linked);
      } catch (error) {
        if (error instanceof NetboxExhaustedError) {
          this.#logger.info({ pool: claim.pool.name, netbox: pool.label }, 'NetBox has no free address left');
          throw new PoolExhaustedError(claim.pool.name);
        }
        if (error instanceof NetboxValidationError && error.fieldErrors.some((f) => f.field.startsWith('assigned_object'))) {
          // The interface cannot take this address (e.g. NetBox rules on network IDs): allocate unassigned.
          this.#logger.warn({ claimId: claim.claimId, reason: error.message }, 'NetBox refused the interface assignment; allocating without it');
          delete body.assigned_object_type;
          delete body.assigned_object_id;
          continue;
        }
        if (error instanceof NetboxValidationError && error.fieldErrors.some((f) => f.field.startsWith('tags'))) {
          // A tag we had cached was deleted in NetBox meanwhile: look the tags up (or create them) again.
          this.#tags.clear();
          body = { ...body, ...(await this.#newAddressBody(claim, ownerTag, linked)) };
          continue;
        }
        if (error instanceof NetboxUnavailableError && error.maybeApplied && attempt < this.#attempts) continue;
        throw error;
      }
      const kept = await this.#verify(pool, ownerTag, created, linked);
      if (kept) {
        this.#logger.info({ claimId: claim.claimId, pool: claim.pool.name, address: kept.address, netboxId: kept.id }, 'allocated an address in NetBox');
        return this.#allocation(claim, pool, kept);
      }
    }
    throw new NetboxUnavailableError(
      `could not allocate an address for claim ${claim.claimId} in ${pool.label} after ${this.#attempts} attempts (concurrent allocations kept colliding)`,
      { method: 'POST', path: `${pool.path}available-ips/` },
      this.#attempts,
      false,
    );
  }

  async release(claim: IpClaimRequest, signal: AbortSignal): Promise<void> {
    const linked = this.#link(signal);
    const ownerTag = this.ownerTag(claim.owner.key);
    if (!(await this.#tag(ownerTag, false, '', linked))) return; // Never allocated: nothing to release.
    const scope = await this.#releaseScope(claim, linked);
    const records = (await this.#tagged({ tag: ownerTag }, linked)).filter((r) => hasTag(r, ownerTag) && inScope(scope, r));
    const foreign = records.filter((r) => !hasTag(r, this.#ownershipTag));
    for (const record of records.filter((r) => hasTag(r, this.#ownershipTag))) {
      if (this.#releaseMode === 'delete') {
        await this.#deleteOurs(record, linked);
      } else if (choiceValue(record.status) !== 'deprecated') {
        await this.#client.patch(`/api/ipam/ip-addresses/${record.id}/`, { status: 'deprecated' }, { signal: linked });
      }
      this.#logger.info({ claimId: claim.claimId, address: record.address, netboxId: record.id, mode: this.#releaseMode }, 'released an address in NetBox');
    }
    if (foreign.length > 0) {
      const list = foreign.map((r) => `${r.address} (NetBox id ${r.id})`).join(', ');
      throw new ConflictError(
        `refusing to release ${list} for claim ${claim.claimId}: it carries this owner's tag ${ownerTag} but not the ownership tag ` +
          `${this.#ownershipTag}, so metalplane does not own it and will not change it. Remove the tag ${ownerTag} from it in NetBox ` +
          `(to keep it), or add ${this.#ownershipTag} (to let metalplane release it).`,
        { claimId: claim.claimId, ownerTag, ownershipTag: this.#ownershipTag, netboxIds: foreign.map((r) => r.id) },
      );
    }
  }

  async get(claim: IpClaimRequest, signal: AbortSignal): Promise<IpAllocation | null> {
    const linked = this.#link(signal);
    const pool = await this.pool(claim, linked);
    const found = await this.#settle(pool, this.ownerTag(claim.owner.key), { reactivate: false, checkDuplicate: false }, linked);
    return found ? this.#allocation(claim, pool, found) : null;
  }

  /** Ends every call in flight (they fail and the claims stay pending); the client is closed by its owner. */
  stop(): void {
    this.#stopped.abort(new Error('the NetBox plugin is stopping'));
  }

  /**
   * The pool's NetBox parent from `providerRef`: `{ prefixId }`, `{ prefix, vrfId? }` or
   * `{ ipRangeId }`, looked up once and cached (a failed lookup is tried again next time).
   * @throws InputError when the reference is malformed, names nothing, or disagrees with the pool's cidr.
   */
  async pool(claim: Pick<IpClaimRequest, 'pool'>, signal: AbortSignal): Promise<NetboxPoolTarget> {
    const key = `${claim.pool.name}\u0000${claim.pool.spec.cidr}\u0000${JSON.stringify(claim.pool.spec.providerRef ?? {})}`;
    let pending = this.#pools.get(key);
    if (!pending) {
      pending = this.#resolvePool(claim.pool, signal);
      this.#pools.set(key, pending);
      pending.catch(() => this.#pools.delete(key));
    }
    return pending;
  }

  async #resolvePool(pool: IpClaimRequest['pool'], signal: AbortSignal): Promise<NetboxPoolTarget> {
    const ref = pool.spec.providerRef ?? {};
    const where = `IP pool ${pool.name}`;
    const prefixId = positiveInt(ref.prefixId);
    const ipRangeId = positiveInt(ref.ipRangeId);
    const refError = (message: string) => new InputError(`${where}: ${message}`, [{ path: '/spec/providerRef', message }]);
    let target: NetboxPoolTarget;
    if (prefixId !== undefined || ipRangeId !== undefined) {
      const kind = prefixId !== undefined ? 'prefix' : 'range';
      const id = (prefixId ?? ipRangeId)!;
      const path = kind === 'prefix' ? `/api/ipam/prefixes/${id}/` : `/api/ipam/ip-ranges/${id}/`;
      try {
        target = kind === 'prefix' ? prefixTarget(await this.#client.get<NetboxPrefix>(path, { signal })) : rangeTarget(await this.#client.get<NetboxIpRange>(path, { signal }));
      } catch (error) {
        if (!(error instanceof NetboxNotFoundError)) throw error;
        const permission = kind === 'prefix' ? 'ipam.view_prefix' : 'ipam.view_iprange';
        throw refError(`NetBox has no ${kind === 'prefix' ? 'prefix' : 'IP range'} with id ${id} (or the token's user lacks ${permission})`);
      }
    } else if (typeof ref.prefix === 'string') {
      const vrfId = ref.vrfId === undefined || ref.vrfId === null ? null : positiveInt(ref.vrfId);
      if (vrfId === undefined) throw refError('providerRef.vrfId must be a positive integer (or absent for the global table)');
      const found = (await this.#client.list<NetboxPrefix>('/api/ipam/prefixes/', { query: { prefix: ref.prefix, ...(vrfId ? { vrf_id: vrfId } : {}) }, signal, maxPages: 2 }))
        .filter((p) => (p.vrf?.id ?? null) === vrfId && samePrefix(p.prefix, ref.prefix as string));
      const inVrf = vrfId === null ? 'the global table' : `VRF ${vrfId}`;
      if (found.length === 0) throw refError(`NetBox has no prefix ${ref.prefix} in ${inVrf} (or the token's user lacks ipam.view_prefix)`);
      if (found.length > 1) throw refError(`NetBox has ${found.length} prefixes ${ref.prefix} in ${inVrf}; name one by prefixId`);
      target = prefixTarget(found[0]!);
    } else {
      throw refError('a pool with provider netbox needs providerRef { prefixId }, { prefix, vrfId? } or { ipRangeId }');
    }
    const cidr = parsePrefix(pool.spec.cidr);
    if (!cidr || cidr.family !== target.family || target.first < cidr.first || target.last > cidr.last) {
      throw new InputError(`${where}: ${target.label} does not lie in the pool's cidr ${pool.spec.cidr}`, [
        { path: '/spec/cidr', message: `must contain ${target.label}` },
      ]);
    }
    return target;
  }

  /**
   * The claim's address in the pool, if NetBox has one: the active record with both tags and
   * the lowest id (a deprecated one is reactivated when `reactivate`). Others of the same
   * owner in the pool are ours and surplus (a concurrent allocation's), so they are deleted.
   */
  async #settle(pool: NetboxPoolTarget, ownerTag: string, options: { reactivate: boolean; checkDuplicate: boolean }, signal: AbortSignal): Promise<NetboxIpAddress | null> {
    if (!(await this.#tag(ownerTag, false, '', signal)) || !(await this.#tag(this.#ownershipTag, false, '', signal))) return null;
    const ours = (await this.#owned(pool, ownerTag, signal)).sort((a, b) => a.id - b.id);
    if (ours.length === 0) return null;
    const active = ours.filter((r) => choiceValue(r.status) !== 'deprecated');
    let chosen = active[0];
    if (!chosen) {
      if (!options.reactivate) return null;
      chosen = await this.#client.patch<NetboxIpAddress>(`/api/ipam/ip-addresses/${ours[0]!.id}/`, { status: 'active' }, { signal });
      this.#logger.info({ address: chosen.address, netboxId: chosen.id }, 'reactivated a deprecated address of the same owner');
    }
    for (const surplus of ours.filter((r) => r.id !== chosen.id)) {
      this.#logger.warn({ address: surplus.address, netboxId: surplus.id, kept: chosen.id }, 'deleting a second address of the same owner (a concurrent allocation)');
      await this.#deleteOurs(surplus, signal);
    }
    if (options.checkDuplicate && !(await this.#holdsAddress(chosen, signal))) {
      await this.#deleteOurs(chosen, signal);
      return null;
    }
    return chosen;
  }

  /** After a POST: keeps the record unless an older record of the same address (or owner) exists. */
  async #verify(pool: NetboxPoolTarget, ownerTag: string, created: NetboxIpAddress, signal: AbortSignal): Promise<NetboxIpAddress | null> {
    if (!(await this.#holdsAddress(created, signal))) {
      await this.#deleteOurs(created, signal);
      return null;
    }
    return this.#settle(pool, ownerTag, { reactivate: false, checkDuplicate: false }, signal);
  }

  /** False when another record of the same address in the same VRF is older: ours lost a race. */
  async #holdsAddress(record: NetboxIpAddress, signal: AbortSignal): Promise<boolean> {
    const host = hostOf(record.address);
    const same = (await this.#client.list<NetboxIpAddress>('/api/ipam/ip-addresses/', { query: { address: host }, signal, maxPages: 2 }))
      .filter((r) => hostOf(r.address) === host && (r.vrf?.id ?? null) === (record.vrf?.id ?? null));
    const older = same.filter((r) => r.id < record.id);
    if (older.length === 0) return true;
    this.#logger.warn({ address: record.address, netboxId: record.id, older: older.map((r) => r.id) }, 'NetBox handed out an address that was already taken; giving it back');
    return false;
  }

  /** Addresses in the pool that carry both our tags. */
  async #owned(pool: NetboxPoolTarget, ownerTag: string, signal: AbortSignal): Promise<NetboxIpAddress[]> {
    const records = await this.#tagged({ tag: [this.#ownershipTag, ownerTag], ...(pool.vrfId !== null ? { vrf_id: pool.vrfId } : {}) }, signal);
    return records.filter((r) => hasTag(r, this.#ownershipTag) && hasTag(r, ownerTag) && inScope(pool, r));
  }

  /**
   * IP addresses filtered by tag. NetBox answers 400 for a tag that does not exist: then
   * nothing carries it (someone deleted it since we cached it).
   */
  async #tagged(query: Query, signal: AbortSignal): Promise<NetboxIpAddress[]> {
    try {
      return await this.#client.list<NetboxIpAddress>('/api/ipam/ip-addresses/', { query, signal, maxPages: 5 });
    } catch (error) {
      if (!(error instanceof NetboxValidationError && error.fieldErrors.some((f) => f.field === 'tag'))) throw error;
      this.#tags.clear();
      return [];
    }
  }

  /** Deletes a record, only if it carries the ownership tag; one already gone is fine. */
  async #deleteOurs(record: NetboxIpAddress, signal: AbortSignal): Promise<void> {
    if (!hasTag(record, this.#ownershipTag)) {
      throw new ConflictError(`refusing to delete NetBox address ${record.address} (id ${record.id}): it does not carry the ownership tag ${this.#ownershipTag}`, {
        netboxId: record.id,
      });
    }
    try {
      await this.#client.delete(`/api/ipam/ip-addresses/${record.id}/`, { signal });
    } catch (error) {
      if (!(error instanceof NetboxNotFoundError)) throw error;
    }
  }

  async #allocateRequested(claim: IpClaimRequest, pool: NetboxPoolTarget, ownerTag: string, body: Record<string, unknown>, signal: AbortSignal): Promise<IpAllocation> {
    const requested = normalizeAddress(claim.requestedAddress!);
    if (!requested || familyOf(requested) !== pool.family || addressToBigInt(requested) < pool.first || addressToBigInt(requested) > pool.last) {
      throw new InputError(`requested address ${claim.requestedAddress} is not in ${pool.label} (IP pool ${claim.pool.name})`, [
        { path: '/requestedAddress', message: `must lie in ${pool.label}` },
      ]);
    }
    return this.#serialized(pool.path, async () => {
      const taken = (await this.#client.list<NetboxIpAddress>('/api/ipam/ip-addresses/', { query: { address: requested }, signal, maxPages: 2 }))
        .filter((r) => hostOf(r.address) === requested && (r.vrf?.id ?? null) === pool.vrfId);
      if (taken.length > 0) {
        throw new ConflictError(`address ${requested} of IP pool ${claim.pool.name} is already in NetBox (id ${taken[0]!.id})`, {
          pool: claim.pool.name,
          address: requested,
          netboxId: taken[0]!.id,
        });
      }
      let created: NetboxIpAddress;
      try {
        created = await this.#client.post<NetboxIpAddress>('/api/ipam/ip-addresses/', { ...body, address: `${requested}/${pool.prefixLength}`, vrf: pool.vrfId }, { signal });
      } catch (error) {
        if (error instanceof NetboxValidationError && error.fieldErrors.some((f) => f.field === 'address')) {
          throw new ConflictError(`address ${requested} of IP pool ${claim.pool.name}: ${error.message}`, { pool: claim.pool.name, address: requested });
        }
        if (error instanceof NetboxUnavailableError && error.maybeApplied) {
          const found = await this.#settle(pool, ownerTag, { reactivate: false, checkDuplicate: true }, signal);
          if (found) return this.#allocation(claim, pool, found);
        }
        throw error;
      }
      const kept = await this.#verify(pool, ownerTag, created, signal);
      if (!kept) throw new ConflictError(`address ${requested} of IP pool ${claim.pool.name} was taken concurrently`, { pool: claim.pool.name, address: requested });
      return this.#allocation(claim, pool, kept);
    }, signal);
  }

  /** What every new address carries: status, description, tags, and where known dns_name and interface. */
  async #newAddressBody(claim: IpClaimRequest, ownerTag: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const ownership = await this.#tag(this.#ownershipTag, true, 'Addresses allocated by metalplane; it changes or deletes only these', signal);
    const owner = await this.#tag(ownerTag, true, `metalplane IP claim owner ${claim.owner.key}`.slice(0, DESCRIPTION_MAX), signal);
    const body: Record<string, unknown> = {
      status: 'active',
      description: `metalplane ${claim.pool.name}: ${claim.owner.key}`.slice(0, DESCRIPTION_MAX),
      tags: [{ id: ownership!.id }, { id: owner!.id }],
    };
    if (claim.owner.machineId && this.#hostnameOf) {
      const hostname = await this.#hostnameOf(claim.owner.machineId, signal);
      if (hostname) body.dns_name = hostname;
    }
    if (claim.owner.mac && this.#interfaces) {
      const match = await this.#interfaces.byMac(claim.owner.mac, signal);
      if (match) {
        body.assigned_object_type = 'dcim.interface';
        body.assigned_object_id = match.interfaceId;
      }
    }
    return body;
  }

  /**
   * The tag with this slug; created when `create` and missing (a concurrent creation is
   * tolerated). Null when it does not exist and `create` is false: then nothing carries it.
   */
  async #tag(slug: string, create: boolean, description: string, signal: AbortSignal): Promise<NetboxTag | null> {
    const cached = this.#tags.get(slug);
    if (cached) return cached;
    const lookup = async () => (await this.#client.list<NetboxTag>('/api/extras/tags/', { query: { slug }, signal, maxPages: 1 })).find((t) => t.slug === slug) ?? null;
    let tag = await lookup();
    if (!tag && create) {
      try {
        tag = await this.#client.post<NetboxTag>('/api/extras/tags/', { name: slug, slug, color: '607d8b', description }, { signal });
        this.#logger.info({ tag: slug }, 'created a NetBox tag');
      } catch (error) {
        // Someone else created it meanwhile (unique name/slug), or our POST went through before an error.
        if (!(error instanceof NetboxValidationError || (error instanceof NetboxUnavailableError && error.maybeApplied))) throw error;
        tag = await lookup();
        if (!tag) throw error;
      }
    }
    if (tag) this.#tags.set(slug, tag);
    return tag;
  }

  async #releaseScope(claim: IpClaimRequest, signal: AbortSignal): Promise<Pick<NetboxPoolTarget, 'first' | 'last' | 'vrfId' | 'family'> & { anyVrf?: boolean }> {
    try {
      return await this.pool(claim, signal);
    } catch (error) {
      // The NetBox prefix may be gone: our addresses are still found by tag, within the pool's cidr.
      if (!(error instanceof InputError)) throw error;
      const cidr = parsePrefix(claim.pool.spec.cidr);
      if (!cidr) throw error;
      return { first: cidr.first, last: cidr.last, family: cidr.family, vrfId: null, anyVrf: true };
    }
  }

  #serialized<T>(key: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#serialize ? this.#mutex.run(key, fn, signal) : fn();
  }

  #allocation(claim: IpClaimRequest, pool: NetboxPoolTarget, record: NetboxIpAddress): IpAllocation {
    const [host, length] = record.address.split('/') as [string, string | undefined];
    const spec = claim.pool.spec;
    return {
      address: normalizeAddress(host) ?? host,
      prefixLength: length !== undefined ? Number(length) : pool.prefixLength,
      ...(spec.gateway ? { gateway: spec.gateway } : {}),
      ...(spec.dnsServers ? { dnsServers: spec.dnsServers } : {}),
      providerRef: { ipAddressId: record.id, [pool.kind === 'prefix' ? 'prefixId' : 'ipRangeId']: pool.id },
    };
  }

  #link(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, this.#stopped.signal]);
  }
}

function positiveInt(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function hostOf(address: string): string {
  const host = address.split('/')[0]!;
  return normalizeAddress(host) ?? host;
}

function samePrefix(a: string, b: string): boolean {
  const x = parsePrefix(a);
  const y = parsePrefix(b);
  return !!x && !!y && x.family === y.family && x.first === y.first && x.length === y.length;
}

function hasTag(record: NetboxIpAddress, slug: string): boolean {
  return (record.tags ?? []).some((t) => t.slug === slug);
}

function inScope(scope: Pick<NetboxPoolTarget, 'first' | 'last' | 'vrfId' | 'family'> & { anyVrf?: boolean }, record: NetboxIpAddress): boolean {
  const host = hostOf(record.address);
  if (familyOf(host) !== scope.family) return false;
  const value = addressToBigInt(host);
  return value >= scope.first && value <= scope.last && (scope.anyVrf === true || (record.vrf?.id ?? null) === scope.vrfId);
}

function prefixTarget(prefix: NetboxPrefix): NetboxPoolTarget {
  const parsed = parsePrefix(prefix.prefix);
  if (!parsed) throw new InputError(`NetBox prefix ${prefix.id} has a prefix ${prefix.prefix} metalplane cannot read`);
  return {
    kind: 'prefix',
    id: prefix.id,
    vrfId: prefix.vrf?.id ?? null,
    family: parsed.family,
    first: parsed.first,
    last: parsed.last,
    prefixLength: parsed.length,
    path: `/api/ipam/prefixes/${prefix.id}/`,
    label: `NetBox prefix ${prefix.prefix} (id ${prefix.id})`,
  };
}

function rangeTarget(range: NetboxIpRange): NetboxPoolTarget {
  const [start, length] = range.start_address.split('/') as [string, string | undefined];
  const end = range.end_address.split('/')[0]!;
  const family = familyOf(start);
  if (!family || familyOf(end) !== family) throw new InputError(`NetBox IP range ${range.id} has addresses metalplane cannot read`);
  return {
    kind: 'range',
    id: range.id,
    vrfId: range.vrf?.id ?? null,
    family,
    first: addressToBigInt(start),
    last: addressToBigInt(end),
    prefixLength: length !== undefined ? Number(length) : family === 4 ? 32 : 128,
    path: `/api/ipam/ip-ranges/${range.id}/`,
    label: `NetBox IP range ${start}-${end} (id ${range.id})`,
  };
}
