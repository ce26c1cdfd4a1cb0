// IPAM benchmark: claims per second and latency through the API (POST /api/v1/ip-claims), for
// the built-in IPAM on SQLite and PostgreSQL and for the NetBox plugin against the testkit's
// emulator, each with one and with two host processes sharing the store.
//
//   npm run bench:ipam                           (from the repository root)
//   npm run bench:ipam -- --claims 5000 --concurrency 64
//
// Every claim is a new owner on a /16, so nothing is exhausted and each one allocates. The
// client sends `concurrency` requests at once, spread round-robin over the processes; the
// first 200 claims of each run warm up and are not counted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestDatabase } from '@metalplane/core/testing';
import { pooled, quantile, startNode } from './processes.mjs';

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '200' },
  },
});
const CLAIMS = positive('claims');
const CONCURRENCY = positive('concurrency');
const WARMUP = Number(values.warmup);

const cli = fileURLToPath(new URL('./cli.js', import.meta.resolve('@metalplane/host')));
const netboxPlugin = fileURLToPath(import.meta.resolve('@metalplane/plugin-netbox'));
const emulatorScript = fileURLToPath(new URL('./netbox-emulator.mjs', import.meta.url));
const engines = process.env.TEST_POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
if (engines.length === 1) console.warn('bench: TEST_POSTGRES_URL is unset, PostgreSQL rows are skipped (run it with `npm run bench:ipam`)');

const rows = [];
for (const engine of engines) {
  for (const processes of [1, 2]) rows.push(await run({ provider: 'built-in', engine, processes }));
}
for (const processes of [1, 2]) rows.push(await run({ provider: 'netbox (emulator)', engine: engines.at(-1), processes }));

console.log(`\nIPAM: ${CLAIMS} claims per row, ${CONCURRENCY} in flight, after ${WARMUP} warm-up claims (node ${process.version})`);
console.log(`command: npm run bench:ipam -- --claims ${CLAIMS} --concurrency ${CONCURRENCY}\n`);
printTable(
  ['provider', 'store', 'processes', 'claims/s', 'p50 ms', 'p99 ms', 'max ms', 'bound', 'failed'],
  rows.map((r) => [r.provider, r.engine, r.processes, r.perSecond.toFixed(0), r.p50.toFixed(1), r.p99.toFixed(1), r.max.toFixed(1), r.bound, r.failed]),
);

async function run({ provider, engine, processes }) {
  const database = await createTestDatabase(engine);
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-ipam-'));
  const started = [];
  try {
    let pool = { cidr: '10.100.0.0/16' };
    let plugins = '';
    if (provider !== 'built-in') {
      const emulator = await startNode([emulatorScript, '10.200.0.0/16'], { cwd: dir, ready: /^(\{.*\})$/m });
      started.push(emulator);
      const { url, token, prefixId } = JSON.parse(emulator.match[1]);
      pool = { cidr: '10.200.0.0/16', provider: 'netbox', providerRef: { prefixId } };
      plugins = `plugins:\n  - module: ${JSON.stringify(netboxPlugin)}\n    config:\n      url: ${url}\n      token: ${token}\n`;
    }
    const store = engine === 'postgres' ? `  driver: postgres\n  url: "${database.config.url}"\n` : `  driver: sqlite\n  path: ${database.config.path}\n`;
    writeFileSync(join(dir, 'metalplane.yaml'), `server:\n  port: 0\nstore:\n${store}log:\n  level: warn\n${plugins}`);
    const hosts = [];
    for (let i = 0; i < processes; i++) {
      const host = await startNode([cli, 'serve', '-c', 'metalplane.yaml'], { cwd: dir, ready: /API: +(http:\/\/127\.0\.0\.1:\d+)\/api\/v1/ });
      started.push(host);
      hosts.push(host.match[1]);
    }
    await request(hosts[0], '/api/v1/ip-pools', { name: 'bench', spec: pool }, 201);

    const claim = (i) => async () => {
      const t0 = performance.now();
      const res = await fetch(`${hosts[i % hosts.length]}/api/v1/ip-claims`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pool: 'bench', owner: { key: `bench-${i}` } }),
      });
      const body = await res.json();
      return { ms: performance.now() - t0, bound: res.status === 201 && body.status?.phase === 'bound', address: body.status?.address };
    };
    await pooled(Array.from({ length: WARMUP }, (_, i) => claim(CLAIMS + i)), CONCURRENCY);
    const t0 = performance.now();
    const results = await pooled(Array.from({ length: CLAIMS }, (_, i) => claim(i)), CONCURRENCY);
    const seconds = (performance.now() - t0) / 1000;

    const bound = results.filter((r) => r.bound);
    if (new Set(bound.map((r) => r.address)).size !== bound.length) throw new Error(`${provider}/${engine}: duplicate addresses`);
    const latencies = results.map((r) => r.ms);
    const row = { provider, engine, processes, perSecond: CLAIMS / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: Math.max(...latencies), bound: bound.length, failed: CLAIMS - bound.length };
    console.log(`bench: ${provider} on ${engine}, ${processes} process(es): ${row.perSecond.toFixed(0)} claims/s, p99 ${row.p99.toFixed(1)} ms`);
    return row;
  } finally {
    for (const child of started.reverse()) await child.stop();
    await database.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function request(base, path, body, expected) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== expected) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function positive(name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench: --${name} must be a positive integer, not "${values[name]}"`);
    process.exit(2);
  }
  return n;
}

function printTable(header, body) {
  const widths = header.map((h, i) => Math.max(String(h).length, ...body.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of body) console.log(line(r));
}
