// PXE benchmark: our DHCP, TFTP and iPXE-script services against real peers, in one run, in a
// pair of network namespaces this script creates (and removes, also on failure or Ctrl-C).
//
//   npm run bench:pxe                                  (from the repository root, as root)
//   npm run bench:pxe -- --proxy-rate 5000 --dhcp-rate 3000 --dhcp-seconds 10 --tftp-runs 5 --http-seconds 10
//
// Rows (ours / peer):
//   DHCP proxy  perfdhcp DO with PXE client options: our DhcpService (proxy) / dnsmasq proxy
//   DHCP full   perfdhcp DORA: our DhcpService (full, leases in memory) / dnsmasq --leasefile-ro
//   TFTP        32 MiB file, tftp-hpa and atftp (blksize 1468, windowsize 16): TftpService / in.tftpd
//               (tftpd-hpa, which has no windowsize), and atftp also / atftpd (which has it)
//   iPXE        wrk on GET /boot/ipxe, for one enrolled machine and with a new MAC per request:
//               the whole host with the PXE plugin / nginx serving the same script as a static
//               file (a ceiling, not an equivalent)
// perfdhcp acts as a relay (giaddr = its address), so every DHCP server answers giaddr:67.
// Servers run in the server namespace (10.99.0.1/16), clients in the client one (10.99.0.2/16).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createNetnsPair } from './netns.mjs';

const { values } = parseArgs({
  options: {
    'proxy-rate': { type: 'string', default: '10000' },
    'dhcp-rate': { type: 'string', default: '3000' },
    'dhcp-seconds': { type: 'string', default: '8' },
    'dhcp-clients': { type: 'string', default: '10000' },
    'tftp-runs': { type: 'string', default: '3' },
    'http-seconds': { type: 'string', default: '10' },
    'http-connections': { type: 'string', default: '32' },
  },
});
const PROXY_RATE = positive('proxy-rate');
const DHCP_RATE = positive('dhcp-rate');
const DHCP_SECONDS = positive('dhcp-seconds');
const DHCP_CLIENTS = positive('dhcp-clients');
const TFTP_RUNS = positive('tftp-runs');
const HTTP_SECONDS = positive('http-seconds');
const HTTP_CONNECTIONS = positive('http-connections');

const SERVER = '10.99.0.1';
const CLIENT = '10.99.0.2';
const NET = '10.99.0.0';
const MASK = '255.255.0.0';
// The same dynamic range for both full-mode servers: 10.99.1.0 - 10.99.255.254.
const RANGE = { start: '10.99.1.0', end: '10.99.255.254' };
const TFTP_MIB = 32;
const MAC = '52:54:00:be:00:01';
const IPXE_PATH = `/boot/ipxe?mac=${MAC}&arch=x86_64&platform=efi`;

// A BIOS PXE ROM's DISCOVER: option 60 PXEClient, 93 arch 0, 97 a client GUID (type 0 + 16 bytes).
const PXE_OPTIONS = ['-o', `60,${Buffer.from('PXEClient:Arch:00000:UNDI:002001').toString('hex')}`, '-o', '93,0000', '-o', '97,00a1b2c3d4e5f60718293a4b5c6d7e8f90'];

const SYSTEM_PACKAGES = [
  { apt: 'iproute2', present: () => onPath('ip') },
  { apt: 'curl', present: () => onPath('curl') },
  { apt: 'kea-admin', present: () => onPath('perfdhcp') }, // perfdhcp
  { apt: 'dnsmasq-base', present: () => onPath('dnsmasq') }, // not `dnsmasq`, which installs a service
  { apt: 'tftp-hpa', present: () => onPath('tftp') },
  { apt: 'atftp', present: () => onPath('atftp') },
  // The two TFTP servers are extracted from their .debs instead (see serverBinary): the packages
  // conflict with each other and both install a service. Their one library beyond libc:
  { apt: 'libwrap0', present: () => dpkgInstalled('libwrap0') },
  { apt: 'wrk', present: () => onPath('wrk') },
  { apt: 'nginx-light', present: () => onPath('nginx') },
];

const NODE = process.execPath;
const CLI = fileURLToPath(new URL('./cli.js', import.meta.resolve('@metalplane/host')));
const PLUGIN = fileURLToPath(import.meta.resolve('@metalplane/plugin-pxe'));
const SERVICE = fileURLToPath(new URL('./pxe-service.mjs', import.meta.url));

if (process.getuid?.() !== 0) {
  console.error('bench: the PXE benchmark needs root (network namespaces, ports 67 and 69)');
  process.exit(2);
}
ensureSystemPackages();

const work = mkdtempSync(join(tmpdir(), 'mp-bench-pxe-'));
chmodSync(work, 0o755); // in.tftpd reads the file as its own user
// Also on Ctrl-C (netns.mjs exits on SIGINT/SIGTERM after removing the namespaces).
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
const pair = createNetnsPair({ serverCidr: `${SERVER}/16`, clientCidr: `${CLIENT}/16` });
const IN_TFTPD = serverBinary('tftpd-hpa', 'usr/sbin/in.tftpd');
const ATFTPD = serverBinary('atftpd', 'usr/sbin/atftpd');
const rows = [];
const notes = [];
try {
  rows.push(await dhcpRow('proxy'));
  rows.push(await dhcpRow('full'));
  rows.push(...(await tftpRows()));
  rows.push(...(await ipxeRows()));
} finally {
  pair.dispose();
  rmSync(work, { recursive: true, force: true });
}

const cpu = `${(await import('node:os')).cpus().length} vCPU`;
console.log(`\nPXE: ours / peer, one run, ${cpu}, node ${process.version}`);
console.log(`command: npm run bench:pxe -- --proxy-rate ${PROXY_RATE} --dhcp-rate ${DHCP_RATE} --dhcp-seconds ${DHCP_SECONDS} --dhcp-clients ${DHCP_CLIENTS} --tftp-runs ${TFTP_RUNS} --http-seconds ${HTTP_SECONDS} --http-connections ${HTTP_CONNECTIONS}\n`);
printTable(
  ['what', 'ours', 'peer', 'ratio', 'unit', 'command'],
  rows.map((r) => [r.what, fmt(r.ours), fmt(r.peer), (r.ours / r.peer).toFixed(2), r.unit, r.command]),
);
console.log('');
printTable(
  ['what', 'ours (detail)', 'peer (detail)'],
  rows.map((r) => [r.what, r.oursDetail, r.peerDetail]),
);
console.log(`\n$PXE_OPTS = ${PXE_OPTIONS.join(' ')}`);
for (const note of notes) console.log(`note: ${note}`);

// ---------------------------------------------------------------------------------------- DHCP

async function dhcpRow(mode) {
  const rate = mode === 'proxy' ? PROXY_RATE : DHCP_RATE;
  const perfdhcp = ['-4', ...(mode === 'proxy' ? ['-i'] : []), '-l', CLIENT, '-r', String(rate), '-R', String(DHCP_CLIENTS), '-p', String(DHCP_SECONDS), ...(mode === 'proxy' ? PXE_OPTIONS : []), SERVER];
  const subnet = { cidr: `${NET}/16`, serverAddress: SERVER, leaseSeconds: 3600, ...(mode === 'full' ? { range: RANGE } : {}) };
  const config = { mode, port: 67, proxyPort: 4011, declineSeconds: 600, ipxeNoProxyWait: true, httpBaseUrl: `http://${SERVER}:8080`, subnets: [subnet] };

  const ours = await startServer(NODE, [SERVICE, 'dhcp', JSON.stringify(config)], { ready: /"ready":true/ });
  const oursResult = perf(perfdhcp);
  const counters = await ours.stop();
  if (!oursResult.rate) throw new Error(`perfdhcp against our ${mode} DHCP measured nothing:\n${oursResult.output}`);

  const dnsmasqArgs = [
    '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--no-resolv', '--no-hosts', '--log-facility=/dev/null', '--quiet-dhcp',
    '--no-ping', // it would ping every address before offering it (~3 s); ours does not
    ...(mode === 'proxy'
      ? [`--dhcp-range=${NET},proxy,${MASK}`, '--pxe-service=x86PC,PXE,undionly.kpxe']
      : ['--leasefile-ro', `--dhcp-range=${RANGE.start},${RANGE.end},${MASK},1h`, '--dhcp-boot=undionly.kpxe', '--dhcp-lease-max=100000']),
  ];
  const peer = await startServer('dnsmasq', dnsmasqArgs, { udpPort: 67 });
  const peerResult = perf(perfdhcp);
  await peer.stop();
  if (!peerResult.rate) throw new Error(`perfdhcp against dnsmasq (${mode}) measured nothing:\n${peerResult.output}`);

  const detail = (r) => `${r.stats.map((s) => `${s.name} drops ${s.drops}/${s.sent} (${pct(s.drops, s.sent)}), avg ${s.avg} ms, max ${s.max} ms`).join('; ')}; kernel UDP RcvbufErrors ${r.rcvbufErrors}`;
  const row = {
    what: mode === 'proxy' ? 'DHCP proxy (DO, PXE client)' : 'DHCP full (DORA)',
    ours: oursResult.rate,
    peer: peerResult.rate,
    unit: 'exchanges/s',
    command: `perfdhcp ${perfdhcp.join(' ').replace(PXE_OPTIONS.join(' '), '$PXE_OPTS')}`,
    oursDetail: `DhcpService alone: ${detail(oursResult)}; server counters ${JSON.stringify(counters ?? {})}`,
    peerDetail: `dnsmasq ${mode}: ${detail(peerResult)}`,
  };
  console.log(`bench: DHCP ${mode}: ours ${fmt(row.ours)}/s, dnsmasq ${fmt(row.peer)}/s (offered ${rate}/s)`);
  return row;
}

/** Runs perfdhcp in the client namespace and parses its final report. */
function perf(args) {
  const before = udpRcvbufErrors();
  const result = pair.exec(pair.client, 'perfdhcp', args, { timeoutMs: (DHCP_SECONDS + 20) * 1000 });
  const output = result.stdout + result.stderr;
  const rate = Number(/^Rate: ([\d.]+)/m.exec(output)?.[1] ?? NaN);
  const stats = [];
  for (const section of output.split('***Statistics for: ').slice(1)) {
    const field = (name) => new RegExp(`^${name}: ([^\\n]+)`, 'm').exec(section)?.[1]?.trim();
    const sent = Number(field('sent packets'));
    if (!sent) continue;
    stats.push({ name: section.slice(0, section.indexOf('***')), sent, drops: Number(field('drops')), avg: num(field('avg delay')), max: num(field('max delay')) });
  }
  return { rate: Number.isFinite(rate) && rate > 0 ? rate : 0, stats, output, rcvbufErrors: udpRcvbufErrors() - before };
}

/** The server namespace's UDP RcvbufErrors (/proc/net/snmp): datagrams the kernel dropped because a socket's receive buffer was full. */
function udpRcvbufErrors() {
  const lines = pair.exec(pair.server, 'cat', ['/proc/net/snmp'], { timeoutMs: 5000 }).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, counts] = lines.map((l) => l.trim().split(/\s+/));
  const index = names?.indexOf('RcvbufErrors') ?? -1;
  return index > 0 ? Number(counts[index]) : NaN;
}

// ---------------------------------------------------------------------------------------- TFTP

async function tftpRows() {
  const root = join(work, 'tftp');
  const out = join(work, 'out');
  mkdirSync(root, { mode: 0o755 });
  mkdirSync(out);
  writeFileSync(join(root, 'big.bin'), randomBytes(TFTP_MIB * 1024 * 1024), { mode: 0o644 });
  writeFileSync(join(root, 'small.bin'), randomBytes(64 * 1024), { mode: 0o644 });
  // What the server agreed to, from atftp's trace of a small transfer: "received OACK <…>".
  const oack = () => {
    const trace = pair.exec(pair.client, 'sh', ['-c', 'atftp "$@" 2>&1', 'atftp', '--trace', '--get', '-r', 'small.bin', '-l', '/dev/null', '--option', 'blksize 1468', '--option', 'windowsize 16', SERVER, '69']);
    const options = /received OACK <([^>]*)>/.exec(trace.stdout)?.[1];
    return options === undefined ? 'no OACK' : `<${options.split(',').map((o) => o.trim()).filter((o) => /\w/.test(o)).join(', ')}>`;
  };
  const clients = [
    {
      what: 'TFTP tftp-hpa (512 B, lockstep)',
      command: `tftp -m binary ${SERVER} 69 -c get big.bin <out>`,
      run: (file) => pair.exec(pair.client, 'tftp', ['-m', 'binary', SERVER, '69', '-c', 'get', 'big.bin', file], { timeoutMs: 120_000 }),
    },
    {
      what: 'TFTP atftp blksize 1468 windowsize 16',
      command: `atftp --get -r big.bin -l <out> --option "blksize 1468" --option "windowsize 16" ${SERVER} 69`,
      run: (file) => pair.exec(pair.client, 'atftp', ['--get', '-r', 'big.bin', '-l', file, '--option', 'blksize 1468', '--option', 'windowsize 16', SERVER, '69'], { timeoutMs: 120_000 }),
    },
  ];
  const measure = (client, label) => {
    const speeds = [];
    for (let i = 0; i < TFTP_RUNS; i++) {
      const file = join(out, 'big.bin');
      rmSync(file, { force: true });
      const t0 = performance.now();
      const result = client.run(file);
      const seconds = (performance.now() - t0) / 1000;
      const size = existsSync(file) ? statSync(file).size : 0;
      if (result.status !== 0 || size !== TFTP_MIB * 1024 * 1024) throw new Error(`${client.what} from ${label}: exit ${result.status}, ${size} bytes\n${result.stdout}${result.stderr}`);
      if (!readFileSync(file).equals(readFileSync(join(root, 'big.bin')))) throw new Error(`${client.what} from ${label}: the file differs`);
      speeds.push(TFTP_MIB / seconds);
    }
    return speeds;
  };

  const ours = await startServer(NODE, [SERVICE, 'tftp', JSON.stringify({ port: 69, address: SERVER, root, blksizeMax: 1468, windowsizeMax: 64 })], { ready: /"ready":true/ });
  const oursSpeeds = clients.map((c) => measure(c, 'TftpService'));
  const oursOack = oack();
  const counters = await ours.stop();
  // tftpd-hpa 5.2 has no RFC 7440 windowsize: it leaves it out of its OACK, so atftp runs
  // lockstep against it. atftpd (0.8) does windowsize, so it is the windowed peer for atftp.
  const hpa = await startServer(IN_TFTPD, ['-L', '-u', 'nobody', '-s', root, '-a', `${SERVER}:69`], { udpPort: 69 });
  const hpaSpeeds = clients.map((c) => measure(c, 'in.tftpd'));
  const hpaOack = oack();
  await hpa.stop();
  const atftpd = await startServer(ATFTPD, ['--daemon', '--no-fork', '--logfile', '/dev/null', '--port', '69', '--bind-address', SERVER, root], { udpPort: 69 });
  const atftpdSpeeds = measure(clients[1], 'atftpd');
  const atftpdOack = oack();
  await atftpd.stop();

  const oursDetail = (speeds, atftp) =>
    `TftpService alone: ${speeds.map((s) => s.toFixed(1)).join(', ')} MiB/s${atftp ? ` (atftp got OACK ${oursOack})` : ''}; counters over all TFTP runs ${JSON.stringify(pick(counters ?? {}, ['requests', 'served', 'timeouts', 'clientErrors', 'busy']))}`;
  const rows = [
    { ...clients[0], ours: oursSpeeds[0], peer: hpaSpeeds[0], peerName: 'in.tftpd (tftpd-hpa)' },
    { ...clients[1], what: `${clients[1].what} vs tftpd-hpa (lockstep)`, ours: oursSpeeds[1], peer: hpaSpeeds[1], peerName: `in.tftpd (tftpd-hpa; atftp got OACK ${hpaOack})` },
    { ...clients[1], what: `${clients[1].what} vs atftpd (windowed)`, ours: oursSpeeds[1], peer: atftpdSpeeds, peerName: `atftpd (atftp got OACK ${atftpdOack})` },
  ];
  return rows.map((r) => {
    const row = {
      what: r.what,
      ours: median(r.ours),
      peer: median(r.peer),
      unit: `MiB/s (median of ${TFTP_RUNS}, ${TFTP_MIB} MiB)`,
      command: r.command,
      oursDetail: oursDetail(r.ours, r !== rows[0]),
      peerDetail: `${r.peerName}: ${r.peer.map((s) => s.toFixed(1)).join(', ')} MiB/s`,
    };
    console.log(`bench: ${r.what}: ours ${fmt(row.ours)} MiB/s, ${r.peerName} ${fmt(row.peer)} MiB/s`);
    return row;
  });
}

// ---------------------------------------------------------------------------------------- iPXE

async function ipxeRows() {
  const dir = join(work, 'host');
  mkdirSync(dir);
  const base = `http://${SERVER}:8080`;
  const config = {
    server: { host: SERVER, port: 8080 },
    store: { driver: 'sqlite', path: join(dir, 'metalplane.db') },
    log: { level: 'warn' },
    plugins: [{ module: PLUGIN, config: { httpBaseUrl: base, dhcp: { mode: 'off' }, tftp: { enabled: false } } }],
  };
  writeFileSync(join(dir, 'metalplane.yaml'), JSON.stringify(config, null, 2)); // JSON is YAML
  const wrkArgs = (url, lua) => ['-t2', `-c${HTTP_CONNECTIONS}`, `-d${HTTP_SECONDS}s`, '--latency', ...(lua ? ['-s', lua] : []), url];
  // A new MAC for every request (02:<thread>:<counter>:01), so each one is an unknown machine.
  const lua = join(dir, 'new-mac.lua');
  writeFileSync(
    lua,
    `local threads = 0\nfunction setup(thread)\n  thread:set("id", threads)\n  threads = threads + 1\nend\nlocal n = 0\n` +
      `function request()\n  n = n + 1\n  local path = string.format("/boot/ipxe?mac=02:%02x:%02x:%02x:%02x:01&arch=x86_64&platform=efi", id, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)\n` +
      `  return wrk.format("GET", path)\nend\n`,
  );

  const host = await startServer(NODE, [CLI, 'serve', '-c', join(dir, 'metalplane.yaml')], { ready: /API: +http/, cwd: dir });
  // One enrolled machine (the seed payload form of POST /enroll); every request is for it.
  curl(pair.server, ['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', JSON.stringify({ mac_address: MAC }), `${base}/api/v1/enroll`]);
  const script = curl(pair.server, [`${base}${IPXE_PATH}`]);
  if (!script.startsWith('#!ipxe')) throw new Error(`GET ${IPXE_PATH} is not an iPXE script:\n${script}`);
  const ours = runWrk(wrkArgs(`${base}${IPXE_PATH}`));
  const scriptAfter = curl(pair.server, [`${base}${IPXE_PATH}`]);
  const unknownScript = curl(pair.server, [`${base}/boot/ipxe?mac=02:ff:00:00:00:01&arch=x86_64&platform=efi`]);
  const oursNew = runWrk(wrkArgs(`${base}${IPXE_PATH}`, lua));
  const listed = JSON.parse(curl(pair.server, [`${base}/api/v1/machines?phase=discovered&limit=100`])).items;
  const discovered = `${listed.length}${listed.length === 100 ? '+' : ''} (e.g. ${listed[0]?.identity?.find((k) => k.kind === 'mac')?.value})`;
  // What the script says it does (its `echo metalplane: …` line), before and after the load.
  const says = (text) => /echo\s+(metalplane:[^\n]*)/.exec(text)?.[1]?.slice(0, 100) ?? text.split('\n')[1]?.slice(0, 100);
  const machines = JSON.parse(curl(pair.server, [`${base}/api/v1/machines?mac=${MAC}`])).items;
  const timeline = machines[0] ? JSON.parse(curl(pair.server, [`${base}/api/v1/machines/${machines[0].id}/boot-timeline?limit=5`])).items.length : 0;
  const hostLog = host.output();
  await host.stop();

  // The peer: nginx (one worker, like our one Node process) serving the same bytes as a file.
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'ipxe'), script);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log warn;\nevents { worker_connections 1024; }\n` +
      `http {\n  access_log off;\n  client_body_temp_path ${dir}/nginx-tmp;\n  proxy_temp_path ${dir}/nginx-tmp;\n  fastcgi_temp_path ${dir}/nginx-tmp;\n  uwsgi_temp_path ${dir}/nginx-tmp;\n  scgi_temp_path ${dir}/nginx-tmp;\n` +
      `  server {\n    listen ${SERVER}:8081;\n    root ${www};\n    location = /boot/ipxe { default_type text/plain; try_files /ipxe =404; }\n  }\n}\n`,
  );
  const nginx = await startServer('nginx', ['-p', dir, '-e', join(dir, 'nginx-error.log'), '-c', conf], { tcpPort: 8081 });
  const peer = runWrk(wrkArgs(`http://${SERVER}:8081${IPXE_PATH}`));
  const peerNew = runWrk(wrkArgs(`http://${SERVER}:8081${IPXE_PATH}`, lua));
  await nginx.stop();

  for (const r of [ours, oursNew]) if (r.non2xx) notes.push(`the host answered ${r.non2xx} non-2xx responses under wrk`);
  if (/"level":(50|60)|error/i.test(hostLog)) notes.push(`host log during the iPXE run:\n${hostLog.slice(0, 2000)}`);
  const row = {
    what: 'iPXE script (GET /boot/ipxe)',
    ours: ours.rps,
    peer: peer.rps,
    unit: 'requests/s',
    command: `wrk ${wrkArgs(`http://${SERVER}:<port>${IPXE_PATH}`).join(' ')}`,
    oursDetail: `whole host + PXE plugin, SQLite, 1 enrolled machine (each request plans and writes a boot step): p50 ${ours.p50}, p99 ${ours.p99}, ${ours.requests} requests, non-2xx ${ours.non2xx}, errors ${ours.errors}; timeline has entries: ${timeline > 0}; first script "${says(script)}", after the run "${says(scriptAfter)}"`,
    peerDetail: `nginx static file ceiling (1 worker, same bytes): p50 ${peer.p50}, p99 ${peer.p99}, ${peer.requests} requests, non-2xx ${peer.non2xx}, errors ${peer.errors}`,
  };
  const rowNew = {
    what: 'iPXE script, a new MAC per request',
    ours: oursNew.rps,
    peer: peerNew.rps,
    unit: 'requests/s',
    command: `wrk ${wrkArgs(`http://${SERVER}:<port>/boot/ipxe`, 'new-mac.lua').join(' ')}`,
    oursDetail: `same host; every request is an unknown MAC, recorded as a discovered machine: p50 ${oursNew.p50}, p99 ${oursNew.p99}, ${oursNew.requests} requests, non-2xx ${oursNew.non2xx}, errors ${oursNew.errors}; discovered machines afterwards: ${discovered}; script "${says(unknownScript)}"`,
    peerDetail: `nginx static file ceiling, same Lua script (query ignored): p50 ${peerNew.p50}, p99 ${peerNew.p99}, ${peerNew.requests} requests, non-2xx ${peerNew.non2xx}, errors ${peerNew.errors}`,
  };
  console.log(`bench: iPXE script: host ${fmt(row.ours)} req/s (p99 ${ours.p99}), nginx static ${fmt(row.peer)} req/s (p99 ${peer.p99})`);
  console.log(`bench: iPXE script, new MACs: host ${fmt(rowNew.ours)} req/s (p99 ${oursNew.p99}), nginx static ${fmt(rowNew.peer)} req/s (p99 ${peerNew.p99})`);
  return [row, rowNew];
}

function runWrk(args) {
  const result = pair.exec(pair.client, 'wrk', args, { timeoutMs: (HTTP_SECONDS + 20) * 1000 });
  const out = result.stdout + result.stderr;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  if (!rps) throw new Error(`wrk measured nothing:\n${out}`);
  const errors = /Socket errors: ([^\n]+)/.exec(out)?.[1] ?? 'none';
  return {
    rps,
    p50: /^\s+50%\s+(\S+)/m.exec(out)?.[1],
    p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1],
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors,
  };
}

function curl(ns, args) {
  const result = pair.exec(ns, 'curl', ['-sS', '--fail-with-body', '--max-time', '10', ...args]);
  if (result.status !== 0) throw new Error(`curl ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

// ------------------------------------------------------------------------------------ processes

/**
 * Starts a server in the server namespace; ready when `ready` matches its stdout, or when it
 * listens on `udpPort`/`tcpPort` (polled with ss). Bounded: 20 s. `stop` ends it (SIGTERM, then
 * SIGKILL after 5 s) and resolves with the counters our services print on the way out.
 */
async function startServer(command, args, { ready, udpPort, tcpPort, cwd }) {
  const child = pair.spawn(pair.server, command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  let exitCode;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${command} exited with ${exitCode} before it was ready:\n${output}`);
    if (ready && ready.test(output)) break;
    if (udpPort && listening('-u', udpPort)) break;
    if (tcpPort && listening('-t', tcpPort)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${command} not ready within 20 s:\n${output}`);
    }
    await sleep(100);
  }
  return {
    output: () => output,
    async stop() {
      child.stdin.end();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(5000).then(() => 'timeout')]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
      const line = output.split('\n').find((l) => l.startsWith('{"counters"'));
      return line ? JSON.parse(line).counters : undefined;
    },
  };
}

function listening(proto, port) {
  const result = pair.exec(pair.server, 'ss', ['-Hln', proto, `sport = :${port}`], { timeoutMs: 5000 });
  return result.status === 0 && result.stdout.trim() !== '';
}

// ------------------------------------------------------------------------------------- packages

/** Like scripts/test.mjs: apt-get install what is missing, with services kept from starting. */
function ensureSystemPackages() {
  const missing = () => SYSTEM_PACKAGES.filter((p) => !p.present()).map((p) => p.apt);
  const packages = missing();
  if (packages.length === 0) return;
  console.log(`bench: installing system packages: ${packages.join(' ')}`);
  // nginx-light (through nginx-common) would start its daemon from postinst; policy-rc.d (exit 101)
  // is Debian's way to say "do not start services" and is removed again if we wrote it.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
      const result = spawnSync('apt-get', args, { env, stdio: 'inherit', timeout: 600_000 });
      if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
    }
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  const still = missing();
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(' ')}`);
}

/**
 * A server binary taken out of its Debian package without installing it (`apt-get download`,
 * `dpkg-deb -x`), kept in a cache directory: installing tftpd-hpa or atftpd would start a
 * service, and each package conflicts with the other.
 */
function serverBinary(pkg, path) {
  const cache = join(tmpdir(), 'mp-bench-pxe-debs');
  const binary = join(cache, pkg, path);
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  console.log(`bench: extracting ${path} from the ${pkg} package (not installed)`);
  const download = () => spawnSync('apt-get', ['download', pkg], { cwd: cache, stdio: 'inherit', timeout: 300_000 }).status === 0;
  if (!download()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', timeout: 300_000 });
    if (!download()) throw new Error(`apt-get download ${pkg} failed`);
  }
  const deb = readdirSync(cache).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg}: no .deb in ${cache}`);
  const extract = spawnSync('dpkg-deb', ['-x', join(cache, deb), join(cache, pkg)], { stdio: 'inherit', timeout: 60_000 });
  if (extract.status !== 0 || !existsSync(binary)) throw new Error(`dpkg-deb -x ${deb} did not give ${path}`);
  return binary;
}

function dpkgInstalled(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

function onPath(command) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((dir) => dir && existsSync(join(dir, command)));
}

// ---------------------------------------------------------------------------------------- misc

function printTable(header, body) {
  const widths = header.map((h, i) => Math.max(String(h).length, ...body.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of body) console.log(line(r));
}

function positive(name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench: --${name} must be a positive integer, not "${values[name]}"`);
    process.exit(2);
  }
  return n;
}

function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fmt(n) {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function pct(part, whole) {
  return `${((100 * part) / whole).toFixed(1)}%`;
}

function num(text) {
  const n = Number.parseFloat(text ?? '');
  return Number.isFinite(n) ? n.toFixed(1) : 'n/a';
}

function pick(object, keys) {
  return Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

