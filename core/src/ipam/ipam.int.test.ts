import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../events/event-bus.js';
import { silentLogger } from '../logger.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '../testing/databases.js';
import { PoolExhaustedError } from './builtin-ipam.js';
import { IpClaims } from './claims.js';
import type { IpPoolSpec } from './model.js';

const owner = (key: string) => ({ key });

describe.each(testDatabaseNames())('built-in IPAM (%s)', (engine) => {
  let db: TestDatabase;
  let store: Store;
  let claims: IpClaims;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    store = await Store.open(db.config);
    claims = new IpClaims(store, new EventBus(silentLogger), () => []);
  });
  afterEach(async () => {
    await store.close();
    await db.dispose();
  });

  const pool = (name: string, spec: IpPoolSpec) => store.ipPools.create(name, spec);
  const address = async (poolName: string, key: string) => (await claims.claim({ pool: poolName, owner: owner(key) })).claim.status.address;

  it('hands out the lowest free address, skipping network, gateway, reserved and broadcast', async () => {
    await pool('rack-a', { cidr: '10.0.0.0/29', gateway: '10.0.0.1', reserved: ['10.0.0.3-10.0.0.4'], dnsServers: ['10.0.0.53'] });
    const { claim } = await claims.claim({ pool: 'rack-a', owner: owner('m1') });
    expect(claim.status).toMatchObject({ phase: 'bound', address: '10.0.0.2', prefixLength: 29, gateway: '10.0.0.1', dnsServers: ['10.0.0.53'] });
    expect([await address('rack-a', 'm2'), await address('rack-a', 'm3')]).toEqual(['10.0.0.5', '10.0.0.6']);
    await expect(claims.claim({ pool: 'rack-a', owner: owner('m4') })).rejects.toBeInstanceOf(PoolExhaustedError);
  });

  it('is idempotent by owner and pool: asking twice returns the same claim and address', async () => {
    await pool('p', { cidr: '10.1.0.0/24' });
    const first = await claims.claim({ pool: 'p', owner: owner('machine-7/eth0') });
    const again = await claims.claim({ pool: 'p', owner: owner('machine-7/eth0') });
    expect(first.created).toBe(true);
    expect(again).toEqual({ claim: first.claim, created: false });
    expect(await store.ipAllocations.addressesOf('p')).toEqual(['10.1.0.1']);
  });

  it('refuses a claim on a full pool with pool_exhausted naming the pool, and keeps nothing of it', async () => {
    await pool('tiny', { cidr: '10.2.0.0/30' });
    expect(await address('tiny', 'a')).toBe('10.2.0.1');
    expect(await address('tiny', 'b')).toBe('10.2.0.2');
    const refused = claims.claim({ pool: 'tiny', owner: owner('c') });
    await expect(refused).rejects.toBeInstanceOf(PoolExhaustedError);
    await expect(claims.claim({ pool: 'tiny', owner: owner('c') })).rejects.toMatchObject({ code: 'pool_exhausted', details: { pool: 'tiny' } });
    expect((await store.ipClaims.list({ limit: 10, pool: 'tiny' })).items).toHaveLength(2);
  });

  it('gives a released address to the next claim', async () => {
    await pool('tiny', { cidr: '10.3.0.0/30' });
    const a = await claims.claim({ pool: 'tiny', owner: owner('a') });
    await address('tiny', 'b');
    const released = await claims.release(a.claim.id);
    expect(released.status.phase).toBe('released');
    expect(await claims.release(a.claim.id)).toEqual(released);
    expect(await address('tiny', 'c')).toBe('10.3.0.1');
  });

  it('hash: the same owner gets the same address in a fresh database', async () => {
    const spec: IpPoolSpec = { cidr: '10.4.0.0/16', strategy: 'hash' };
    await pool('hashed', spec);
    const here = await address('hashed', 'serial:SRV-0042');
    expect(here).not.toBe('10.4.0.1');

    const other = await createTestDatabase(engine);
    const rebuilt = await Store.open(other.config);
    try {
      await rebuilt.ipPools.create('hashed', spec);
      const again = new IpClaims(rebuilt, new EventBus(silentLogger), () => []);
      await again.claim({ pool: 'hashed', owner: owner('someone-else') });
      expect((await again.claim({ pool: 'hashed', owner: owner('serial:SRV-0042') })).claim.status.address).toBe(here);
    } finally {
      await rebuilt.close();
      await other.dispose();
    }
  });

  it('honours a requested address, and refuses one outside the pool, reserved, or taken', async () => {
    await pool('p', { cidr: '10.5.0.0/24', gateway: '10.5.0.1' });
    expect((await claims.claim({ pool: 'p', owner: owner('a'), requestedAddress: '10.5.0.100' })).claim.status.address).toBe('10.5.0.100');
    await expect(claims.claim({ pool: 'p', owner: owner('b'), requestedAddress: '10.6.0.1' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(claims.claim({ pool: 'p', owner: owner('b'), requestedAddress: '10.5.0.1' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(claims.claim({ pool: 'p', owner: owner('b'), requestedAddress: '10.5.0.100' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(claims.claim({ pool: 'p', owner: owner('b'), requestedAddress: 'nope' })).rejects.toMatchObject({ code: 'invalid_input' });
    expect((await store.ipClaims.list({ limit: 10, pool: 'p' })).items.map((c) => c.spec.owner.key)).toEqual(['a']);
  });

  it('allocates from an IPv6 prefix within its range', async () => {
    await pool('v6', { cidr: '2001:db8:0:1::/64', range: { start: '2001:db8:0:1::100', end: '2001:db8:0:1::1ff' } });
    expect(await address('v6', 'a')).toBe('2001:db8:0:1::100');
    expect(await address('v6', 'b')).toBe('2001:db8:0:1::101');
  });

  it('never hands one address to two of 100 concurrent claims', async () => {
    await pool('busy', { cidr: '10.7.0.0/26' });
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => claims.claim({ pool: 'busy', owner: owner(`m${i}`) })));
    const bound = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.claim.status.address] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(bound).toHaveLength(62);
    expect(new Set(bound).size).toBe(62);
    expect(refused).toHaveLength(38);
    for (const reason of refused) expect(reason).toBeInstanceOf(PoolExhaustedError);
  });

  it('refuses a claim on a pool that does not exist, naming the field', async () => {
    await expect(claims.claim({ pool: 'ghost', owner: owner('a') })).rejects.toMatchObject({ code: 'invalid_input', details: { errors: [{ path: '/pool' }] } });
  });
});
