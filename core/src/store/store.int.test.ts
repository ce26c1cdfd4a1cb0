import { sql, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BootIntentSpec, BootProfileSpec } from '../boot/model.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { IdentityKey, Machine } from '../model/machine.js';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '../testing/databases.js';
import type { NewMachine } from './machine-repository.js';
import { coreMigrations } from './migrations.js';
import { Store } from './store.js';

// ---------------------------------------------------------------------------------------
// Fixtures

let counter = 0;

/** A MAC no other fixture uses. */
function mac(): string {
  counter += 1;
  const hex = counter.toString(16).padStart(6, '0');
  return `aa:bb:cc:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

function newMachine(overrides: Partial<NewMachine> = {}): NewMachine {
  return { identity: [{ kind: 'mac', value: mac() }], ...overrides };
}

const talos: BootProfileSpec = { kind: 'talos', schematic: 'ab'.repeat(32), version: 'v1.9.0' };
const localboot: BootProfileSpec = { kind: 'localboot' };

function intentSpec(overrides: Partial<BootIntentSpec> = {}): BootIntentSpec {
  return { selector: { mac: 'aa:bb:cc:00:00:01' }, profile: 'talos', mode: 'once', ...overrides };
}

async function countRows(store: Store, table: 'machines' | 'machine_identities' | 'machine_labels' | 'boot_profiles' | 'builds'): Promise<number> {
  const row = await store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function allMachines(store: Store): Promise<Machine[]> {
  return (await store.machines.list({ limit: 1000 })).items;
}

/** Awaits `promise` expecting a rejection, and returns the error for closer inspection. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

// ---------------------------------------------------------------------------------------

describe.each(testDatabaseNames())('Store on %s', (engine) => {
  let db: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    store = await Store.open(db.config);
  });

  afterEach(async () => {
    await store.close();
    await db.dispose();
  });

  describe('migrations', () => {
    it('are recorded once and a second open applies nothing, keeping the data', async () => {
      const machine = await store.machines.create(newMachine());
      const recorded = await sql<{ name: string }>`select name from metalplane_migrations order by name`.execute(store.db);
      expect(recorded.rows).toEqual(Object.keys(coreMigrations).sort().map((name) => ({ name })));
      expect(await store.migrate('metalplane', coreMigrations)).toEqual([]);
      await store.close();

      store = await Store.open(db.config);
      expect(await store.migrate('metalplane', coreMigrations)).toEqual([]);
      expect(await store.machines.get(machine.id)).toEqual(machine);
      await store.ping();
    });

    it('keeps each owner in its own bookkeeping', async () => {
      const plugin = {
        '0001_widgets': {
          async up(k: Kysely<unknown>) {
            await k.schema.createTable('widgets').addColumn('id', 'text', (c) => c.primaryKey()).execute();
          },
        },
      };
      expect(await store.migrate('my-plugin', plugin)).toEqual(['0001_widgets']);
      expect(await store.migrate('my-plugin', plugin)).toEqual([]);
      expect(await store.migrate('metalplane', coreMigrations)).toEqual([]);
    });

    it('a second store opened beside the first applies nothing and sees the same data', async () => {
      const second = await Store.open(db.config);
      try {
        expect(await second.migrate('metalplane', coreMigrations)).toEqual([]);
        const machine = await store.machines.create(newMachine());
        expect(await second.machines.get(machine.id)).toEqual(machine);
      } finally {
        await second.close();
      }
    });

    // PostgreSQL only here: node:sqlite is synchronous, so two connections of one process
    // cannot wait on each other's lock; SQLite is covered with real processes in
    // sqlite-multiprocess.int.test.ts.
    it.runIf(engine === 'postgres')('two stores opening a fresh database at once both succeed', async () => {
      const fresh = await createTestDatabase(engine);
      try {
        const stores = await Promise.all([Store.open(fresh.config), Store.open(fresh.config), Store.open(fresh.config)]);
        try {
          const [a, b] = stores as [Store, Store, Store];
          const machine = await a.machines.create(newMachine());
          expect((await b.machines.require(machine.id)).id).toBe(machine.id);
          for (const s of stores) expect(await s.migrate('metalplane', coreMigrations)).toEqual([]);
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
      } finally {
        await fresh.dispose();
      }
    });
  });

  describe('machines', () => {
    const identity: IdentityKey[] = [
      { kind: 'mac', value: 'aa:bb:cc:dd:ee:01' },
      { kind: 'mac', value: 'aa:bb:cc:dd:ee:02' },
      { kind: 'smbios-uuid', value: '4c4c4544-0032-4410-8050-b4c04f4e3332' },
      { kind: 'serial', value: 'SN-1234' },
      { kind: 'rpi-serial', value: '10000000a1b2c3d4' },
    ];

    it('creates a machine with identity keys and labels, and reads it back', async () => {
      const created = await store.machines.create({
        identity,
        hostname: 'node-1',
        labels: { rack: 'r1', zone: 'a' },
        roles: ['compute'],
        taints: [{ key: 'gpu', effect: 'NoSchedule' }],
        bootFromDisk: 'sanboot',
      });
      expect(created).toMatchObject({
        hostname: 'node-1',
        phase: 'discovered',
        labels: { rack: 'r1', zone: 'a' },
        roles: ['compute'],
        taints: [{ key: 'gpu', effect: 'NoSchedule' }],
        conditions: [],
        hardware: {},
        bootFromDisk: 'sanboot',
        netboot: { attemptsSinceProgress: 0 },
        resourceVersion: 1,
        lastSeenAt: null,
      });
      expect([...created.identity].sort(byKey)).toEqual([...identity].sort(byKey));
      expect(created.createdAt).toBe(created.updatedAt);
      expect(await store.machines.get(created.id)).toEqual(created);
    });

    it('get answers null and require NotFoundError for an unknown id', async () => {
      expect(await store.machines.get('no-such-machine')).toBeNull();
      const error = await rejection(store.machines.require('no-such-machine'));
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ code: 'not_found', details: { kind: 'machine', id: 'no-such-machine' } });
    });

    it.each(identity.map((key) => [key.kind, key] as const))('findByIdentity finds the machine by %s', async (_kind, key) => {
      const machine = await store.machines.create({ identity });
      await store.machines.create(newMachine());
      const found = await store.machines.findByIdentity([key]);
      expect(found.map((m) => m.id)).toEqual([machine.id]);
    });

    it('findByIdentity with a mix of keys returns each matching machine once, oldest first', async () => {
      const first = await store.machines.create({ identity: [{ kind: 'mac', value: 'aa:bb:cc:dd:ee:10' }, { kind: 'serial', value: 'A' }] });
      const second = await store.machines.create({ identity: [{ kind: 'smbios-uuid', value: 'uuid-b' }] });
      await store.machines.create(newMachine());

      const found = await store.machines.findByIdentity([
        { kind: 'smbios-uuid', value: 'uuid-b' },
        { kind: 'mac', value: 'aa:bb:cc:dd:ee:10' },
        { kind: 'serial', value: 'A' },
        { kind: 'serial', value: 'nobody' },
      ]);
      expect(found.map((m) => m.id)).toEqual([first.id, second.id]);
      expect(await store.machines.findByIdentity([{ kind: 'serial', value: 'nobody' }])).toEqual([]);
      expect(await store.machines.findByIdentity([])).toEqual([]);
      // The same value under another kind is another key.
      expect(await store.machines.findByIdentity([{ kind: 'serial', value: 'uuid-b' }])).toEqual([]);
    });

    it('refuses an identity key owned by another machine, writing nothing', async () => {
      const owner = await store.machines.create({ identity: [{ kind: 'serial', value: 'SN-TAKEN' }] });
      const before = { machines: await countRows(store, 'machines'), identities: await countRows(store, 'machine_identities'), labels: await countRows(store, 'machine_labels') };

      const error = await rejection(
        store.machines.create({
          identity: [
            { kind: 'mac', value: 'aa:bb:cc:dd:ee:99' },
            { kind: 'serial', value: 'SN-TAKEN' },
          ],
          labels: { rack: 'r9' },
        }),
      );
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ code: 'conflict', details: { key: { kind: 'serial', value: 'SN-TAKEN' }, machineId: owner.id } });
      expect({
        machines: await countRows(store, 'machines'),
        identities: await countRows(store, 'machine_identities'),
        labels: await countRows(store, 'machine_labels'),
      }).toEqual(before);
      expect(await store.machines.findByIdentity([{ kind: 'mac', value: 'aa:bb:cc:dd:ee:99' }])).toEqual([]);
    });

    it('refuses to add an identity key owned by another machine on update, writing nothing', async () => {
      await store.machines.create({ identity: [{ kind: 'serial', value: 'SN-TAKEN' }] });
      const machine = await store.machines.create(newMachine({ labels: { a: '1' } }));

      const error = await rejection(
        store.machines.update(machine.id, { hostname: 'renamed', labels: { b: '2' }, addIdentity: [{ kind: 'serial', value: 'SN-TAKEN' }] }),
      );
      expect(error).toBeInstanceOf(ConflictError);
      expect(await store.machines.require(machine.id)).toEqual(machine);
    });

    it('update checks the resource version and bumps it', async () => {
      const machine = await store.machines.create(newMachine());

      const updated = await store.machines.update(machine.id, { hostname: 'node-2', roles: ['storage'] }, 1);
      expect(updated).toMatchObject({ hostname: 'node-2', roles: ['storage'], resourceVersion: 2 });

      const stale = await rejection(store.machines.update(machine.id, { hostname: 'node-3' }, 1));
      expect(stale).toBeInstanceOf(ConflictError);
      expect(stale).toMatchObject({ details: { id: machine.id, expectedResourceVersion: 1, resourceVersion: 2 } });
      expect(await store.machines.require(machine.id)).toEqual(updated);

      // Without an expected version the current one is used.
      expect((await store.machines.update(machine.id, { hostname: 'node-3' })).resourceVersion).toBe(3);
    });

    it('update replaces labels as a whole, adds identity keys, and keeps what it is not given', async () => {
      const first = mac();
      const machine = await store.machines.create({
        identity: [{ kind: 'mac', value: first }],
        hostname: 'node-1',
        labels: { rack: 'r1', zone: 'a' },
      });
      const second = mac();
      const updated = await store.machines.update(machine.id, {
        labels: { zone: 'b', tier: 'gold' },
        addIdentity: [
          { kind: 'mac', value: first },
          { kind: 'mac', value: second },
        ],
      });
      expect(updated.labels).toEqual({ tier: 'gold', zone: 'b' });
      expect(updated.hostname).toBe('node-1');
      expect(updated.identity.map((k) => k.value).sort()).toEqual([first, second].sort());

      const cleared = await store.machines.update(machine.id, { labels: {} });
      expect(cleared.labels).toEqual({});
    });

    describe('list', () => {
      async function fleet() {
        return {
          a: await store.machines.create(newMachine({ phase: 'ready', labels: { rack: 'r1', zone: 'a' } })),
          b: await store.machines.create(newMachine({ phase: 'deployed', labels: { rack: 'r1', zone: 'b' } })),
          c: await store.machines.create(newMachine({ phase: 'ready', labels: { rack: 'r2', zone: 'a' } })),
          d: await store.machines.create(newMachine({ phase: 'discovered', labels: { rack: 'r1', zone: 'a' } })),
          e: await store.machines.create(newMachine({ phase: 'ready' })),
        };
      }

      it.each([
        ['no filter', {}, ['a', 'b', 'c', 'd', 'e']],
        ['phase', { phase: 'ready' }, ['a', 'c', 'e']],
        ['phase with no machine', { phase: 'retired' }, []],
        ['one label', { labels: { rack: 'r1' } }, ['a', 'b', 'd']],
        ['two labels (AND)', { labels: { rack: 'r1', zone: 'a' } }, ['a', 'd']],
        ['labels and phase', { labels: { rack: 'r1', zone: 'a' }, phase: 'ready' }, ['a']],
        ['label value that nobody has', { labels: { rack: 'r3' } }, []],
      ] as const)('filters by %s', async (_name, filter, expected) => {
        const machines = await fleet();
        const page = await store.machines.list({ limit: 10, ...filter });
        expect(page.items.map((m) => m.id)).toEqual(expected.map((k) => machines[k].id));
        expect(page.next).toBeNull();
      });

      it('filters by MAC', async () => {
        const machines = await fleet();
        const target = machines.c.identity[0]!.value;
        expect((await store.machines.list({ limit: 10, mac: target })).items.map((m) => m.id)).toEqual([machines.c.id]);
        expect((await store.machines.list({ limit: 10, mac: 'ff:ff:ff:ff:ff:ff' })).items).toEqual([]);
      });

      it('walks every page with next, without duplicates, ending with null', async () => {
        const machines = await fleet();
        const seen: string[] = [];
        const sizes: number[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.machines.list({ limit: 2, ...(after ? { after } : {}) });
          sizes.push(page.items.length);
          seen.push(...page.items.map((m) => m.id));
          if (page.next === null) break;
          expect(page.next).toBe(page.items.at(-1)!.id);
          after = page.next;
        }
        expect(sizes).toEqual([2, 2, 1]);
        expect(seen).toEqual(Object.values(machines).map((m) => m.id));
      });

      it('a page that ends exactly at the last machine has next null', async () => {
        await fleet();
        const first = await store.machines.list({ limit: 5 });
        expect(first.items).toHaveLength(5);
        expect(first.next).toBeNull();
      });
    });

    it('touch records contact without bumping the resource version', async () => {
      const machine = await store.machines.create(newMachine());
      const at = new Date('2026-01-02T03:04:05.000Z');
      await store.machines.touch(machine.id, at);
      const touched = await store.machines.require(machine.id);
      expect(touched.lastSeenAt).toBe(at.toISOString());
      expect(touched.resourceVersion).toBe(1);
      expect(touched.updatedAt).toBe(machine.updatedAt);
    });
  });

  describe('machine events', () => {
    it('appends and lists a machine’s events oldest first, paged', async () => {
      const machine = await store.machines.create(newMachine());
      const other = await store.machines.create(newMachine());
      const steps = [
        { transition: 'enroll', from: 'discovered', to: 'enrolled', reason: null },
        { transition: 'configure', from: 'enrolled', to: 'configured', reason: 'os assigned' },
        { transition: 'fail', from: 'configured', to: 'failed', reason: 'disk died' },
      ] as const;
      const appended = [];
      for (const step of steps) appended.push(await store.machineEvents.append({ machineId: machine.id, actor: 'alice', ...step }));
      await store.machineEvents.append({ machineId: other.id, actor: 'bob', transition: 'enroll', from: 'discovered', to: 'enrolled', reason: null });

      const all = await store.machineEvents.listForMachine(machine.id, { limit: 10 });
      expect(all.next).toBeNull();
      expect(all.items).toEqual(appended);
      expect(all.items.map((e) => [e.transition, e.from, e.to, e.actor, e.reason])).toEqual(
        steps.map((s) => [s.transition, s.from, s.to, 'alice', s.reason]),
      );

      const page1 = await store.machineEvents.listForMachine(machine.id, { limit: 2 });
      expect(page1.items.map((e) => e.transition)).toEqual(['enroll', 'configure']);
      expect(page1.next).toBe(page1.items[1]!.id);
      const page2 = await store.machineEvents.listForMachine(machine.id, { limit: 2, after: page1.next! });
      expect(page2.items.map((e) => e.transition)).toEqual(['fail']);
      expect(page2.next).toBeNull();
    });
  });

  describe('boot profiles', () => {
    it('create, get, list, replace and delete', async () => {
      const created = await store.bootProfiles.create('talos', talos);
      expect(created).toMatchObject({ name: 'talos', spec: talos, resourceVersion: 1 });
      await store.bootProfiles.create('disk', localboot);
      expect(await store.bootProfiles.get('talos')).toEqual(created);
      expect((await store.bootProfiles.list()).map((p) => p.name)).toEqual(['disk', 'talos']);

      const newer: BootProfileSpec = { ...talos, version: 'v1.10.0' };
      const replaced = await store.bootProfiles.replace('talos', newer, 1);
      expect(replaced).toMatchObject({ spec: newer, resourceVersion: 2 });
      await expect(store.bootProfiles.replace('talos', talos, 1)).rejects.toBeInstanceOf(ConflictError);
      expect((await store.bootProfiles.require('talos')).spec).toEqual(newer);

      await store.bootProfiles.delete('disk');
      expect(await store.bootProfiles.get('disk')).toBeNull();
      await expect(store.bootProfiles.delete('disk')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('a duplicate name is a ConflictError and keeps the first', async () => {
      await store.bootProfiles.create('talos', talos);
      const error = await rejection(store.bootProfiles.create('talos', localboot));
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ details: { name: 'talos' } });
      expect((await store.bootProfiles.require('talos')).spec).toEqual(talos);
      expect(await countRows(store, 'boot_profiles')).toBe(1);
    });

    it('refuses to delete a profile while an intent uses it', async () => {
      await store.bootProfiles.create('talos', talos);
      const intent = await store.bootIntents.create(intentSpec());

      const error = await rejection(store.bootProfiles.delete('talos'));
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ details: { name: 'talos', intentId: intent.id } });
      expect(await store.bootProfiles.get('talos')).not.toBeNull();

      await store.bootIntents.delete(intent.id);
      await store.bootProfiles.delete('talos');
      expect(await store.bootProfiles.get('talos')).toBeNull();
    });
  });

  describe('boot intents', () => {
    beforeEach(async () => {
      await store.bootProfiles.create('talos', talos);
      await store.bootProfiles.create('disk', localboot);
    });

    it('creates an intent and lists intents oldest first', async () => {
      const first = await store.bootIntents.create(intentSpec({ maxAttempts: 3 }));
      const second = await store.bootIntents.create(intentSpec({ selector: { labels: { rack: 'r1' } }, profile: 'disk', mode: 'always' }));
      expect(first).toMatchObject({ spec: intentSpec({ maxAttempts: 3 }), attempts: 0, consumedAt: null, resourceVersion: 1 });
      expect(await store.bootIntents.list()).toEqual([first, second]);
    });

    it('refuses an unknown profile with an InputError naming /profile, writing nothing', async () => {
      const error = await rejection(store.bootIntents.create(intentSpec({ profile: 'nope' })));
      expect(error).toBeInstanceOf(InputError);
      expect(error).toMatchObject({ code: 'invalid_input', details: { errors: [{ path: '/profile' }] } });
      expect(await store.bootIntents.list()).toEqual([]);
    });

    it('replace resets attempts and consumption and checks the version', async () => {
      const intent = await store.bootIntents.create(intentSpec());
      await store.bootIntents.recordAttempt(intent.id);
      await store.bootIntents.recordAttempt(intent.id);
      const consumed = await store.bootIntents.consume(intent.id);
      expect(consumed).toMatchObject({ attempts: 2, resourceVersion: 2 });
      expect(consumed.consumedAt).not.toBeNull();

      const spec = intentSpec({ profile: 'disk', mode: 'always' });
      const replaced = await store.bootIntents.replace(intent.id, spec, 2);
      expect(replaced).toMatchObject({ spec, attempts: 0, consumedAt: null, resourceVersion: 3 });

      await expect(store.bootIntents.replace(intent.id, intentSpec(), 2)).rejects.toBeInstanceOf(ConflictError);
      const unknown = await rejection(store.bootIntents.replace(intent.id, intentSpec({ profile: 'nope' })));
      expect(unknown).toBeInstanceOf(InputError);
      expect(await store.bootIntents.require(intent.id)).toEqual(replaced);
    });

    it('recordAttempt counts netboots', async () => {
      const intent = await store.bootIntents.create(intentSpec());
      for (let i = 0; i < 3; i++) await store.bootIntents.recordAttempt(intent.id);
      expect((await store.bootIntents.require(intent.id)).attempts).toBe(3);
    });

    it('consume is idempotent: the first report wins', async () => {
      const intent = await store.bootIntents.create(intentSpec());
      const first = new Date('2026-02-01T00:00:00.000Z');
      const once = await store.bootIntents.consume(intent.id, first);
      const twice = await store.bootIntents.consume(intent.id, new Date('2026-02-02T00:00:00.000Z'));
      expect(once.consumedAt).toBe(first.toISOString());
      expect(once.resourceVersion).toBe(2);
      expect(twice).toEqual(once);
      await expect(store.bootIntents.consume('no-such-intent')).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('builds', () => {
    it('create queues a pending build; finish records the outcome; latestSucceeded picks the newest success', async () => {
      const machine = await store.machines.create(newMachine());
      const other = await store.machines.create(newMachine());
      expect(await store.builds.latestSucceeded(machine.id)).toBeNull();

      const b1 = await store.builds.create(machine.id, { flake: '.#node-1' });
      expect(b1).toMatchObject({
        machineId: machine.id,
        status: 'pending',
        spec: { flake: '.#node-1' },
        artifacts: null,
        error: null,
        leaseOwner: null,
        finishedAt: null,
      });
      expect(await store.builds.latestSucceeded(machine.id)).toBeNull();

      const artifacts = { kernel: 'artifact:k1', initrd: ['artifact:i1'], cmdline: 'init=/nix/store/x/init' };
      const done = await store.builds.finish(b1.id, { status: 'succeeded', artifacts });
      expect(done).toMatchObject({ status: 'succeeded', artifacts, error: null });
      expect(done.finishedAt).not.toBeNull();

      const b2 = await store.builds.create(machine.id, { flake: '.#node-1' });
      const failed = await store.builds.finish(b2.id, { status: 'failed', error: 'nix-build exited 1' });
      expect(failed).toMatchObject({ status: 'failed', artifacts: null, error: 'nix-build exited 1' });
      expect((await store.builds.latestSucceeded(machine.id))?.id).toBe(b1.id);

      const b3 = await store.builds.create(machine.id, { flake: '.#node-1' });
      await store.builds.finish(b3.id, { status: 'succeeded', artifacts: { ...artifacts, kernel: 'artifact:k3' } });
      expect(await store.builds.latestSucceeded(machine.id)).toMatchObject({ id: b3.id, artifacts: { kernel: 'artifact:k3' } });

      expect(await store.builds.latestSucceeded(other.id)).toBeNull();
      expect((await store.builds.listForMachine(machine.id)).map((b) => b.id)).toEqual([b3.id, b2.id, b1.id]);
    });
  });

  describe('transaction', () => {
    it('commits everything the work wrote', async () => {
      const id = await store.transaction(async (tx) => {
        const machine = await tx.machines.create(newMachine());
        await tx.bootProfiles.create('talos', talos);
        return machine.id;
      });
      expect(await store.machines.get(id)).not.toBeNull();
      expect(await store.bootProfiles.get('talos')).not.toBeNull();
    });

    it('rolls back every write when the work throws after writing', async () => {
      const before = await allMachines(store);
      const boom = new Error('boom');
      const error = await rejection(
        store.transaction(async (tx) => {
          const machine = await tx.machines.create(newMachine({ labels: { rack: 'r1' } }));
          await tx.machines.update(machine.id, { hostname: 'x' });
          await tx.bootProfiles.create('talos', talos);
          await tx.builds.create(machine.id, {});
          await tx.machineEvents.append({ machineId: machine.id, transition: 'enroll', from: 'discovered', to: 'enrolled', actor: 't', reason: null });
          throw boom;
        }),
      );
      expect(error).toBe(boom);
      expect(await allMachines(store)).toEqual(before);
      expect(await countRows(store, 'machine_identities')).toBe(0);
      expect(await countRows(store, 'machine_labels')).toBe(0);
      expect(await countRows(store, 'boot_profiles')).toBe(0);
      expect(await countRows(store, 'builds')).toBe(0);
    });

    it('rolls back when a repository call inside fails', async () => {
      await store.machines.create({ identity: [{ kind: 'serial', value: 'SN-TAKEN' }] });
      const error = await rejection(
        store.transaction(async (tx) => {
          await tx.bootProfiles.create('talos', talos);
          await tx.machines.create({ identity: [{ kind: 'serial', value: 'SN-TAKEN' }] });
        }),
      );
      expect(error).toBeInstanceOf(ConflictError);
      expect(await store.bootProfiles.get('talos')).toBeNull();
      expect(await countRows(store, 'machines')).toBe(1);
    });
  });
});

function byKey(a: IdentityKey, b: IdentityKey): number {
  return `${a.kind}=${a.value}`.localeCompare(`${b.kind}=${b.value}`);
}
