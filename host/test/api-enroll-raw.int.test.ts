import { fileURLToPath } from 'node:url';
import type { Machine, RawFacts } from '@metalplane/core';
import { loadRawFactsFromDirectory, testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import { useTestHost } from './support.js';

const fixture = (name: string): RawFacts =>
  loadRawFactsFromDirectory(fileURLToPath(new URL(`../../core/test/fixtures/inventory/${name}/`, import.meta.url)));

interface EnrollResult {
  created: boolean;
  machine: Machine;
  warnings: string[];
  action: string;
}

/** The same facts with some files replaced: another NIC, another UUID, ... */
function withFiles(facts: RawFacts, files: Record<string, string | null>): RawFacts {
  const next = { ...facts.files };
  for (const [path, content] of Object.entries(files)) {
    if (content === null) delete next[path];
    else next[path] = content;
  }
  return { ...facts, files: next };
}

describe.each(testDatabaseNames())('enrollment from raw facts (%s)', (engine) => {
  const api = useTestHost(engine);
  const enroll = async (facts: RawFacts, status: number) => {
    const res = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: facts });
    expect(res.statusCode, res.body).toBe(status);
    return res.json<EnrollResult>();
  };

  it('parses an x86 server into the inventory, with every identity key, and powers it off', async () => {
    const result = await enroll(fixture('x86-server'), 201);
    expect(result.action).toBe('poweroff');
    expect(result.warnings).toEqual([]);
    const { machine } = result;
    expect(machine.phase).toBe('enrolled');
    expect(machine.hardware.system).toMatchObject({ manufacturer: 'Dell Inc.', product: 'PowerEdge R750', serial: '7XK2QJ3' });
    expect(machine.hardware.cpu).toMatchObject({ architecture: 'x86_64', sockets: 2, cores: 64, threads: 128 });
    expect(machine.hardware.nics?.filter((n) => n.sriov).map((n) => n.sriov?.totalVfs)).toEqual([63, 63]);
    const kinds = machine.identity.map((k) => k.kind);
    expect(kinds.filter((k) => k === 'mac')).toHaveLength(4);
    expect(kinds).toEqual(expect.arrayContaining(['serial', 'smbios-uuid', 'disk-serial']));

    const found = await api.inject({ url: '/api/v1/machines?arch=amd64&minMemory=256Gi&disk.type=nvme&gpu=true' });
    expect(found.json<{ items: Machine[] }>().items.map((m) => m.id)).toContain(machine.id);
  });

  it('updates the same record when the server enrolls again after a NIC swap', async () => {
    const facts = fixture('x86-server');
    const swapped = withFiles(facts, { '/sys/class/net/eno1/address': '4c:d9:8f:00:00:99\n' });
    const result = await enroll(swapped, 200);
    expect(result.created).toBe(false);
    expect(result.machine.identity).toContainEqual({ kind: 'mac', value: '4c:d9:8f:00:00:99' });
  });

  it('enrolls a Raspberry Pi 4 by its board serial', async () => {
    const { machine } = await enroll(fixture('raspberry-pi-4'), 201);
    expect(machine.identity).toContainEqual({ kind: 'rpi-serial', value: '10000000a1b2c3d4' });
    expect(machine.hardware.system?.raspberryPi).toEqual({ model: 'Raspberry Pi 4 Model B Rev 1.4', serial: '10000000a1b2c3d4' });
    expect(machine.hardware.cpu).toMatchObject({ architecture: 'aarch64', model: 'Cortex-A72', threads: 4 });
  });

  it('flags a cloned server (same SMBIOS UUID, other MACs and serials) instead of merging it', async () => {
    const original = fixture('x86-server');
    const macFiles = Object.keys(original.files).filter((p) => /^\/sys\/class\/net\/[^/]+\/address$/.test(p));
    const clone = withFiles(original, {
      ...Object.fromEntries(macFiles.map((p, i) => [p, `02:00:00:00:01:0${i}\n`])),
      '/sys/class/dmi/id/product_serial': 'CLONE01\n',
      '/sys/class/dmi/id/chassis_serial': 'CLONE01\n',
    });
    // A clone's virtual disks have serials of their own (here: none at all).
    const cloneFacts: RawFacts = {
      ...clone,
      files: Object.fromEntries(Object.entries(clone.files).filter(([p]) => !/^\/sys\/block\/.*\/(serial|wwid|vpd_pg80)$/.test(p))),
      commands: {},
    };
    const result = await enroll(cloneFacts, 201);
    expect(result.warnings.join('\n')).toMatch(/identity is ambiguous/);
    const condition = result.machine.conditions.find((c) => c.type === 'IdentityAmbiguous');
    expect(condition).toMatchObject({ status: 'True', reason: 'KeysMatchOtherMachines' });
    expect(result.machine.identity.some((k) => k.kind === 'smbios-uuid')).toBe(false);

    // Enrolling the clone again finds its own record, not the original.
    const again = await enroll(cloneFacts, 200);
    expect(again.machine.id).toBe(result.machine.id);
  });

  /** The Pi fixture as another board: its own NIC MACs, board serial and SD card serial. */
  function anotherPi(macs: [string, string], serial: string, sdSerial: string): RawFacts {
    const pi = fixture('raspberry-pi-4');
    return withFiles(pi, {
      '/sys/class/net/eth0/address': `${macs[0]}\n`,
      '/sys/class/net/wlan0/address': `${macs[1]}\n`,
      '/proc/device-tree/serial-number': serial,
      '/proc/cpuinfo': pi.files['/proc/cpuinfo']!.replace(/Serial\s*:\s*\S+/, `Serial\t\t: ${serial}`),
      ...Object.fromEntries(Object.keys(pi.files).filter((p) => /mmcblk0\/device\/serial$/.test(p)).map((p) => [p, `${sdSerial}\n`])),
    });
  }

  it('folds records DHCP made from single NICs into the machine that enrolls with both', async () => {
    const store = api.host.metalplane.store;
    const a = await store.machines.create({ identity: [{ kind: 'mac', value: '02:aa:00:00:00:01' }] });
    const b = await store.machines.create({ identity: [{ kind: 'mac', value: '02:aa:00:00:00:02' }] });
    const result = await enroll(anotherPi(['02:aa:00:00:00:01', '02:aa:00:00:00:02'], '10000000deadbeef', '0xdeadbeef'), 200);
    expect(result.machine.id).toBe(a.id);
    expect(await store.machines.get(b.id)).toBeNull();
    expect(result.machine.identity.filter((k) => k.kind === 'mac').map((k) => k.value).sort()).toEqual(['02:aa:00:00:00:01', '02:aa:00:00:00:02']);
    expect(result.machine.conditions).toEqual([]);
  });

  it('keeps the DHCP records of its NICs even when the rest of the identity is ambiguous', async () => {
    const store = api.host.metalplane.store;
    const a = await store.machines.create({ identity: [{ kind: 'mac', value: '02:ab:00:00:00:01' }] });
    // Same SD card serial as the first Pi enrolled above, a different board serial: contradicting evidence.
    const result = await enroll(anotherPi(['02:ab:00:00:00:01', '02:ab:00:00:00:02'], '10000000c0ffee00', '0x1a2b3c4d'), 200);
    expect(result.machine.id).toBe(a.id);
    expect(result.machine.conditions.find((c) => c.type === 'IdentityAmbiguous')).toMatchObject({ status: 'True' });
    expect(result.machine.identity).toContainEqual({ kind: 'rpi-serial', value: '10000000c0ffee00' });
    expect(result.machine.identity).not.toContainEqual({ kind: 'disk-serial', value: '0x1a2b3c4d' });
  });

  it('tells the agent to reboot when an intent is waiting for the machine', async () => {
    const facts = anotherPi(['02:bb:00:00:00:01', '02:bb:00:00:00:02'], '10000000feedf00d', '0xfeedf00d');
    await api.inject({ method: 'POST', url: '/api/v1/boot-profiles', payload: { name: 'pi-netboot', spec: { kind: 'kernel', kernel: 'http://x/k' } } });
    const intent = await api.inject({
      method: 'POST',
      url: '/api/v1/boot-intents',
      payload: { selector: { mac: '02:bb:00:00:00:01' }, profile: 'pi-netboot', mode: 'once' },
    });
    expect(intent.statusCode).toBe(201);
    expect((await enroll(facts, 201)).action).toBe('reboot');
  });

  it('enrolls from garbled facts with warnings instead of failing', async () => {
    const facts: RawFacts = {
      format: 'metalplane-raw-facts/v1',
      files: { '/proc/cpuinfo': '\u0000garbage\nmore: :: garbage', '/sys/class/net/eth0/address': '02:cc:00:00:00:01\n', '/sys/block/sda/size': 'abc' },
      links: { '/sys/class/net/eth0/device': '../../../0000:00:03.0' },
    };
    const result = await enroll(facts, 201);
    expect(result.warnings.length).toBeGreaterThan(0);
    expect(result.machine.identity).toEqual([{ kind: 'mac', value: '02:cc:00:00:00:01' }]);
  });

  it('refuses a raw-facts body with an unknown format version or a relative path, naming the field', async () => {
    const bad = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { format: 'metalplane-raw-facts/v9', files: {} } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { details: { errors: { path: string }[] } } }>().error.details.errors.map((e) => e.path)).toContain('/body/format');
    const relative = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { format: 'metalplane-raw-facts/v1', files: { 'proc/cpuinfo': 'x' } } });
    expect(relative.statusCode).toBe(400);
  });
});
