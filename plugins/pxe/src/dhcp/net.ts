/** IPv4 arithmetic on unsigned 32-bit numbers; addresses stay dotted quads at the edges. */

export function ipToInt(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${address}`);
  let value = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!/^\d{1,3}$/.test(part) || octet > 255) throw new Error(`not an IPv4 address: ${address}`);
    value = value * 256 + octet;
  }
  return value;
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export interface Ipv4Net {
  readonly network: number;
  readonly prefixLength: number;
  readonly mask: number;
}

export function parseCidr(cidr: string): Ipv4Net {
  const [address, length] = cidr.split('/');
  const prefixLength = Number(length);
  if (address === undefined || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new Error(`not an IPv4 prefix: ${cidr}`);
  const mask = maskOf(prefixLength);
  return { network: (ipToInt(address) & mask) >>> 0, prefixLength, mask };
}

export function contains(net: Ipv4Net, address: number): boolean {
  return ((address & net.mask) >>> 0) === net.network;
}

export const ZERO = '0.0.0.0';
export const BROADCAST = '255.255.255.255';
