import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Two network namespaces joined by a veth pair: a "server" side with a fixed address and a
 * "client" side with none (it gets one by DHCP) unless asked. Namespaces are isolated, so
 * every pair can use the same subnet; only the names are unique (`mpt<pid>-<random>`).
 * Every test that creates one disposes of it; `sweepStaleNamespaces` removes pairs whose
 * creating process died without doing so.
 */
export interface NetnsPair {
  readonly server: string;
  readonly client: string;
  /** Interface names inside each namespace. */
  readonly serverIf: string;
  readonly clientIf: string;
  /** e.g. 10.99.0.1 on 10.99.0.0/24. */
  readonly serverAddress: string;
  readonly subnet: string;
  readonly clientMac: string;
  /** Runs a command to completion inside a namespace (bounded: 30 s by default). */
  exec(ns: string, command: string, args: readonly string[], options?: { timeoutMs?: number; input?: string }): { stdout: string; stderr: string; status: number | null };
  /** Starts a long-running command inside a namespace; it is killed on dispose. */
  spawn(ns: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  dispose(): void;
}

const PREFIX = 'mpt';

export interface NetnsOptions {
  /** Server address with prefix length; default 10.99.0.1/24. */
  readonly serverCidr?: string;
  /** A static client address with prefix length (e.g. for TFTP tests); default none. */
  readonly clientCidr?: string;
  /** The client interface's MAC; default a random locally administered one. */
  readonly clientMac?: string;
}

export function createNetnsPair(options: NetnsOptions = {}): NetnsPair {
  sweepStaleNamespaces();
  const tag = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
  const server = `${tag}-s`;
  const client = `${tag}-c`;
  const serverIf = 'mp0';
  const clientIf = 'eth0';
  const serverCidr = options.serverCidr ?? '10.99.0.1/24';
  const clientMac = options.clientMac ?? randomMac();
  const children = new Set<ChildProcess>();
  const ip = (...args: string[]) => run('ip', args);

  ip('netns', 'add', server);
  try {
    ip('netns', 'add', client);
    ip('link', 'add', serverIf, 'netns', server, 'type', 'veth', 'peer', 'name', clientIf, 'netns', client);
    ip('-n', client, 'link', 'set', clientIf, 'address', clientMac);
    for (const [ns, dev] of [[server, serverIf], [client, clientIf]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    ip('-n', server, 'addr', 'add', serverCidr, 'dev', serverIf);
    if (options.clientCidr) ip('-n', client, 'addr', 'add', options.clientCidr, 'dev', clientIf);
  } catch (error) {
    removeNamespaces([server, client]);
    throw error;
  }

  const [serverAddress, length] = serverCidr.split('/') as [string, string];
  const pair: NetnsPair = {
    server,
    client,
    serverIf,
    clientIf,
    serverAddress,
    subnet: `${networkOf(serverAddress, Number(length))}/${length}`,
    clientMac,
    exec(ns, command, args, { timeoutMs = 30_000, input } = {}) {
      try {
        const stdout = execFileSync('ip', ['netns', 'exec', ns, command, ...args], {
          encoding: 'utf8',
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          stdio: ['pipe', 'pipe', 'pipe'],
          ...(input !== undefined ? { input } : {}),
        });
        return { stdout, stderr: '', status: 0 };
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string; status?: number | null };
        return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', status: e.status ?? null };
      }
    },
    spawn(ns, command, args, spawnOptions = {}) {
      const child = spawn('ip', ['netns', 'exec', ns, command, ...args], spawnOptions);
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    dispose() {
      for (const child of children) child.kill('SIGKILL');
      children.clear();
      removeNamespaces([server, client]);
    },
  };
  liveNamespaces.add(pair);
  return pair;
}

const liveNamespaces = new Set<NetnsPair>();
process.once('exit', () => {
  for (const pair of liveNamespaces) pair.dispose();
});

/** Removes `mpt<pid>-*` namespaces whose process is gone (a test run that was killed). */
export function sweepStaleNamespaces(): void {
  let names: string[];
  try {
    names = run('ip', ['netns', 'list']).split('\n').map((line) => line.split(' ')[0] ?? '');
  } catch {
    return;
  }
  for (const name of names) {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    removeNamespaces([name]);
  }
}

/** Why a netns test cannot run here, or undefined when it can (root and `ip netns` work). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespace tests need root';
  try {
    run('ip', ['netns', 'list']);
    return undefined;
  } catch (error) {
    return `ip netns does not work here: ${(error as Error).message}`;
  }
}

function removeNamespaces(names: readonly string[]): void {
  for (const name of names) {
    // Killing what still runs inside lets the namespace (and its veth end) go away.
    try {
      for (const pid of run('ip', ['netns', 'pids', name]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
    try {
      run('ip', ['netns', 'delete', name]);
    } catch {
      // already gone
    }
  }
}

function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function networkOf(address: string, length: number): string {
  const value = address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  const mask = length === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - length)) - 1n);
  const network = value & mask;
  return [24n, 16n, 8n, 0n].map((shift) => String((network >> shift) & 255n)).join('.');
}
