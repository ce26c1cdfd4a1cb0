import { Type } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { osExtensionPoint, type OsProvider } from '../extension-points/os.js';
import { conditionOf } from '../model/conditions.js';
import { definePlugin } from '../plugins/define-plugin.js';
import { createMetalplane, type Metalplane } from '../runtime/metalplane.js';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '../testing/databases.js';

/** An OS plugin whose drain answer the test sets; null means "not my machine". */
function osPlugin(answer: () => Promise<{ drained: boolean; detail?: string } | null>) {
  const provider: OsProvider = {
    resolveBootPlan: async () => null,
    drain: () => answer(),
    health: async () => null,
  };
  return definePlugin({
    id: 'fake-os',
    version: '0.0.0',
    configSchema: Type.Object({}, { additionalProperties: false }),
    provides: { os: osExtensionPoint },
    setup: () => ({ provides: { os: provider } }),
  });
}

describe.each(testDatabaseNames())('node operations (%s)', (engine) => {
  let db: TestDatabase;
  let mp: Metalplane | undefined;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await mp?.stop();
    mp = undefined;
    await db.dispose();
  });

  async function start(plugins: Parameters<typeof createMetalplane>[0]['plugins'] = []) {
    mp = createMetalplane({ config: { store: db.config, machines: { staleAfterSeconds: 60, readinessIntervalSeconds: 3600 } }, plugins });
    await mp.start();
    return mp;
  }

  async function machineInMaintenance(metalplane: Metalplane) {
    const machine = await metalplane.store.machines.create({ identity: [{ kind: 'serial', value: `S-${Math.random()}` }], phase: 'enrolled' });
    return metalplane.transition(machine.id, { transition: 'maintain', actor: 'test', reason: 'disk swap' });
  }

  it('drains through the OS plugin and goes offline, recording the outcome', async () => {
    const metalplane = await start([osPlugin(async () => ({ drained: true, detail: 'evicted 12 pods' }))]);
    const machine = await machineInMaintenance(metalplane);
    const { machine: drained, result } = await metalplane.drain(machine.id, { actor: 'op', reason: 'rack move' });
    expect(result).toEqual({ drained: true, detail: 'evicted 12 pods' });
    expect(drained.phase).toBe('offline');
    expect(conditionOf(drained.conditions, 'Drained')).toMatchObject({ status: 'True', reason: 'Drained', message: 'evicted 12 pods' });
    const events = await metalplane.store.machineEvents.listForMachine(machine.id, { limit: 10 });
    expect(events.items.map((e) => [e.transition, e.from, e.to])).toEqual([
      ['maintain', 'enrolled', 'maintenance'],
      ['drain', 'maintenance', 'draining'],
      ['take-offline', 'draining', 'offline'],
    ]);
    const back = await metalplane.transition(machine.id, { to: 'enrolled', actor: 'op', reason: 'repaired' });
    expect(back.phase).toBe('enrolled');
  });

  it('treats a machine no OS plugin manages as drained (nothing to drain)', async () => {
    const metalplane = await start([osPlugin(async () => null)]);
    const machine = await machineInMaintenance(metalplane);
    const { machine: drained } = await metalplane.drain(machine.id, { actor: 'op' });
    expect(drained.phase).toBe('offline');
    expect(conditionOf(drained.conditions, 'Drained')?.message).toMatch(/no OS plugin manages this machine/);
  });

  it('stays draining when the drain fails, with the reason in the condition', async () => {
    const metalplane = await start([osPlugin(async () => Promise.reject(new Error('API unreachable')))]);
    const machine = await machineInMaintenance(metalplane);
    const { machine: stuck, result } = await metalplane.drain(machine.id, { actor: 'op' });
    expect(result.drained).toBe(false);
    expect(stuck.phase).toBe('draining');
    expect(conditionOf(stuck.conditions, 'Drained')).toMatchObject({ status: 'False', reason: 'DrainFailed' });
    expect(conditionOf(stuck.conditions, 'Drained')?.message).toMatch(/fake-os failed in metalplane\.os\.drain: API unreachable/);
  });

  it('refuses to drain a machine that is not in maintenance', async () => {
    const metalplane = await start();
    const machine = await metalplane.store.machines.create({ identity: [{ kind: 'serial', value: 'S-live' }], phase: 'enrolled' });
    await expect(metalplane.drain(machine.id, { actor: 'op' })).rejects.toMatchObject({ code: 'invalid_transition' });
    expect((await metalplane.store.machines.require(machine.id)).phase).toBe('enrolled');
  });

  it('marks machines not seen for longer than staleAfter as not Ready, and Ready again after contact', async () => {
    const metalplane = await start();
    const now = new Date('2026-11-22T12:00:00Z');
    const fresh = await metalplane.store.machines.create({ identity: [{ kind: 'serial', value: 'fresh' }], lastSeenAt: '2026-11-22T11:59:30Z' });
    const stale = await metalplane.store.machines.create({ identity: [{ kind: 'serial', value: 'stale' }], lastSeenAt: '2026-11-22T11:50:00Z' });
    const never = await metalplane.store.machines.create({ identity: [{ kind: 'serial', value: 'never' }] });

    expect((await metalplane.refreshConditions(now)).sort()).toEqual([fresh.id, stale.id, never.id].sort());
    const condition = async (id: string, type: string) => conditionOf((await metalplane.store.machines.require(id)).conditions, type);
    expect(await condition(fresh.id, 'Ready')).toMatchObject({ status: 'True', reason: 'Seen' });
    expect(await condition(stale.id, 'Ready')).toMatchObject({ status: 'False', reason: 'NotSeen', message: 'no contact since 2026-11-22T11:50:00Z' });
    expect(await condition(never.id, 'Ready')).toMatchObject({ status: 'False', reason: 'NeverSeen' });

    // Nothing changed: nothing is written again.
    expect(await metalplane.refreshConditions(now)).toEqual([]);

    await metalplane.store.machines.touch(stale.id, new Date('2026-11-22T11:59:59Z'));
    expect(await metalplane.refreshConditions(now)).toEqual([stale.id]);
    expect(await condition(stale.id, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: now.toISOString() });
  });

  it('marks an inventory never reported, or older than inventoryMaxAgeDays, as stale', async () => {
    const metalplane = await start();
    const dhcpOnly = await metalplane.store.machines.create({ identity: [{ kind: 'mac', value: '02:00:00:00:00:01' }] });
    const enrolled = await metalplane.store.machines.create({ identity: [{ kind: 'serial', value: 'inv' }], hardware: { cpu: { threads: 4 } } });
    const reportedAt = Date.parse(enrolled.inventoryReportedAt!);
    expect(Math.abs(reportedAt - Date.now())).toBeLessThan(60_000);

    const condition = async (id: string) => conditionOf((await metalplane.store.machines.require(id)).conditions, 'InventoryStale');
    await metalplane.refreshConditions(new Date(reportedAt + 24 * 3600 * 1000));
    expect(await condition(dhcpOnly.id)).toMatchObject({ status: 'True', reason: 'NeverReported' });
    expect(await condition(enrolled.id)).toMatchObject({ status: 'False', reason: 'Reported' });

    const monthLater = new Date(reportedAt + 31 * 24 * 3600 * 1000);
    expect(await metalplane.refreshConditions(monthLater)).toContain(enrolled.id);
    expect(await condition(enrolled.id)).toMatchObject({ status: 'True', reason: 'Old', lastTransitionTime: monthLater.toISOString() });

    // A new report makes it fresh again.
    await metalplane.store.machines.update(enrolled.id, { hardware: { cpu: { threads: 8 } } });
    const reported = (await metalplane.store.machines.require(enrolled.id)).inventoryReportedAt!;
    await metalplane.refreshConditions(new Date(Date.parse(reported) + 1000));
    expect(await condition(enrolled.id)).toMatchObject({ status: 'False', reason: 'Reported' });
  });
});
