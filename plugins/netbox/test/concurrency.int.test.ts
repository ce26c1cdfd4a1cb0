import type { IpClaim, IpClaims } from '@metalplane/core';
import type { NetboxEmulator } from '@metalplane/testkit';
import { testDatabaseNames } from '@metalplane/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { netboxPool, openCore, startNetbox, startPlugin, taggedAddresses, waitFor, type Core, type PluginUnderTest } from './support.js';

/** Far enough ahead that every claim's retry backoff has passed. */
const LATER = () => new Date(Date.now() + 24 * 3600 * 1000);

async function allClaims(core: Core): Promise<IpClaim[]> {
  return (await core.store.ipClaims.list({ limit: 1000 })).items;
}

/**
 * The invariants: no address is held twice, and every address with our ownership tag belongs
 * to exactly one bound claim (its owner tag, its address) — nothing leaked, nothing orphaned.
 */
async function expectConsistent(core: Core, netbox: NetboxEmulator, plugin: PluginUnderTest, expectedClaims: number): Promise<void> {
  expect(netbox.state.duplicateAddresses()).toEqual([]);
  const claims = await allClaims(core);
  expect(claims).toHaveLength(expectedClaims);
  expect(claims.filter((c) => c.status.phase !== 'bound').map((c) => [c.spec.owner.key, c.status.phase, c.status.error])).toEqual([]);
  const addresses = claims.map((c) => c.status.address);
  expect(new Set(addresses).size).toBe(claims.length);

  const ipam = plugin.ipam as unknown as { ownerTag(key: string): string };
  const byOwnerTag = new Map(claims.map((c) => [ipam.ownerTag(c.spec.owner.key), c]));
  const tagged = taggedAddresses(netbox);
  expect(tagged).toHaveLength(claims.length);
  for (const ip of tagged) {
    const claim = byOwnerTag.get(ip.ownerTag ?? '');
    expect(claim, `NetBox address ${ip.address} (id ${ip.id}) with owner tag ${ip.ownerTag} belongs to no claim`).toBeDefined();
    expect(ip.host).toBe(claim!.status.address);
    expect(claim!.status.providerRef).toMatchObject({ ipAddressId: ip.id });
  }
}

describe.each(testDatabaseNames())('NetBox allocation under concurrency (emulator with racy available-ips) (%s)', (engine) => {
  let netbox: NetboxEmulator;
  let core: Core;
  const plugins: PluginUnderTest[] = [];

  beforeEach(async () => {
    netbox = await startNetbox({ raceAvailableIps: true, raceWindowMs: 1 });
    core = await openCore(engine);
  });
  afterEach(async () => {
    for (const plugin of plugins.splice(0)) await plugin.stop();
    await core.close();
    await netbox.stop();
  });

  async function plugin(): Promise<PluginUnderTest> {
    const instance = await startPlugin(core.store, { url: netbox.url });
    plugins.push(instance);
    await instance.start();
    return instance;
  }

  it('the emulator really races: without the per-prefix lock, concurrent POSTs get the same address', async () => {
    const prefix = netbox.state.addPrefix({ prefix: '10.70.0.0/24' });
    const headers = { authorization: netbox.tokens[0]!.authorization, 'content-type': 'application/json' };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${netbox.url}/api/ipam/prefixes/${prefix.id}/available-ips/`, { method: 'POST', headers, body: '{}' }).then((r) => r.json() as Promise<{ address: string }>),
      ),
    );
    expect(new Set(answers.map((a) => a.address)).size).toBeLessThan(20);
    expect(netbox.state.duplicateAddresses().length).toBeGreaterThan(0);
  });

  it('500 concurrent claims on one prefix: every claim bound, no duplicate, no orphan', async () => {
    const prefix = netbox.state.addPrefix({ prefix: '10.71.0.0/22' });
    await core.store.ipPools.create('rack', netboxPool('10.71.0.0/22', { prefixId: prefix.id }, { gateway: '10.71.0.1' }));
    netbox.state.addIpAddress({ address: '10.71.0.1/22', description: 'the gateway, made by hand' });
    const instance = await plugin();
    const claims = core.claims(() => [instance.ipam]);

    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => claims.claim({ pool: 'rack', owner: { key: `owner-${i}` } })));
    const elapsedMs = Math.round(performance.now() - started);
    console.log(`500 concurrent NetBox claims through IpClaims: ${elapsedMs} ms (${Math.round(500 / (elapsedMs / 1000))} claims/s)`);

    expect(results.every((r) => r.created && r.claim.status.phase === 'bound')).toBe(true);
    expect(results.every((r) => r.claim.status.gateway === '10.71.0.1' && r.claim.status.prefixLength === 22)).toBe(true);
    expect(results.map((r) => r.claim.status.address)).not.toContain('10.71.0.1');
    await expectConsistent(core, netbox, instance, 500);

    // Asking again is idempotent: the same addresses, nothing new in NetBox.
    const before = netbox.state.ipAddresses().length;
    const again = await Promise.all(Array.from({ length: 50 }, (_, i) => claims.claim({ pool: 'rack', owner: { key: `owner-${i}` } })));
    expect(again.map((r) => r.claim.status.address)).toEqual(results.slice(0, 50).map((r) => r.claim.status.address));
    expect(netbox.state.ipAddresses()).toHaveLength(before);
  });

  it('a restart mid-allocation leaves no duplicate and no leaked address', async () => {
    const prefix = netbox.state.addPrefix({ prefix: '10.72.0.0/23' });
    await core.store.ipPools.create('rack', netboxPool('10.72.0.0/23', { prefixId: prefix.id }));
    netbox.faults.set({ latencyMs: { min: 1, max: 5 }, match: { method: 'POST' } });
    const first = await plugin();
    const firstClaims = core.claims(() => [first.ipam]);
    const inFlight = Array.from({ length: 200 }, (_, i) => firstClaims.claim({ pool: 'rack', owner: { key: `machine-${i}` } }));
    await waitFor(() => taggedAddresses(netbox).length >= 40, 20_000, '40 allocations before the restart');

    // NetBox now takes 2.5 s over each allocation; the instance dies while one is in flight,
    // and NetBox completes it after the client is gone.
    netbox.faults.set({ latencyMs: 2500, match: { method: 'POST', path: '/available-ips/' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await first.stop();
    const outcomes = await Promise.allSettled(inFlight);
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    const interrupted = (await allClaims(core)).filter((c) => c.status.phase !== 'bound');
    expect(interrupted.length).toBeGreaterThan(0);
    expect(interrupted.every((c) => c.status.phase === 'pending' && /stopping/.test(c.status.error ?? ''))).toBe(true);

    // A new instance on the same store and NetBox, while the dead one's allocation is still running there.
    netbox.faults.clear();
    const second = await plugin();
    const secondClaims: IpClaims = core.claims(() => [second.ipam]);
    expect((await secondClaims.reconcile(LATER())).bound).toBe(interrupted.length);
    await waitFor(() => netbox.requests().some((r) => r.method === 'POST' && r.durationMs >= 2400), 10_000, 'the dead instance\'s allocation to finish in NetBox');
    // It left one address more than there are claims: a second address for one owner.
    expect(taggedAddresses(netbox)).toHaveLength(201);

    // The next pass checks every bound claim against NetBox (core's drift check): the surplus goes.
    expect((await secondClaims.reconcile(LATER())).conflicts).toBe(0);
    await expectConsistent(core, netbox, second, 200);
    expect(second.logger.lines.some((l) => l.includes('deleting a second address of the same owner'))).toBe(true);
  });
});
