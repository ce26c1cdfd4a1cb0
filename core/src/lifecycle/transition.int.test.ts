import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConflictError, InputError, InvalidTransitionError, NotFoundError } from '../errors.js';
import { EventBus, type MetalplaneEvents } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { Machine } from '../model/machine.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '../testing/databases.js';
import { MachinePhases, type MachinePhase } from './phases.js';
import { transition, type TransitionRequest } from './transition.js';
import { transitionTable, type TransitionDefinition } from './transitions.js';

type Transitioned = MetalplaneEvents['machine.transitioned'];

const allows = (definition: TransitionDefinition, phase: MachinePhase): boolean => definition.from.includes(phase);

/** Every (phase, transition) pair of the table, allowed or not. */
const pairs = MachinePhases.flatMap((phase) =>
  transitionTable.map((definition) => ({ phase, definition, allowed: allows(definition, phase) })),
);

/** Every (phase, target phase) pair, with the transition that connects them if any. */
const targets = MachinePhases.flatMap((phase) =>
  MachinePhases.map((to) => ({ phase, to, via: transitionTable.find((t) => t.to === to && allows(t, phase))?.name ?? null })),
);

function fakeLogger(): Logger & { error: ReturnType<typeof vi.fn> } {
  const logger = {
    debug: vi.fn(),
    info: vi.fn(),
    warn: vi.fn(),
    error: vi.fn(),
    child: vi.fn((): Logger => logger),
  };
  return logger;
}

let macs = 0;

describe.each(testDatabaseNames())('transition() on %s', (engine) => {
  let db: TestDatabase;
  let store: Store;
  let events: EventBus;
  let logger: ReturnType<typeof fakeLogger>;
  let emitted: Transitioned[];

  // One database per engine: every case works on a machine of its own.
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    store = await Store.open(db.config);
  });

  afterAll(async () => {
    await store?.close();
    await db?.dispose();
  });

  beforeAll(() => {
    logger = fakeLogger();
    events = new EventBus(logger);
    emitted = [];
    events.on('machine.transitioned', (payload) => {
      emitted.push(payload);
    });
  });

  afterEach(() => {
    emitted.length = 0;
    logger.error.mockClear();
  });

  async function machineIn(phase: MachinePhase): Promise<Machine> {
    macs += 1;
    const hex = macs.toString(16).padStart(4, '0');
    return store.machines.create({ identity: [{ kind: 'mac', value: `02:00:00:00:${hex.slice(0, 2)}:${hex.slice(2)}` }], phase });
  }

  async function eventsOf(machineId: string) {
    return (await store.machineEvents.listForMachine(machineId, { limit: 100 })).items;
  }

  async function expectUnchanged(before: Machine): Promise<void> {
    expect(await store.machines.require(before.id)).toEqual(before);
    expect(await eventsOf(before.id)).toEqual([]);
    expect(emitted.filter((e) => e.machineId === before.id)).toEqual([]);
  }

  async function expectTransitioned(before: Machine, after: Machine, name: string, to: MachinePhase, actor: string, reason: string | null) {
    expect(after).toMatchObject({ id: before.id, phase: to, resourceVersion: before.resourceVersion + 1 });
    expect(await store.machines.require(before.id)).toEqual(after);

    const rows = await eventsOf(before.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ machineId: before.id, transition: name, from: before.phase, to, actor, reason });

    expect(emitted).toEqual([
      {
        machineId: before.id,
        transition: name,
        from: before.phase,
        to,
        actor,
        reason,
        resourceVersion: before.resourceVersion + 1,
        at: after.updatedAt,
      },
    ]);
  }

  describe('by name, over every (phase, transition) pair', () => {
    it.each(pairs.filter((p) => p.allowed).map((p) => [p.definition.name, p.phase, p.definition.to, p.definition] as const))(
      '%s from %s -> %s',
      async (name, phase, to) => {
        const before = await machineIn(phase);
        const after = await transition(store, events, before.id, { transition: name, actor: 'alice', reason: `case ${name}` });
        await expectTransitioned(before, after, name, to, 'alice', `case ${name}`);
      },
    );

    it.each(pairs.filter((p) => !p.allowed).map((p) => [p.definition.name, p.phase] as const))(
      '%s from %s is refused',
      async (name, phase) => {
        const before = await machineIn(phase);
        const error = await transition(store, events, before.id, { transition: name, actor: 'alice', reason: 'r' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidTransitionError);
        expect(error).toMatchObject({ code: 'invalid_transition', details: { transition: name, from: phase } });
        await expectUnchanged(before);
      },
    );
  });

  describe('by target phase (`to`), over every (phase, phase) pair', () => {
    it.each(targets.filter((t) => t.via !== null).map((t) => [t.phase, t.to, t.via!] as const))('%s -> %s resolves to %s', async (phase, to, name) => {
      const before = await machineIn(phase);
      const after = await transition(store, events, before.id, { to, actor: 'bob', reason: 'because' });
      await expectTransitioned(before, after, name, to, 'bob', 'because');
    });

    it.each(targets.filter((t) => t.via === null).map((t) => [t.phase, t.to] as const))('%s -> %s is refused', async (phase, to) => {
      const before = await machineIn(phase);
      const error = await transition(store, events, before.id, { to, actor: 'bob', reason: 'because' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidTransitionError);
      expect(error).toMatchObject({ details: { from: phase, to } });
      await expectUnchanged(before);
    });
  });

  describe('guards', () => {
    it.each([
      ['maintain', 'deployed', undefined],
      ['maintain', 'ready', null],
      ['maintain', 'enrolled', '   '],
      ['fail', 'provisioning', undefined],
      ['fail', 'discovered', ''],
    ] as const)('%s from %s with reason %j is refused', async (name, phase, reason) => {
      const before = await machineIn(phase);
      const request: TransitionRequest = reason === undefined ? { transition: name, actor: 'a' } : { transition: name, actor: 'a', reason };
      const error = await transition(store, events, before.id, request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidTransitionError);
      expect((error as Error).message).toMatch(/reason is required/);
      await expectUnchanged(before);
    });

    it('the `to` form runs the guard too', async () => {
      const before = await machineIn('deployed');
      await expect(transition(store, events, before.id, { to: 'maintenance', actor: 'a' })).rejects.toBeInstanceOf(InvalidTransitionError);
      await expectUnchanged(before);
    });

    it('an unguarded transition without a reason records null', async () => {
      const before = await machineIn('discovered');
      const after = await transition(store, events, before.id, { transition: 'enroll', actor: 'agent' });
      await expectTransitioned(before, after, 'enroll', 'enrolled', 'agent', null);
    });
  });

  describe('requests', () => {
    it.each([
      ['both transition and to', { transition: 'enroll', to: 'enrolled' }],
      ['neither transition nor to', {}],
    ] as const)('%s is an InputError', async (_name, fields) => {
      const before = await machineIn('discovered');
      const error = await transition(store, events, before.id, { ...fields, actor: 'a' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(error).toMatchObject({ details: { errors: [{ path: '/transition' }] } });
      await expectUnchanged(before);
    });

    it('an unknown transition name is an InputError', async () => {
      const before = await machineIn('discovered');
      await expect(transition(store, events, before.id, { transition: 'teleport', actor: 'a' })).rejects.toBeInstanceOf(InputError);
      await expectUnchanged(before);
    });

    it('an unknown machine is a NotFoundError', async () => {
      await expect(transition(store, events, 'no-such-machine', { transition: 'enroll', actor: 'a' })).rejects.toBeInstanceOf(NotFoundError);
      expect(emitted).toEqual([]);
    });

    it('a stale expectedResourceVersion is a ConflictError', async () => {
      const created = await machineIn('discovered');
      const before = await store.machines.update(created.id, { hostname: 'n1' });
      expect(before.resourceVersion).toBe(2);

      const error = await transition(store, events, before.id, { transition: 'enroll', actor: 'a', expectedResourceVersion: 1 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ details: { id: before.id, expectedResourceVersion: 1, resourceVersion: 2 } });
      await expectUnchanged(before);

      const after = await transition(store, events, before.id, { transition: 'enroll', actor: 'a', expectedResourceVersion: 2 });
      expect(after.resourceVersion).toBe(3);
    });
  });

  it('counts as progress: netboot.attemptsSinceProgress starts over, the rest of netboot is kept', async () => {
    const created = await machineIn('provisioning');
    const netboot = { attemptsSinceProgress: 4, lastNetbootAt: '2026-01-01T00:00:00.000Z' };
    const before = await store.machines.update(created.id, { netboot });
    const after = await transition(store, events, before.id, { transition: 'deploy', actor: 'talos' });
    expect(after.netboot).toEqual({ ...netboot, attemptsSinceProgress: 0 });
    expect((await store.machines.require(before.id)).netboot.attemptsSinceProgress).toBe(0);
  });

  it('a listener that throws or rejects does not break transition(), and is logged', async () => {
    const bus = new EventBus(logger);
    const seen: string[] = [];
    const offSync = bus.on('machine.transitioned', () => {
      throw new Error('sync listener broke');
    });
    const offAsync = bus.on('machine.transitioned', async () => {
      throw new Error('async listener broke');
    });
    bus.on('machine.transitioned', (e) => {
      seen.push(e.transition);
    });

    const before = await machineIn('discovered');
    const after = await transition(store, bus, before.id, { transition: 'enroll', actor: 'a' });
    expect(after.phase).toBe('enrolled');
    expect(seen).toEqual(['enroll']);
    await vi.waitFor(() => expect(logger.error).toHaveBeenCalledTimes(2));
    expect(logger.error.mock.calls.map(([fields]) => (fields as { err: Error }).err.message).sort()).toEqual([
      'async listener broke',
      'sync listener broke',
    ]);
    offSync();
    offAsync();
  });
});
