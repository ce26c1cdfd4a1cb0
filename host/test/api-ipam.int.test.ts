import type { IpClaim, IpPool } from '@metalplane/core';
import { testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import { expectError, expectInvalid, useTestHost } from './support.js';

describe.each(testDatabaseNames())('IPAM API (%s)', (engine) => {
  const api = useTestHost(engine);
  const createPool = (name: string, spec: object) => api.inject({ method: 'POST', url: '/api/v1/ip-pools', payload: { name, spec } });
  const claim = (payload: object) => api.inject({ method: 'POST', url: '/api/v1/ip-claims', payload });

  it('creates, reads, lists, replaces and deletes a pool', async () => {
    const created = await createPool('lab', { cidr: '192.168.50.0/24', gateway: '192.168.50.1', dnsServers: ['192.168.50.53'] });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json<IpPool>().spec).toMatchObject({ cidr: '192.168.50.0/24', strategy: 'sequential', provider: 'builtin' });
    expect((await api.inject({ url: '/api/v1/ip-pools/lab' })).json<IpPool>().name).toBe('lab');
    expect((await api.inject({ url: '/api/v1/ip-pools' })).json<{ items: IpPool[] }>().items.map((p) => p.name)).toContain('lab');
    const replaced = await api.inject({ method: 'PUT', url: '/api/v1/ip-pools/lab', payload: { spec: { cidr: '192.168.50.0/24', strategy: 'hash' } } });
    expect(replaced.json<IpPool>()).toMatchObject({ resourceVersion: 2, spec: { strategy: 'hash' } });
    expect((await api.inject({ method: 'DELETE', url: '/api/v1/ip-pools/lab' })).statusCode).toBe(204);
    expectError(await api.inject({ url: '/api/v1/ip-pools/lab' }), 404, 'not_found');
  });

  it.each([
    [{ cidr: '10.0.0.1/24' }, '/body/spec/cidr'],
    [{ cidr: '10.0.0.0/24', gateway: '10.0.1.1' }, '/body/spec/gateway'],
    [{ cidr: '10.0.0.0/24', gateway: '2001:db8::1' }, '/body/spec/gateway'],
    [{ cidr: '10.0.0.0/24', range: { start: '10.0.0.50', end: '10.0.0.10' } }, '/body/spec/range'],
    [{ cidr: '10.0.0.0/24', reserved: ['10.0.0.5', 'ten'] }, '/body/spec/reserved/1'],
    [{ cidr: '10.0.0.0/24', dnsServers: ['dns.example'] }, '/body/spec/dnsServers/0'],
    [{ cidr: '10.0.0.0/24', strategy: 'random' }, '/body/spec/strategy'],
    [{ cidr: '10.0.0.0/24', colour: 'blue' }, '/body/spec/colour'],
  ])('refuses pool %j naming %s', async (spec, path) => {
    expectInvalid(await createPool(`bad-${Math.random().toString(36).slice(2, 8)}`, spec), path);
  });

  it('claims: 201 bound, 200 on asking again, 409 pool_exhausted with nothing kept, and released on delete', async () => {
    expect((await createPool('tiny', { cidr: '10.9.0.0/30' })).statusCode).toBe(201);
    const first = await claim({ pool: 'tiny', owner: { key: 'node-1', mac: '52:54:00:00:00:01' } });
    expect(first.statusCode).toBe(201);
    expect(first.json<IpClaim>().status).toMatchObject({ phase: 'bound', address: '10.9.0.1', prefixLength: 30 });
    const again = await claim({ pool: 'tiny', owner: { key: 'node-1', mac: '52:54:00:00:00:01' } });
    expect(again.statusCode).toBe(200);
    expect(again.json<IpClaim>().id).toBe(first.json<IpClaim>().id);
    expect((await claim({ pool: 'tiny', owner: { key: 'node-2' } })).json<IpClaim>().status.address).toBe('10.9.0.2');

    const full = expectError(await claim({ pool: 'tiny', owner: { key: 'node-3' } }), 409, 'pool_exhausted');
    expect(full.message).toContain('tiny');
    expect((await api.inject({ url: '/api/v1/ip-claims?pool=tiny' })).json<{ items: IpClaim[] }>().items).toHaveLength(2);

    expectError(await api.inject({ method: 'DELETE', url: '/api/v1/ip-pools/tiny' }), 409, 'conflict');
    expect((await api.inject({ method: 'DELETE', url: `/api/v1/ip-claims/${first.json<IpClaim>().id}` })).statusCode).toBe(204);
    expect((await claim({ pool: 'tiny', owner: { key: 'node-3' } })).json<IpClaim>().status.address).toBe('10.9.0.1');
  });

  it('filters claims by pool and phase, and refuses bad claims naming the field', async () => {
    await createPool('filters', { cidr: '10.8.0.0/28' });
    const enrolled = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: '02:88:00:00:00:01' } });
    const machineId = enrolled.json<{ machine: { id: string } }>().machine.id;
    await claim({ pool: 'filters', owner: { key: 'a', machineId } });
    expectInvalid(await claim({ pool: 'filters', owner: { key: 'b', machineId: 'no-such-machine' } }), '/owner/machineId');
    const byMachine = await api.inject({ url: `/api/v1/ip-claims?machineId=${machineId}` });
    expect(byMachine.json<{ items: IpClaim[] }>().items.map((c) => c.spec.owner.key)).toEqual(['a']);
    expect((await api.inject({ url: '/api/v1/ip-claims?pool=filters&phase=released' })).json<{ items: IpClaim[] }>().items).toEqual([]);
    expectInvalid(await claim({ pool: 'ghost', owner: { key: 'x' } }), '/pool');
    expectInvalid(await claim({ pool: 'filters', owner: {} }), '/body/owner/key');
    expectInvalid(await claim({ pool: 'filters', owner: { key: 'x' }, requestedAddress: '10.9.9.9' }), '/requestedAddress');
    expectInvalid(await api.inject({ url: '/api/v1/ip-claims?phase=lost' }), '/querystring/phase');
  });

  it('gives a machine that gets the pool\'s role an address on its boot NIC, shown on the machine and in next-boot', async () => {
    await createPool('compute', { cidr: '10.44.0.0/24', gateway: '10.44.0.1', assignTo: { roles: ['compute'] } });
    const enrolled = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: '02:44:00:00:00:01' } });
    const id = enrolled.json<{ machine: { id: string } }>().machine.id;
    await api.inject({ method: 'PATCH', url: `/api/v1/machines/${id}`, payload: { roles: ['compute'] } });

    // The claim follows the machine.updated event; give it a bounded moment.
    let addresses: { address?: string; pool: string; mac?: string }[] = [];
    for (let i = 0; i < 50 && addresses.length === 0; i++) {
      addresses = (await api.inject({ url: `/api/v1/machines/${id}` })).json<{ addresses: typeof addresses }>().addresses;
      if (addresses.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(addresses).toEqual([expect.objectContaining({ pool: 'compute', address: '10.44.0.2', mac: '02:44:00:00:00:01' })]);
    const next = (await api.inject({ url: `/api/v1/machines/${id}/next-boot` })).json<{ addresses: unknown[] }>();
    expect(next.addresses).toEqual([expect.objectContaining({ address: '10.44.0.2', prefixLength: 24 })]);
  });

  it('refuses an assignTo rule without a criterion, which would hand the pool to the whole fleet', async () => {
    expectInvalid(await createPool('everyone', { cidr: '10.45.0.0/24', assignTo: {} }), '/body/spec/assignTo');
  });
});
