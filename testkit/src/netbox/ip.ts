/**
 * IPv4/IPv6 arithmetic on bigints, with the parsing and printing rules NetBox inherits from
 * netaddr and PostgreSQL's `inet`: strict dotted quads, RFC 5952 IPv6 text, `::ffff:a.b.c.d`
 * for IPv4-mapped addresses.
 */

export type IpFamily = 4 | 6;

/** One address without a mask. */
export interface IpHost {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** An address with a mask, like PostgreSQL `inet` (`192.0.2.10/24`). */
export interface IpInterface extends IpHost {
  readonly prefixLength: number;
}

/** An inclusive span of addresses of one family. */
export interface IpInterval {
  readonly start: bigint;
  readonly end: bigint;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // inet_pton rules: decimal only, no leading zeros, 0..255.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

export function parseIpv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45 || text.includes('%')) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::" and "ffff:1.2.3.4" would leave "ffff:"; keep a trailing ':' only as part of '::'.
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const groupsWanted = tailV4 === undefined ? 8 : 6;
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const group of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
      groups.push(parseInt(group, 16));
    }
    return groups;
  };
  const left = parseGroups(halves[0] ?? '');
  const right = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = groupsWanted - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== groupsWanted) return undefined;
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  if (tailV4 !== undefined) value = (value << 32n) | tailV4;
  return value;
}

/** Parses an address without a mask; `undefined` when it is not one. */
export function parseHost(text: string): IpHost | undefined {
  const trimmed = text.trim();
  if (trimmed.includes(':')) {
    const value = parseIpv6(trimmed);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIpv4(trimmed);
  return value === undefined ? undefined : { family: 4, value };
}

/**
 * Parses `address[/length]`; without a length the address is a host route (/32 or /128),
 * which is what NetBox stores for an address given without a mask.
 */
export function parseInterface(text: string): IpInterface | undefined {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const host = parseHost(slash >= 0 ? trimmed.slice(0, slash) : trimmed);
  if (!host) return undefined;
  const bits = familyBits(host.family);
  if (slash < 0) return { ...host, prefixLength: bits };
  const lengthText = trimmed.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > bits) return undefined;
  return { ...host, prefixLength };
}

export function formatHost(host: IpHost): string {
  if (host.family === 4) return formatIpv4(host.value);
  return formatIpv6(host.value);
}

export function formatInterface(iface: IpInterface): string {
  return `${formatHost(iface)}/${iface.prefixLength}`;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function formatIpv6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups (the first one on a tie) becomes "::".
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLength).join(':');
  return `${left}::${right}`;
}

export function hostMask(family: IpFamily, prefixLength: number): bigint {
  const bits = BigInt(familyBits(family));
  return (1n << (bits - BigInt(prefixLength))) - 1n;
}

export function networkOf(iface: IpInterface): bigint {
  return iface.value & ~hostMask(iface.family, iface.prefixLength) & ((1n << BigInt(familyBits(iface.family))) - 1n);
}

export function lastOf(iface: IpInterface): bigint {
  return networkOf(iface) | hostMask(iface.family, iface.prefixLength);
}

/** The network itself (host bits cleared), e.g. `10.0.0.0/24` for `10.0.0.7/24`. */
export function toNetwork(iface: IpInterface): IpInterface {
  return { family: iface.family, value: networkOf(iface), prefixLength: iface.prefixLength };
}

/** Whether `host` lies inside `net` (inclusive), like PostgreSQL `host(a) <<= net`. */
export function netContainsHost(net: IpInterface, host: IpHost): boolean {
  return net.family === host.family && host.value >= networkOf(net) && host.value <= lastOf(net);
}

/** Whether `outer` contains or equals `inner` as networks (`inner <<= outer`). */
export function netContainsNet(outer: IpInterface, inner: IpInterface): boolean {
  return (
    outer.family === inner.family &&
    outer.prefixLength <= inner.prefixLength &&
    networkOf(inner) >= networkOf(outer) &&
    lastOf(inner) <= lastOf(outer)
  );
}

/**
 * PostgreSQL's `inet` ordering (`network_cmp`): family, then the common leading bits, then
 * the mask length, then the whole address. It is the order NetBox lists addresses in.
 */
export function compareInet(a: IpInterface, b: IpInterface): number {
  if (a.family !== b.family) return a.family - b.family;
  const bits = familyBits(a.family);
  const common = Math.min(a.prefixLength, b.prefixLength);
  const shift = BigInt(bits - common);
  const aHead = common === 0 ? 0n : a.value >> shift;
  const bHead = common === 0 ? 0n : b.value >> shift;
  if (aHead !== bHead) return aHead < bHead ? -1 : 1;
  if (a.prefixLength !== b.prefixLength) return a.prefixLength - b.prefixLength;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return 0;
}

/** Sorts and merges overlapping or touching intervals. */
export function mergeIntervals(intervals: readonly IpInterval[]): IpInterval[] {
  const sorted = [...intervals].sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const merged: IpInterval[] = [];
  for (const interval of sorted) {
    const last = merged.at(-1);
    if (last && interval.start <= last.end + 1n) {
      if (interval.end > last.end) merged[merged.length - 1] = { start: last.start, end: interval.end };
    } else {
      merged.push(interval);
    }
  }
  return merged;
}

/**
 * The addresses of `span` not covered by `excluded`, ascending. Lazy: the caller bounds the
 * walk by how many it takes; each step either yields or skips a whole excluded interval.
 */
export function* freeAddresses(span: IpInterval, excluded: readonly IpInterval[]): Generator<bigint, void, undefined> {
  const gaps = mergeIntervals(excluded.filter((x) => x.end >= span.start && x.start <= span.end));
  let cursor = span.start;
  for (const gap of [...gaps, { start: span.end + 1n, end: span.end + 1n }]) {
    const stop = gap.start > span.end ? span.end : gap.start - 1n;
    for (; cursor <= stop; cursor++) yield cursor;
    if (gap.end + 1n > cursor) cursor = gap.end + 1n;
    if (cursor > span.end) return;
  }
}

/** How many addresses of `span` are not covered by `excluded`. */
export function countFree(span: IpInterval, excluded: readonly IpInterval[]): bigint {
  let covered = 0n;
  for (const gap of mergeIntervals(excluded)) {
    const start = gap.start > span.start ? gap.start : span.start;
    const end = gap.end < span.end ? gap.end : span.end;
    if (end >= start) covered += end - start + 1n;
  }
  return span.end - span.start + 1n - covered;
}
