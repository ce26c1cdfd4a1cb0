import { isPlaceholderSerial, isPlaceholderUuid } from '../enrollment/identity-keys.js';
import type { HardwareInventory } from '../model/hardware.js';
import { normalizeMac } from '../model/machine.js';
import type { RawFacts } from './raw-facts.js';

type Cpu = NonNullable<HardwareInventory['cpu']>;
type NumaNode = NonNullable<Cpu['numaNodes']>[number];
type Memory = NonNullable<HardwareInventory['memory']>;
type Disk = NonNullable<HardwareInventory['disks']>[number];
type Nic = NonNullable<HardwareInventory['nics']>[number];
type Gpu = NonNullable<HardwareInventory['gpus']>[number];
type SystemInfo = NonNullable<HardwareInventory['system']>;

/** The keys a machine can be recognised by, as the raw facts tell them; placeholders left out. */
export interface ParsedFactsIdentity {
  /** Normalized MACs of physical NICs (no `lo`, no virtual devices, no all-zero MAC), sorted by interface name. */
  macs: string[];
  /** SMBIOS system serial (the service tag on most vendors). */
  serial?: string;
  /** SMBIOS chassis serial (the service tag on some vendors). */
  chassisSerial?: string;
  /** SMBIOS UUID, lower case. */
  smbiosUuid?: string;
  /** Raspberry Pi board serial: 16 lower-case hex digits. */
  rpiSerial?: string;
  /** Disk serials, in disk-name order. */
  diskSerials: string[];
}

export interface ParsedFacts {
  inventory: HardwareInventory;
  identity: ParsedFactsIdentity;
  /** `/proc/cmdline`, trimmed. */
  kernelCmdline?: string;
  /** One line per missing or garbled source, naming the file or command. */
  warnings: string[];
}

/**
 * Turns the registration agent's raw facts (see {@link RawFacts}) into the typed hardware
 * inventory and the identity keys.
 *
 * Pure and total: it never throws. A missing file costs the fields it would have given; a
 * garbled one costs the same and adds a warning naming the file, so an enrollment never
 * fails because one sysfs attribute read oddly. Sections are omitted when there was no
 * source for them; an empty list (`disks: []`) means the source was there and listed none.
 */
export function parseRawFacts(facts: RawFacts): ParsedFacts {
  const warnings: string[] = [];
  const src = new FactSource(facts);
  const inventory: HardwareInventory = {};
  const identity: ParsedFactsIdentity = { macs: [], diskSerials: [] };
  let kernelCmdline: string | undefined;

  const guarded = (section: string, run: () => void): void => {
    try {
      run();
    } catch (err) {
      warnings.push(`${section}: parser failed (${err instanceof Error ? err.message : String(err)}); section left out`);
    }
  };

  let cpuinfo: CpuInfo | undefined;
  guarded('cpu', () => {
    cpuinfo = readCpuInfo(src, warnings);
    const cpu = parseCpu(src, cpuinfo, warnings);
    if (cpu) inventory.cpu = cpu;
  });
  guarded('memory', () => {
    const memory = parseMemory(src, warnings);
    if (memory) inventory.memory = memory;
  });
  guarded('disks', () => {
    const disks = parseDisks(src, warnings);
    if (disks) {
      inventory.disks = disks;
      for (const disk of disks) {
        if (disk.serial === undefined) continue;
        if (isPlaceholderSerial(disk.serial)) warnings.push(`disk ${disk.name}: serial "${disk.serial}" is a placeholder; not used for identity`);
        else if (!identity.diskSerials.includes(disk.serial)) identity.diskSerials.push(disk.serial);
      }
    }
  });
  guarded('nics', () => {
    const nics = parseNics(src, warnings);
    if (nics) {
      inventory.nics = nics;
      for (const nic of nics) {
        if (nic.mac !== ZERO_MAC && !identity.macs.includes(nic.mac)) identity.macs.push(nic.mac);
      }
    }
  });
  guarded('gpus', () => {
    const gpus = parseGpus(src, warnings);
    if (gpus) inventory.gpus = gpus;
  });
  guarded('system', () => {
    const system = parseSystem(src, cpuinfo, warnings, identity);
    if (system) inventory.system = system;
  });
  guarded('cmdline', () => {
    const cmdline = src.value('/proc/cmdline');
    if (cmdline === undefined) warnings.push('/proc/cmdline: missing');
    else kernelCmdline = cmdline;
  });
  for (const error of src.agentErrors) warnings.push(`agent: ${error}`);

  return { inventory, identity, ...(kernelCmdline !== undefined ? { kernelCmdline } : {}), warnings };
}

// ---------------------------------------------------------------------------------------
// Access to the facts, tolerant of whatever arrived (the type says strings; the wire may not)

class FactSource {
  readonly #files = new Map<string, string>();
  readonly #links = new Map<string, string>();
  readonly #commands: { argv: string[]; output: string; line: string }[] = [];
  readonly agentErrors: string[] = [];

  constructor(facts: RawFacts) {
    const raw: unknown = facts;
    const record = (v: unknown): Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    const f = record(raw);
    for (const [path, content] of Object.entries(record(f.files))) {
      if (typeof content === 'string') this.#files.set(normalizePath(path), content.replace(/\0/g, ''));
    }
    for (const [path, target] of Object.entries(record(f.links))) {
      if (typeof target === 'string') this.#links.set(normalizePath(path), target.replace(/\0/g, '').trim());
    }
    for (const [line, output] of Object.entries(record(f.commands))) {
      if (typeof output !== 'string') continue;
      const argv = line.trim().split(/\s+/);
      if (argv[0] !== undefined) argv[0] = basename(argv[0]);
      this.#commands.push({ argv, output, line });
    }
    if (Array.isArray(f.errors)) for (const e of f.errors) if (typeof e === 'string') this.agentErrors.push(e);
  }

  /** A file's content, NULs removed; undefined when the agent did not send it. */
  file(path: string): string | undefined {
    return this.#files.get(path);
  }

  /** A file's trimmed content; undefined when missing or blank. */
  value(path: string): string | undefined {
    const v = this.#files.get(path)?.trim();
    return v === undefined || v === '' ? undefined : v;
  }

  link(path: string): string | undefined {
    const v = this.#links.get(path);
    return v === undefined || v === '' ? undefined : v;
  }

  hasLink(path: string): boolean {
    return this.#links.has(path);
  }

  filePaths(): IterableIterator<string> {
    return this.#files.keys();
  }

  linkPaths(): IterableIterator<string> {
    return this.#links.keys();
  }

  /** The first command whose program and arguments satisfy `match`. */
  command(match: (argv: readonly string[]) => boolean): { line: string; output: string; argv: string[] } | undefined {
    return this.#commands.find((c) => match(c.argv));
  }

  commands(match: (argv: readonly string[]) => boolean): { line: string; output: string; argv: string[] }[] {
    return this.#commands.filter((c) => match(c.argv));
  }
}

function normalizePath(path: string): string {
  return path.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
}

function basename(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

function parseDecimal(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A number from a sysfs attribute; a present but garbled value gets a warning. */
function sysfsInteger(src: FactSource, path: string, warnings: string[], what: string): number | undefined {
  const raw = src.value(path);
  if (raw === undefined) return undefined;
  const n = parseDecimal(raw);
  if (n === undefined) warnings.push(`${path}: ${quote(raw)} is not ${what}`);
  return n;
}

function quote(s: string): string {
  const shown = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  return JSON.stringify(shown);
}

// ---------------------------------------------------------------------------------------
// CPU

interface CpuInfo {
  /** Every `processor` block, key -> value (first occurrence wins). */
  readonly processors: Map<string, string>[];
  /** Keys outside processor blocks (ARM: `Hardware`, `Revision`, `Serial`, `Model`). */
  readonly board: Map<string, string>;
}

const CPUINFO = '/proc/cpuinfo';

function readCpuInfo(src: FactSource, warnings: string[]): CpuInfo | undefined {
  const text = src.file(CPUINFO);
  if (text === undefined) {
    warnings.push(`${CPUINFO}: missing`);
    return undefined;
  }
  const processors: Map<string, string>[] = [];
  const board = new Map<string, string>();
  let block = new Map<string, string>();
  let garbled = 0;
  const flush = () => {
    if (block.has('processor')) processors.push(block);
    else for (const [k, v] of block) if (!board.has(k)) board.set(k, v);
    block = new Map();
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    const colon = line.indexOf(':');
    const key = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[A-Za-z][\w ()./-]*$/.test(key)) {
      garbled++;
      continue;
    }
    // A second `processor` line without a blank line between starts a new block.
    if (key === 'processor' && block.has('processor')) flush();
    if (!block.has(key)) block.set(key, line.slice(colon + 1).trim());
  }
  flush();
  if (garbled > 0) warnings.push(`${CPUINFO}: ${garbled} line(s) not understood, ignored`);
  if (processors.length === 0) warnings.push(`${CPUINFO}: no "processor" entries`);
  return { processors, board };
}

const X86_FLAGS_OF_INTEREST = ['vmx', 'svm', 'aes', 'avx2', 'avx512f', 'sse4_2', 'sha_ni', 'hypervisor'] as const;
const ARM_FLAGS_OF_INTEREST = ['aes', 'sha2', 'crc32', 'asimd'] as const;

/** `CPU part` of ARM Ltd. (`CPU implementer : 0x41`) cores. */
const ARM_PARTS: Readonly<Record<string, string>> = {
  '0xd03': 'Cortex-A53',
  '0xd04': 'Cortex-A35',
  '0xd05': 'Cortex-A55',
  '0xd07': 'Cortex-A57',
  '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73',
  '0xd0a': 'Cortex-A75',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd0d': 'Cortex-A77',
  '0xd40': 'Neoverse-V1',
  '0xd41': 'Cortex-A78',
  '0xd44': 'Cortex-X1',
  '0xd46': 'Cortex-A510',
  '0xd47': 'Cortex-A710',
  '0xd48': 'Cortex-X2',
  '0xd49': 'Neoverse-N2',
  '0xd4b': 'Cortex-A78C',
  '0xd4f': 'Neoverse-V2',
  '0xd80': 'Cortex-A520',
  '0xd81': 'Cortex-A720',
};

function parseCpu(src: FactSource, info: CpuInfo | undefined, warnings: string[]): Cpu | undefined {
  const cpu: Cpu = {};
  const procs = info?.processors ?? [];
  const first = procs[0];
  const anyHas = (key: string) => procs.some((p) => p.has(key));

  if (info && procs.length > 0 && first) {
    const isX86 = anyHas('vendor_id') || anyHas('flags');
    const armArch = procs.map((p) => p.get('CPU architecture')).find((v) => v !== undefined);
    const isArm = !isX86 && (armArch !== undefined || anyHas('Features'));

    if (isX86) {
      cpu.architecture = 'x86_64';
    } else if (isArm) {
      cpu.architecture = armArch === '7' ? 'armv7l' : 'aarch64';
    }

    const model = isArm ? armCpuModel(src, procs) : first.get('model name');
    if (model) cpu.model = model;

    const threads = procs.length;
    const physicalIds = new Set(procs.map((p) => p.get('physical id')).filter((v): v is string => v !== undefined));
    const sockets = Math.max(physicalIds.size, 1);
    cpu.sockets = sockets;
    if (isX86) {
      const coresPerSocket = parseDecimal(first.get('cpu cores'));
      const coreIds = new Set(
        procs.filter((p) => p.has('core id')).map((p) => `${p.get('physical id') ?? '0'}/${p.get('core id') ?? ''}`),
      );
      cpu.cores = coresPerSocket !== undefined && coresPerSocket > 0 ? coresPerSocket * sockets : coreIds.size > 0 ? coreIds.size : threads;
    } else {
      cpu.cores = threads;
    }
    cpu.threads = threads;

    const flagLine = isX86 ? first.get('flags') : first.get('Features');
    if (flagLine !== undefined) {
      const present = new Set(flagLine.split(/\s+/));
      const interest: readonly string[] = isX86 ? X86_FLAGS_OF_INTEREST : ARM_FLAGS_OF_INTEREST;
      cpu.flags = interest.filter((f) => present.has(f));
    }
  }

  const maxFreqPath = '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq';
  const khz = sysfsInteger(src, maxFreqPath, warnings, 'a frequency in kHz');
  if (khz !== undefined && khz > 0) cpu.maxFrequencyMhz = khz / 1000;

  const numa = parseNuma(src, warnings);
  if (numa.length > 0) cpu.numaNodes = numa;

  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

function armCpuModel(src: FactSource, procs: readonly Map<string, string>[]): string | undefined {
  const first = procs[0];
  const implementer = first?.get('CPU implementer')?.toLowerCase();
  const part = first?.get('CPU part')?.toLowerCase();
  if (part !== undefined && (implementer === undefined || implementer === '0x41')) {
    const name = ARM_PARTS[part];
    if (name) return name;
  }
  // The device tree names the core: `arm,cortex-a72` (several compatibles run together once NULs are gone).
  for (const path of ['/proc/device-tree/cpus/cpu@0/compatible', '/sys/firmware/devicetree/base/cpus/cpu@0/compatible']) {
    const m = /arm,(cortex-[a-z]\d+|neoverse-[a-z]\d+)/i.exec(src.value(path) ?? '');
    if (m?.[1]) return m[1].replace(/^(\w)(\w*)-(\w)/, (_s, a: string, b: string, c: string) => `${a.toUpperCase()}${b}-${c.toUpperCase()}`);
  }
  return first?.get('model name');
}

const NUMA_RE = /^\/sys\/devices\/system\/node\/node(\d+)\/(cpulist|meminfo)$/;

function parseNuma(src: FactSource, warnings: string[]): NumaNode[] {
  const nodes = new Map<number, NumaNode>();
  for (const path of src.filePaths()) {
    const m = NUMA_RE.exec(path);
    if (!m?.[1]) continue;
    const id = Number(m[1]);
    const node = nodes.get(id) ?? { id };
    nodes.set(id, node);
    const text = src.file(path) ?? '';
    if (m[2] === 'cpulist') {
      const cpus = parseCpuList(text);
      if (cpus === undefined) warnings.push(`${path}: ${quote(text.trim())} is not a CPU list`);
      else node.cpus = cpus;
    } else {
      const mem = /^Node\s+\d+\s+MemTotal:\s*(\d+)\s*kB/m.exec(text);
      if (mem?.[1]) node.memoryBytes = Number(mem[1]) * 1024;
      else warnings.push(`${path}: no "MemTotal" line`);
    }
  }
  return [...nodes.values()].sort((a, b) => a.id - b.id);
}

const MAX_CPUS = 65_536;

/** `0-15,32-47` -> [0..15, 32..47]; an empty list (a memory-only node) is []. Undefined when garbled. */
function parseCpuList(text: string): number[] | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const cpus: number[] = [];
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m?.[1]) return undefined;
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    if (to < from || to >= MAX_CPUS) return undefined;
    for (let c = from; c <= to; c++) cpus.push(c);
  }
  return [...new Set(cpus)].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------
// Memory

function parseMemory(src: FactSource, warnings: string[]): Memory | undefined {
  const path = '/proc/meminfo';
  const text = src.file(path);
  if (text === undefined) {
    warnings.push(`${path}: missing`);
    return undefined;
  }
  const fields = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([\w()]+):\s*(\d+)(?:\s*kB)?\s*$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) fields.set(m[1], Number(m[2]));
  }
  const memory: Memory = {};
  const totalKb = fields.get('MemTotal');
  if (totalKb === undefined) warnings.push(`${path}: no "MemTotal" line`);
  else memory.totalBytes = totalKb * 1024;
  const hugeTotal = fields.get('HugePages_Total');
  const hugeSizeKb = fields.get('Hugepagesize');
  if (hugeTotal !== undefined && hugeTotal > 0 && hugeSizeKb !== undefined) {
    memory.hugepages = { total: hugeTotal, sizeBytes: hugeSizeKb * 1024 };
  }
  return Object.keys(memory).length > 0 ? memory : undefined;
}

// ---------------------------------------------------------------------------------------
// Disks

/** Not disks: loop, RAM and compressed-RAM devices, device-mapper, MD RAID, optical, floppy, NBD. */
const NOT_A_DISK = /^(loop|ram|zram|dm-|md|sr|fd|nbd)/;
/** eMMC boot and RPMB areas show up as block devices of their own. */
const MMC_AREA = /^mmcblk\d+(boot\d+|rpmb)$/;
const BLOCK_RE = /^\/sys\/block\/([^/]+)(?:\/|$)/;

interface LsblkRow {
  name: string;
  sizeBytes?: number;
  rota?: string;
  type?: string;
  model?: string;
  serial?: string;
  wwn?: string;
}

function parseDisks(src: FactSource, warnings: string[]): Disk[] | undefined {
  const names = new Set<string>();
  for (const path of [...src.filePaths(), ...src.linkPaths()]) {
    const name = BLOCK_RE.exec(path)?.[1];
    if (name) names.add(name);
  }
  const lsblk = parseLsblk(src, warnings);
  if (names.size === 0 && !lsblk) {
    warnings.push('/sys/block: no block devices reported');
    return undefined;
  }
  for (const row of lsblk?.values() ?? []) if (row.type === undefined || row.type === 'disk') names.add(row.name);

  const disks: Disk[] = [];
  for (const name of [...names].sort(byName)) {
    if (NOT_A_DISK.test(name) || MMC_AREA.test(name)) continue;
    const base = `/sys/block/${name}`;
    if (src.value(`${base}/hidden`) === '1') continue; // NVMe multipath paths (nvme0c0n1)
    const row = lsblk?.get(name);
    if (row?.type !== undefined && row.type !== 'disk') continue;

    const disk: Disk = { name };
    const sectors = sysfsInteger(src, `${base}/size`, warnings, 'a sector count');
    const sizeBytes = sectors !== undefined ? sectors * 512 : row?.sizeBytes;
    if (sizeBytes === 0) continue; // an empty card reader, a detached virtual disk
    if (sizeBytes !== undefined && sizeBytes > 0) disk.sizeBytes = sizeBytes;

    const rotational = src.value(`${base}/queue/rotational`) ?? row?.rota;
    if (name.startsWith('nvme')) disk.type = 'nvme';
    // SD cards and eMMC: the kernel marks every MMC queue non-rotational, which says nothing
    // about SSD-class storage, so an mmcblk device stays `unknown` unless it claims to spin.
    else if (name.startsWith('mmcblk')) disk.type = rotational === '1' ? 'hdd' : 'unknown';
    else if (rotational === '1') disk.type = 'hdd';
    else if (rotational === '0') disk.type = 'ssd';
    else disk.type = 'unknown';

    const model = src.value(`${base}/device/model`) ?? src.value(`${base}/device/name`) ?? row?.model;
    if (model) disk.model = model.replace(/\s+/g, ' ');
    const serial =
      src.value(`${base}/device/serial`) ??
      src.value(`${base}/serial`) ??
      vpdSerial(src.file(`${base}/device/vpd_pg80`)) ??
      row?.serial;
    if (serial) disk.serial = serial;
    const wwn = src.value(`${base}/wwid`) ?? src.value(`${base}/device/wwid`) ?? row?.wwn;
    if (wwn) disk.wwn = wwn.replace(/\s+/g, ' ');
    disks.push(disk);
  }
  return disks;
}

/**
 * SCSI VPD page 0x80 (unit serial number) as the agent sends it: binary, NULs removed, so the
 * page code and length bytes may survive as junk in front of the ASCII serial.
 */
function vpdSerial(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const runs = raw.match(/[\x21-\x7e][\x20-\x7e]*/g) ?? [];
  const serial = runs.sort((a, b) => b.length - a.length)[0]?.trim();
  return serial && serial.length >= 3 ? serial : undefined;
}

const LSBLK_SIMPLE_COLUMNS = new Set(['NAME', 'KNAME', 'SIZE', 'ROTA', 'TYPE', 'RM', 'RO', 'TRAN', 'MAJ:MIN']);
const WWN_RE = /^(0x[0-9a-f]+|(eui|naa|t10|nvme)\..+)$/i;

/**
 * `lsblk -b -d -n -o NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN` (columns from the command line;
 * `-P` pairs understood too). In the column form MODEL may contain spaces and empty columns
 * leave no trace, so the free-text columns at the end are read from the right: a WWN-looking
 * last token is the WWN, then SERIAL is the last token and MODEL the rest; a lone token is
 * ambiguous and dropped (sysfs usually has both anyway).
 */
function parseLsblk(src: FactSource, warnings: string[]): Map<string, LsblkRow> | undefined {
  const cmd = src.command((argv) => argv[0] === 'lsblk');
  if (!cmd) return undefined;
  const optIndex = cmd.argv.findIndex((a) => a === '-o' || a === '--output');
  const optArg = optIndex >= 0 ? cmd.argv[optIndex + 1] : cmd.argv.find((a) => a.startsWith('--output='))?.slice(9);
  const columns = (optArg ?? 'NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN').toUpperCase().split(',');
  const bytes = cmd.argv.some((a) => a === '--bytes' || /^-[a-zA-Z]*b[a-zA-Z]*$/.test(a));
  const firstFree = columns.findIndex((c) => !LSBLK_SIMPLE_COLUMNS.has(c));
  const simpleColumns = firstFree < 0 ? columns : columns.slice(0, firstFree);
  const freeColumns = firstFree < 0 ? [] : columns.slice(firstFree);
  const rows = new Map<string, LsblkRow>();
  let garbled = 0;

  for (const line of cmd.output.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const values = new Map<string, string>();
    if (/^\s*[A-Z:_-]+="/.test(line)) {
      for (const m of line.matchAll(/([A-Z:_-]+)="((?:[^"\\]|\\.)*)"/g)) if (m[1] && m[2] !== undefined) values.set(m[1], m[2].trim());
    } else {
      const tokens = line.trim().split(/\s+/);
      simpleColumns.forEach((col, i) => {
        const t = tokens[i];
        if (t !== undefined) values.set(col, t);
      });
      const free = tokens.slice(simpleColumns.length);
      if (freeColumns.includes('WWN') && WWN_RE.test(free[free.length - 1] ?? '')) values.set('WWN', free.pop() ?? '');
      const hasModel = freeColumns.includes('MODEL');
      const hasSerial = freeColumns.includes('SERIAL');
      if (hasModel && hasSerial) {
        if (free.length >= 2) {
          values.set('SERIAL', free.pop() ?? '');
          values.set('MODEL', free.join(' '));
        }
      } else if (hasSerial && free.length === 1) values.set('SERIAL', free[0] ?? '');
      else if (hasModel && free.length > 0) values.set('MODEL', free.join(' '));
    }
    const name = values.get('NAME') ?? values.get('KNAME');
    if (name === 'NAME' || name === 'KNAME') continue; // a heading line
    if (!name || !/^[\w.:-]+$/.test(name)) {
      garbled++;
      continue;
    }
    const row: LsblkRow = { name };
    const size = parseDecimal(values.get('SIZE'));
    if (size !== undefined && bytes) row.sizeBytes = size;
    const rota = values.get('ROTA');
    if (rota === '0' || rota === '1') row.rota = rota;
    const type = values.get('TYPE');
    if (type) row.type = type;
    for (const [col, key] of [
      ['MODEL', 'model'],
      ['SERIAL', 'serial'],
      ['WWN', 'wwn'],
    ] as const) {
      const v = values.get(col);
      if (v) row[key] = v;
    }
    rows.set(name, row);
  }
  if (garbled > 0) warnings.push(`command "${cmd.line}": ${garbled} line(s) not understood, ignored`);
  return rows;
}

// ---------------------------------------------------------------------------------------
// NICs

const NET_RE = /^\/sys\/class\/net\/([^/]+)(?:\/|$)/;
const PCI_ADDRESS = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const ZERO_MAC = '00:00:00:00:00:00';

function parseNics(src: FactSource, warnings: string[]): Nic[] | undefined {
  const names = new Set<string>();
  for (const path of [...src.filePaths(), ...src.linkPaths()]) {
    const name = NET_RE.exec(path)?.[1];
    if (name) names.add(name);
  }
  if (names.size === 0) {
    warnings.push('/sys/class/net: no network interfaces reported');
    return undefined;
  }
  names.delete('lo');
  const classLink = (name: string) => src.link(`/sys/class/net/${name}`);
  const anyDeviceLink = [...names].some((n) => src.hasLink(`/sys/class/net/${n}/device`));
  if (!anyDeviceLink && names.size > 0) {
    warnings.push('/sys/class/net/*/device: no device links reported; physical and virtual interfaces cannot be told apart');
  }

  const nics: Nic[] = [];
  for (const name of [...names].sort(byName)) {
    const base = `/sys/class/net/${name}`;
    const deviceLink = src.link(`${base}/device`);
    // A physical NIC has a `device` link to its bus device; virtual ones (bridges, bonds, veth,
    // ifb, tun) live under /sys/devices/virtual and have none.
    const physical = deviceLink !== undefined || (!anyDeviceLink && !(classLink(name) ?? '').includes('/virtual/'));
    if (!physical) continue;

    const address = src.value(`${base}/address`);
    if (address === undefined) {
      warnings.push(`${base}/address: missing; interface ${name} left out`);
      continue;
    }
    const mac = normalizeMac(address);
    if (mac === null) {
      warnings.push(`${base}/address: ${quote(address)} is not a MAC address; interface ${name} left out`);
      continue;
    }
    const nic: Nic = { name, mac };

    const driver = src.link(`${base}/device/driver`);
    if (driver) nic.driver = basename(driver);

    const speedRaw = src.value(`${base}/speed`);
    const speed = parseDecimal(speedRaw);
    if (speed !== undefined && speed >= 0) nic.speedMbps = speed;
    else if (speedRaw !== undefined && speed === undefined) warnings.push(`${base}/speed: ${quote(speedRaw)} is not a speed`);

    nic.link = linkState(src.value(`${base}/operstate`), src.value(`${base}/carrier`));

    const deviceName = deviceLink ? basename(deviceLink) : undefined;
    const pci =
      deviceName !== undefined && PCI_ADDRESS.test(deviceName)
        ? deviceName
        : // virtio NICs: device -> virtio2, whose parent in the class link is the PCI function
          (classLink(name) ?? '')
            .split('/')
            .filter((p) => PCI_ADDRESS.test(p))
            .pop();
    if (pci) nic.pciAddress = pci.toLowerCase();

    const numa = sysfsInteger(src, `${base}/device/numa_node`, warnings, 'a NUMA node');
    if (numa !== undefined && numa >= 0) nic.numaNode = numa;
    const vfs = sysfsInteger(src, `${base}/device/sriov_totalvfs`, warnings, 'a VF count');
    if (vfs !== undefined && vfs > 0) nic.sriov = { totalVfs: vfs };

    nics.push(nic);
  }
  return nics;
}

/**
 * Carrier first: it is the driver's own word, while operstate is updated by deferred kernel
 * work and can still say `down` a moment after the link came up (seen booting the
 * registration image in QEMU). Carrier is unreadable on an interface that is not up; then
 * operstate decides.
 */
function linkState(operstate: string | undefined, carrier: string | undefined): 'up' | 'down' | 'unknown' {
  if (carrier === '1') return 'up';
  if (carrier === '0') return 'down';
  switch (operstate?.toLowerCase()) {
    case 'up':
      return 'up';
    case 'down':
    case 'lowerlayerdown':
    case 'notpresent':
    case 'dormant':
      return 'down';
  }
  return 'unknown';
}

// ---------------------------------------------------------------------------------------
// GPUs

const DISPLAY_CLASSES = new Set(['0300', '0302', '0380']);

/**
 * Display functions that are not GPUs anyone asks for: the VGA of a baseboard management
 * controller (ASPEED, Matrox G200e: on nearly every server) and emulated VGA in virtual
 * machines (QEMU/Bochs stdvga, Cirrus, virtio-gpu, VMware SVGA).
 */
const BMC_VGA = new Set([
  '1a03:2000',
  '102b:0522',
  '102b:0530',
  '102b:0532',
  '102b:0533',
  '102b:0534',
  '102b:0536',
  '102b:0538',
  '1234:1111',
  '1013:00b8',
  '1af4:1050',
  '15ad:0405',
]);

/** PCI vendor names as `lspci` prints them (pci.ids), for splitting vendor from model. */
const PCI_VENDORS: Readonly<Record<string, string>> = {
  '10de': 'NVIDIA Corporation',
  '1002': 'Advanced Micro Devices, Inc. [AMD/ATI]',
  '1022': 'Advanced Micro Devices, Inc. [AMD]',
  '8086': 'Intel Corporation',
  '102b': 'Matrox Electronics Systems Ltd.',
  '1a03': 'ASPEED Technology, Inc.',
  '1af4': 'Red Hat, Inc.',
  '1b36': 'Red Hat, Inc.',
  '15ad': 'VMware',
  '1013': 'Cirrus Logic',
  '1414': 'Microsoft Corporation',
  '14e4': 'Broadcom Inc. and subsidiaries',
  '19e5': 'Huawei Technologies Co., Ltd.',
  '1d0f': 'Amazon.com, Inc.',
};

const LSPCI_LINE = /^((?:[0-9a-f]{4,}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\s+(.*?)\s*\[([0-9a-f]{4})\]:\s*(.*)$/i;
const VENDOR_SUFFIX = /^(.+?(?:Corporation|Corp\.|Inc\.(?: and subsidiaries)?(?: \[[^\]]*\])?|Co\., ?Ltd\.?|Ltd\.|Limited|GmbH|AG|LLC))\s+(.+)$/;

function parseGpus(src: FactSource, warnings: string[]): Gpu[] | undefined {
  const lspci = src.command((argv) => argv[0] === 'lspci' && argv.some((a) => /^-[a-zA-Z]*nn/.test(a)));
  if (lspci) return parseLspci(lspci.line, lspci.output, warnings);
  return gpusFromSysfs(src);
}

function parseLspci(line: string, output: string, warnings: string[]): Gpu[] {
  const gpus: Gpu[] = [];
  let garbled = 0;
  for (const raw of output.split(/\r?\n/)) {
    if (raw.trim() === '' || /^\s/.test(raw)) continue; // indented: `-k`/`-v` detail lines
    const m = LSPCI_LINE.exec(raw.trim());
    if (!m?.[1] || !m[3] || m[4] === undefined) {
      garbled++;
      continue;
    }
    if (!DISPLAY_CLASSES.has(m[3])) continue;
    let desc = m[4].trim();
    while (/\s*\((?:rev|prog-if) [^)]*\)$/.test(desc)) desc = desc.replace(/\s*\((?:rev|prog-if) [^)]*\)$/, '');
    const ids = /\s*\[([0-9a-f]{4}):([0-9a-f]{4})\]$/i.exec(desc);
    const gpu: Gpu = {};
    let pciId: string | undefined;
    if (ids?.[1] && ids[2]) {
      pciId = `${ids[1]}:${ids[2]}`.toLowerCase();
      desc = desc.slice(0, ids.index).trim();
    }
    if (pciId && BMC_VGA.has(pciId)) continue;
    const knownVendor = pciId ? PCI_VENDORS[pciId.slice(0, 4)] : undefined;
    let vendor: string | undefined;
    let model: string | undefined;
    if (knownVendor && (desc === knownVendor || desc.startsWith(`${knownVendor} `))) {
      vendor = knownVendor;
      model = desc.slice(knownVendor.length).trim();
    } else if (/^Device\b/.test(desc)) {
      model = undefined; // unknown vendor and device: lspci prints `Device [1234:1111]`
    } else {
      const split = VENDOR_SUFFIX.exec(desc);
      if (split?.[1] && split[2]) [vendor, model] = [split[1], split[2]];
      else model = desc;
    }
    if (model === '' || model === 'Device' || (model !== undefined && /^Device [0-9a-f]{4}$/i.test(model))) model = undefined;
    if (vendor) gpu.vendor = vendor;
    if (model) gpu.model = model;
    if (pciId) gpu.pciId = pciId;
    const slot = m[1].toLowerCase();
    gpu.pciAddress = /^[0-9a-f]{4,}:/.test(slot) && slot.split(':').length === 3 ? slot : `0000:${slot}`;
    gpus.push(gpu);
  }
  if (garbled > 0) warnings.push(`command "${line}": ${garbled} line(s) not understood, ignored`);
  return gpus;
}

const PCI_SYSFS_RE = /^\/sys\/bus\/pci\/devices\/([^/]+)\/class$/;

/** Without `lspci`: `/sys/bus/pci/devices/<addr>/{class,vendor,device}` give class and ids, no names. */
function gpusFromSysfs(src: FactSource): Gpu[] | undefined {
  const gpus: Gpu[] = [];
  let seen = false;
  for (const path of src.filePaths()) {
    const address = PCI_SYSFS_RE.exec(path)?.[1];
    if (!address) continue;
    seen = true;
    const cls = /^0x([0-9a-f]{4})[0-9a-f]{2}$/i.exec(src.value(path) ?? '')?.[1];
    if (!cls || !DISPLAY_CLASSES.has(cls)) continue;
    const base = `/sys/bus/pci/devices/${address}`;
    const vendorId = /^0x([0-9a-f]{4})$/i.exec(src.value(`${base}/vendor`) ?? '')?.[1]?.toLowerCase();
    const deviceId = /^0x([0-9a-f]{4})$/i.exec(src.value(`${base}/device`) ?? '')?.[1]?.toLowerCase();
    const pciId = vendorId && deviceId ? `${vendorId}:${deviceId}` : undefined;
    if (pciId && BMC_VGA.has(pciId)) continue;
    const gpu: Gpu = { pciAddress: address.toLowerCase() };
    const vendor = vendorId ? PCI_VENDORS[vendorId] : undefined;
    if (vendor) gpu.vendor = vendor;
    if (pciId) gpu.pciId = pciId;
    gpus.push(gpu);
  }
  return seen ? gpus.sort((a, b) => byName(a.pciAddress ?? '', b.pciAddress ?? '')) : undefined;
}

// ---------------------------------------------------------------------------------------
// System

const DMI = '/sys/class/dmi/id';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type DmiField = 'manufacturer' | 'product' | 'serial' | 'chassisSerial' | 'boardSerial' | 'uuid' | 'biosVersion';

/** Each field: its /sys/class/dmi/id file, its `dmidecode -s` keyword, and its `dmidecode -t` (type, key). */
const DMI_FIELDS: readonly { field: DmiField; file: string; keyword: string; type: number; key: string }[] = [
  { field: 'manufacturer', file: 'sys_vendor', keyword: 'system-manufacturer', type: 1, key: 'Manufacturer' },
  { field: 'product', file: 'product_name', keyword: 'system-product-name', type: 1, key: 'Product Name' },
  { field: 'serial', file: 'product_serial', keyword: 'system-serial-number', type: 1, key: 'Serial Number' },
  { field: 'chassisSerial', file: 'chassis_serial', keyword: 'chassis-serial-number', type: 3, key: 'Serial Number' },
  { field: 'boardSerial', file: 'board_serial', keyword: 'baseboard-serial-number', type: 2, key: 'Serial Number' },
  { field: 'uuid', file: 'product_uuid', keyword: 'system-uuid', type: 1, key: 'UUID' },
  { field: 'biosVersion', file: 'bios_version', keyword: 'bios-version', type: 0, key: 'Version' },
];

function parseSystem(src: FactSource, cpuinfo: CpuInfo | undefined, warnings: string[], identity: ParsedFactsIdentity): SystemInfo | undefined {
  const system: SystemInfo = {};
  const sources = new Map<DmiField, string>();
  const dmiTables = parseDmidecodeTables(src);
  let sawDmi = [...src.filePaths()].some((p) => p.startsWith(`${DMI}/`));

  for (const { field, file, keyword, type, key } of DMI_FIELDS) {
    const path = `${DMI}/${file}`;
    let value = src.value(path);
    let from = path;
    if (value === undefined) {
      const cmd = src.command((argv) => argv[0] === 'dmidecode' && argv.includes(keyword));
      if (cmd) {
        sawDmi = true;
        value = cmd.output
          .split(/\r?\n/)
          .map((l) => l.trim())
          .find((l) => l !== '' && !l.startsWith('#'));
        from = `command "${cmd.line}"`;
      }
    }
    if (value === undefined) {
      const table = dmiTables.get(type);
      if (table) {
        sawDmi = true;
        value = table.values.get(key);
        from = `command "${table.line}"`;
      }
    }
    if (value === undefined || value === '') continue;
    if (field === 'uuid') {
      if (!UUID_RE.test(value)) {
        warnings.push(`${from}: ${quote(value)} is not a UUID`);
        continue;
      }
      value = value.toLowerCase();
    }
    system[field] = value;
    sources.set(field, from);
  }

  // Identity: the same values, without the placeholders firmware vendors ship unset.
  for (const field of ['serial', 'chassisSerial'] as const) {
    const value = system[field];
    if (value === undefined) continue;
    if (isPlaceholderSerial(value)) warnings.push(`${sources.get(field)}: ${quote(value)} is a firmware placeholder; not used for identity`);
    else identity[field] = value;
  }
  if (system.uuid !== undefined) {
    if (isPlaceholderUuid(system.uuid)) warnings.push(`${sources.get('uuid')}: ${system.uuid} is a firmware placeholder; not used for identity`);
    else identity.smbiosUuid = system.uuid;
  }

  // Device tree: the board's model (Raspberry Pi and other ARM boards have no SMBIOS).
  const dtModel = src.value('/proc/device-tree/model') ?? src.value('/sys/firmware/devicetree/base/model');
  const cpuinfoModel = cpuinfo?.board.get('Model');
  const boardModel = dtModel ?? cpuinfoModel;
  const isPi = boardModel?.startsWith('Raspberry Pi') === true;
  if (isPi && boardModel) {
    system.manufacturer ??= 'Raspberry Pi Ltd';
    system.product ??= boardModel;
    const pi: NonNullable<SystemInfo['raspberryPi']> = { model: boardModel };
    const serialSources: [string, string | undefined][] = [
      ['/proc/device-tree/serial-number', src.value('/proc/device-tree/serial-number')],
      ['/sys/firmware/devicetree/base/serial-number', src.value('/sys/firmware/devicetree/base/serial-number')],
      [`${CPUINFO} "Serial"`, cpuinfo?.board.get('Serial')],
    ];
    for (const [from, raw] of serialSources) {
      if (raw === undefined || raw === '') continue;
      const hex = raw.trim().toLowerCase();
      if (!/^[0-9a-f]{1,16}$/.test(hex)) {
        warnings.push(`${from}: ${quote(raw)} is not a Raspberry Pi serial`);
        continue;
      }
      pi.serial = hex.padStart(16, '0');
      if (isPlaceholderSerial(pi.serial)) warnings.push(`${from}: ${quote(raw)} is a placeholder; not used for identity`);
      else identity.rpiSerial = pi.serial;
      break;
    }
    system.raspberryPi = pi;
  } else if (dtModel && system.product === undefined) {
    system.product = dtModel;
  }

  if (!sawDmi && boardModel === undefined) {
    warnings.push(`${DMI}: missing, and no device-tree model; manufacturer, product, serial and UUID unknown`);
  }
  return Object.keys(system).length > 0 ? system : undefined;
}

/** `dmidecode -t system|1|chassis|...` (or plain `dmidecode`): type -> the first record's `Key: Value` lines. */
function parseDmidecodeTables(src: FactSource): Map<number, { line: string; values: Map<string, string> }> {
  const tables = new Map<number, { line: string; values: Map<string, string> }>();
  for (const cmd of src.commands((argv) => argv[0] === 'dmidecode' && !argv.includes('-s') && !argv.includes('--string'))) {
    let current: Map<string, string> | undefined;
    for (const line of cmd.output.split(/\r?\n/)) {
      const handle = /^Handle 0x[0-9a-f]+, DMI type (\d+),/i.exec(line);
      if (handle?.[1]) {
        const type = Number(handle[1]);
        if (tables.has(type)) current = undefined;
        else {
          current = new Map();
          tables.set(type, { line: cmd.line, values: current });
        }
        continue;
      }
      const kv = /^\t([^\t:][^:]*):\s*(.*)$/.exec(line);
      if (current && kv?.[1] && kv[2] !== undefined && kv[2].trim() !== '') current.set(kv[1].trim(), kv[2].trim());
    }
  }
  return tables;
}
