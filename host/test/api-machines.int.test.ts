import type { Machine, MachineEvent } from '@metalplane/core';
import { testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import {
  allMachines,
  createMachine,
  expectError,
  expectInvalid,
  getMachine,
  listMachines,
  useTestHost,
  type TestHost,
} from './support.js';

function patchMachine(api: TestHost, id: string, body: Record<string, unknown>) {
  return api.inject({ method: 'PATCH', url: `/api/v1/machines/${id}`, payload: body });
}

function putMachine(api: TestHost, id: string, body: Record<string, unknown>) {
  return api.inject({ method: 'PUT', url: `/api/v1/machines/${id}`, payload: body });
}

function postTransition(api: TestHost, id: string, body: Record<string, unknown>) {
  return api.inject({ method: 'POST', url: `/api/v1/machines/${id}/transitions`, payload: body });
}

async function setLabels(api: TestHost, id: string, labels: Record<string, string>): Promise<Machine> {
  const res = await patchMachine(api, id, { labels });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Machine>();
}

const ids = (machines: readonly Machine[]) => machines.map((m) => m.id);

describe.each(testDatabaseNames())('machines API (%s)', (engine) => {
  describe('GET /api/v1/machines (its own database, so counts are exact)', () => {
    const api = useTestHost(engine);
    let m1: Machine, m2: Machine, m3: Machine, m4: Machine, m5: Machine;

    it('starts empty', async () => {
      expect(await listMachines(api)).toEqual({ items: [], next: null });
    });

    it('lists every machine, oldest id first', async () => {
      m1 = await createMachine(api, ['52:54:00:aa:bb:cc', '52:54:00:aa:bb:cd']);
      m2 = await createMachine(api);
      m3 = await createMachine(api);
      m4 = await createMachine(api);
      m5 = await createMachine(api);
      await setLabels(api, m1.id, { rack: 'a', row: '1' });
      await setLabels(api, m2.id, { rack: 'a', row: '2' });
      await setLabels(api, m3.id, { rack: 'b', row: '1' });
      await setLabels(api, m4.id, { rack: 'a', row: '1', role: 'db' });

      const page = await listMachines(api);
      expect(page.next).toBeNull();
      expect(ids(page.items)).toEqual([m1, m2, m3, m4, m5].map((m) => m.id).sort());
    });

    it('filters by one label and by several (AND)', async () => {
      expect(ids((await listMachines(api, 'label=rack=a')).items)).toEqual([m1.id, m2.id, m4.id].sort());
      expect(ids((await listMachines(api, 'label=rack=a&label=row=1')).items)).toEqual([m1.id, m4.id].sort());
      expect(ids((await listMachines(api, 'label=rack=a&label=row=1&label=role=db')).items)).toEqual([m4.id]);
      expect((await listMachines(api, 'label=rack=c')).items).toEqual([]);
    });

    it('takes a label value that itself contains "="', async () => {
      await setLabels(api, m5.id, { note: 'k=v' });
      expect(ids((await listMachines(api, `label=${encodeURIComponent('note=k=v')}`)).items)).toEqual([m5.id]);
    });

    it('filters by phase', async () => {
      const res = await postTransition(api, m3.id, { transition: 'maintain', reason: 'fan replacement' });
      expect(res.statusCode, res.body).toBe(200);
      expect(ids((await listMachines(api, 'phase=maintenance')).items)).toEqual([m3.id]);
      expect(ids((await listMachines(api, 'phase=enrolled')).items)).toEqual([m1, m2, m4, m5].map((m) => m.id).sort());
      expect((await listMachines(api, 'phase=deployed')).items).toEqual([]);
      expect(ids((await listMachines(api, 'phase=enrolled&label=rack=b')).items)).toEqual([]);
    });

    it('filters by MAC in any case and format', async () => {
      for (const mac of ['52:54:00:aa:bb:cc', '52-54-00-AA-BB-CC', '5254.00aa.bbcc', '525400AABBCC', '52:54:00:AA:BB:CD']) {
        expect(ids((await listMachines(api, `mac=${encodeURIComponent(mac)}`)).items), mac).toEqual([m1.id]);
      }
      expect((await listMachines(api, 'mac=52:54:00:00:00:00')).items).toEqual([]);
    });

    it('pages with limit and continue', async () => {
      const seen: string[] = [];
      let page = await listMachines(api, 'limit=2');
      const sizes = [page.items.length];
      seen.push(...ids(page.items));
      while (page.next) {
        page = await listMachines(api, `limit=2&continue=${encodeURIComponent(page.next)}`);
        sizes.push(page.items.length);
        seen.push(...ids(page.items));
      }
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen).toEqual([m1, m2, m3, m4, m5].map((m) => m.id).sort());
      expect(await allMachines(api)).toHaveLength(5);
    });

    it('pages through a filtered list', async () => {
      const first = await listMachines(api, 'label=rack=a&limit=2');
      expect(first.items).toHaveLength(2);
      expect(first.next).not.toBeNull();
      const second = await listMachines(api, `label=rack=a&limit=2&continue=${first.next}`);
      expect(second.next).toBeNull();
      expect([...ids(first.items), ...ids(second.items)]).toEqual([m1.id, m2.id, m4.id].sort());
    });

    it('refuses bad filters with 400 naming the parameter', async () => {
      expectInvalid(await api.inject('/api/v1/machines?label=nokey'), '/querystring/label/0');
      expectInvalid(await api.inject('/api/v1/machines?label=rack=a&label==b'), '/querystring/label/1');
      expectInvalid(await api.inject('/api/v1/machines?mac=not-a-mac'), '/querystring/mac');
      expectInvalid(await api.inject('/api/v1/machines?phase=sleeping'), '/querystring/phase');
      expectInvalid(await api.inject('/api/v1/machines?limit=0'), '/querystring/limit');
      expectInvalid(await api.inject('/api/v1/machines?limit=many'), '/querystring/limit');
      expectInvalid(await api.inject('/api/v1/machines?limit=1001'), '/querystring/limit');
      expectInvalid(await api.inject('/api/v1/machines?colour=red'), '/querystring/colour');
    });
  });

  describe('GET, PUT and PATCH /api/v1/machines/:id', () => {
    const api = useTestHost(engine);

    it('GET of an unknown id is 404 not_found', async () => {
      const error = expectError(await api.inject('/api/v1/machines/00000000-0000-7000-8000-000000000000'), 404, 'not_found');
      expect(error.message).toContain('00000000-0000-7000-8000-000000000000');
    });

    it('PUT replaces the operator-set fields and bumps the resource version', async () => {
      const machine = await createMachine(api);
      const res = await putMachine(api, machine.id, {
        resourceVersion: machine.resourceVersion,
        hostname: 'node-01.rack-a.example.com',
        labels: { rack: 'a', 'topology.example.com/zone': 'z1' },
        roles: ['compute', 'storage'],
        taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
        bootFromDisk: 'sanboot',
      });
      expect(res.statusCode, res.body).toBe(200);
      const updated = res.json<Machine>();
      expect(updated).toMatchObject({
        id: machine.id,
        hostname: 'node-01.rack-a.example.com',
        labels: { rack: 'a', 'topology.example.com/zone': 'z1' },
        roles: ['compute', 'storage'],
        taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
        bootFromDisk: 'sanboot',
        resourceVersion: machine.resourceVersion + 1,
        phase: 'enrolled',
      });
      // Observed state is not the operator's to replace.
      expect(updated.hardware).toEqual(machine.hardware);
      expect(updated.identity).toEqual(machine.identity);
      expect(await getMachine(api, machine.id)).toEqual(updated);
    });

    it('PUT resets the fields it leaves out', async () => {
      const machine = await createMachine(api);
      const first = (
        await putMachine(api, machine.id, {
          resourceVersion: machine.resourceVersion,
          hostname: 'node-02',
          labels: { rack: 'a', row: '1' },
          roles: ['control-plane'],
          taints: [{ key: 'k', effect: 'NoExecute' }],
          bootFromDisk: 'http-404',
        })
      ).json<Machine>();

      const res = await putMachine(api, machine.id, { resourceVersion: first.resourceVersion, labels: { row: '2' } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<Machine>()).toMatchObject({
        hostname: null,
        labels: { row: '2' },
        roles: [],
        taints: [],
        bootFromDisk: 'exit',
        resourceVersion: first.resourceVersion + 1,
      });
    });

    it('PUT requires resourceVersion and refuses a stale one with 409 conflict', async () => {
      const machine = await createMachine(api);
      expectInvalid(await putMachine(api, machine.id, { hostname: 'a' }), '/body/resourceVersion');

      const ok = await putMachine(api, machine.id, { resourceVersion: machine.resourceVersion, hostname: 'first' });
      expect(ok.statusCode, ok.body).toBe(200);
      const stale = await putMachine(api, machine.id, { resourceVersion: machine.resourceVersion, hostname: 'second' });
      const error = expectError(stale, 409, 'conflict');
      expect(error.details).toMatchObject({ expectedResourceVersion: machine.resourceVersion, resourceVersion: machine.resourceVersion + 1 });
      expect((await getMachine(api, machine.id)).hostname).toBe('first');
    });

    it('PUT of an unknown machine is 404; unknown fields are 400', async () => {
      expectError(await putMachine(api, 'no-such-machine', { resourceVersion: 1 }), 404, 'not_found');
      const machine = await createMachine(api);
      expectInvalid(await putMachine(api, machine.id, { resourceVersion: machine.resourceVersion, phase: 'deployed' }), '/body/phase');
      expect((await getMachine(api, machine.id)).phase).toBe('enrolled');
    });

    it('PATCH merges labels, and a label set to null is removed', async () => {
      const machine = await createMachine(api);
      await setLabels(api, machine.id, { rack: 'a', row: '1', env: 'prod' });

      const res = await patchMachine(api, machine.id, { labels: { row: '2', env: null, zone: 'z1' } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<Machine>().labels).toEqual({ rack: 'a', row: '2', zone: 'z1' });
      expect((await getMachine(api, machine.id)).labels).toEqual({ rack: 'a', row: '2', zone: 'z1' });
    });

    it('PATCH leaves out what it is not given, and hostname null clears it', async () => {
      const machine = await createMachine(api);
      const named = (await patchMachine(api, machine.id, { hostname: 'web-1', roles: ['compute'] })).json<Machine>();
      expect(named).toMatchObject({ hostname: 'web-1', roles: ['compute'], bootFromDisk: 'exit' });

      const relabeled = (await patchMachine(api, machine.id, { labels: { tier: 'web' } })).json<Machine>();
      expect(relabeled).toMatchObject({ hostname: 'web-1', roles: ['compute'], labels: { tier: 'web' } });

      const cleared = await patchMachine(api, machine.id, { hostname: null });
      expect(cleared.statusCode, cleared.body).toBe(200);
      expect(cleared.json<Machine>()).toMatchObject({ hostname: null, roles: ['compute'], labels: { tier: 'web' } });
    });

    it('PATCH validates the hostname (lower-case DNS name) and leaves the machine unchanged', async () => {
      const machine = await createMachine(api);
      for (const hostname of ['Node-01', 'node_01', '-node', 'node-', 'a..b', '']) {
        expectInvalid(await patchMachine(api, machine.id, { hostname }), '/body/hostname');
      }
      expectInvalid(await patchMachine(api, machine.id, { roles: ['gpu'] }), '/body/roles/0');
      expectInvalid(await patchMachine(api, machine.id, { labels: { 'bad key!': 'x' } }), '/body/labels/bad key!');
      expectInvalid(await patchMachine(api, machine.id, { labels: { rack: 5 } }), '/body/labels/rack');
      expect(await getMachine(api, machine.id)).toEqual(machine);
    });

    it('PUT refuses a label key that is not a valid key and leaves the machine unchanged', async () => {
      const machine = await createMachine(api);
      const res = await api.inject({
        method: 'PUT',
        url: `/api/v1/machines/${machine.id}`,
        payload: { labels: { 'bad key!': 'x' }, resourceVersion: machine.resourceVersion },
      });
      expectInvalid(res, '/body/labels/bad key!');
      expect(await getMachine(api, machine.id)).toEqual(machine);
    });

    it('PATCH with a stale resourceVersion is 409; with the current one it applies', async () => {
      const machine = await createMachine(api);
      const current = await setLabels(api, machine.id, { a: '1' });
      expectError(await patchMachine(api, machine.id, { resourceVersion: machine.resourceVersion, labels: { b: '2' } }), 409, 'conflict');
      const res = await patchMachine(api, machine.id, { resourceVersion: current.resourceVersion, labels: { b: '2' } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<Machine>().labels).toEqual({ a: '1', b: '2' });
    });

    it('PATCH of an unknown machine is 404', async () => {
      expectError(await patchMachine(api, 'no-such-machine', { hostname: 'x' }), 404, 'not_found');
    });
  });

  describe('POST /api/v1/machines/:id/transitions', () => {
    const api = useTestHost(engine);

    it('moves a machine by transition name, with a reason', async () => {
      const machine = await createMachine(api);
      const res = await postTransition(api, machine.id, { transition: 'maintain', reason: 'replacing a DIMM' });
      expect(res.statusCode, res.body).toBe(200);
      const moved = res.json<Machine>();
      expect(moved.phase).toBe('maintenance');
      expect(moved.resourceVersion).toBe(machine.resourceVersion + 1);
      expect((await getMachine(api, machine.id)).phase).toBe('maintenance');
    });

    it('moves a machine by target phase', async () => {
      const machine = await createMachine(api);
      const res = await postTransition(api, machine.id, { to: 'configured' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<Machine>().phase).toBe('configured');
    });

    it("refuses a transition its guard forbids (maintenance without a reason) with 409 invalid_transition", async () => {
      const machine = await createMachine(api);
      for (const body of [{ to: 'maintenance' }, { to: 'maintenance', reason: '   ' }, { transition: 'maintain' }]) {
        const error = expectError(await postTransition(api, machine.id, body), 409, 'invalid_transition');
        expect(error.message).toContain('reason');
        expect(error.details).toMatchObject({ transition: 'maintain', from: 'enrolled', to: 'maintenance' });
      }
      expect(await getMachine(api, machine.id)).toEqual(machine);
    });

    it('refuses an illegal move with 409 and lists what is allowed', async () => {
      const machine = await createMachine(api);
      const error = expectError(await postTransition(api, machine.id, { to: 'deployed' }), 409, 'invalid_transition');
      expect(error.details['from']).toBe('enrolled');
      expect(error.details['to']).toBe('deployed');
      expect(error.details['allowed']).toEqual(expect.arrayContaining(['configure', 'maintain', 'fail', 'retire']));
      expect(error.details['allowed']).not.toContain('deploy');

      const byName = expectError(await postTransition(api, machine.id, { transition: 'deploy' }), 409, 'invalid_transition');
      expect(byName.details['allowed']).toEqual(error.details['allowed']);
      expect(await getMachine(api, machine.id)).toEqual(machine);
    });

    it('needs exactly one of transition and to (400)', async () => {
      const machine = await createMachine(api);
      expectInvalid(await postTransition(api, machine.id, { transition: 'maintain', to: 'maintenance', reason: 'x' }), '/transition');
      expectInvalid(await postTransition(api, machine.id, { reason: 'x' }), '/transition');
      expectInvalid(await postTransition(api, machine.id, { transition: 'teleport' }), '/transition');
      expectInvalid(await postTransition(api, machine.id, { to: 'sleeping' }), '/body/to');
      expect(await getMachine(api, machine.id)).toEqual(machine);
    });

    it('refuses a stale resourceVersion with 409 conflict; the current one works', async () => {
      const machine = await createMachine(api);
      const labeled = await setLabels(api, machine.id, { rack: 'a' });
      const stale = await postTransition(api, machine.id, { to: 'configured', resourceVersion: machine.resourceVersion });
      expectError(stale, 409, 'conflict');
      expect((await getMachine(api, machine.id)).phase).toBe('enrolled');

      const ok = await postTransition(api, machine.id, { to: 'configured', resourceVersion: labeled.resourceVersion });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json<Machine>().phase).toBe('configured');
    });

    it('is 404 for an unknown machine', async () => {
      expectError(await postTransition(api, 'no-such-machine', { transition: 'retire' }), 404, 'not_found');
    });

    it('lists the audit trail oldest first, API moves with actor api', async () => {
      const machine = await createMachine(api);
      const steps = [
        { transition: 'maintain', reason: 'disk swap' },
        // With no OS plugin there is nothing to drain: the machine continues to offline by itself.
        { transition: 'drain' },
        { transition: 'return-to-service', reason: 'fixed' },
      ];
      for (const step of steps) {
        const res = await postTransition(api, machine.id, step);
        expect(res.statusCode, res.body).toBe(200);
      }
      // A refused move leaves no audit row.
      expectError(await postTransition(api, machine.id, { to: 'deployed' }), 409, 'invalid_transition');

      const res = await api.inject(`/api/v1/machines/${machine.id}/events`);
      expect(res.statusCode, res.body).toBe(200);
      const { items, next } = res.json<{ items: MachineEvent[]; next: string | null }>();
      expect(next).toBeNull();
      expect(items.map((e) => [e.transition, e.from, e.to, e.actor, e.reason])).toEqual([
        ['enroll', 'discovered', 'enrolled', 'enrollment', 'inventory reported'],
        ['maintain', 'enrolled', 'maintenance', 'api', 'disk swap'],
        ['drain', 'maintenance', 'draining', 'api', null],
        ['take-offline', 'draining', 'offline', 'api', 'no OS plugin manages this machine: nothing to drain'],
        ['return-to-service', 'offline', 'enrolled', 'api', 'fixed'],
      ]);
      for (const event of items) expect(event.machineId).toBe(machine.id);
      const times = items.map((e) => Date.parse(e.createdAt));
      expect([...times].sort((a, b) => a - b)).toEqual(times);

      const first = (await api.inject(`/api/v1/machines/${machine.id}/events?limit=2`)).json<{ items: MachineEvent[]; next: string | null }>();
      expect(first.items.map((e) => e.transition)).toEqual(['enroll', 'maintain']);
      const rest = (await api.inject(`/api/v1/machines/${machine.id}/events?continue=${first.next}`)).json<{ items: MachineEvent[] }>();
      expect(rest.items.map((e) => e.transition)).toEqual(['drain', 'take-offline', 'return-to-service']);
    });

    it('events of an unknown machine are 404', async () => {
      expectError(await api.inject('/api/v1/machines/no-such-machine/events'), 404, 'not_found');
    });
  });
});
