import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { HardwareInventorySchema } from '../model/hardware.js';
import { loadRawFactsFromDirectory } from './load-fixture.js';
import { parseRawFacts, type ParsedFacts } from './parse-raw-facts.js';
import { RAW_FACTS_FORMAT, RawFactsSchema, type RawFacts } from './raw-facts.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/inventory/', import.meta.url));
const GiB = 1024 ** 3;

function parseFixture(name: string): { facts: RawFacts; parsed: ParsedFacts } {
  const facts = loadRawFactsFromDirectory(join(FIXTURES, name));
  return { facts, parsed: parseRawFacts(facts) };
}

function facts(files: Record<string, string>, extra: Partial<Omit<RawFacts, 'format' | 'files'>> = {}): RawFacts {
  return { format: RAW_FACTS_FORMAT, files, ...extra };
}

/** Two x86 processors, as /proc/cpuinfo prints them (abridged to the lines the parser reads and a few more). */
const X86_CPUINFO = [0, 1]
  .map(
    (n) => `processor\t: ${n}
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: Intel(R) Xeon(R) E-2236 CPU @ 3.40GHz
physical id\t: 0
siblings\t: 2
core id\t\t: ${n}
cpu cores\t: 2
flags\t\t: fpu vme sse4_2 aes avx2 vmx
`,
  )
  .join('\n');

/** A physical NIC: address, state, and the links that make it physical. */
function nic(name: string, mac: string, pci = '0000:01:00.0'): { files: Record<string, string>; links: Record<string, string> } {
  return {
    files: {
      [`/sys/class/net/${name}/address`]: `${mac}\n`,
      [`/sys/class/net/${name}/operstate`]: 'up\n',
      [`/sys/class/net/${name}/speed`]: '1000\n',
    },
    links: {
      [`/sys/class/net/${name}/device`]: `../../../${pci}`,
      [`/sys/class/net/${name}/device/driver`]: '../../../../bus/pci/drivers/e1000e',
    },
  };
}

// ---------------------------------------------------------------------------------------
// Fixture: a 2-socket Dell PowerEdge R750

describe('fixture x86-server (Dell PowerEdge R750, 2x Xeon Gold 6338)', () => {
  const { facts: raw, parsed } = parseFixture('x86-server');
  const inv = parsed.inventory;

  it('loads as valid raw facts and parses into a valid inventory, without warnings', () => {
    expect(Value.Check(RawFactsSchema, raw)).toBe(true);
    expect(Value.Check(HardwareInventorySchema, inv)).toBe(true);
    expect(parsed.warnings).toEqual([]);
  });

  it('cpu', () => {
    const socket0 = [...range(0, 31), ...range(64, 95)];
    const socket1 = [...range(32, 63), ...range(96, 127)];
    expect(inv.cpu).toEqual({
      model: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
      architecture: 'x86_64',
      sockets: 2,
      cores: 64,
      threads: 128,
      maxFrequencyMhz: 3200,
      flags: ['vmx', 'aes', 'avx2', 'avx512f', 'sse4_2', 'sha_ni'],
      numaNodes: [
        { id: 0, cpus: socket0, memoryBytes: 263581476 * 1024 },
        { id: 1, cpus: socket1, memoryBytes: 264119272 * 1024 },
      ],
    });
  });

  it('memory: MemTotal and 1024 2 MiB hugepages', () => {
    expect(inv.memory).toEqual({ totalBytes: 527700748 * 1024, hugepages: { total: 1024, sizeBytes: 2 * 1024 * 1024 } });
  });

  it('disks: 2 NVMe, 2 SATA SSD, 1 HDD; the virtual CD and the loop device left out', () => {
    expect(inv.disks).toEqual([
      {
        name: 'nvme0n1',
        type: 'nvme',
        sizeBytes: 1600321314816,
        model: 'Dell Ent NVMe P5600 MU U.2 1.6TB',
        serial: 'PHAB123400AB1P6AGN',
        wwn: 'eui.01000000000000005cd2e4a1b2c3d401',
      },
      {
        name: 'nvme1n1',
        type: 'nvme',
        sizeBytes: 1600321314816,
        model: 'Dell Ent NVMe P5600 MU U.2 1.6TB',
        serial: 'PHAB123400CD1P6AGN',
        wwn: 'eui.01000000000000005cd2e4a1b2c3d402',
      },
      // SATA serials come from the binary VPD page 0x80 (no `device/serial` for SCSI disks)
      { name: 'sda', type: 'ssd', sizeBytes: 960197124096, model: 'MZ7KH960HAJR0D3', serial: 'S47MNA0R123456', wwn: 'naa.5002538e40a1b2c3' },
      { name: 'sdb', type: 'ssd', sizeBytes: 960197124096, model: 'MZ7KH960HAJR0D3', serial: 'S47MNA0R123457', wwn: 'naa.5002538e40a1b2c4' },
      { name: 'sdc', type: 'hdd', sizeBytes: 4000787030016, model: 'ST4000NM002A-2HZ', serial: 'WJG0A1B2', wwn: 'naa.5000c500d1a2b3c4' },
    ]);
  });

  it('nics: 2 onboard tg3 (one without link), 2 ixgbe with SR-IOV on both NUMA nodes; lo left out', () => {
    expect(inv.nics).toEqual([
      { name: 'eno1', mac: 'b0:7b:25:d4:1e:60', driver: 'tg3', speedMbps: 1000, link: 'up', pciAddress: '0000:04:00.0', numaNode: 0 },
      { name: 'eno2', mac: 'b0:7b:25:d4:1e:61', driver: 'tg3', link: 'down', pciAddress: '0000:04:00.1', numaNode: 0 },
      {
        name: 'ens1f0',
        mac: 'f8:f2:1e:3a:5c:a0',
        driver: 'ixgbe',
        speedMbps: 10000,
        link: 'up',
        pciAddress: '0000:31:00.0',
        numaNode: 0,
        sriov: { totalVfs: 63 },
      },
      {
        name: 'ens5f0',
        mac: 'f8:f2:1e:3a:71:b2',
        driver: 'ixgbe',
        speedMbps: 10000,
        link: 'up',
        pciAddress: '0000:b1:00.0',
        numaNode: 1,
        sriov: { totalVfs: 63 },
      },
    ]);
  });

  it('gpus: the A100; the iDRAC Matrox VGA is not a GPU', () => {
    expect(inv.gpus).toEqual([{ vendor: 'NVIDIA Corporation', model: 'GA100 [A100 PCIe 80GB]', pciId: '10de:20b5', pciAddress: '0000:ca:00.0' }]);
  });

  it('system: DMI, service tag in product and chassis serial', () => {
    expect(inv.system).toEqual({
      manufacturer: 'Dell Inc.',
      product: 'PowerEdge R750',
      serial: '7XK2QJ3',
      chassisSerial: '7XK2QJ3',
      boardSerial: '.7XK2QJ3.CNFCP0021A00K7.',
      uuid: '4c4c4544-0058-4b10-8032-b7c04f514a33',
      biosVersion: '1.10.2',
    });
  });

  it('identity and kernel command line', () => {
    expect(parsed.identity).toEqual({
      macs: ['b0:7b:25:d4:1e:60', 'b0:7b:25:d4:1e:61', 'f8:f2:1e:3a:5c:a0', 'f8:f2:1e:3a:71:b2'],
      serial: '7XK2QJ3',
      chassisSerial: '7XK2QJ3',
      smbiosUuid: '4c4c4544-0058-4b10-8032-b7c04f514a33',
      diskSerials: ['PHAB123400AB1P6AGN', 'PHAB123400CD1P6AGN', 'S47MNA0R123456', 'S47MNA0R123457', 'WJG0A1B2'],
    });
    expect(parsed.kernelCmdline).toBe(
      'BOOT_IMAGE=registration/vmlinuz initrd=registration/initrd.img console=tty0 console=ttyS0,115200 ip=dhcp metalplane.api=http://10.0.0.1:8080',
    );
  });
});

// ---------------------------------------------------------------------------------------
// Fixture: Raspberry Pi 4 Model B 8GB

describe('fixture raspberry-pi-4 (Pi 4 Model B Rev 1.4, 8 GB)', () => {
  const { facts: raw, parsed } = parseFixture('raspberry-pi-4');
  const inv = parsed.inventory;

  it('loads as valid raw facts (device-tree NULs removed) and parses into a valid inventory, without warnings', () => {
    expect(Value.Check(RawFactsSchema, raw)).toBe(true);
    expect(raw.files['/proc/device-tree/model']).toBe('Raspberry Pi 4 Model B Rev 1.4');
    expect(Value.Check(HardwareInventorySchema, inv)).toBe(true);
    expect(parsed.warnings).toEqual([]);
  });

  it('cpu: 4x Cortex-A72 from CPU part 0xd08, no crypto extensions', () => {
    expect(inv.cpu).toEqual({
      model: 'Cortex-A72',
      architecture: 'aarch64',
      sockets: 1,
      cores: 4,
      threads: 4,
      maxFrequencyMhz: 1800,
      flags: ['crc32', 'asimd'],
    });
  });

  it('memory: about 7.6 GiB, no hugepages', () => {
    expect(inv.memory).toEqual({ totalBytes: 7998472 * 1024 });
    expect((inv.memory?.totalBytes ?? 0) / GiB).toBeCloseTo(7.63, 2);
  });

  it('disks: the SD card, type unknown (MMC says non-rotational, which is not SSD); ram and loop left out', () => {
    expect(inv.disks).toEqual([{ name: 'mmcblk0', type: 'unknown', sizeBytes: 62333952 * 512, model: 'SC32G', serial: '0x1a2b3c4d' }]);
  });

  it('nics: eth0 (bcmgenet, a platform device: no PCI address) and wlan0 (brcmfmac, not associated)', () => {
    expect(inv.nics).toEqual([
      { name: 'eth0', mac: 'dc:a6:32:12:34:56', driver: 'bcmgenet', speedMbps: 1000, link: 'up' },
      { name: 'wlan0', mac: 'dc:a6:32:12:34:57', driver: 'brcmfmac', link: 'down' },
    ]);
  });

  it('gpus: none (lspci lists only the PCIe bridge and the USB controller)', () => {
    expect(inv.gpus).toEqual([]);
  });

  it('system: from the device tree, no DMI', () => {
    expect(inv.system).toEqual({
      manufacturer: 'Raspberry Pi Ltd',
      product: 'Raspberry Pi 4 Model B Rev 1.4',
      raspberryPi: { model: 'Raspberry Pi 4 Model B Rev 1.4', serial: '10000000a1b2c3d4' },
    });
  });

  it('identity: both MACs, the board serial, the SD card serial', () => {
    expect(parsed.identity).toEqual({
      macs: ['dc:a6:32:12:34:56', 'dc:a6:32:12:34:57'],
      rpiSerial: '10000000a1b2c3d4',
      diskSerials: ['0x1a2b3c4d'],
    });
    expect(parsed.kernelCmdline).toMatch(/^coherent_pool=1M .* metalplane\.api=http:\/\/10\.0\.0\.1:8080$/);
  });
});

// ---------------------------------------------------------------------------------------
// Fixture: this machine (a KVM/Firecracker-style VM), captured by capture.sh

describe('fixture vm-this-machine (captured by capture.sh)', () => {
  const dir = join(FIXTURES, 'vm-this-machine');
  const { facts: raw, parsed } = parseFixture('vm-this-machine');
  const inv = parsed.inventory;
  const read = (path: string) => readFileSync(join(dir, path), 'utf8');
  const links = JSON.parse(read('links.json')) as Record<string, string>;

  // Machine-specific expectations, read straight from the captured files.
  const cpuinfo = read('proc/cpuinfo');
  const threads = cpuinfo.match(/^processor\s*:/gm)?.length ?? 0;
  const modelName = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim();
  const memTotalKb = Number(/^MemTotal:\s*(\d+) kB$/m.exec(read('proc/meminfo'))?.[1]);
  const physicalNics = Object.keys(links)
    .map((p) => /^\/sys\/class\/net\/([^/]+)\/device$/.exec(p)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
  const disks = readdirSync(join(dir, 'sys/block'))
    .filter((d) => !/^(loop|ram|zram|dm-|md|sr|fd|nbd)/.test(d))
    .filter((d) => Number(read(`sys/block/${d}/size`)) > 0)
    .sort();

  it('loads as valid raw facts and parses into a valid inventory', () => {
    expect(Value.Check(RawFactsSchema, raw)).toBe(true);
    expect(Value.Check(HardwareInventorySchema, inv)).toBe(true);
  });

  it('cpu: an x86_64 guest (the hypervisor flag), counts from the captured cpuinfo', () => {
    expect(threads).toBeGreaterThan(0);
    expect(inv.cpu).toMatchObject({ architecture: 'x86_64', model: modelName, threads, sockets: 1 });
    expect(inv.cpu?.cores).toBeGreaterThan(0);
    expect(inv.cpu?.cores).toBeLessThanOrEqual(threads);
    expect(inv.cpu?.flags).toContain('hypervisor');
    const nodes = readdirSync(join(dir, 'sys/devices/system/node')).filter((n) => /^node\d+$/.test(n));
    expect(inv.cpu?.numaNodes?.map((n) => n.id)).toEqual(nodes.map((n) => Number(n.slice(4))).sort((a, b) => a - b));
    expect(inv.cpu?.numaNodes?.flatMap((n) => n.cpus ?? []).length).toBe(threads);
  });

  it('memory: MemTotal', () => {
    expect(inv.memory?.totalBytes).toBe(memTotalKb * 1024);
  });

  it('disks: every non-virtual block device of non-zero size, with the kernel-reported size and type', () => {
    expect(disks.length).toBeGreaterThan(0);
    expect(inv.disks?.map((d) => d.name)).toEqual(disks);
    for (const disk of inv.disks ?? []) {
      expect(disk.sizeBytes).toBe(Number(read(`sys/block/${disk.name ?? ''}/size`)) * 512);
      const rotational = read(`sys/block/${disk.name ?? ''}/queue/rotational`).trim();
      expect(disk.type).toBe(disk.name?.startsWith('nvme') ? 'nvme' : rotational === '1' ? 'hdd' : 'ssd');
      const serialFile = join(dir, `sys/block/${disk.name ?? ''}/serial`);
      if (existsSync(serialFile)) expect(disk.serial).toBe(readFileSync(serialFile, 'utf8').trim());
    }
  });

  it('nics: only the interfaces with a device link (lo and ifb* are virtual), with driver and PCI address', () => {
    expect(physicalNics.length).toBeGreaterThan(0);
    expect(inv.nics?.map((n) => n.name)).toEqual(physicalNics);
    for (const n of inv.nics ?? []) {
      expect(n.mac).toBe(read(`sys/class/net/${n.name}/address`).trim().toLowerCase());
      expect(n.driver).toBe(links[`/sys/class/net/${n.name}/device/driver`]?.split('/').pop());
      expect(n.link).toBe(read(`sys/class/net/${n.name}/operstate`).trim() === 'up' ? 'up' : 'down');
      // virtio: the device link names virtioN; the PCI function is in the class link
      expect(n.pciAddress).toBe(links[`/sys/class/net/${n.name}`]?.match(/[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]/g)?.pop());
      const speed = Number(read(`sys/class/net/${n.name}/speed`).trim());
      if (speed < 0) expect(n.speedMbps).toBeUndefined();
      else expect(n.speedMbps).toBe(speed);
    }
  });

  it('gpus: none among the captured PCI functions (no lspci here: from /sys/bus/pci)', () => {
    expect(inv.gpus).toEqual([]);
  });

  it('system: none (no SMBIOS in this VM), with a warning saying so', () => {
    expect(inv.system).toBeUndefined();
    expect(parsed.warnings).toEqual([expect.stringContaining('/sys/class/dmi/id: missing')]);
  });

  it('identity: the physical MACs and the disk serials; the kernel command line', () => {
    expect(parsed.identity).toEqual({
      macs: physicalNics.map((n) => read(`sys/class/net/${n}/address`).trim()),
      diskSerials: (inv.disks ?? []).flatMap((d) => (d.serial ? [d.serial] : [])),
    });
    expect(parsed.kernelCmdline).toBe(read('proc/cmdline').trim());
  });
});

// ---------------------------------------------------------------------------------------
// Garbled and missing input: a partial inventory and a warning naming the file, never a throw

describe('garbled and missing input', () => {
  it('empty facts: an empty inventory, a warning per missing source', () => {
    const parsed = parseRawFacts(facts({}));
    expect(parsed.inventory).toEqual({});
    expect(parsed.identity).toEqual({ macs: [], diskSerials: [] });
    expect(parsed.kernelCmdline).toBeUndefined();
    for (const source of ['/proc/cpuinfo', '/proc/meminfo', '/sys/block', '/sys/class/net', '/sys/class/dmi/id', '/proc/cmdline']) {
      expect(parsed.warnings.some((w) => w.startsWith(source))).toBe(true);
    }
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'facts'],
    ['files not an object', { format: RAW_FACTS_FORMAT, files: 'x' }],
    ['non-string contents', { format: RAW_FACTS_FORMAT, files: { '/proc/cpuinfo': 42, '/proc/meminfo': null }, links: [], commands: { 'lspci -nn': 7 } }],
    ['binary junk everywhere', { format: RAW_FACTS_FORMAT, files: { '/proc/cpuinfo': '\u0001\u00ff:::\n\n', '/proc/meminfo': '\ufffd', '/sys/block//size': '' } }],
  ])('does not throw on %s', (_name, input) => {
    const parsed = parseRawFacts(input as RawFacts);
    expect(Value.Check(HardwareInventorySchema, parsed.inventory)).toBe(true);
    expect(parsed.warnings.length).toBeGreaterThan(0);
  });

  it('cpuinfo with garbage lines: the good lines count, a warning names the file', () => {
    const cpuinfo = `garbage without a colon\n\u0000\u0007\u00ff\n${X86_CPUINFO}\n@@@: not a key\n`;
    const parsed = parseRawFacts(facts({ '/proc/cpuinfo': cpuinfo }));
    expect(parsed.inventory.cpu).toEqual({
      model: 'Intel(R) Xeon(R) E-2236 CPU @ 3.40GHz',
      architecture: 'x86_64',
      sockets: 1,
      cores: 2,
      threads: 2,
      flags: ['vmx', 'aes', 'avx2', 'sse4_2'],
    });
    expect(parsed.warnings).toContain('/proc/cpuinfo: 3 line(s) not understood, ignored');
  });

  it('cpuinfo that is all garbage: no CPU fields, a warning', () => {
    const parsed = parseRawFacts(facts({ '/proc/cpuinfo': 'this is not cpuinfo\nat all\n' }));
    expect(parsed.inventory.cpu).toBeUndefined();
    expect(parsed.warnings).toContain('/proc/cpuinfo: no "processor" entries');
  });

  it('meminfo without MemTotal: hugepages still read, a warning names the file', () => {
    const parsed = parseRawFacts(facts({ '/proc/meminfo': 'MemFree: 100 kB\nHugePages_Total: 8\nHugepagesize: 1048576 kB\n' }));
    expect(parsed.inventory.memory).toEqual({ hugepages: { total: 8, sizeBytes: GiB } });
    expect(parsed.warnings).toContain('/proc/meminfo: no "MemTotal" line');
  });

  it('a disk whose size says "abc": the disk without a size, a warning names the file', () => {
    const parsed = parseRawFacts(
      facts({
        '/sys/block/sda/size': '3907029168\n',
        '/sys/block/sda/queue/rotational': '1\n',
        '/sys/block/sdb/size': 'abc\n',
        '/sys/block/sdb/queue/rotational': '0\n',
        '/sys/block/sdb/device/model': 'Samsung SSD 870 \n',
      }),
    );
    expect(parsed.inventory.disks).toEqual([
      { name: 'sda', type: 'hdd', sizeBytes: 3907029168 * 512 },
      { name: 'sdb', type: 'ssd', model: 'Samsung SSD 870' },
    ]);
    expect(parsed.warnings).toContain('/sys/block/sdb/size: "abc" is not a sector count');
  });

  it('a NIC whose address is "zz:zz": left out, a warning names the file; the others stay', () => {
    const good = nic('eth0', '52:54:00:12:34:56');
    const bad = nic('eth1', 'zz:zz', '0000:02:00.0');
    const parsed = parseRawFacts(facts({ ...good.files, ...bad.files }, { links: { ...good.links, ...bad.links } }));
    expect(parsed.inventory.nics?.map((n) => n.name)).toEqual(['eth0']);
    expect(parsed.identity.macs).toEqual(['52:54:00:12:34:56']);
    expect(parsed.warnings).toContain('/sys/class/net/eth1/address: "zz:zz" is not a MAC address; interface eth1 left out');
  });

  it('placeholder serial and UUID: shown in the inventory, left out of identity, with warnings', () => {
    const parsed = parseRawFacts(
      facts({
        '/sys/class/dmi/id/sys_vendor': 'To Be Filled By O.E.M.\n',
        '/sys/class/dmi/id/product_serial': 'To Be Filled By O.E.M.\n',
        '/sys/class/dmi/id/chassis_serial': 'Default string\n',
        '/sys/class/dmi/id/product_uuid': '03000200-0400-0500-0006-000700080009\n',
      }),
    );
    expect(parsed.inventory.system).toEqual({
      manufacturer: 'To Be Filled By O.E.M.',
      serial: 'To Be Filled By O.E.M.',
      chassisSerial: 'Default string',
      uuid: '03000200-0400-0500-0006-000700080009',
    });
    expect(parsed.identity).toEqual({ macs: [], diskSerials: [] });
    expect(parsed.warnings).toEqual(
      expect.arrayContaining([
        '/sys/class/dmi/id/product_serial: "To Be Filled By O.E.M." is a firmware placeholder; not used for identity',
        '/sys/class/dmi/id/chassis_serial: "Default string" is a firmware placeholder; not used for identity',
        '/sys/class/dmi/id/product_uuid: 03000200-0400-0500-0006-000700080009 is a firmware placeholder; not used for identity',
      ]),
    );
  });

  it.each<[string, Record<string, string>, Record<string, unknown>, string | undefined]>([
    ['an upper-case UUID is lower-cased', { '/sys/class/dmi/id/product_uuid': 'A1B2C3D4-0000-1111-2222-333344445555\n' }, { uuid: 'a1b2c3d4-0000-1111-2222-333344445555' }, undefined],
    ['a UUID that is not one is left out', { '/sys/class/dmi/id/product_uuid': 'not-a-uuid\n' }, {}, '/sys/class/dmi/id/product_uuid: "not-a-uuid" is not a UUID'],
    ['an empty DMI file is no value', { '/sys/class/dmi/id/product_serial': '\n', '/sys/class/dmi/id/sys_vendor': 'QEMU\n' }, { manufacturer: 'QEMU' }, undefined],
  ])('DMI: %s', (_name, files, system, warning) => {
    const parsed = parseRawFacts(facts(files));
    expect(parsed.inventory.system ?? {}).toEqual(system);
    if (warning) expect(parsed.warnings).toContain(warning);
  });

  it('NUMA: a garbled cpulist and a meminfo without MemTotal cost those fields only', () => {
    const parsed = parseRawFacts(
      facts({
        '/sys/devices/system/node/node0/cpulist': '0-3,8-11\n',
        '/sys/devices/system/node/node0/meminfo': 'Node 0 MemTotal:  8000000 kB\nNode 0 MemFree: 1 kB\n',
        '/sys/devices/system/node/node1/cpulist': '4-x\n',
        '/sys/devices/system/node/node1/meminfo': 'Node 1 MemFree: 1 kB\n',
        '/sys/devices/system/node/node2/cpulist': '\n', // a memory-only node
      }),
    );
    expect(parsed.inventory.cpu?.numaNodes).toEqual([
      { id: 0, cpus: [0, 1, 2, 3, 8, 9, 10, 11], memoryBytes: 8000000 * 1024 },
      { id: 1 },
      { id: 2, cpus: [] },
    ]);
    expect(parsed.warnings).toEqual(
      expect.arrayContaining(['/sys/devices/system/node/node1/cpulist: "4-x" is not a CPU list', '/sys/devices/system/node/node1/meminfo: no "MemTotal" line']),
    );
  });

  it('cpufreq: a garbled max frequency is left out with a warning', () => {
    const parsed = parseRawFacts(facts({ '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq': 'fast\n' }));
    expect(parsed.inventory.cpu).toBeUndefined();
    expect(parsed.warnings).toContain('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq: "fast" is not a frequency in kHz');
  });
});

// ---------------------------------------------------------------------------------------
// NIC details

describe('NICs', () => {
  it.each<[string, Record<string, string>, Record<string, unknown>, string | undefined]>([
    ['speed -1 (no link) is omitted silently', { speed: '-1' }, {}, undefined],
    ['a garbled speed is omitted with a warning', { speed: 'fast' }, {}, '/sys/class/net/eth0/speed: "fast" is not a speed'],
    ['numa_node -1 (no affinity) is ignored', { 'device/numa_node': '-1' }, {}, undefined],
    ['numa_node 1', { 'device/numa_node': '1' }, { numaNode: 1 }, undefined],
    ['sriov_totalvfs 0 is not SR-IOV', { 'device/sriov_totalvfs': '0' }, {}, undefined],
    ['sriov_totalvfs 7', { 'device/sriov_totalvfs': '7\n' }, { sriov: { totalVfs: 7 } }, undefined],
    ['operstate unknown, carrier 1: up', { operstate: 'unknown', carrier: '1' }, { link: 'up' }, undefined],
    ['operstate still down just after the link came up, carrier 1: up', { operstate: 'down', carrier: '1' }, { link: 'up' }, undefined],
    ['operstate up, carrier 0 (cable pulled a moment ago): down', { operstate: 'up', carrier: '0' }, { link: 'down' }, undefined],
    ['operstate lowerlayerdown: down', { operstate: 'lowerlayerdown' }, { link: 'down' }, undefined],
    ['no operstate, no carrier: unknown', { operstate: '' }, { link: 'unknown' }, undefined],
  ])('%s', (_name, attrs, expected, warning) => {
    const base = { '/sys/class/net/eth0/address': '52:54:00:AB:CD:EF\n', '/sys/class/net/eth0/operstate': 'down\n' };
    const files: Record<string, string> = { ...base };
    for (const [k, v] of Object.entries(attrs)) files[`/sys/class/net/eth0/${k}`] = v;
    const parsed = parseRawFacts(facts(files, { links: { '/sys/class/net/eth0/device': '../../../0000:00:19.0' } }));
    expect(parsed.inventory.nics).toEqual([{ name: 'eth0', mac: '52:54:00:ab:cd:ef', link: 'down', pciAddress: '0000:00:19.0', ...expected }]);
    if (warning) expect(parsed.warnings).toContain(warning);
    else expect(parsed.warnings.filter((w) => w.startsWith('/sys/class/net'))).toEqual([]);
  });

  it('identity MACs: physical only, no all-zero MAC, sorted by interface name (eth2 before eth10)', () => {
    const nics = [nic('eth10', '52:54:00:00:00:10', '0000:0a:00.0'), nic('eth2', '52:54:00:00:00:02', '0000:02:00.0'), nic('eth3', '00:00:00:00:00:00', '0000:03:00.0')];
    const files: Record<string, string> = {
      '/sys/class/net/lo/address': '00:00:00:00:00:00\n',
      '/sys/class/net/br0/address': '52:54:00:00:00:99\n',
      '/sys/class/net/docker0/address': '02:42:ac:11:00:01\n',
    };
    const links: Record<string, string> = { '/sys/class/net/br0': '../../devices/virtual/net/br0' };
    for (const n of nics) {
      Object.assign(files, n.files);
      Object.assign(links, n.links);
    }
    const parsed = parseRawFacts(facts(files, { links }));
    expect(parsed.inventory.nics?.map((n) => n.name)).toEqual(['eth2', 'eth3', 'eth10']);
    expect(parsed.identity.macs).toEqual(['52:54:00:00:00:02', '52:54:00:00:00:10']);
  });

  it('without any device links, every non-lo interface not under /devices/virtual counts, with a warning', () => {
    const parsed = parseRawFacts(
      facts(
        { '/sys/class/net/eth0/address': '52:54:00:00:00:01\n', '/sys/class/net/br0/address': '52:54:00:00:00:02\n', '/sys/class/net/lo/address': '00:00:00:00:00:00\n' },
        { links: { '/sys/class/net/br0': '../../devices/virtual/net/br0' } },
      ),
    );
    expect(parsed.inventory.nics?.map((n) => n.name)).toEqual(['eth0']);
    expect(parsed.warnings.some((w) => w.startsWith('/sys/class/net/*/device: no device links'))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// Disks from other sources

describe('disks', () => {
  it('lsblk alone (no /sys/block): name, size, type from ROTA, model with spaces, serial, WWN', () => {
    const output = [
      'sda      500107862016    0 disk Samsung SSD 860 EVO 500GB S3Z1NB0K123456A 0x5002538e40123456',
      'sdb     4000787030016    1 disk WDC WD40EFRX-68N32N0     WD-WCC7K1234567 0x50014ee2b1234567',
      'nvme0n1 1024209543168    0 disk KXG60ZNV1T02 TOSHIBA      Y9SF71ABCDEF     eui.8ce38e0300123456',
      'sr0        1073741312    1 rom  QEMU DVD-ROM',
      'zram0               0    0 disk',
      'vda      274877906944    1 disk',
    ].join('\n');
    const parsed = parseRawFacts(facts({}, { commands: { 'lsblk -b -d -n -o NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN': output } }));
    expect(parsed.inventory.disks).toEqual([
      { name: 'nvme0n1', type: 'nvme', sizeBytes: 1024209543168, model: 'KXG60ZNV1T02 TOSHIBA', serial: 'Y9SF71ABCDEF', wwn: 'eui.8ce38e0300123456' },
      { name: 'sda', type: 'ssd', sizeBytes: 500107862016, model: 'Samsung SSD 860 EVO 500GB', serial: 'S3Z1NB0K123456A', wwn: '0x5002538e40123456' },
      { name: 'sdb', type: 'hdd', sizeBytes: 4000787030016, model: 'WDC WD40EFRX-68N32N0', serial: 'WD-WCC7K1234567', wwn: '0x50014ee2b1234567' },
      { name: 'vda', type: 'hdd', sizeBytes: 274877906944 },
    ]);
    expect(parsed.identity.diskSerials).toEqual(['Y9SF71ABCDEF', 'S3Z1NB0K123456A', 'WD-WCC7K1234567']);
  });

  it('lsblk -P pairs', () => {
    const output = 'NAME="sda" SIZE="480103981056" ROTA="0" TYPE="disk" MODEL="INTEL SSDSC2KB480G8" SERIAL="PHYF1234567A480BGN" WWN="0x55cd2e41512345678"\n';
    const parsed = parseRawFacts(facts({}, { commands: { 'lsblk -b -d -P -o NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN': output } }));
    expect(parsed.inventory.disks).toEqual([
      { name: 'sda', type: 'ssd', sizeBytes: 480103981056, model: 'INTEL SSDSC2KB480G8', serial: 'PHYF1234567A480BGN', wwn: '0x55cd2e41512345678' },
    ]);
  });

  it('sysfs wins over lsblk; lsblk fills what sysfs lacks', () => {
    const parsed = parseRawFacts(
      facts(
        { '/sys/block/sda/size': '937703088\n', '/sys/block/sda/queue/rotational': '0\n', '/sys/block/sda/device/model': 'MZ7LH480HAHQ0D3 \n' },
        { commands: { 'lsblk -b -d -n -o NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN': 'sda 1 1 disk OTHER MODEL S455NY0M123456 0x5002538e00000001\n' } },
      ),
    );
    expect(parsed.inventory.disks).toEqual([
      { name: 'sda', type: 'ssd', sizeBytes: 937703088 * 512, model: 'MZ7LH480HAHQ0D3', serial: 'S455NY0M123456', wwn: '0x5002538e00000001' },
    ]);
  });

  it.each<[string, string, string | undefined, Record<string, unknown> | null]>([
    ['nvme regardless of rotational', 'nvme0n1', '1', { type: 'nvme' }],
    ['rotational 1: hdd', 'sda', '1', { type: 'hdd' }],
    ['rotational 0: ssd', 'sda', '0', { type: 'ssd' }],
    ['no rotational: unknown', 'sda', undefined, { type: 'unknown' }],
    ['mmcblk, non-rotational: unknown', 'mmcblk0', '0', { type: 'unknown' }],
    ['eMMC boot area: not a disk', 'mmcblk0boot0', '0', null],
    ['device-mapper: not a disk', 'dm-0', '0', null],
    ['md RAID: not a disk', 'md127', '0', null],
    ['NBD: not a disk', 'nbd0', '0', null],
  ])('%s', (_name, name, rotational, expected) => {
    const files: Record<string, string> = { [`/sys/block/${name}/size`]: '2048\n' };
    if (rotational !== undefined) files[`/sys/block/${name}/queue/rotational`] = `${rotational}\n`;
    const disks = parseRawFacts(facts(files)).inventory.disks;
    expect(disks).toEqual(expected === null ? [] : [{ name, sizeBytes: 2048 * 512, ...expected }]);
  });

  it('size 0 (an empty card reader) is not a disk; a placeholder disk serial is not an identity key', () => {
    const parsed = parseRawFacts(
      facts({
        '/sys/block/sdz/size': '0\n',
        '/sys/block/sda/size': '2048\n',
        '/sys/block/sda/device/serial': '0000000000\n',
      }),
    );
    expect(parsed.inventory.disks).toEqual([{ name: 'sda', type: 'unknown', sizeBytes: 2048 * 512, serial: '0000000000' }]);
    expect(parsed.identity.diskSerials).toEqual([]);
    expect(parsed.warnings).toContain('disk sda: serial "0000000000" is a placeholder; not used for identity');
  });
});

// ---------------------------------------------------------------------------------------
// GPUs, system fallbacks, Raspberry Pi variants

describe('GPUs from lspci -nn', () => {
  it.each<[string, string, unknown[]]>([
    [
      'NVIDIA H100 SXM, domain added',
      '18:00.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 SXM5 80GB] [10de:2330] (rev a1)',
      [{ vendor: 'NVIDIA Corporation', model: 'GH100 [H100 SXM5 80GB]', pciId: '10de:2330', pciAddress: '0000:18:00.0' }],
    ],
    [
      'AMD, domain kept',
      '0001:03:00.0 VGA compatible controller [0300]: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 [Radeon RX 6800/6800 XT / 6900 XT] [1002:73bf] (rev c1)',
      [{ vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]', model: 'Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]', pciId: '1002:73bf', pciAddress: '0001:03:00.0' }],
    ],
    [
      'an unknown vendor: no names',
      '00:02.0 VGA compatible controller [0300]: Device [abcd:0101] (rev 02)',
      [{ pciId: 'abcd:0101', pciAddress: '0000:00:02.0' }],
    ],
    [
      'a vendor not in the table: split at the company suffix',
      '65:00.0 Display controller [0380]: Moore Threads Technology Co.,Ltd MTT S80 [1ed5:0101]',
      [{ vendor: 'Moore Threads Technology Co.,Ltd', model: 'MTT S80', pciId: '1ed5:0101', pciAddress: '0000:65:00.0' }],
    ],
    ['the BMC VGA (ASPEED) is not a GPU', '02:00.0 VGA compatible controller [0300]: ASPEED Technology, Inc. ASPEED Graphics Family [1a03:2000] (rev 52)', []],
    ['the emulated VGA of a QEMU VM is not a GPU', '00:01.0 VGA compatible controller [0300]: Device [1234:1111] (rev 02)', []],
    ['not a display class', '00:1f.2 SATA controller [0106]: Intel Corporation Device [8086:a182]', []],
  ])('%s', (_name, line, expected) => {
    expect(parseRawFacts(facts({}, { commands: { 'lspci -nn': `${line}\n` } })).inventory.gpus).toEqual(expected);
  });

  it('lspci -nnk: the kernel-driver lines are details, not garbage', () => {
    const output = 'ca:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 80GB] [10de:20b5] (rev a1)\n\tSubsystem: NVIDIA Corporation Device [10de:1533]\n\tKernel driver in use: nvidia\n';
    const parsed = parseRawFacts(facts({}, { commands: { 'lspci -nnk': output } }));
    expect(parsed.inventory.gpus).toEqual([{ vendor: 'NVIDIA Corporation', model: 'GA100 [A100 PCIe 80GB]', pciId: '10de:20b5', pciAddress: '0000:ca:00.0' }]);
    expect(parsed.warnings.filter((w) => w.includes('lspci'))).toEqual([]);
  });

  it('a garbled lspci line is skipped with a warning', () => {
    const parsed = parseRawFacts(facts({}, { commands: { 'lspci -nn': 'pcilib: cannot open /sys/bus/pci\n' } }));
    expect(parsed.inventory.gpus).toEqual([]);
    expect(parsed.warnings).toContain('command "lspci -nn": 1 line(s) not understood, ignored');
  });

  it('without lspci, from /sys/bus/pci/devices: ids and vendor, no model', () => {
    const parsed = parseRawFacts(
      facts({
        '/sys/bus/pci/devices/0000:17:00.0/class': '0x030200\n',
        '/sys/bus/pci/devices/0000:17:00.0/vendor': '0x10de\n',
        '/sys/bus/pci/devices/0000:17:00.0/device': '0x20b5\n',
        '/sys/bus/pci/devices/0000:03:00.0/class': '0x030000\n',
        '/sys/bus/pci/devices/0000:03:00.0/vendor': '0x1a03\n',
        '/sys/bus/pci/devices/0000:03:00.0/device': '0x2000\n',
      }),
    );
    expect(parsed.inventory.gpus).toEqual([{ vendor: 'NVIDIA Corporation', pciId: '10de:20b5', pciAddress: '0000:17:00.0' }]);
  });
});

describe('system fallbacks', () => {
  it('dmidecode -s outputs when /sys/class/dmi/id is not there', () => {
    const parsed = parseRawFacts(
      facts(
        {},
        {
          commands: {
            'dmidecode -s system-manufacturer': 'Supermicro\n',
            'dmidecode -s system-serial-number': '# SMBIOS implementations newer than version 3.2.0 are not\nS123456X9A01234\n',
            'dmidecode -s system-uuid': '00000000-0000-0000-0000-AC1F6B123456\n',
          },
        },
      ),
    );
    expect(parsed.inventory.system).toEqual({ manufacturer: 'Supermicro', serial: 'S123456X9A01234', uuid: '00000000-0000-0000-0000-ac1f6b123456' });
    expect(parsed.identity).toMatchObject({ serial: 'S123456X9A01234', smbiosUuid: '00000000-0000-0000-0000-ac1f6b123456' });
  });

  it('dmidecode -t system', () => {
    const output = [
      '# dmidecode 3.4',
      'Getting SMBIOS data from sysfs.',
      'SMBIOS 3.3.0 present.',
      '',
      'Handle 0x0100, DMI type 1, 27 bytes',
      'System Information',
      '\tManufacturer: HPE',
      '\tProduct Name: ProLiant DL380 Gen10 Plus',
      '\tVersion: Not Specified',
      '\tSerial Number: CZJ1234ABC',
      '\tUUID: 38333736-3530-5a43-4a31-323334414243',
      '\tWake-up Type: Power Switch',
      '',
    ].join('\n');
    const parsed = parseRawFacts(facts({}, { commands: { 'dmidecode -t system': output } }));
    expect(parsed.inventory.system).toEqual({
      manufacturer: 'HPE',
      product: 'ProLiant DL380 Gen10 Plus',
      serial: 'CZJ1234ABC',
      uuid: '38333736-3530-5a43-4a31-323334414243',
    });
  });
});

describe('Raspberry Pi variants', () => {
  const piCpuinfo = (serial: string) =>
    `processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\nCPU implementer\t: 0x41\nCPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n\nHardware\t: BCM2835\nRevision\t: a02082\nSerial\t\t: ${serial}\nModel\t\t: Raspberry Pi 3 Model B Rev 1.2\n`;

  it('32-bit kernel, no device tree in the facts: model and serial from cpuinfo', () => {
    const parsed = parseRawFacts(facts({ '/proc/cpuinfo': piCpuinfo('00000000765FC593') }));
    expect(parsed.inventory.cpu).toMatchObject({ model: 'Cortex-A53', architecture: 'armv7l', threads: 1, flags: ['crc32'] });
    expect(parsed.inventory.system).toEqual({
      manufacturer: 'Raspberry Pi Ltd',
      product: 'Raspberry Pi 3 Model B Rev 1.2',
      raspberryPi: { model: 'Raspberry Pi 3 Model B Rev 1.2', serial: '00000000765fc593' },
    });
    expect(parsed.identity.rpiSerial).toBe('00000000765fc593');
  });

  it('a garbled serial is left out with a warning; an all-zero one is not an identity key', () => {
    const garbled = parseRawFacts(facts({ '/proc/cpuinfo': piCpuinfo('not-hex'), '/proc/device-tree/model': 'Raspberry Pi 3 Model B Rev 1.2\u0000' }));
    expect(garbled.inventory.system?.raspberryPi).toEqual({ model: 'Raspberry Pi 3 Model B Rev 1.2' });
    expect(garbled.warnings).toContain('/proc/cpuinfo "Serial": "not-hex" is not a Raspberry Pi serial');
    const zero = parseRawFacts(facts({ '/proc/device-tree/model': 'Raspberry Pi 4 Model B Rev 1.1', '/proc/device-tree/serial-number': '0000000000000000' }));
    expect(zero.inventory.system?.raspberryPi).toEqual({ model: 'Raspberry Pi 4 Model B Rev 1.1', serial: '0000000000000000' });
    expect(zero.identity.rpiSerial).toBeUndefined();
  });

  it('another ARM board: the device-tree model is the product, no raspberryPi', () => {
    const parsed = parseRawFacts(facts({ '/proc/device-tree/model': 'Pine64 RockPro64 v2.1\u0000' }));
    expect(parsed.inventory.system).toEqual({ product: 'Pine64 RockPro64 v2.1' });
  });
});

describe('agent errors', () => {
  it('become warnings', () => {
    const parsed = parseRawFacts(facts({}, { errors: ['dmidecode: not found'] }));
    expect(parsed.warnings).toContain('agent: dmidecode: not found');
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
