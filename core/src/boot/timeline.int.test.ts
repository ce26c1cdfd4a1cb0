import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus, type MetalplaneEvents } from '../events/event-bus.js';
import { transition } from '../lifecycle/transition.js';
import { silentLogger } from '../logger.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '../testing/databases.js';
import { BootPlanner } from './boot-planner.js';
import { BootRecorder } from './timeline.js';

describe.each(testDatabaseNames())('boot timeline and loop guard (%s)', (engine) => {
  let db: TestDatabase;
  let store: Store;
  let events: EventBus;
  let recorder: BootRecorder;
  const seen: Array<[string, unknown]> = [];

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    store = await Store.open(db.config);
    events = new EventBus(silentLogger);
    seen.length = 0;
    for (const name of ['boot.step', 'machine.created', 'machine.netbooted', 'machine.held', 'machine.rearmed'] as const) {
      events.on(name, (payload: MetalplaneEvents[typeof name]) => void seen.push([name, payload]));
    }
    recorder = new BootRecorder(store, events, { loopGuardLimit: 3, timelineLimit: 10 }, silentLogger);
  });
  afterEach(async () => {
    await store.close();
    await db.dispose();
  });

  it('an unknown network-boot client becomes a discovered machine; a plain DHCP client does not', async () => {
    expect(await recorder.observe({ step: 'dhcp.discover', mac: '02:00:00:00:01:01' })).toBeNull();
    expect((await store.machines.list({ limit: 10 })).items).toEqual([]);

    const at = new Date('2026-12-01T10:00:00Z');
    const machine = await recorder.observe({ step: 'dhcp.discover', mac: '02:00:00:00:01:02', rpiSerial: '9FFEFDEF', discover: true, detail: { mode: 'proxy' } }, at);
    expect(machine).toMatchObject({ phase: 'discovered', lastSeenAt: at.toISOString() });
    expect(machine!.identity).toEqual(expect.arrayContaining([{ kind: 'mac', value: '02:00:00:00:01:02' }, { kind: 'rpi-serial', value: '9ffefdef' }]));
    expect(seen.map(([name]) => name)).toEqual(['machine.created', 'boot.step']);

    // The next step of the same boot finds it by any key, here the Pi's serial from a TFTP path.
    const later = new Date('2026-12-01T10:00:05Z');
    expect((await recorder.observe({ step: 'tftp.read', rpiSerial: '9ffefdef', discover: true, detail: { file: '9ffefdef/start4.elf', bytes: 2228800 } }, later))?.id).toBe(machine!.id);
    const timeline = await store.bootEvents.listForMachine(machine!.id, { limit: 10 });
    expect(timeline.items.map((e) => [e.step, e.detail])).toEqual([
      ['tftp.read', { file: '9ffefdef/start4.elf', bytes: 2228800 }],
      ['dhcp.discover', { mode: 'proxy' }],
    ]);
    expect((await store.machines.require(machine!.id)).lastSeenAt).toBe(later.toISOString());
    expect((await store.machines.list({ limit: 10 })).items).toHaveLength(1);
  });

  it('two requests of one boot at once make one machine', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => recorder.observe({ step: 'dhcp.discover', mac: '02:00:00:00:01:03', discover: true })),
    );
    expect(new Set(results.map((m) => m?.id)).size).toBe(1);
    expect((await store.machines.list({ limit: 10 })).items).toHaveLength(1);
  });

  it('keeps the newest events of a machine', async () => {
    const machine = (await recorder.observe({ step: 'dhcp.discover', mac: '02:00:00:00:01:04', discover: true }))!;
    for (let i = 0; i < 30; i++) await store.bootEvents.append(machine.id, 'tftp.read', { n: i });
    expect(await store.bootEvents.prune(machine.id, 10)).toBe(21);
    const page = await store.bootEvents.listForMachine(machine.id, { limit: 5 });
    expect(page.items.map((e) => e.detail.n)).toEqual([29, 28, 27, 26, 25]);
    const next = await store.bootEvents.listForMachine(machine.id, { limit: 5, before: page.next! });
    expect(next.items.map((e) => e.detail.n)).toEqual([24, 23, 22, 21, 20]);
  });

  it('counts netboots; at the limit the machine is held until re-armed; progress starts over', async () => {
    const machine = (await recorder.observe({ step: 'dhcp.discover', mac: '02:00:00:00:01:05', discover: true }))!;
    const planner = new BootPlanner(store, { loopGuardLimit: 3, timelineLimit: 10, registration: { kernel: 'k', initrd: ['i'], cmdline: '' } });
    const ask = () => planner.planFor({ mac: '02:00:00:00:01:05', arch: 'bios', client: 'ipxe' });

    for (let i = 0; i < 3; i++) {
      const { plan } = await ask();
      expect(plan.kind).toBe('registration');
      await recorder.countNetboot(machine.id, plan);
    }
    const held = await store.machines.require(machine.id);
    expect(held.netboot).toMatchObject({ attemptsSinceProgress: 3, hold: { reason: expect.stringContaining('netbooted 3 times') } });
    expect((await ask()).plan).toMatchObject({ kind: 'hold' });
    expect(seen.filter(([name]) => name === 'machine.held')).toHaveLength(1);

    // A hold is not a netboot: serving it counts nothing.
    await recorder.countNetboot(machine.id, (await ask()).plan);
    expect((await store.machines.require(machine.id)).netboot.attemptsSinceProgress).toBe(3);

    await recorder.rearm(machine.id, 'operator');
    expect((await store.machines.require(machine.id)).netboot).toEqual(expect.not.objectContaining({ hold: expect.anything() }));
    expect((await ask()).plan.kind).toBe('registration');

    await recorder.countNetboot(machine.id, (await ask()).plan);
    await transition(store, events, machine.id, { transition: 'enroll', actor: 'agent' });
    expect((await store.machines.require(machine.id)).netboot.attemptsSinceProgress).toBe(0);
  });

  it('an installed-OS report consumes the once intent the machine netbooted under; its next boot is from disk', async () => {
    const machine = await store.machines.create({ identity: [{ kind: 'mac', value: '02:00:00:00:01:06' }], phase: 'enrolled' });
    await store.bootProfiles.create('k', { kind: 'kernel', kernel: 'https://example.test/vmlinuz', cmdline: 'x=1' });
    const intent = await store.bootIntents.create({ selector: { machineId: machine.id }, profile: 'k', mode: 'once' });
    const planner = new BootPlanner(store);
    const ask = async () => (await planner.planFor({ mac: '02:00:00:00:01:06', arch: 'uefi-x64', client: 'ipxe' })).plan;

    // Reported before anything was served: nothing is consumed.
    expect((await recorder.reportOs(machine.id, { state: 'installed', actor: 'agent' })).consumedIntentId).toBeNull();
    const plan = await ask();
    expect(plan).toMatchObject({ kind: 'kernel', intentId: intent.id });
    await recorder.countNetboot(machine.id, plan);
    expect((await recorder.reportOs(machine.id, { state: 'maintenance', actor: 'talos' })).consumedIntentId).toBeNull();
    expect((await recorder.reportOs(machine.id, { state: 'installed', actor: 'agent', detail: 'NixOS 25.05' })).consumedIntentId).toBe(intent.id);

    expect(await ask()).toMatchObject({ kind: 'localboot', reason: expect.stringContaining('consumed') });
    expect((await store.machines.require(machine.id)).netboot.attemptsSinceProgress).toBe(0);
    const steps = (await store.bootEvents.listForMachine(machine.id, { limit: 10 })).items;
    expect(steps[0]).toMatchObject({ step: 'os.report', detail: { state: 'installed', actor: 'agent', detail: 'NixOS 25.05', consumedIntentId: intent.id } });
  });
});
