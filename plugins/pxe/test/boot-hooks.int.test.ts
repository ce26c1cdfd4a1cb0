import { BootPlanner, BootRecorder, EventBus, IpClaims, silentLogger, Store } from '@metalplane/core';
import { createTestDatabase, testDatabaseNames, type TestDatabase } from '@metalplane/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BootHooks } from '../src/boot-hooks.js';

describe.each(testDatabaseNames())('the plugin asks core (%s)', (engine) => {
  let db: TestDatabase;
  let store: Store;
  let recorder: BootRecorder;
  let hooks: BootHooks;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    store = await Store.open(db.config);
    const events = new EventBus(silentLogger);
    recorder = new BootRecorder(store, events, { loopGuardLimit: 5, timelineLimit: 100 }, silentLogger);
    hooks = new BootHooks({ store, planner: new BootPlanner(store), recorder, logger: silentLogger, httpBaseUrl: 'http://10.0.0.1:8080' });
  });
  afterEach(async () => {
    await store.close();
    await db.dispose();
  });

  it('an unknown MAC asking for its script becomes a discovered machine, gets the registration image told where to enroll, and counts a netboot', async () => {
    const { machineId, plan } = await hooks.plan({ mac: '02:00:00:00:02:01', arch: 'uefi-x64', client: 'ipxe', remoteAddress: '10.0.0.50' });
    expect(plan).toMatchObject({ kind: 'registration', cmdline: expect.stringMatching(/ metalplane\.url=http:\/\/10\.0\.0\.1:8080$/) });
    const machine = await store.machines.require(machineId!);
    expect(machine).toMatchObject({ phase: 'discovered', netboot: { attemptsSinceProgress: 1 } });

    // A file fetched from that address afterwards goes on the same machine's timeline.
    hooks.http({ step: 'http.file', path: '/boot/registration/vmlinuz', status: 200, bytes: 1234, remoteAddress: '::ffff:10.0.0.50' });
    hooks.tftp({ step: 'tftp.read', path: 'snponly.efi', client: { address: '10.0.0.50', port: 2000 }, bytes: 200_000 });
    hooks.http({ step: 'http.file', path: '/boot/registration/vmlinuz', status: 200, remoteAddress: '10.0.0.99' });
    await settle();
    const steps = (await store.bootEvents.listForMachine(machine.id, { limit: 10 })).items.map((e) => [e.step, e.detail.path ?? e.detail.file ?? e.detail.planKind]);
    expect(steps).toEqual(expect.arrayContaining([['ipxe.script', 'registration'], ['http.file', '/boot/registration/vmlinuz'], ['tftp.read', 'snponly.efi']]));
    expect(steps).toHaveLength(3);
  });

  it('DHCP: a PXE client is discovered, a plain DHCP client is not; an offered address is remembered', async () => {
    const pxe = { mac: '02:00:00:00:02:02', arch: 'bios', client: 'pxe-firmware' } as const;
    hooks.dhcp({ step: 'discover', mode: 'full', port: 67, client: pxe });
    hooks.dhcp({ step: 'discover', mode: 'full', port: 67, client: { mac: '02:00:00:00:02:03', arch: 'unknown', client: 'other' } });
    await settle();
    hooks.dhcp({ step: 'offer', mode: 'full', port: 67, client: pxe, address: '10.0.0.120', bootFile: 'undionly.kpxe' });
    await settle();
    expect(hooks.addresses.macAt('10.0.0.120')).toBe('02:00:00:00:02:02');
    const [machine] = await store.machines.findByIdentity([{ kind: 'mac', value: '02:00:00:00:02:02' }]);
    const steps = (await store.bootEvents.listForMachine(machine!.id, { limit: 10 })).items.map((e) => e.step);
    expect(steps).toEqual(['dhcp.offer', 'dhcp.discover']);
    expect(await store.machines.findByIdentity([{ kind: 'mac', value: '02:00:00:00:02:03' }])).toEqual([]);
  });

  it('a reservation is the bound claim on that MAC, with the pool gateway and DNS', async () => {
    await store.ipPools.create('rack', { cidr: '10.0.0.0/24', gateway: '10.0.0.254', dnsServers: ['10.0.0.53'] });
    const machine = await store.machines.create({ identity: [{ kind: 'mac', value: '02:00:00:00:02:04' }], phase: 'enrolled', hostname: 'node-4.rack.example' });
    expect(await hooks.reservation('02:00:00:00:02:04')).toBeNull();
    const claims = new IpClaims(store, new EventBus(silentLogger), () => []);
    await claims.claim({ pool: 'rack', owner: { key: 'node-4', machineId: machine.id, mac: '02:00:00:00:02:04' } });
    expect(await hooks.reservation('02:00:00:00:02:04')).toEqual({ address: '10.0.0.1', prefixLength: 24, gateway: '10.0.0.254', dnsServers: ['10.0.0.53'], hostname: 'node-4' });
    expect(await hooks.reservation('02:00:00:00:02:05')).toBeNull();
  });

  it("a known Raspberry Pi gets its plan's command line as cmdline.txt", async () => {
    expect(await hooks.rpiBoot('9ffefdef')).toBeNull();
    await store.machines.create({ identity: [{ kind: 'mac', value: 'dc:a6:32:01:02:03' }, { kind: 'rpi-serial', value: '9ffefdef' }] });
    expect(await hooks.rpiBoot('9ffefdef')).toEqual({ cmdlineTxt: expect.stringMatching(/metalplane\.url=http:\/\/10\.0\.0\.1:8080\n$/) });
  });
});
