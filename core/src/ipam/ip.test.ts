import { describe, expect, it } from 'vitest';
import { addressToBigInt, bigIntToAddress, normalizeAddress, parsePrefix, prefixToString, usableRange } from './ip.js';

describe('IP addresses', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('%s is %s', (input, expected) => expect(normalizeAddress(input)).toBe(expected));

  it.each(['10.0.0.256', 'nope', '10.0.0', '2001:db8:::1', ''])('%j is not an address', (input) => expect(normalizeAddress(input)).toBeNull());

  it('round-trips through numbers', () => {
    expect(addressToBigInt('10.0.1.2')).toBe(0x0a000102n);
    expect(bigIntToAddress(0x0a000102n, 4)).toBe('10.0.1.2');
    expect(bigIntToAddress(addressToBigInt('2001:db8::ff'), 6)).toBe('2001:db8::ff');
  });
});

describe('prefixes', () => {
  it.each([
    ['10.0.0.0/24', '10.0.0.1', '10.0.0.254'],
    ['10.0.0.0/31', '10.0.0.0', '10.0.0.1'],
    ['10.0.0.7/32', '10.0.0.7', '10.0.0.7'],
    ['2001:db8::/64', '2001:db8::1', '2001:db8::ffff:ffff:ffff:ffff'],
    ['2001:db8::/127', '2001:db8::', '2001:db8::1'],
  ])('%s hands out %s to %s', (cidr, first, last) => {
    const prefix = parsePrefix(cidr)!;
    expect(prefixToString(prefix)).toBe(cidr);
    const usable = usableRange(prefix);
    expect(bigIntToAddress(usable.first, prefix.family)).toBe(first);
    expect(bigIntToAddress(usable.last, prefix.family)).toBe(last);
  });

  it.each(['10.0.0.1/24', '10.0.0.0/33', '10.0.0.0', '2001:db8::1/64', 'x/8'])('%j is not a prefix', (cidr) => expect(parsePrefix(cidr)).toBeNull());
});
