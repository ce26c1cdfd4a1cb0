import { describe, expect, it } from 'vitest';
import { compareInet, countFree, formatHost, formatInterface, freeAddresses, parseHost, parseInterface } from './ip.js';
import { normalizeMac } from './mac.js';
import { quotePlus, withQueryParam } from './pagination.js';

describe('IP text', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
    ['2001:db8::0:1', '2001:db8::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
  ])('reads %s and prints %s', (text, printed) => {
    const host = parseHost(text);
    expect(host).toBeDefined();
    expect(formatHost(host as NonNullable<typeof host>)).toBe(printed);
  });

  it.each(['192.0.2', '192.0.2.256', '01.2.3.4', '1.2.3.4.5', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'fe80::1%eth0', '', 'abc'])(
    'rejects %j',
    (text) => expect(parseHost(text)).toBeUndefined(),
  );

  it('reads masks and defaults to a host route', () => {
    expect(formatInterface(parseInterface('10.0.0.5') as never)).toBe('10.0.0.5/32');
    expect(formatInterface(parseInterface('2001:db8::5') as never)).toBe('2001:db8::5/128');
    expect(parseInterface('10.0.0.5/33')).toBeUndefined();
    expect(parseInterface('10.0.0.5/')).toBeUndefined();
  });

  it('orders like PostgreSQL inet', () => {
    const sorted = ['10.0.0.5/32', '10.0.0.6/24', '2001:db8::1/64', '10.0.0.5/24', '9.0.0.0/8']
      .map((t) => parseInterface(t) as NonNullable<ReturnType<typeof parseInterface>>)
      .sort(compareInet)
      .map(formatInterface);
    expect(sorted).toEqual(['9.0.0.0/8', '10.0.0.5/24', '10.0.0.6/24', '10.0.0.5/32', '2001:db8::1/64']);
  });
});

describe('free address walk', () => {
  it('skips excluded intervals and counts what is left', () => {
    const span = { start: 0n, end: 15n };
    const excluded = [{ start: 0n, end: 0n }, { start: 3n, end: 5n }, { start: 4n, end: 7n }, { start: 15n, end: 20n }];
    expect([...freeAddresses(span, excluded)]).toEqual([1n, 2n, 8n, 9n, 10n, 11n, 12n, 13n, 14n]);
    expect(countFree(span, excluded)).toBe(9n);
  });

  it('is lazy over a huge span', () => {
    const walk = freeAddresses({ start: 0n, end: (1n << 64n) - 1n }, [{ start: 0n, end: 0n }]);
    expect([walk.next().value, walk.next().value]).toEqual([1n, 2n]);
  });
});

describe('MAC and query text', () => {
  it.each(['00:1a:2b:3c:4d:5e', '00-1A-2B-3C-4D-5E', '001a.2b3c.4d5e', '001a2b3c4d5e', '001a2b:3c4d5e'])('normalises %s', (text) => {
    expect(normalizeMac(text)).toBe('00:1A:2B:3C:4D:5E');
  });

  it('rejects malformed MACs', () => {
    expect(normalizeMac('00:1a:2b:3c:4d')).toBeUndefined();
    expect(normalizeMac('00:1a-2b:3c:4d:5e')).toBeUndefined();
  });

  it('encodes like Python urlencode(sorted(...))', () => {
    expect(quotePlus('10.0.0.0/24 a~b')).toBe('10.0.0.0%2F24+a~b');
    expect(withQueryParam('http://h/api/x/?z=1&tag=a&tag=b&limit=5', 'offset', '10')).toBe('http://h/api/x/?limit=5&offset=10&tag=a&tag=b&z=1');
    expect(withQueryParam('http://h/api/x/?offset=10&limit=5', 'offset', undefined)).toBe('http://h/api/x/?limit=5');
  });
});
