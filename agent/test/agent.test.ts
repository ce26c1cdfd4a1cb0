// Runs the real agent script under every available shell/HTTP-client combination against a
// throwaway HTTP server on 127.0.0.1 and a fake /proc + /sys tree (METALPLANE_ROOT), and once per
// shell against this machine's real /proc and /sys (dry run).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const AGENT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const AGENT = join(AGENT_DIR, 'metalplane-agent.sh');
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(AGENT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
const TOKEN = 's3cr3t-T0KEN';

function onPath(command: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// ---------------------------------------------------------------------------------------------
// Shell / HTTP client variants
// ---------------------------------------------------------------------------------------------

interface Variant {
  name: string;
  shell: string;
  shellArgs: string[];
  /** PATH entries after the fake commands. */
  path: string;
  env: Record<string, string>;
  /** The client hides error bodies, so the agent asks again with nc: two requests on a 4xx. */
  refetchesErrorBody?: boolean;
}

const root = mkdtempSync(join(tmpdir(), 'metalplane-agent-test-'));
const busybox = onPath('busybox');
const systemPath = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
const variants: Variant[] = [];
const skipped: string[] = [];

const systemWget = onPath('wget');
const systemWgetIsGnu = systemWget !== undefined && /GNU Wget/.test(spawnSync('wget', ['--version'], { encoding: 'utf8' }).stdout ?? '');
if (systemWget || onPath('curl')) {
  variants.push({
    name: `sh + ${systemWget ? (systemWgetIsGnu ? 'GNU wget' : 'wget') : 'curl'} (default client)`,
    shell: 'sh',
    shellArgs: [],
    path: systemPath,
    env: {},
    refetchesErrorBody: systemWget !== undefined && !systemWgetIsGnu,
  });
}
if (onPath('curl')) {
  variants.push({ name: 'sh + curl', shell: 'sh', shellArgs: [], path: systemPath, env: { METALPLANE_HTTP_CLIENT: 'curl' } });
} else {
  skipped.push('sh + curl: curl is not installed');
}
if (busybox) {
  // Only busybox applets on PATH, like in the registration image.
  const bin = join(root, 'busybox-bin');
  mkdirSync(bin);
  const applets = spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const applet of applets) symlinkSync(busybox, join(bin, applet));
  variants.push({ name: 'busybox sh + busybox wget', shell: busybox, shellArgs: ['sh'], path: bin, env: {}, refetchesErrorBody: true });
  if (applets.includes('nc')) {
    variants.push({ name: 'busybox sh + busybox nc', shell: busybox, shellArgs: ['sh'], path: bin, env: { METALPLANE_HTTP_CLIENT: 'nc' } });
  }
} else {
  skipped.push('busybox sh + busybox wget/nc: busybox is not installed (apt-get install busybox)');
}
for (const reason of skipped) console.warn(`agent tests: SKIPPING ${reason}`);

// ---------------------------------------------------------------------------------------------
// Fake machine
// ---------------------------------------------------------------------------------------------

const cpuBlock = (n: number) =>
  [
    `processor\t: ${n}`,
    'vendor_id\t: GenuineIntel',
    'model name\t: Intel(R) Xeon(R) "Fake" CPU \\ E5-2699 v4 @ 2.20GHz',
    `physical id\t: ${n % 2}`,
    `core id\t\t: ${n >> 1}`,
    'cpu cores\t: 64',
    'flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single pti intel_ppin ssbd ibrs ibpb stibp tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm cqm rdt_a rdseed adx smap intel_pt xsaveopt cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local dtherm ida arat pln pts md_clear flush_l1d',
    'bugs\t\t: cpu_meltdown spectre_v1 spectre_v2 spec_store_bypass l1tf mds swapgs taa itlb_multihit mmio_stale_data',
    'bogomips\t: 4400.00',
    '',
    '',
  ].join('\n');

/** Files of the fake tree, as written (the agent must send them with NUL bytes removed). */
const FILES: Record<string, string> = {
  '/proc/cpuinfo': Array.from({ length: 128 }, (_, n) => cpuBlock(n)).join(''),
  '/proc/meminfo': 'MemTotal:       263842580 kB\nMemFree:        259000000 kB\nHugePages_Total:       0\n',
  '/proc/sys/kernel/hostname': 'fixture-host\n',
  '/proc/device-tree/model': 'Raspberry Pi 4 Model B Rev 1.4\0',
  '/proc/device-tree/serial-number': '10000000abcdef01\0',
  '/sys/devices/system/node/node0/cpulist': '0-63\n',
  '/sys/devices/system/node/node0/meminfo': 'Node 0 MemTotal:       131921290 kB\nNode 0 MemFree:        129000000 kB\n',
  '/sys/devices/system/node/node1/cpulist': '64-127\n',
  '/sys/devices/system/node/node1/meminfo': 'Node 1 MemTotal:       131921290 kB\n',
  '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq': '3600000\n',
  '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': '512\n',
  '/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages': '0\n',
  // Tricky content: quotes, backslashes, tabs, CR, other control characters, UTF-8, no final newline.
  '/sys/class/dmi/id/product_name': 'Power"Edge" R740 \\ x\\\\y\ttab Café\r\n',
  '/sys/class/dmi/id/sys_vendor': 'Dell Inc.\x01\x1f\x7f bell\x07 bs\x08 ff\x0c esc\x1b[0m',
  '/sys/class/dmi/id/product_uuid': '4c4c4544-0042-3510-8052-b4c04f4e4e32\n',
  '/sys/class/dmi/id/product_serial': 'J5RN4N2\n',
  '/sys/class/dmi/id/board_serial': '',
  '/sys/class/dmi/id/chassis_asset_tag': 'line one\nline two\n\n',
  '/sys/class/dmi/id/modalias': 'dmi:bvnDellInc.:\n',
  '/sys/class/dmi/id/uevent': 'MODALIAS=dmi:bvnDellInc.:\n',
  '/sys/devices/pci0000:00/0000:03:00.0/net/eth0/address': 'b4:96:91:2a:7c:10\n',
  '/sys/devices/pci0000:00/0000:03:00.0/net/eth0/speed': '10000\n',
  '/sys/devices/pci0000:00/0000:03:00.0/net/eth0/operstate': 'up\n',
  '/sys/devices/pci0000:00/0000:03:00.0/net/eth0/carrier': '1\n',
  '/sys/devices/pci0000:00/0000:03:00.0/net/eth0/type': '1\n',
  '/sys/devices/pci0000:00/0000:03:00.0/sriov_totalvfs': '63\n',
  '/sys/devices/pci0000:00/0000:03:00.0/numa_node': '0\n',
  '/sys/devices/virtual/net/lo/address': '00:00:00:00:00:00\n',
  '/sys/devices/virtual/net/lo/operstate': 'unknown\n',
  '/sys/devices/virtual/net/lo/type': '772\n',
  '/sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/model': 'Samsung SSD 980 PRO 1TB                 \n',
  '/sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/serial': 'S5GXNF0R123456W     \n',
  '/sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1/size': '1953525168\n',
  '/sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1/removable': '0\n',
  '/sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1/queue/rotational': '0\n',
  '/sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1/wwid': 'eui.002538b111b2c3d4\n',
};

/** Symlinks of the fake tree: path -> target. */
const LINKS: Record<string, string> = {
  '/sys/class/net/eth0': '../../devices/pci0000:00/0000:03:00.0/net/eth0',
  '/sys/devices/pci0000:00/0000:03:00.0/net/eth0/device': '../../../0000:03:00.0',
  '/sys/devices/pci0000:00/0000:03:00.0/driver': '../../../bus/pci/drivers/ixgbe',
  '/sys/class/net/lo': '../../devices/virtual/net/lo',
  '/sys/block/nvme0n1': '../devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1',
  '/sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1/device': '../../nvme0',
  '/sys/class/dmi/id/subsystem': '../../../../class/dmi',
  // A file that exists but fails to read, like `speed` of a down link (EINVAL): reading
  // /proc/self/mem at offset 0 fails with EIO.
  '/sys/devices/virtual/net/lo/speed': '/proc/self/mem',
};

function f(path: string): string {
  const content = FILES[path];
  if (content === undefined) throw new Error(`no fixture file ${path}`);
  return content;
}

/** What the agent must send for the fake tree. */
const EXPECTED_FILES: Record<string, string> = {
  '/proc/cpuinfo': f('/proc/cpuinfo'),
  '/proc/meminfo': f('/proc/meminfo'),
  '/proc/device-tree/model': 'Raspberry Pi 4 Model B Rev 1.4',
  '/proc/device-tree/serial-number': '10000000abcdef01',
  '/sys/devices/system/node/node0/cpulist': '0-63\n',
  '/sys/devices/system/node/node0/meminfo': f('/sys/devices/system/node/node0/meminfo'),
  '/sys/devices/system/node/node1/cpulist': '64-127\n',
  '/sys/devices/system/node/node1/meminfo': f('/sys/devices/system/node/node1/meminfo'),
  '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq': '3600000\n',
  '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': '512\n',
  '/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages': '0\n',
  '/sys/class/dmi/id/product_name': f('/sys/class/dmi/id/product_name'),
  '/sys/class/dmi/id/sys_vendor': f('/sys/class/dmi/id/sys_vendor'),
  '/sys/class/dmi/id/product_uuid': f('/sys/class/dmi/id/product_uuid'),
  '/sys/class/dmi/id/product_serial': 'J5RN4N2\n',
  '/sys/class/dmi/id/board_serial': '',
  '/sys/class/dmi/id/chassis_asset_tag': 'line one\nline two\n\n',
  '/sys/class/net/eth0/address': 'b4:96:91:2a:7c:10\n',
  '/sys/class/net/eth0/speed': '10000\n',
  '/sys/class/net/eth0/operstate': 'up\n',
  '/sys/class/net/eth0/carrier': '1\n',
  '/sys/class/net/eth0/type': '1\n',
  '/sys/class/net/eth0/device/sriov_totalvfs': '63\n',
  '/sys/class/net/eth0/device/numa_node': '0\n',
  '/sys/class/net/lo/address': '00:00:00:00:00:00\n',
  '/sys/class/net/lo/operstate': 'unknown\n',
  '/sys/class/net/lo/type': '772\n',
  '/sys/block/nvme0n1/size': '1953525168\n',
  '/sys/block/nvme0n1/removable': '0\n',
  '/sys/block/nvme0n1/queue/rotational': '0\n',
  '/sys/block/nvme0n1/wwid': 'eui.002538b111b2c3d4\n',
  '/sys/block/nvme0n1/device/model': 'Samsung SSD 980 PRO 1TB                 \n',
  '/sys/block/nvme0n1/device/serial': 'S5GXNF0R123456W     \n',
};

const EXPECTED_LINKS: Record<string, string> = {
  '/sys/class/net/eth0': '../../devices/pci0000:00/0000:03:00.0/net/eth0',
  '/sys/class/net/eth0/device': '../../../0000:03:00.0',
  '/sys/class/net/eth0/device/driver': '../../../bus/pci/drivers/ixgbe',
  '/sys/class/net/lo': '../../devices/virtual/net/lo',
  '/sys/block/nvme0n1': '../devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1',
  '/sys/block/nvme0n1/device': '../../nvme0',
};

const LSPCI = '00:02.0 VGA compatible controller [0300]: Intel Corporation "UHD" Graphics 630 [8086:3e92]\n3b:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 40GB] [10de:20f1] (rev a1)\n';
const LSBLK = 'nvme0n1 1000204886016    0 disk Samsung SSD 980 PRO 1TB S5GXNF0R123456W eui.002538b111b2c3d4\n';

function makeTree(dir: string, cmdline: string): void {
  const write = (path: string, content: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  };
  for (const [path, content] of Object.entries(FILES)) write(path, content);
  write('/proc/cmdline', cmdline);
  for (const [path, target] of Object.entries(LINKS)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    symlinkSync(target, join(dir, path));
  }
}

/** Fake optional commands, so that `commands` does not depend on what this machine has. */
function makeFakeBin(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const script = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  script('lspci', `[ "$*" = "-nn" ] || exit 2\nprintf '%s' '${LSPCI}'`);
  script('lsblk', `printf '%s' '${LSBLK}'`);
  script('dmidecode', `echo '# dmidecode 3.4'\necho '/dev/mem: Permission denied' >&2\nexit 1`);
  script('ip', `printf '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\\n'`);
}

// ---------------------------------------------------------------------------------------------
// Fake server
// ---------------------------------------------------------------------------------------------

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
interface Reply {
  status: number;
  body: unknown;
}

let server: Server;
let port: number;
let replies: Reply[];
let received: Received[];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      const reply = (replies.length > 1 ? replies.shift() : replies[0]) ?? { status: 500, body: 'no reply set' };
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  replies = [];
  received = [];
});

// ---------------------------------------------------------------------------------------------
// Running the agent
// ---------------------------------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  console: string;
  ms: number;
}

let caseDir: string;
let caseNo = 0;

function runAgent(variant: Variant, env: Record<string, string | undefined>, limitMs = 30_000): Promise<Run> {
  const consoleFile = join(caseDir, 'console');
  writeFileSync(consoleFile, '');
  // A clean environment: nothing inherited (turbo passes METALPLANE_* through, proxies...).
  const childEnv: Record<string, string> = {
    PATH: `${join(caseDir, 'fakebin')}:${variant.path}`,
    HOME: caseDir,
    TMPDIR: caseDir,
    METALPLANE_CONSOLE: consoleFile,
    METALPLANE_NO_POWER: '1',
    METALPLANE_BACKOFF_BASE: '0',
    ...variant.env,
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(variant.shell, [...variant.shellArgs, AGENT], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: limitMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code: number | null) =>
      resolve({ code, stdout, stderr, console: readFileSync(consoleFile, 'utf8'), ms: Date.now() - started }),
    );
  });
}

const cmdline = (extra = '') =>
  `BOOT_IMAGE=/vmlinuz initrd=initrd.img metalplane.url=http://127.0.0.1:${port} metalplane.token=${TOKEN} ${extra}console=ttyS0,115200n8 quiet\n`;

function freshTree(cmd: string): string {
  caseDir = join(root, `case-${++caseNo}`);
  const tree = join(caseDir, 'root');
  makeTree(tree, cmd);
  makeFakeBin(join(caseDir, 'fakebin'));
  return tree;
}

/** Every stderr line is the agent's own (no `tr: read error`, `cannot open`, ...). */
function expectQuietStderr(stderr: string): void {
  const foreign = stderr.split('\n').filter((l) => l !== '' && !l.startsWith('metalplane: '));
  expect(foreign).toEqual([]);
}

const machine = (id: string) => ({ id, hostname: null, phase: 'registered', identity: [{ kind: 'mac', value: 'b4:96:91:2a:7c:10' }] });

it('has the version of its package', () => {
  expect(readFileSync(AGENT, 'utf8')).toMatch(new RegExp(`^AGENT_VERSION=${PACKAGE_VERSION.replace(/\./g, '\\.')}$`, 'm'));
});

// Visible in the report: the variants that this machine cannot run.
for (const reason of skipped) it.skip(`SKIPPED: ${reason}`, () => {});

describe.each(variants)('$name', (variant) => {
  let tree: string;
  beforeEach(() => {
    tree = freshTree(cmdline('metalplane.action=reboot '));
  });
  afterEach(() => {
    rmSync(caseDir, { recursive: true, force: true });
  });

  it('sends the raw facts exactly, with the token, and prints the machine id', async () => {
    replies = [{ status: 201, body: { created: true, machine: machine('m-4f2a'), warnings: ['placeholder "serial" ignored'], action: 'poweroff' } }];
    const run = await runAgent(variant, { METALPLANE_ROOT: tree });

    expect(run.code, run.stderr).toBe(0);
    expect(received).toHaveLength(1);
    const req = received[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/v1/enroll');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);

    // UTF-8 passes through as bytes, not as \u escapes.
    expect(req.body.includes(Buffer.from('Café', 'utf8'))).toBe(true);
    const facts = JSON.parse(req.body.toString('utf8'));
    expect(Object.keys(facts)).toEqual(['format', 'agent', 'files', 'links', 'commands', 'errors']);
    expect(facts.format).toBe('metalplane-raw-facts/v1');
    expect(facts.agent).toEqual({ version: PACKAGE_VERSION, hostname: 'fixture-host' });

    const { '/proc/cmdline': sentCmdline, ...files } = facts.files;
    expect(files).toEqual(EXPECTED_FILES);
    // The token does not end up in the stored facts.
    expect(sentCmdline).toBe(cmdline('metalplane.action=reboot ').replace(TOKEN, '<redacted>'));
    expect(req.body.toString('utf8')).not.toContain(TOKEN);
    expect(facts.links).toEqual(EXPECTED_LINKS);
    expect(facts.commands).toEqual({
      'lspci -nn': LSPCI,
      'lsblk -b -d -n -o NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN': LSBLK,
      // busybox-static runs its own `ip` applet before anything on PATH: the fake one or the real.
      'ip -o link': expect.stringMatching(/^1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 .*\\ {4}link\/loopback 00:00:00:00:00:00/),
    });
    expect(facts.errors).toHaveLength(2);
    expect(facts.errors[0]).toMatch(/^read \/sys\/class\/net\/lo\/speed: .*(error|Input\/output)/i);
    expect(facts.errors[1]).toBe("command 'dmidecode -t system -t baseboard -t chassis' exited with status 1: /dev/mem: Permission denied");

    expect(run.stdout).toBe('metalplane: enrolled as machine m-4f2a (new)\n');
    expect(run.console).toBe('metalplane: enrolled as machine m-4f2a (new)\n');
    expect(run.stderr).toContain('metalplane: server warning: placeholder "serial" ignored');
    // The server's action wins over metalplane.action=reboot.
    expect(run.stderr).toContain("not doing 'poweroff'");
    expect(run.stderr + run.stdout).not.toContain(TOKEN);
    expectQuietStderr(run.stderr);
  });

  it('retries a 503 with backoff and then succeeds; the configured action applies', async () => {
    replies = [
      { status: 503, body: { error: { code: 'unavailable', message: 'database is starting' } } },
      { status: 503, body: { error: { code: 'unavailable', message: 'database is starting' } } },
      { status: 200, body: { created: false, machine: machine('m-77'), warnings: [] } },
    ];
    const run = await runAgent(variant, { METALPLANE_ROOT: tree, METALPLANE_RETRIES: '5' });

    expect(run.code, run.stderr).toBe(0);
    expect(received).toHaveLength(3);
    expect(run.stdout).toBe('metalplane: enrolled as machine m-77 (updated)\n');
    expect(run.console).toBe(run.stdout);
    expect(run.stderr).toContain('try 1/5 failed: HTTP 503');
    expect(run.stderr).toContain('try 2/5 failed: HTTP 503');
    expect(run.stderr).toContain("not doing 'reboot'");
    expectQuietStderr(run.stderr);
  });

  it('stops at once on a 400 and prints the server message', async () => {
    replies = [{ status: 400, body: { error: { code: 'invalid_input', message: 'invalid request: /files must be object', details: {} } } }];
    const run = await runAgent(variant, { METALPLANE_ROOT: tree, METALPLANE_BACKOFF_BASE: '5' });

    expect(run.code).toBe(1);
    expect(run.ms).toBeLessThan(5000);
    expect(received).toHaveLength(variant.refetchesErrorBody ? 2 : 1);
    expect(run.stdout).toBe('metalplane: enrollment FAILED after 1 tries: HTTP 400 Bad Request: invalid request: /files must be object\n');
    expect(run.console).toBe(run.stdout);
    // After a failure an explicitly configured action applies too.
    expect(run.stderr).toContain("not doing 'reboot'");
    expectQuietStderr(run.stderr);
  });

  it('treats 429 as retryable and gives up after METALPLANE_RETRIES', async () => {
    replies = [{ status: 429, body: { error: { code: 'busy', message: 'slow down' } } }];
    const run = await runAgent(variant, { METALPLANE_ROOT: tree, METALPLANE_RETRIES: '3' });

    expect(run.code).toBe(1);
    expect(received).toHaveLength(3);
    expect(run.stdout).toMatch(/^metalplane: enrollment FAILED after 3 tries: HTTP 429 Too Many Requests/);
    expectQuietStderr(run.stderr);
  });

  it('retries when the server is down, then fails', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const run = await runAgent(variant, { METALPLANE_ROOT: tree, METALPLANE_URL: `http://127.0.0.1:${deadPort}`, METALPLANE_RETRIES: '2' });

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^metalplane: enrollment FAILED after 2 tries: cannot reach http://127\\.0\\.0\\.1:${deadPort}/api/v1/enroll`));
    expect(run.stderr).toContain('try 1/2 failed');
    expect(run.stderr).toContain("not doing 'reboot'");
    expect(run.ms).toBeLessThan(15_000);
  });

  it('without metalplane.url fails at once and waits (no action configured)', async () => {
    const bare = freshTree('BOOT_IMAGE=/vmlinuz quiet\n');
    const run = await runAgent(variant, { METALPLANE_ROOT: bare });

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('metalplane: enrollment FAILED after 0 tries: no metalplane.url on the kernel command line\n');
    expect(run.stderr).toContain("not doing 'wait'");
    expect(received).toHaveLength(0);
  });

  it('dry run on this machine: valid JSON with /proc/cpuinfo and /sys/class/net, in under 10 s', async () => {
    // The real commands of this machine, not the fake ones.
    const run = await runAgent(variant, { PATH: variant.path, METALPLANE_DRY_RUN: '1', METALPLANE_NO_POWER: undefined }, 20_000);

    expect(run.code, run.stderr).toBe(0);
    expect(run.ms).toBeLessThan(10_000);
    const facts = JSON.parse(run.stdout);
    expect(facts.format).toBe('metalplane-raw-facts/v1');
    expect(facts.files['/proc/cpuinfo']).toMatch(/^processor\s*:/m);
    expect(Object.keys(facts.files).some((k) => k.startsWith('/sys/class/net/'))).toBe(true);
    expect(received).toHaveLength(0);
    expectQuietStderr(run.stderr);
    console.log(`${variant.name}: real-machine dry run ${run.ms} ms, ${Buffer.byteLength(run.stdout)} bytes, ${facts.errors.length} errors`);
  });
});

const first = variants[0];
describe(`backoff (${first?.name ?? 'no variant'})`, () => {
  it.skipIf(first === undefined)('waits BASE, 2*BASE, ... seconds between tries', async () => {
    if (first === undefined) return;
    const tree = freshTree(cmdline());
    replies = [
      { status: 502, body: 'Bad Gateway' },
      { status: 502, body: 'Bad Gateway' },
      { status: 201, body: { created: true, machine: machine('m-1'), warnings: [] } },
    ];
    const run = await runAgent(first, { METALPLANE_ROOT: tree, METALPLANE_BACKOFF_BASE: '1' });

    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('retrying in 1s');
    expect(run.stderr).toContain('retrying in 2s');
    expect(run.ms).toBeGreaterThanOrEqual(3000);
    expect(run.ms).toBeLessThan(10_000);
    rmSync(caseDir, { recursive: true, force: true });
  });
});
