// Runs the suite the way CI does: ensures the system packages the tests need, starts a throwaway
// PostgreSQL cluster (unless TEST_POSTGRES_URL is set) and runs turbo against it.
//
//   npm test                                    build, lint, typecheck and test every package
//   npm test -- --filter=@metalplane/core       extra arguments go to `turbo run`
//   node scripts/test.mjs --with-postgres -- <command...>
//       runs any command with TEST_POSTGRES_URL pointing at a throwaway cluster, e.g.
//       `-- npx vitest run src/store` inside a package, or `-- sh -c 'psql "$TEST_POSTGRES_URL"'`
//
// Environment: TEST_DATABASES (default `sqlite,postgres`), TEST_POSTGRES_URL (use this server
// instead of starting one).
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Debian packages the tests use. `present` says whether a package is already installed (check a
 * command with `onPath` or a file with `existsSync`); `neededIf` limits it to runs that use it, so
 * `TEST_DATABASES=sqlite` works without PostgreSQL installed.
 */
const SYSTEM_PACKAGES = [
  { apt: 'postgresql', present: () => findPostgres() !== undefined, neededIf: (run) => run.startPostgres },
  // The registration agent is tested under busybox sh with busybox wget, and with curl.
  { apt: 'busybox', present: () => onPath('busybox') },
  { apt: 'curl', present: () => onPath('curl') },
  // The registration image is built from Debian packages into a cpio archive and booted in QEMU.
  { apt: 'cpio', present: () => onPath('cpio') },
  { apt: 'qemu-system-x86', present: () => onPath('qemu-system-x86_64') },
  // The PXE plugin: network namespaces, real DHCP and TFTP clients, iPXE binaries and ROMs, UEFI
  // firmware. dhcpcd-base rather than dhcpcd5: the latter installs a service that would start
  // managing the machine's own interfaces.
  { apt: 'iproute2', present: () => onPath('ip') || existsSync('/usr/sbin/ip') },
  { apt: 'isc-dhcp-client', present: () => onPath('dhclient') || existsSync('/usr/sbin/dhclient') },
  { apt: 'dhcpcd-base', present: () => onPath('dhcpcd') || existsSync('/usr/sbin/dhcpcd') },
  { apt: 'tftp-hpa', present: () => onPath('tftp') },
  { apt: 'atftp', present: () => onPath('atftp') },
  { apt: 'ipxe', present: () => existsSync('/usr/lib/ipxe/undionly.kpxe') && existsSync('/usr/lib/ipxe/ipxe.efi') },
  { apt: 'ipxe-qemu', present: () => existsSync('/usr/lib/ipxe/qemu') },
  { apt: 'ovmf', present: () => existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd') },
];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IS_ROOT = process.getuid?.() === 0;
const PG_USER = 'postgres';

/** The throwaway cluster, once its directory exists; stopped and removed on every way out. */
let cluster;
/** The command being run (turbo or --with-postgres), so signals can be forwarded to it. */
let child;

async function main() {
  const run = parseArgs(process.argv.slice(2));
  process.on('exit', removeCluster);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => onSignal(signal));

  ensureSystemPackages(run);

  const env = {
    ...process.env,
    // Same as inside npm scripts, so running this file directly still uses the pinned Node.
    PATH: [join(ROOT, 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(delimiter),
    TURBO_TELEMETRY_DISABLED: '1',
    TEST_DATABASES: run.databases.join(','),
  };
  if (run.startPostgres) {
    const pg = findPostgres();
    env.TEST_POSTGRES_URL = await startCluster(pg);
    console.log(`test: ${postgresVersion(pg)}, throwaway cluster at ${env.TEST_POSTGRES_URL}; databases: ${env.TEST_DATABASES}`);
  } else if (process.env.TEST_POSTGRES_URL) {
    console.log(`test: PostgreSQL from TEST_POSTGRES_URL at ${redactUrl(process.env.TEST_POSTGRES_URL)}; databases: ${env.TEST_DATABASES}`);
  } else {
    console.log(`test: PostgreSQL not used; databases: ${env.TEST_DATABASES}`);
  }

  const tally = run.tally ? newTally() : undefined;
  const code = await runCommand(run.command, env, tally);
  removeCluster();
  // One closing line for the whole run, summed over every package's test runner.
  if (tally) console.log(`${tally.passed} passed, ${tally.failed} failed${tally.skipped ? `, ${tally.skipped} skipped` : ''}`);
  process.exit(code);
}

/** Works out what to run: turbo (extra args passed through) or `--with-postgres -- <command...>`. */
function parseArgs(args) {
  const databases = (process.env.TEST_DATABASES || 'sqlite,postgres').split(',').map((s) => s.trim()).filter(Boolean);
  const havePostgres = Boolean(process.env.TEST_POSTGRES_URL);
  if (args[0] === '--with-postgres') {
    const command = args[1] === '--' ? args.slice(2) : args.slice(1);
    if (command.length === 0) fail('usage: node scripts/test.mjs --with-postgres -- <command...>');
    return { command, databases, startPostgres: !havePostgres, tally: false };
  }
  const turbo = join(ROOT, 'node_modules', '.bin', 'turbo');
  const command = [turbo, 'run', 'build', 'lint', 'typecheck', 'test', '--output-logs=new-only', ...args];
  return { command, databases, startPostgres: !havePostgres && databases.includes('postgres'), tally: true };
}

function ensureSystemPackages(run) {
  const missing = () => SYSTEM_PACKAGES.filter((p) => (p.neededIf?.(run) ?? true) && !p.present()).map((p) => p.apt);
  const packages = missing();
  if (packages.length === 0) return;
  if (!IS_ROOT) {
    fail(
      `test: missing system packages: ${packages.join(' ')}\n` +
        `  install them with: sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`,
    );
  }
  console.log(`test: installing system packages: ${packages.join(' ')}`);
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  runOrFail('apt-get', ['update'], aptEnv);
  runOrFail('apt-get', ['install', '-y', '--no-install-recommends', ...packages], aptEnv);
  const still = missing();
  if (still.length > 0) fail(`test: still missing after apt-get install: ${still.join(' ')}`);
}

/** initdb and pg_ctl: the highest version under /usr/lib/postgresql (Debian keeps them off PATH), else PATH. */
function findPostgres() {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+(\.\d+)?$/.test(v)) : [];
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const version of versions) {
    const bin = join(base, version, 'bin');
    if (isExecutable(join(bin, 'initdb')) && isExecutable(join(bin, 'pg_ctl'))) {
      return { initdb: join(bin, 'initdb'), pgCtl: join(bin, 'pg_ctl') };
    }
  }
  const initdb = findOnPath('initdb');
  const pgCtl = findOnPath('pg_ctl');
  return initdb && pgCtl ? { initdb, pgCtl } : undefined;
}

function postgresVersion(pg) {
  const out = spawnSync(pg.pgCtl, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const version = out.match(/\(PostgreSQL\) (\S+)/)?.[1];
  return version ? `PostgreSQL ${version}` : `PostgreSQL (${pg.pgCtl})`;
}

/** Creates and starts a cluster in a fresh temp dir; returns its URL. */
async function startCluster(pg) {
  const dir = mkdtempSync(join(tmpdir(), 'metalplane-pg-'));
  const data = join(dir, 'data');
  cluster = { dir, data, pg, started: false };
  // initdb refuses to run as root, so the cluster belongs to the postgres system user.
  if (IS_ROOT) {
    const { uid, gid } = ensurePostgresUser(dir);
    chownSync(dir, uid, gid);
  }

  const init = runAsOwner([pg.initdb, '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  if (init.status !== 0) fail(`test: initdb failed\n${init.output}`);

  const port = await freePort();
  const options = [
    '-c listen_addresses=127.0.0.1',
    `-p ${port}`,
    `-k ${shellQuote(dir)}`,
    '-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200',
  ].join(' ');
  cluster.started = true; // from here on a half-started server must be stopped too
  const start = runAsOwner([pg.pgCtl, '-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), 'start', '-o', options]);
  if (start.status !== 0) {
    fail(`test: PostgreSQL failed to start\n${start.output}\n--- server log ---\n${readLog(dir)}`);
  }
  return `postgresql://postgres@127.0.0.1:${port}/postgres`;
}

/** Synchronous so it can run from the `exit` handler; safe to call more than once. */
function removeCluster() {
  if (!cluster) return;
  const { dir, data, pg, started } = cluster;
  cluster = undefined;
  if (started && existsSync(join(data, 'postmaster.pid'))) {
    const stop = runAsOwner([pg.pgCtl, '-D', data, '-w', '-t', '60', 'stop', '-m', 'fast'], dir);
    if (stop.status !== 0) runAsOwner([pg.pgCtl, '-D', data, 'stop', '-m', 'immediate'], dir);
  }
  rmSync(dir, { recursive: true, force: true });
}

function onSignal(signal) {
  // The command gets the signal forwarded; main() cleans up once it has exited.
  if (child) {
    child.kill(signal);
    return;
  }
  removeCluster();
  process.exit(128 + osConstants.signals[signal]);
}

/** The postgres system user's ids, creating the user if the distribution package did not. */
function ensurePostgresUser(home) {
  let ids = userIds(PG_USER);
  if (!ids) {
    runOrFail('useradd', ['--system', '--no-create-home', '--home-dir', home, PG_USER]);
    ids = userIds(PG_USER);
  }
  if (!ids) fail(`test: could not create the ${PG_USER} system user`);
  return ids;
}

function userIds(user) {
  const id = (flag) => spawnSync('id', [flag, user], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Runs a PostgreSQL tool as the cluster owner (postgres when we are root), capturing its output. */
function runAsOwner(argv, cwd = cluster.dir) {
  let file = argv[0];
  let args = argv.slice(1);
  if (IS_ROOT) {
    [file, args] = onPath('runuser')
      ? ['runuser', ['-u', PG_USER, '--', ...argv]]
      : ['su', [PG_USER, '-s', '/bin/sh', '-c', argv.map(shellQuote).join(' ')]];
  }
  // cwd: the postgres user may not be able to enter ours (e.g. /root).
  const result = spawnSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [result.error?.message, result.stdout, result.stderr].filter(Boolean).join('\n').trim();
  return { status: result.status, output };
}

function readLog(dir) {
  try {
    return readFileSync(join(dir, 'log'), 'utf8');
  } catch {
    return '(no server log)';
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function newTally() {
  return { passed: 0, failed: 0, skipped: 0, pending: '' };
}

// Colour codes start with ESC; built from its code so the pattern holds no control character.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Adds up vitest's summary lines (`Tests  2 failed | 200 passed | 4 skipped (206)`). */
function countTests(tally, text) {
  const lines = (tally.pending + text).split('\n');
  tally.pending = lines.pop() ?? '';
  for (const line of lines) {
    const plain = line.replace(ANSI, '');
    if (!/\bTests\s{2,}\d/.test(plain)) continue;
    for (const key of ['passed', 'failed', 'skipped']) {
      const match = plain.match(new RegExp(`(\\d+) ${key}`));
      if (match) tally[key] += Number(match[1]);
    }
  }
}

/**
 * Runs the command; resolves to its exit code (128+n when killed by a signal). With a
 * tally, stdout is passed through and its test summaries are counted on the way.
 */
function runCommand([file, ...args], env, tally) {
  return new Promise((resolveCode) => {
    child = spawn(file, args, { env, stdio: ['inherit', tally ? 'pipe' : 'inherit', 'inherit'] });
    child.stdout?.on('data', (chunk) => {
      process.stdout.write(chunk);
      countTests(tally, chunk.toString());
    });
    child.once('error', (error) => {
      console.error(`test: cannot run ${file}: ${error.message}`);
      child = undefined;
      resolveCode(127);
    });
    child.once('exit', (code, signal) => {
      child = undefined;
      resolveCode(code ?? 128 + (osConstants.signals[signal] ?? 0));
    });
  });
}

function runOrFail(file, args, env = process.env) {
  const result = spawnSync(file, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) fail(`test: \`${[file, ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status}`})`);
}

function findOnPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

function onPath(command) {
  return findOnPath(command) !== undefined;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function shellQuote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function redactUrl(url) {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(TEST_POSTGRES_URL is not a URL)';
  }
}

/** Prints the message and exits 1; the `exit` handler still removes the cluster. */
function fail(message) {
  console.error(message);
  process.exit(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
