import { ConflictError, InputError, PoolExhaustedError, type IpClaimRequest, type IpClaims } from '@metalplane/core';
import type { NetboxEmulator } from '@metalplane/testkit';
import { testDatabaseNames } from '@metalplane/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetboxClient, NetboxValidationError, type NetboxConfig } from '../src/index.js';
import { netboxPool, openCore, startNetbox, startPlugin, taggedAddresses, V1_TOKEN, type Core, type PluginUnderTest } from './support.js';

const LATER = () => new Date(Date.now() + 24 * 3600 * 1000);
const never = new AbortController().signal;

describe.each(testDatabaseNames())('the NetBox IPAM provider against the emulator (%s)', (engine) => {
  let netbox: NetboxEmulator;
  let core: Core;
  let plugin: PluginUnderTest;
  let claims: IpClaims;

  async function setup(emulator: Parameters<typeof startNetbox>[0] = {}, config: Partial<NetboxConfig> = {}): Promise<void> {
    netbox = await startNetbox(emulator);
    core = await openCore(engine);
    plugin = await startPlugin(core.store, { url: netbox.url, ...config });
    await plugin.start();
    claims = core.claims(() => [plugin.ipam]);
  }

  afterEach(async () => {
    await plugin?.stop();
    await core?.close();
    await netbox?.stop();
  });

  describe('allocate, get, release', () => {
    beforeEach(() => setup());

    it('allocates from the prefix with our tags, the hostname and the device interface, and releases by deleting', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.10.0.0/24' });
      const device = netbox.state.addDevice({ name: 'rack1-node7' });
      const iface = netbox.state.addInterface({ device: device.id, name: 'eno1', macAddress: '02:00:00:00:07:01' });
      await core.store.ipPools.create('rack1', netboxPool('10.10.0.0/24', { prefixId: prefix.id }, { gateway: '10.10.0.254', dnsServers: ['10.10.0.53'] }));
      const machine = await core.store.machines.create({ identity: [{ kind: 'mac', value: '02:00:00:00:07:01' }], hostname: 'node7.rack1', phase: 'enrolled' });

      const owner = { key: `${machine.id}/02:00:00:00:07:01`, machineId: machine.id, mac: '02:00:00:00:07:01' };
      const { claim } = await claims.claim({ pool: 'rack1', owner });
      expect(claim.status).toMatchObject({ phase: 'bound', address: '10.10.0.1', prefixLength: 24, gateway: '10.10.0.254', dnsServers: ['10.10.0.53'] });

      const [ip] = netbox.state.ipAddresses();
      expect(ip).toMatchObject({
        address: '10.10.0.1/24',
        status: 'active',
        dnsName: 'node7.rack1',
        assignedObjectType: 'dcim.interface',
        assignedObjectId: iface.id,
        description: `metalplane rack1: ${owner.key}`,
      });
      const ownerTag = (plugin.ipam as unknown as { ownerTag(k: string): string }).ownerTag(owner.key);
      expect([...ip!.tags].sort()).toEqual(['managed-by-metalplane', ownerTag].sort());
      expect(ownerTag).toMatch(/^metalplane-owner-[0-9a-f]{24}$/);
      expect(claim.status.providerRef).toEqual({ ipAddressId: ip!.id, prefixId: prefix.id });

      // Idempotent: the same claim again, and the provider asked directly, give the same address.
      expect((await claims.claim({ pool: 'rack1', owner })).claim.status.address).toBe('10.10.0.1');
      const request: IpClaimRequest = { claimId: claim.id, owner, pool: { name: 'rack1', spec: (await core.store.ipPools.require('rack1')).spec } };
      expect(await plugin.ipam.allocate(request, never)).toMatchObject({ address: '10.10.0.1' });
      expect(await plugin.ipam.get(request, never)).toMatchObject({ address: '10.10.0.1', providerRef: { ipAddressId: ip!.id } });
      expect(netbox.state.ipAddresses()).toHaveLength(1);

      await claims.release(claim.id);
      expect(netbox.state.ipAddresses()).toEqual([]);
      expect(await plugin.ipam.get(request, never)).toBeNull();
      await plugin.ipam.release(request, never); // nothing left: still fine
    });

    it('finds the prefix by CIDR and VRF, and allocates from IP ranges', async () => {
      const vrf = netbox.state.addVrf({ name: 'prod', rd: '65000:1' });
      netbox.state.addPrefix({ prefix: '10.11.0.0/24' }); // same CIDR in the global table
      const inVrf = netbox.state.addPrefix({ prefix: '10.11.0.0/24', vrf: vrf.id });
      const range = netbox.state.addIpRange({ startAddress: '10.12.0.100/24', endAddress: '10.12.0.102/24' });
      await core.store.ipPools.create('prod', netboxPool('10.11.0.0/24', { prefix: '10.11.0.0/24', vrfId: vrf.id }));
      await core.store.ipPools.create('dhcp-range', netboxPool('10.12.0.0/24', { ipRangeId: range.id }));

      const a = await claims.claim({ pool: 'prod', owner: { key: 'a' } });
      expect(a.claim.status.providerRef).toMatchObject({ prefixId: inVrf.id });
      expect(netbox.state.ipAddress(a.claim.status.providerRef!.ipAddressId as number)?.vrfId).toBe(vrf.id);

      const hosts = [];
      for (const key of ['r1', 'r2', 'r3']) hosts.push((await claims.claim({ pool: 'dhcp-range', owner: { key } })).claim.status.address);
      expect(hosts).toEqual(['10.12.0.100', '10.12.0.101', '10.12.0.102']);
      await expect(claims.claim({ pool: 'dhcp-range', owner: { key: 'r4' } })).rejects.toBeInstanceOf(PoolExhaustedError);
    });

    it('refuses a pool whose providerRef is wrong, naming it (a final error: no claim is kept)', async () => {
      netbox.state.addPrefix({ prefix: '10.13.0.0/24' });
      await core.store.ipPools.create('no-ref', netboxPool('10.13.0.0/24', {}));
      await core.store.ipPools.create('missing', netboxPool('10.13.0.0/24', { prefixId: 999 }));
      await core.store.ipPools.create('elsewhere', netboxPool('10.99.0.0/24', { prefix: '10.13.0.0/24' }));
      await expect(claims.claim({ pool: 'no-ref', owner: { key: 'x' } })).rejects.toThrow(/needs providerRef \{ prefixId \}/);
      await expect(claims.claim({ pool: 'missing', owner: { key: 'x' } })).rejects.toThrow(/no prefix with id 999 \(or the token's user lacks ipam.view_prefix\)/);
      const error = await claims.claim({ pool: 'elsewhere', owner: { key: 'x' } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toMatch(/NetBox prefix 10.13.0.0\/24 \(id \d+\) does not lie in the pool's cidr 10.99.0.0\/24/);
      expect((await core.store.ipClaims.list({ limit: 10 })).items).toEqual([]);
    });

    it('hands out a requested address, and refuses one NetBox already has', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.14.0.0/24' });
      netbox.state.addIpAddress({ address: '10.14.0.20/24', description: 'printer' });
      await core.store.ipPools.create('p', netboxPool('10.14.0.0/24', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'want-10' }, requestedAddress: '10.14.0.10' });
      expect(claim.status.address).toBe('10.14.0.10');
      expect((await claims.claim({ pool: 'p', owner: { key: 'want-10' }, requestedAddress: '10.14.0.10' })).created).toBe(false);
      await expect(claims.claim({ pool: 'p', owner: { key: 'want-20' }, requestedAddress: '10.14.0.20' })).rejects.toBeInstanceOf(ConflictError);
      await expect(claims.claim({ pool: 'p', owner: { key: 'outside' }, requestedAddress: '10.15.0.1' })).rejects.toBeInstanceOf(InputError);
      expect(netbox.state.ipAddresses().map((ip) => ip.description)).toEqual(['printer', 'metalplane p: want-10']);
    });

    it('recreates a tag that was deleted in NetBox after it was cached', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.17.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.17.0.0/24', { prefixId: prefix.id }));
      await claims.claim({ pool: 'p', owner: { key: 'first' } });
      const ownership = netbox.state.tags().find((t) => t.slug === 'managed-by-metalplane')!;
      const headers = { authorization: netbox.tokens[0]!.authorization };
      expect((await fetch(`${netbox.url}/api/extras/tags/${ownership.id}/`, { method: 'DELETE', headers })).status).toBe(204);

      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'second' } });
      expect(claim.status.phase).toBe('bound');
      expect(netbox.state.ipAddress(claim.status.providerRef!.ipAddressId as number)?.tags).toContain('managed-by-metalplane');
    });

    it('allocates IPv6', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '2001:db8:5::/64' });
      await core.store.ipPools.create('v6', netboxPool('2001:db8:5::/64', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'v6', owner: { key: 'six' } });
      expect(claim.status).toMatchObject({ phase: 'bound', address: '2001:db8:5::1', prefixLength: 64 });
    });

    it('runs out cleanly: PoolExhaustedError, nothing kept, nothing half-written in NetBox', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.16.0.0/29' });
      await core.store.ipPools.create('tiny', netboxPool('10.16.0.0/29', { prefixId: prefix.id }));
      const bound = await Promise.all(Array.from({ length: 6 }, (_, i) => claims.claim({ pool: 'tiny', owner: { key: `t${i}` } })));
      expect(bound.map((r) => r.claim.status.address).sort()).toEqual(['10.16.0.1', '10.16.0.2', '10.16.0.3', '10.16.0.4', '10.16.0.5', '10.16.0.6']);
      const error = await claims.claim({ pool: 'tiny', owner: { key: 't6' } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PoolExhaustedError);
      expect((error as PoolExhaustedError).details).toEqual({ pool: 'tiny' });
      expect((await core.store.ipClaims.list({ limit: 10 })).items).toHaveLength(6);
      expect(taggedAddresses(netbox)).toHaveLength(6);
    });
  });

  describe('foreign addresses', () => {
    beforeEach(() => setup());

    it('are never touched by allocate or release', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.20.0.0/27' });
      netbox.state.addTag({ name: 'managed-by-metalplane' }); // exists, but not on the foreign addresses
      const foreign = [
        netbox.state.addIpAddress({ address: '10.20.0.1/27', description: 'router', dnsName: 'gw.rack' }),
        netbox.state.addIpAddress({ address: '10.20.0.3/27', status: 'reserved', description: 'reserved by hand' }),
        netbox.state.addIpAddress({ address: '10.20.0.7/27', description: 'someone else\'s tool', tags: [] }),
      ];
      await core.store.ipPools.create('p', netboxPool('10.20.0.0/27', { prefixId: prefix.id }));
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => claims.claim({ pool: 'p', owner: { key: `f${i}` } })));
      const ours = results.map((r) => r.claim.status.address);
      for (const f of foreign) expect(ours).not.toContain(f.host);

      for (const r of results) await claims.release(r.claim.id);
      expect(netbox.state.ipAddresses()).toEqual(foreign);
    });

    it('an address carrying the owner tag but not the ownership tag is refused on release, with what to do', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.21.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.21.0.0/24', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'took-over' } });
      // An operator takes the address over: removes our ownership tag in NetBox.
      const id = claim.status.providerRef!.ipAddressId as number;
      const ownerTag = netbox.state.ipAddress(id)!.tags.find((t) => t.startsWith('metalplane-owner-'))!;
      const taken = netbox.state.updateIpAddress(id, { tags: [ownerTag] });

      const error = await claims.release(claim.id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as Error).message).toMatch(
        new RegExp(`refusing to release 10.21.0.1/24 \\(NetBox id ${id}\\).*not the ownership tag managed-by-metalplane.*Remove the tag ${ownerTag}`),
      );
      expect(netbox.state.ipAddress(id)).toEqual(taken);
      // Nor does a new claim of that owner adopt it: it is not ours any more.
      expect(await plugin.ipam.get({ claimId: claim.id, owner: claim.spec.owner, pool: { name: 'p', spec: (await core.store.ipPools.require('p')).spec } }, never)).toBeNull();
    });
  });

  describe('release mode deprecate', () => {
    beforeEach(() => setup({}, { releaseMode: 'deprecate' }));

    it('marks the address deprecated, and the same owner gets it back', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.22.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.22.0.0/24', { prefixId: prefix.id }));
      const first = await claims.claim({ pool: 'p', owner: { key: 'keeper' } });
      await claims.claim({ pool: 'p', owner: { key: 'other' } });
      await claims.release(first.claim.id);
      const id = first.claim.status.providerRef!.ipAddressId as number;
      expect(netbox.state.ipAddress(id)).toMatchObject({ status: 'deprecated', tags: expect.arrayContaining(['managed-by-metalplane']) });

      await core.store.ipClaims.delete(first.claim.id);
      const again = await claims.claim({ pool: 'p', owner: { key: 'keeper' } });
      expect(again.claim.status).toMatchObject({ phase: 'bound', address: first.claim.status.address, providerRef: { ipAddressId: id } });
      expect(netbox.state.ipAddress(id)?.status).toBe('active');
      expect(taggedAddresses(netbox)).toHaveLength(2);
    });
  });

  describe('NetBox unreachable or failing', () => {
    beforeEach(() => setup());

    it('down for a while: claims stay pending with the error, then bind when it is back', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.30.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.30.0.0/24', { prefixId: prefix.id }));
      await claims.claim({ pool: 'p', owner: { key: 'before' } }); // the pool resolved and the tags exist
      await netbox.faults.down();

      const waiting = await Promise.all(Array.from({ length: 10 }, (_, i) => claims.claim({ pool: 'p', owner: { key: `down-${i}` } })));
      for (const { claim } of waiting) {
        expect(claim.status.phase).toBe('pending');
        expect(claim.status.error).toMatch(/NetBox at http:\/\/127\.0\.0\.1:\d+ is unavailable: .*ECONNREFUSED/);
        expect(claim.status.error).not.toContain(V1_TOKEN);
      }
      // Still down: the reconcile loop records another failed attempt.
      expect((await claims.reconcile(LATER())).bound).toBe(0);
      expect((await core.store.ipClaims.require(waiting[0]!.claim.id)).status).toMatchObject({ phase: 'pending', attempts: 2 });

      await netbox.faults.up();
      const report = await claims.reconcile(LATER());
      expect(report.bound).toBe(10);
      const all = (await core.store.ipClaims.list({ limit: 20 })).items;
      expect(all.every((c) => c.status.phase === 'bound')).toBe(true);
      expect(new Set(all.map((c) => c.status.address)).size).toBe(11);
      expect(taggedAddresses(netbox)).toHaveLength(11);
    });

    it('an allocation NetBox applied but whose answer was lost is found, not repeated', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.31.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.31.0.0/24', { prefixId: prefix.id }));
      await claims.claim({ pool: 'p', owner: { key: 'warm-up' } });
      netbox.faults.set({ status5xx: { count: 1, status: 502, phase: 'after' }, match: { method: 'POST', path: '/available-ips/' } });
      const lost5xx = await claims.claim({ pool: 'p', owner: { key: 'lost-5xx' } });
      netbox.faults.set({ dropConnections: { count: 1, phase: 'after' }, match: { method: 'POST', path: '/available-ips/' } });
      const dropped = await claims.claim({ pool: 'p', owner: { key: 'dropped' } });
      expect(netbox.faults.stats().dropped).toBe(1);
      expect(lost5xx.claim.status.phase).toBe('bound');
      expect(dropped.claim.status.phase).toBe('bound');
      expect(taggedAddresses(netbox)).toHaveLength(3);
      expect(netbox.requests().filter((r) => r.method === 'POST' && r.url.includes('available-ips'))).toHaveLength(3);
    });

    it('retries 5xx and 429 that NetBox never handled, and never a 400', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.32.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.32.0.0/24', { prefixId: prefix.id }));
      netbox.faults.set({ status5xx: { count: 2, status: 503 } });
      expect((await claims.claim({ pool: 'p', owner: { key: 'flaky-5xx' } })).claim.status.phase).toBe('bound');
      expect(netbox.faults.stats()).toMatchObject({ status5xx: 2 });
      netbox.faults.set({ status429: { count: 2, retryAfterSeconds: 0 }, match: { method: 'POST' } });
      expect((await claims.claim({ pool: 'p', owner: { key: 'flaky-429' } })).claim.status.phase).toBe('bound');
      expect(netbox.faults.stats()).toMatchObject({ status429: 2 });
      expect(taggedAddresses(netbox)).toHaveLength(2);
      netbox.faults.clear();

      netbox.clearRequests();
      const client = new NetboxClient({ url: netbox.url, token: V1_TOKEN, retries: 3, retryBaseMs: 1 });
      const error = await client.post(`/api/ipam/prefixes/${prefix.id}/available-ips/`, { status: 'bogus', dns_name: 'bad name!' }).catch((e: unknown) => e);
      await client.close();
      expect(error).toBeInstanceOf(NetboxValidationError);
      expect((error as NetboxValidationError).fieldErrors.map((f) => f.field).sort()).toEqual(['dns_name', 'status']);
      expect((error as Error).message).toMatch(/status: "bogus" is not a valid choice/);
      expect(netbox.requests()).toHaveLength(1);
    });
  });

  describe('authentication and permissions', () => {
    it('an unknown token: the claim waits with an error that says the token is wrong, never the token', async () => {
      await setup({}, { token: 'UnknownTokenUnknownTokenUnknownToken1234' });
      const prefix = netbox.state.addPrefix({ prefix: '10.40.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.40.0.0/24', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'x' } });
      expect(claim.status.phase).toBe('pending');
      expect(claim.status.error).toMatch(/NetBox rejected the configured v1 token .*"Invalid v1 token".*does not know this token: check plugins\.netbox\.token/);
      expect(claim.status.error).not.toContain('UnknownToken');
      expect(netbox.requests()).toHaveLength(1); // a 403 is not retried
    });

    it('a token without a permission: the error names the permission', async () => {
      await setup({
        tokens: [
          {
            version: 1,
            token: V1_TOKEN,
            permissions: ['ipam.view_prefix', 'ipam.view_ipaddress', 'extras.view_tag', 'extras.add_tag', 'dcim.view_macaddress'],
          },
        ],
      });
      const prefix = netbox.state.addPrefix({ prefix: '10.41.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.41.0.0/24', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'x' } });
      expect(claim.status.phase).toBe('pending');
      expect(claim.status.error).toMatch(/refused POST \/api\/ipam\/prefixes\/\d+\/available-ips\/.*give its user the permission ipam\.add_ipaddress \(and ipam\.view_prefix\)/);
    });

    it('a read-only token: the error says it must be write-enabled', async () => {
      await setup({ tokens: [{ version: 1, token: V1_TOKEN, writeEnabled: false }] });
      const prefix = netbox.state.addPrefix({ prefix: '10.42.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.42.0.0/24', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'x' } });
      expect(claim.status.error).toMatch(/POST \/api\/extras\/tags\/.*extras\.add_tag and make sure the token is write-enabled/);
    });

    it('a v2 token is sent as Bearer and works', async () => {
      const token = 'nbt_AbCdEf012345.0123456789abcdefghijABCDEFGHIJ0123456789klmn';
      await setup({ tokens: [{ version: 2, key: 'AbCdEf012345', token: '0123456789abcdefghijABCDEFGHIJ0123456789klmn'.slice(0, 40) }] }, { token: token.slice(0, 4 + 12 + 1 + 40) });
      const prefix = netbox.state.addPrefix({ prefix: '10.43.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.43.0.0/24', { prefixId: prefix.id }));
      expect((await claims.claim({ pool: 'p', owner: { key: 'x' } })).claim.status.phase).toBe('bound');
      expect(netbox.requests().every((r) => r.auth === 'v2')).toBe(true);
    });

    it('a v2 token against NetBox before 4.5: the error says so', async () => {
      await setup({ version: '4.4.0' }, { token: 'nbt_AbCdEf012345.0123456789abcdefghijABCDEFGHIJ0123456789' });
      const prefix = netbox.state.addPrefix({ prefix: '10.44.0.0/24' });
      await core.store.ipPools.create('p', netboxPool('10.44.0.0/24', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'x' } });
      expect(claim.status.phase).toBe('pending');
      expect(claim.status.error).toMatch(/v2 token/);
    });
  });

  describe('NetBox before 4.2 (no MAC address model)', () => {
    beforeEach(() => setup({ version: '4.1.11' }));

    it('assigns the address to the interface found by ?mac_address=', async () => {
      const prefix = netbox.state.addPrefix({ prefix: '10.50.0.0/24' });
      const device = netbox.state.addDevice({ name: 'old-node' });
      const iface = netbox.state.addInterface({ device: device.id, name: 'eth0', macAddress: '02:00:00:00:50:01' });
      await core.store.ipPools.create('p', netboxPool('10.50.0.0/24', { prefixId: prefix.id }));
      const { claim } = await claims.claim({ pool: 'p', owner: { key: 'old', mac: '02:00:00:00:50:01' } });
      expect(netbox.state.ipAddress(claim.status.providerRef!.ipAddressId as number)).toMatchObject({ assignedObjectType: 'dcim.interface', assignedObjectId: iface.id });
    });
  });
});
