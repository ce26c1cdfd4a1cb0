import { validateWithDefaults } from '@metalplane/core';
import { describe, expect, it } from 'vitest';
import { PxeConfigSchema, type PxeConfig } from './config.js';

describe('PXE plugin config', () => {
  const subnet = { cidr: '10.0.0.0/24', serverAddress: '10.0.0.1', range: { start: '10.0.0.100', end: '10.0.0.200' } };

  it('accepts a full-mode config and fills the defaults', () => {
    const { value, errors } = validateWithDefaults<PxeConfig>(PxeConfigSchema, { httpBaseUrl: 'http://10.0.0.1:8080', dhcp: { mode: 'full', subnets: [subnet] } });
    expect(errors).toEqual([]);
    expect(value.dhcp.subnets[0]).toMatchObject({ leaseSeconds: 3600 });
    expect(value.tftp).toMatchObject({ enabled: true, port: 69, blksizeMax: 1468, windowsizeMax: 64 });
    expect(value.ipxeDirectory).toBe('/usr/lib/ipxe');
  });

  it('names the field of a bad address or mode', () => {
    const { errors } = validateWithDefaults<PxeConfig>(PxeConfigSchema, {
      httpBaseUrl: 'http://10.0.0.1:8080/boot',
      dhcp: { mode: 'dynamic', subnets: [{ ...subnet, serverAddress: '10.0.0.256' }] },
    });
    const paths = errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/httpBaseUrl', '/dhcp/mode', '/dhcp/subnets/0/serverAddress']));
  });
});
