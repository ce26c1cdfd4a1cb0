import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

/** A CIDR prefix as numbers: `first` is the network address, `last` the last address in it. */
export interface Prefix {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
  readonly length: number;
}

const BITS: Readonly<Record<IpFamily, number>> = { 4: 32, 6: 128 };

export function familyOf(address: string): IpFamily | null {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return null;
}

export function addressToBigInt(address: string): bigint {
  const family = familyOf(address);
  if (family === 4) return address.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
  if (family !== 6) throw new TypeError(`not an IP address: ${address}`);
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = addressToBigInt(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
}

export function bigIntToAddress(value: bigint, family: IpFamily): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  // RFC 5952: the longest run (of two or more) of zero groups becomes `::`, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

/** Canonical text of an address (lower case, compressed IPv6), or null when it is not one. */
export function normalizeAddress(address: string): string | null {
  const family = familyOf(address.trim());
  return family ? bigIntToAddress(addressToBigInt(address.trim()), family) : null;
}

/** Parses `10.0.0.0/24` or `2001:db8::/64`; host bits must be zero. Null when it is not a prefix. */
export function parsePrefix(cidr: string): Prefix | null {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!match) return null;
  const family = familyOf(match[1]!);
  const length = Number(match[2]);
  if (!family || length > BITS[family]) return null;
  const hostBits = BigInt(BITS[family] - length);
  const first = addressToBigInt(match[1]!);
  if (first & ((1n << hostBits) - 1n)) return null;
  return { family, first, last: first + (1n << hostBits) - 1n, length };
}

export function prefixToString(prefix: Prefix): string {
  return `${bigIntToAddress(prefix.first, prefix.family)}/${prefix.length}`;
}

export function contains(prefix: Prefix, value: bigint): boolean {
  return value >= prefix.first && value <= prefix.last;
}

/**
 * The addresses of a prefix that can be handed to hosts, as NetBox counts them: in IPv4
 * all but the network and broadcast addresses (every address of a /31 or /32); in IPv6
 * all but the subnet-router anycast address (the first), except in a /127 or /128.
 */
export function usableRange(prefix: Prefix): { first: bigint; last: bigint } {
  const full = BITS[prefix.family];
  if (prefix.family === 4) {
    return prefix.length >= 31 ? { first: prefix.first, last: prefix.last } : { first: prefix.first + 1n, last: prefix.last - 1n };
  }
  return prefix.length >= full - 1 ? { first: prefix.first, last: prefix.last } : { first: prefix.first + 1n, last: prefix.last };
}
