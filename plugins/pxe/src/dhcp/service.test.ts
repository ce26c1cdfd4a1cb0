import { silentLogger } from '@metalplane/core';
import { describe, expect, it } from 'vitest';
import { DhcpService, type DhcpServiceConfig } from './service.js';

const config = (mode: DhcpServiceConfig['mode'], extra: Partial<DhcpServiceConfig> = {}): DhcpServiceConfig => ({
  mode,
  port: 67,
  proxyPort: 4011,
  subnets: [],
  declineSeconds: 600,
  ipxeNoProxyWait: true,
  httpBaseUrl: 'http://10.0.0.1:8080',
  ...extra,
});
const hooks = { reservation: async () => null, observe: () => {} };

// Socket behaviour is tested in network namespaces (test/dhcp.test.ts); these need no sockets.
describe('DhcpService', () => {
  it('opens nothing in off mode and says so', async () => {
    const service = new DhcpService({ config: config('off'), hooks, logger: silentLogger });
    await service.start();
    expect(service.status()).toEqual([{ protocol: 'dhcp', listen: '-', mode: 'off', healthy: true, detail: 'DHCP is off' }]);
    await service.stop();
  });

  it('reports not running before start', () => {
    const service = new DhcpService({ config: config('proxy'), hooks, logger: silentLogger });
    expect(service.status()).toEqual([{ protocol: 'dhcp', listen: '0.0.0.0:67', mode: 'proxy', healthy: false, detail: 'not running' }]);
  });

  it('refuses a pool outside its subnet before opening sockets', async () => {
    const subnets = [{ cidr: '10.0.0.0/24', serverAddress: '10.0.0.1', leaseSeconds: 600, range: { start: '10.0.1.1', end: '10.0.1.9' } }];
    const service = new DhcpService({ config: config('full', { subnets }), hooks, logger: silentLogger });
    await expect(service.start()).rejects.toThrow(/not inside 10.0.0.0\/24/);
    expect(service.status()[0]?.healthy).toBe(false);
  });
});
