import type { IpPool, IpPoolSpec } from '@metalplane/core';
import { describe, expect, it } from 'vitest';
import { dynamicRangeOverlaps } from './range-overlap.js';

const pool = (name: string, spec: IpPoolSpec) => ({ name, spec, resourceVersion: 1, createdAt: '', updatedAt: '' }) as unknown as IpPool;
const subnet = { cidr: '10.0.0.0/24', serverAddress: '10.0.0.1', range: { start: '10.0.0.100', end: '10.0.0.199' }, leaseSeconds: 600 };

describe('IP pools against a full-mode dynamic range', () => {
  it('names a pool that could hand out a dynamic address', () => {
    expect(dynamicRangeOverlaps([subnet], [pool('rack', { cidr: '10.0.0.0/24' })])).toEqual([
      expect.stringContaining('IP pool rack (10.0.0.0/24) can hand out addresses of the DHCP dynamic range 10.0.0.100-10.0.0.199'),
    ]);
    expect(dynamicRangeOverlaps([subnet], [pool('top', { cidr: '10.0.0.0/24', range: { start: '10.0.0.150', end: '10.0.0.250' } })])).toHaveLength(1);
  });

  it('accepts pools kept clear by their range, by a reservation, or elsewhere', () => {
    const fine = [
      pool('low', { cidr: '10.0.0.0/24', range: { start: '10.0.0.10', end: '10.0.0.99' } }),
      pool('reserved', { cidr: '10.0.0.0/24', reserved: ['10.0.0.90-10.0.0.210'] }),
      pool('other', { cidr: '10.1.0.0/24' }),
      pool('v6', { cidr: '2001:db8::/64' }),
    ];
    expect(dynamicRangeOverlaps([subnet], fine)).toEqual([]);
    expect(dynamicRangeOverlaps([{ ...subnet, range: undefined }], [pool('rack', { cidr: '10.0.0.0/24' })])).toEqual([]);
  });
});
