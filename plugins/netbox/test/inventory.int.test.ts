import { ConfigurationError, createMetalplane, MetalplaneError, silentLogger } from '@metalplane/core';
import type { NetboxEmulator } from '@metalplane/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import netboxPlugin, { NETBOX_CONDITION, NETBOX_DEVICE_LABEL, type NetboxMachineReport } from '../src/index.js';
import { netboxPool, openCore, startNetbox, startPlugin, V1_TOKEN, type Core, type PluginUnderTest } from './support.js';

describe('inventory validation: is the machine known to NetBox?', () => {
  let netbox: NetboxEmulator;
  let core: Core;
  let plugin: PluginUnderTest;
  let app: FastifyInstance;

  async function setup(version?: string): Promise<void> {
    netbox = await startNetbox(version ? { version } : {});
    core = await openCore();
    plugin = await startPlugin(core.store, { url: netbox.url }, core.events);
    await plugin.start();
    app = Fastify();
    // The host maps error codes to statuses; this stands in for its table.
    app.setErrorHandler((error, _request, reply) => {
      const status = error instanceof MetalplaneError && error.code === 'not_found' ? 404 : 500;
      return reply.code(status).send({ code: error instanceof MetalplaneError ? error.code : 'internal', message: (error as Error).message });
    });
    for (const routes of plugin.routes) await app.register(routes, { prefix: '/api/v1/plugins/netbox' });
    await app.ready();
  }

  afterEach(async () => {
    await app?.close();
    await plugin?.stop();
    await core?.close();
    await netbox?.stop();
  });

  const machineWith = (...macs: string[]) =>
    core.store.machines.create({ identity: macs.map((value) => ({ kind: 'mac' as const, value })), phase: 'enrolled', labels: { rack: 'r1' } });

  for (const version of ['4.6.8', '4.1.11']) {
    describe(`NetBox ${version}`, () => {
      beforeEach(() => setup(version));

      it('reports the device a machine\'s MAC belongs to, and records it on the machine', async () => {
        const device = netbox.state.addDevice({ name: 'rack1-node3' });
        netbox.state.addInterface({ device: device.id, name: 'eno1', macAddress: '02:00:00:00:03:01' });
        const machine = await machineWith('02:00:00:00:03:01', '02:00:00:00:03:02');

        const read = await app.inject({ url: `/api/v1/plugins/netbox/machines/${machine.id}/netbox` });
        expect(read.statusCode).toBe(200);
        const report = read.json<NetboxMachineReport>();
        expect(report).toMatchObject({
          machineId: machine.id,
          known: true,
          device: 'rack1-node3',
          ambiguous: false,
          unknownMacs: ['02:00:00:00:03:02'],
          matches: [{ mac: '02:00:00:00:03:01', interfaceName: 'eno1', deviceId: device.id, deviceName: 'rack1-node3' }],
        });
        // A GET records nothing.
        expect((await core.store.machines.require(machine.id)).labels).toEqual({ rack: 'r1' });

        const check = await app.inject({ method: 'POST', url: `/api/v1/plugins/netbox/machines/${machine.id}/netbox/check` });
        expect(check.statusCode).toBe(200);
        const recorded = await core.store.machines.require(machine.id);
        expect(recorded.labels).toEqual({ rack: 'r1', [NETBOX_DEVICE_LABEL]: 'rack1-node3' });
        expect(recorded.conditions.find((c) => c.type === NETBOX_CONDITION)).toMatchObject({
          status: 'True',
          reason: 'MacFound',
          message: 'NetBox device rack1-node3: eno1 (02:00:00:00:03:01)',
        });
      });

      it('records an unknown machine as not known, and removes a stale device label', async () => {
        const machine = await machineWith('02:00:00:00:04:01');
        await core.store.machines.update(machine.id, { labels: { rack: 'r1', [NETBOX_DEVICE_LABEL]: 'gone' } });
        const check = await app.inject({ method: 'POST', url: `/api/v1/plugins/netbox/machines/${machine.id}/netbox/check` });
        expect(check.json()).toMatchObject({ known: false, device: null, unknownMacs: ['02:00:00:00:04:01'] });
        const recorded = await core.store.machines.require(machine.id);
        expect(recorded.labels).toEqual({ rack: 'r1' });
        expect(recorded.conditions.find((c) => c.type === NETBOX_CONDITION)).toMatchObject({ status: 'False', reason: 'MacNotFound' });
      });

      it('says when the MACs belong to several devices', async () => {
        const a = netbox.state.addDevice({ name: 'a' });
        const b = netbox.state.addDevice({ name: 'b' });
        netbox.state.addInterface({ device: a.id, name: 'eth0', macAddress: '02:00:00:00:05:01' });
        netbox.state.addInterface({ device: b.id, name: 'eth0', macAddress: '02:00:00:00:05:02' });
        const machine = await machineWith('02:00:00:00:05:01', '02:00:00:00:05:02');
        await app.inject({ method: 'POST', url: `/api/v1/plugins/netbox/machines/${machine.id}/netbox/check` });
        const recorded = await core.store.machines.require(machine.id);
        expect(recorded.conditions.find((c) => c.type === NETBOX_CONDITION)).toMatchObject({ status: 'False', reason: 'AmbiguousDevice' });
        expect(recorded.labels[NETBOX_DEVICE_LABEL]).toBeUndefined();
      });
    });
  }

  it('checks every machine that enrols, in the background', async () => {
    await setup();
    const device = netbox.state.addDevice({ name: 'fresh-node' });
    netbox.state.addInterface({ device: device.id, name: 'eno1', macAddress: '02:00:00:00:06:01' });
    const known = await machineWith('02:00:00:00:06:01');
    const unknown = await machineWith('02:00:00:00:06:02');
    core.events.emit('machine.enrolled', { machineId: known.id, created: true });
    core.events.emit('machine.enrolled', { machineId: unknown.id, created: true });
    const deadline = Date.now() + 10_000;
    const conditionOf = async (id: string) => (await core.store.machines.require(id)).conditions.find((c) => c.type === NETBOX_CONDITION);
    while (!(await conditionOf(known.id)) || !(await conditionOf(unknown.id))) {
      if (Date.now() > deadline) throw new Error('the enrolled machines were not checked within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await core.store.machines.require(known.id)).labels[NETBOX_DEVICE_LABEL]).toBe('fresh-node');
    expect(await conditionOf(unknown.id)).toMatchObject({ status: 'False', reason: 'MacNotFound' });
  });

  it('answers 404 for an unknown machine', async () => {
    await setup();
    expect((await app.inject({ url: '/api/v1/plugins/netbox/machines/nope/netbox' })).statusCode).toBe(404);
  });
});

describe('the plugin loaded by core (createMetalplane)', () => {
  let netbox: NetboxEmulator;
  let core: Core;

  beforeEach(async () => {
    netbox = await startNetbox();
    core = await openCore();
    await core.store.close(); // createMetalplane opens its own store on the same database
  });
  afterEach(async () => {
    await core.db.dispose();
    await netbox.stop();
  });

  it('validates the config, provides ipam, mounts its routes, and allocates through core', async () => {
    const prefix = netbox.state.addPrefix({ prefix: '10.60.0.0/24' });
    const mp = createMetalplane({
      config: { store: core.db.config, plugins: { netbox: { url: netbox.url, token: V1_TOKEN } } },
      plugins: [netboxPlugin],
      logger: silentLogger,
    });
    await mp.start();
    try {
      expect(mp.routes.map((r) => r.prefix)).toEqual(['/api/v1/plugins/netbox']);
      await mp.store.ipPools.create('rack', netboxPool('10.60.0.0/24', { prefixId: prefix.id }));
      const { claim } = await mp.ipClaims.claim({ pool: 'rack', owner: { key: 'through-core' } });
      expect(claim.status).toMatchObject({ phase: 'bound', address: '10.60.0.1' });
    } finally {
      await mp.stop();
    }
  });

  it('reports a bad config before anything starts, without echoing the token', () => {
    const badToken = 'not-a-token-at-all';
    let problems: readonly string[] = [];
    try {
      createMetalplane({
        config: { store: core.db.config, plugins: { netbox: { url: 'ftp://netbox', token: badToken, releaseMode: 'shred' } } },
        plugins: [netboxPlugin],
      });
    } catch (error) {
      if (error instanceof ConfigurationError) problems = error.problems;
    }
    expect(problems.some((p) => p.startsWith('/plugins/netbox/url'))).toBe(true);
    expect(problems.some((p) => p.startsWith('/plugins/netbox/releaseMode'))).toBe(true);
    expect(problems.join('\n')).not.toContain(badToken);
  });

  it('fails setup on a token of neither shape, naming the problem and not the token', async () => {
    const badToken = 'short-secret-value';
    const mp = createMetalplane({ config: { store: core.db.config, plugins: { netbox: { url: netbox.url, token: badToken } } }, plugins: [netboxPlugin] });
    const error = await mp.start().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/plugin netbox failed in setup: the NetBox token is neither a v1 token/);
    expect((error as Error).message).not.toContain(badToken);
  });
});
