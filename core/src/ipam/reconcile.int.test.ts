import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PluginError } from '../errors.js';
import { EventBus } from '../events/event-bus.js';
import type { IpAllocation, IpamProvider } from '../extension-points/ipam.js';
import { transition } from '../lifecycle/transition.js';
import { silentLogger } from '../logger.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '../testing/databases.js';
import { PoolExhaustedError } from './builtin-ipam.js';
import { IpClaims } from './claims.js';

/** An IPAM plugin whose answers the test scripts. */
class ScriptedIpam implements IpamProvider {
  readonly id = 'scripted';
  failuresLeft = 0;
  exhausted = false;
  releaseFails = false;
  held = new Map<string, IpAllocation>();
  next = 1;

  async allocate(claim: { claimId: string }): Promise<IpAllocation> {
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('ECONNREFUSED: provider unreachable');
    }
    // The plugin runtime hands core a plugin's errors wrapped like this.
    if (this.exhausted) throw new PluginError(this.id, 'ipam.allocate', new PoolExhaustedError('ext'));
    const allocation = this.held.get(claim.claimId) ?? { address: `172.16.0.${this.next++}`, prefixLength: 24 };
    this.held.set(claim.claimId, allocation);
    return allocation;
  }
  async release(claim: { claimId: string }): Promise<void> {
    if (this.releaseFails) throw new PluginError(this.id, 'ipam.release', new Error('503 Service Unavailable'));
    this.held.delete(claim.claimId);
  }
  async get(claim: { claimId: string }): Promise<IpAllocation | null> {
    return this.held.get(claim.claimId) ?? null;
  }
}

describe.each(testDatabaseNames())('IP claims follow machines (%s)', (engine) => {
  let db: TestDatabase;
  let store: Store;
  let events: EventBus;
  let plugin: ScriptedIpam;
  let claims: IpClaims;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    store = await Store.open(db.config);
    events = new EventBus(silentLogger);
    plugin = new ScriptedIpam();
    claims = new IpClaims(store, events, () => [plugin]);
  });
  afterEach(async () => {
    await store.close();
    await db.dispose();
  });

  const enrolledMachine = (mac: string, roles: ('compute' | 'storage')[] = []) =>
    store.machines.create({ identity: [{ kind: 'mac', value: mac }], phase: 'enrolled', roles });

  it('gives machines with the role an address on their boot NIC, shown on the machine', async () => {
    await store.ipPools.create('compute-net', { cidr: '10.30.0.0/24', assignTo: { roles: ['compute'] } });
    const storage = await enrolledMachine('02:00:00:00:00:01', ['storage']);
    const compute = await enrolledMachine('02:00:00:00:00:02', ['compute']);
    expect(await claims.assignForMachine(storage)).toEqual([]);
    const [result] = await claims.assignForMachine(compute);
    expect(result?.claim.spec.owner).toEqual({ key: `${compute.id}/02:00:00:00:00:02`, machineId: compute.id, mac: '02:00:00:00:00:02' });
    expect((await store.machines.require(compute.id)).addresses).toEqual([
      { claimId: result!.claim.id, pool: 'compute-net', phase: 'bound', address: '10.30.0.1', prefixLength: 24, mac: '02:00:00:00:00:02' },
    ]);
    // Asking again changes nothing.
    expect((await claims.assignForMachine(compute))[0]?.created).toBe(false);
  });

  it('the reconcile loop assigns machines that got the role later, and releases retired machines', async () => {
    await store.ipPools.create('compute-net', { cidr: '10.31.0.0/24', assignTo: { roles: ['compute'] } });
    const machine = await enrolledMachine('02:00:00:00:00:03');
    expect((await claims.reconcile()).assigned).toBe(0);
    await store.machines.update(machine.id, { roles: ['compute'] });
    expect((await claims.reconcile()).assigned).toBe(1);
    expect((await store.machines.require(machine.id)).addresses[0]?.address).toBe('10.31.0.1');

    await transition(store, events, machine.id, { transition: 'retire', actor: 'test', reason: 'decommissioned' });
    expect((await claims.reconcile()).released).toBe(1);
    expect((await store.machines.require(machine.id)).addresses).toEqual([]);
    expect(await store.ipAllocations.addressesOf('compute-net')).toEqual([]);
  });

  it('keeps a claim pending while the provider is down, retries after the backoff, and binds', async () => {
    await store.ipPools.create('ext', { cidr: '172.16.0.0/24', provider: 'scripted' });
    plugin.failuresLeft = 2;
    const { claim, created } = await claims.claim({ pool: 'ext', owner: { key: 'x' } });
    expect(created).toBe(true);
    expect(claim.status).toMatchObject({ phase: 'pending', attempts: 1, error: 'ECONNREFUSED: provider unreachable' });
    const retryAt = Date.parse(claim.status.nextAttemptAt!);

    expect((await claims.reconcile(new Date(retryAt - 1000))).retried).toBe(0);
    await claims.reconcile(new Date(retryAt + 1));
    const second = await store.ipClaims.require(claim.id);
    expect(second.status).toMatchObject({ phase: 'pending', attempts: 2 });
    expect(Date.parse(second.status.nextAttemptAt!) - Date.now()).toBeGreaterThan(3000);

    const report = await claims.reconcile(new Date(Date.parse(second.status.nextAttemptAt!) + 1));
    expect(report).toMatchObject({ retried: 1, bound: 1 });
    expect((await store.ipClaims.require(claim.id)).status).toMatchObject({ phase: 'bound', address: '172.16.0.1' });
  });

  it('reports drift: an address the provider no longer holds for us puts the claim in conflict', async () => {
    await store.ipPools.create('ext', { cidr: '172.16.0.0/24', provider: 'scripted' });
    const { claim } = await claims.claim({ pool: 'ext', owner: { key: 'y' } });
    expect((await claims.reconcile()).conflicts).toBe(0);
    plugin.held.delete(claim.id);
    expect((await claims.reconcile()).conflicts).toBe(1);
    expect((await store.ipClaims.require(claim.id)).status).toMatchObject({
      phase: 'conflict',
      address: '172.16.0.1',
      error: expect.stringContaining('no longer holds 172.16.0.1'),
    });
  });

  it('a claim on a pool whose provider plugin is not loaded fails clearly and is retried later', async () => {
    await store.ipPools.create('orphan', { cidr: '172.17.0.0/24', provider: 'netbox' });
    const { claim } = await claims.claim({ pool: 'orphan', owner: { key: 'z' } });
    expect(claim.status).toMatchObject({ phase: 'pending', error: expect.stringContaining('names IPAM provider netbox, which is not loaded') });
  });

  it('claims move with a DHCP record that enrollment folds into the machine', async () => {
    await store.ipPools.create('early', { cidr: '10.32.0.0/24' });
    const shadow = await store.machines.create({ identity: [{ kind: 'mac', value: '02:00:00:00:00:09' }] });
    const survivor = await enrolledMachine('02:00:00:00:00:08');
    const { claim } = await claims.claim({ pool: 'early', owner: { key: 'early-nic', machineId: shadow.id, mac: '02:00:00:00:00:09' } });
    await store.machines.absorb(survivor.id, [shadow.id]);
    expect((await store.ipClaims.require(claim.id)).spec.owner.machineId).toBe(survivor.id);
    expect((await claims.reconcile()).released).toBe(0);
    expect((await store.machines.require(survivor.id)).addresses.map((a) => a.address)).toEqual(['10.32.0.1']);
  });

  it("a plugin's pool-exhausted answer refuses the claim (nothing kept) instead of retrying it", async () => {
    await store.ipPools.create('ext', { cidr: '172.16.0.0/24', provider: 'scripted' });
    plugin.exhausted = true;
    await expect(claims.claim({ pool: 'ext', owner: { key: 'full' } })).rejects.toBeInstanceOf(PoolExhaustedError);
    expect((await store.ipClaims.list({ limit: 10 })).items).toEqual([]);
  });

  it('a release the provider cannot do now is recorded on the claim and does not stop the pass', async () => {
    await store.ipPools.create('ext', { cidr: '172.16.0.0/24', provider: 'scripted' });
    await store.ipPools.create('local', { cidr: '10.33.0.0/24' });
    const first = await enrolledMachine('02:00:00:00:00:0a');
    const second = await enrolledMachine('02:00:00:00:00:0b');
    const external = (await claims.claim({ pool: 'ext', owner: { key: 'a', machineId: first.id } })).claim;
    const local = (await claims.claim({ pool: 'local', owner: { key: 'b', machineId: second.id } })).claim;
    await transition(store, events, first.id, { transition: 'retire', actor: 'test', reason: 'gone' });
    await transition(store, events, second.id, { transition: 'retire', actor: 'test', reason: 'gone' });
    plugin.releaseFails = true;

    expect((await claims.reconcile()).released).toBe(1);
    expect((await store.ipClaims.require(local.id)).status.phase).toBe('released');
    expect((await store.ipClaims.require(external.id)).status).toMatchObject({ phase: 'bound', error: expect.stringContaining('release failed') });

    plugin.releaseFails = false;
    expect((await claims.reconcile()).released).toBe(1);
    expect((await store.ipClaims.require(external.id)).status.phase).toBe('released');
  });
});
