import type { MachineEvent } from '@metalplane/core';
import { testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import {
  allMachines,
  enroll,
  expectError,
  getMachine,
  listMachines,
  newMac,
  postEnroll,
  seedPayload,
  useTestHost,
  type EnrollResult,
} from './support.js';

describe.each(testDatabaseNames())('POST /api/v1/enroll (%s)', (engine) => {
  const api = useTestHost(engine);

  it('creates a new machine: 201, phase enrolled, inventory mapped from the seed payload', async () => {
    const macs = [newMac(), newMac()];
    const payload = seedPayload(macs, 'CN7792XYZ');
    const res = await postEnroll(api, payload);
    expect(res.statusCode, res.body).toBe(201);
    const { created, machine, warnings } = res.json<EnrollResult>();

    expect(created).toBe(true);
    expect(warnings).toEqual([]);
    expect(machine.phase).toBe('enrolled');
    expect(machine.resourceVersion).toBeGreaterThanOrEqual(1);
    expect(machine.lastSeenAt).not.toBeNull();
    expect(machine.hardware.system).toEqual({
      manufacturer: 'Dell Inc.',
      product: 'PowerEdge R650',
      serial: 'CN7792XYZ',
      biosVersion: '1.9.2',
    });
    expect(machine.hardware.cpu).toEqual({
      model: 'Intel Xeon Gold 6338',
      architecture: 'x86_64',
      sockets: 2,
      cores: 32,
      threads: 64,
      maxFrequencyMhz: 3200,
    });
    expect(machine.hardware.memory).toEqual({
      totalBytes: 274877906944,
      modules: [{ slot: 'A1', sizeBytes: 34359738368, type: 'DDR4', speedMhz: 3200 }],
    });
    // nvme from the device name, ssd from `type`, hdd from `rotational`.
    expect(machine.hardware.disks).toEqual([
      { name: 'nvme0n1', type: 'nvme', sizeBytes: 1920383410176, model: 'Samsung PM9A3', serial: 'S64GNE0R000001' },
      { name: 'sda', type: 'ssd', sizeBytes: 480103981056, model: 'Intel S4510', serial: 'PHYF000001' },
      { name: 'sdb', type: 'hdd', sizeBytes: 8001563222016, model: 'Seagate Exos', serial: 'ZA1000001' },
    ]);
    expect(machine.hardware.nics).toEqual([
      { name: 'eno1', mac: macs[0], driver: 'ice', speedMbps: 10000, link: 'up', pciAddress: '0000:30:00.0' },
      { name: 'eno2', mac: macs[1], driver: 'igb', speedMbps: 1000, link: 'up', pciAddress: '0000:31:00.0' },
    ]);
    expect(machine.hardware.gpus).toEqual([
      { vendor: 'NVIDIA', model: 'A100', pciAddress: '0000:ca:00.0', memoryBytes: 42949672960 },
    ]);
    // Every NIC's MAC (sent upper-case) is a key in canonical form, and so is the service tag.
    expect(machine.identity).toEqual(
      expect.arrayContaining([
        { kind: 'mac', value: macs[0] },
        { kind: 'mac', value: macs[1] },
        { kind: 'serial', value: 'CN7792XYZ' },
      ]),
    );
    expect(machine.identity).toHaveLength(3);
    expect(await getMachine(api, machine.id)).toEqual(machine);
  });

  it('records the enroll transition (discovered -> enrolled) in the events', async () => {
    const { machine } = await enroll(api, seedPayload());
    const res = await api.inject(`/api/v1/machines/${machine.id}/events`);
    expect(res.statusCode, res.body).toBe(200);
    const { items, next } = res.json<{ items: MachineEvent[]; next: string | null }>();
    expect(next).toBeNull();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      machineId: machine.id,
      transition: 'enroll',
      from: 'discovered',
      to: 'enrolled',
      actor: 'enrollment',
    });
  });

  it('accepts the boot MAC in any format and stores it normalized', async () => {
    const mac = newMac();
    const res = await postEnroll(api, { mac_address: mac.toUpperCase().replaceAll(':', '-') });
    expect(res.statusCode, res.body).toBe(201);
    const { machine } = res.json<EnrollResult>();
    expect(machine.identity).toEqual([{ kind: 'mac', value: mac }]);
    expect(machine.hardware).toEqual({});
  });

  it('enrolling again updates the same machine (200, same id, hardware replaced, no duplicate)', async () => {
    const macs = [newMac(), newMac()];
    const payload = seedPayload(macs);
    const first = await enroll(api, payload);
    const before = (await allMachines(api)).length;

    const updated = seedPayload(macs, payload.service_tag);
    updated.hardware!.cpu = { ...updated.hardware!.cpu, cores: 48, threads: 96 };
    updated.hardware!.gpus = null;
    const res = await postEnroll(api, updated);
    expect(res.statusCode, res.body).toBe(200);
    const second = res.json<EnrollResult>();

    expect(second.created).toBe(false);
    expect(second.machine.id).toBe(first.machine.id);
    expect(second.machine.phase).toBe('enrolled');
    expect(second.machine.hardware.cpu).toMatchObject({ cores: 48, threads: 96 });
    expect(second.machine.hardware.gpus).toBeUndefined();
    expect(second.machine.resourceVersion).toBeGreaterThan(first.machine.resourceVersion);
    expect(second.machine.identity).toHaveLength(3);

    expect((await listMachines(api, `mac=${macs[0]}`)).items.map((m) => m.id)).toEqual([first.machine.id]);
    expect(await allMachines(api)).toHaveLength(before);
    // Enrolling again is not a transition: still only the one enroll event.
    const events = (await api.inject(`/api/v1/machines/${first.machine.id}/events`)).json<{ items: MachineEvent[] }>();
    expect(events.items.map((e) => e.transition)).toEqual(['enroll']);
  });

  it("finds the machine by its second NIC's MAC alone", async () => {
    const macs = [newMac(), newMac()];
    const first = await enroll(api, seedPayload(macs));

    const res = await postEnroll(api, { mac_address: macs[1]!.toUpperCase() });
    expect(res.statusCode, res.body).toBe(200);
    const again = res.json<EnrollResult>();
    expect(again.created).toBe(false);
    expect(again.machine.id).toBe(first.machine.id);
    // No hardware reported: what was stored is kept.
    expect(again.machine.hardware).toEqual(first.machine.hardware);
    expect((await listMachines(api, `mac=${macs[1]}`)).items).toHaveLength(1);
  });

  it('learns a new NIC as another key of the same machine', async () => {
    const [boot, added] = [newMac(), newMac()];
    const first = await enroll(api, seedPayload([boot!]));
    const again = await enroll(api, seedPayload([boot!, added!], first.machine.hardware.system!.serial));
    expect(again.machine.id).toBe(first.machine.id);
    expect(again.machine.identity).toContainEqual({ kind: 'mac', value: added });
    expect((await listMachines(api, `mac=${added}`)).items.map((m) => m.id)).toEqual([first.machine.id]);
  });

  it('does not use a firmware placeholder service tag as a key, and says so in warnings', async () => {
    const placeholder = 'To Be Filled By O.E.M.';
    const a = await enroll(api, seedPayload([newMac()], placeholder));
    expect(a.created).toBe(true);
    expect(a.machine.identity.filter((k) => k.kind === 'serial')).toEqual([]);
    expect(a.warnings).toHaveLength(1);
    expect(a.warnings[0]).toContain(placeholder);
    expect(a.warnings[0]).toContain('placeholder');

    // Another box with the same placeholder is another machine, not a merge.
    const b = await enroll(api, seedPayload([newMac()], placeholder));
    expect(b.created).toBe(true);
    expect(b.machine.id).not.toBe(a.machine.id);
  });

  it('creates two records for two machines that share no key', async () => {
    const before = (await allMachines(api)).length;
    const a = await enroll(api, seedPayload());
    const b = await enroll(api, seedPayload());
    expect(a.created && b.created).toBe(true);
    expect(a.machine.id).not.toBe(b.machine.id);
    expect(await allMachines(api)).toHaveLength(before + 2);
  });

  it('refuses keys that match two machines with 409 conflict and changes nothing', async () => {
    const [macA, macB] = [newMac(), newMac()];
    const a = await enroll(api, seedPayload([macA!]));
    const b = await enroll(api, seedPayload([macB!]));
    const before = await allMachines(api);

    const res = await postEnroll(api, { mac_address: macA, hardware: { nics: [{ mac_address: macA }, { mac_address: macB }] } });
    const error = expectError(res, 409, 'conflict');
    expect(error.details['ambiguous']).toBe(true);
    expect(error.details['machineIds']).toEqual(expect.arrayContaining([a.machine.id, b.machine.id]));

    expect(await getMachine(api, a.machine.id)).toEqual(a.machine);
    expect(await getMachine(api, b.machine.id)).toEqual(b.machine);
    expect(await allMachines(api)).toEqual(before);
  });

  it('creates exactly one machine when 20 first enrollments of it arrive at once', async () => {
    const macs = [newMac(), newMac()];
    const payload = seedPayload(macs);
    const before = (await allMachines(api)).length;

    const responses = await Promise.all(Array.from({ length: 20 }, () => postEnroll(api, payload)));

    // The losers of the race to create it find it on their retry and update it: every request succeeds.
    const succeeded = responses.filter((r) => r.statusCode === 200 || r.statusCode === 201);
    expect(responses.map((r) => r.statusCode).filter((code) => code !== 200 && code !== 201)).toEqual([]);
    expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(1);
    const ids = new Set(succeeded.map((r) => r.json<EnrollResult>().machine.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];

    expect((await listMachines(api, `mac=${macs[0]}`)).items.map((m) => m.id)).toEqual([id]);
    expect((await listMachines(api, `mac=${macs[1]}`)).items.map((m) => m.id)).toEqual([id]);
    expect(await allMachines(api)).toHaveLength(before + 1);
    const machine = await getMachine(api, id!);
    expect(machine.phase).toBe('enrolled');
    expect(machine.identity).toHaveLength(3);
    const events = (await api.inject(`/api/v1/machines/${id}/events`)).json<{ items: MachineEvent[] }>();
    expect(events.items.map((e) => e.transition)).toEqual(['enroll']);
  });
});
