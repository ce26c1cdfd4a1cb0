import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Logger } from '@metalplane/core';
import { intToIp, ipToInt } from './net.js';

/** A dynamic pool: inclusive range of addresses (as numbers), never more than {@link MAX_POOL_SIZE}. */
export interface Pool {
  readonly start: number;
  readonly end: number;
  /** Addresses in the range that are never handed out (our own). */
  readonly exclude: ReadonlySet<number>;
}

/** Keeps the worst-case scan of a DISCOVER small enough to bound per-packet work. */
export const MAX_POOL_SIZE = 65_536;

interface Lease {
  mac: string;
  address: number;
  /** ms since the epoch. */
  expiresAt: number;
  /** An offer holds the address briefly and is not written to the lease file. */
  bound: boolean;
}

interface LeaseFile {
  version: 1;
  leases: { mac: string; address: string; expiresAt: number }[];
  declined: { address: string; until: number }[];
}

/** How long an offered address is held for the client's REQUEST. */
export const OFFER_HOLD_MS = 30_000;

/**
 * Dynamic leases of `full` mode. A lease file (when configured) holds the bound leases and
 * declined addresses; it is written whole to a temporary file and renamed over the old one, so a
 * crash leaves either the old or the new state, and it is read back at start. Writes are
 * serialised; a bind resolves once its state is on disk, so an ACK never promises a lease that a
 * restart would forget (RFC 2131 §4.3.2).
 */
export class LeaseStore {
  readonly #byAddress = new Map<number, Lease>();
  readonly #byMac = new Map<string, Lease>();
  readonly #declined = new Map<number, number>();
  readonly #file: string | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  #writes: Promise<void> = Promise.resolve();

  constructor(options: { file?: string; logger: Logger; now?: () => number }) {
    this.#file = options.file;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** Reads the lease file; a missing file is an empty store, a corrupt one is logged and ignored. */
  async load(): Promise<void> {
    if (!this.#file) return;
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger.warn({ err: error, file: this.#file }, 'cannot read the DHCP lease file; starting empty');
      return;
    }
    try {
      const data = JSON.parse(text) as Partial<LeaseFile>;
      for (const entry of Array.isArray(data.leases) ? data.leases : []) {
        if (typeof entry?.mac !== 'string' || typeof entry.address !== 'string' || typeof entry.expiresAt !== 'number') continue;
        this.#set({ mac: entry.mac, address: ipToInt(entry.address), expiresAt: entry.expiresAt, bound: true });
      }
      for (const entry of Array.isArray(data.declined) ? data.declined : []) {
        if (typeof entry?.address === 'string' && typeof entry.until === 'number') this.#declined.set(ipToInt(entry.address), entry.until);
      }
    } catch (error) {
      this.#logger.warn({ err: error, file: this.#file }, 'the DHCP lease file is not valid; starting empty');
    }
  }

  /** The client's current lease (bound or offered, even expired), if it still owns the address. */
  leaseOf(mac: string): { address: string; expiresAt: number; bound: boolean } | undefined {
    const lease = this.#byMac.get(mac);
    return lease && { address: intToIp(lease.address), expiresAt: lease.expiresAt, bound: lease.bound };
  }

  /**
   * An address to offer: the client's previous one, else the requested one if free, else the first
   * free address. Undefined when the pool is exhausted — one bounded scan, never a retry loop.
   */
  offer(mac: string, pool: Pool, requested?: string): string | undefined {
    const now = this.#now();
    const previous = this.#byMac.get(mac);
    let chosen: number | undefined;
    if (previous && this.#inPool(pool, previous.address) && !this.#isDeclined(previous.address, now)) chosen = previous.address;
    const wish = requested === undefined ? undefined : ipToInt(requested);
    if (chosen === undefined && wish !== undefined && this.#isFree(pool, wish, mac, now)) chosen = wish;
    for (let address = pool.start; chosen === undefined && address <= pool.end; address++) {
      if (this.#isFree(pool, address, mac, now)) chosen = address;
    }
    if (chosen === undefined) return undefined;
    if (previous?.bound && previous.address === chosen && previous.expiresAt > now) return intToIp(chosen);
    this.#set({ mac, address: chosen, expiresAt: now + OFFER_HOLD_MS, bound: false });
    return intToIp(chosen);
  }

  /** Binds `address` to `mac` for `seconds` if it is in the pool and not someone else's; false otherwise. */
  async bind(mac: string, address: string, pool: Pool, seconds: number): Promise<boolean> {
    const value = ipToInt(address);
    if (!this.#isFree(pool, value, mac, this.#now())) return false;
    this.#set({ mac, address: value, expiresAt: this.#now() + seconds * 1000, bound: true });
    await this.#persist();
    return true;
  }

  /** DHCPRELEASE: frees the address if it is this client's. */
  async release(mac: string, address: string): Promise<boolean> {
    const lease = this.#byAddress.get(ipToInt(address));
    if (!lease || lease.mac !== mac) return false;
    this.#delete(lease);
    await this.#persist();
    return true;
  }

  /** DHCPDECLINE: the address is in use by someone else; hand it to nobody for `seconds`. */
  async decline(mac: string, address: string, seconds: number): Promise<boolean> {
    const value = ipToInt(address);
    const lease = this.#byAddress.get(value);
    if (!lease || lease.mac !== mac) return false;
    this.#delete(lease);
    this.#declined.set(value, this.#now() + seconds * 1000);
    await this.#persist();
    return true;
  }

  /** Drops an unaccepted offer (the client chose another server). */
  forgetOffer(mac: string): void {
    const lease = this.#byMac.get(mac);
    if (lease && !lease.bound) this.#delete(lease);
  }

  #inPool(pool: Pool, address: number): boolean {
    return address >= pool.start && address <= pool.end && !pool.exclude.has(address);
  }

  #isDeclined(address: number, now: number): boolean {
    const until = this.#declined.get(address);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#declined.delete(address);
    return false;
  }

  #isFree(pool: Pool, address: number, mac: string, now: number): boolean {
    if (!this.#inPool(pool, address) || this.#isDeclined(address, now)) return false;
    const holder = this.#byAddress.get(address);
    return !holder || holder.mac === mac || holder.expiresAt <= now;
  }

  #set(lease: Lease): void {
    const previous = this.#byMac.get(lease.mac);
    if (previous) this.#delete(previous);
    const holder = this.#byAddress.get(lease.address);
    if (holder) this.#delete(holder);
    this.#byMac.set(lease.mac, lease);
    this.#byAddress.set(lease.address, lease);
  }

  #delete(lease: Lease): void {
    if (this.#byMac.get(lease.mac) === lease) this.#byMac.delete(lease.mac);
    if (this.#byAddress.get(lease.address) === lease) this.#byAddress.delete(lease.address);
  }

  #persist(): Promise<void> {
    const file = this.#file;
    if (!file) return Promise.resolve();
    const write = async () => {
      const data: LeaseFile = {
        version: 1,
        leases: [...this.#byMac.values()].filter((l) => l.bound).map((l) => ({ mac: l.mac, address: intToIp(l.address), expiresAt: l.expiresAt })),
        declined: [...this.#declined].map(([address, until]) => ({ address: intToIp(address), until })),
      };
      const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(temporary, `${JSON.stringify(data)}\n`, { mode: 0o600 });
      await rename(temporary, file);
    };
    // Each write captures the state when it runs, so the last one always carries the latest state.
    const next = this.#writes.then(write, write);
    this.#writes = next.catch((error: unknown) => this.#logger.error({ err: error, file }, 'cannot write the DHCP lease file'));
    return next;
  }
}
