// Two network namespaces joined by a veth pair, for the PXE benchmark: the same approach as the
// PXE plugin's test helper (plugins/pxe/test/netns.ts), in plain JavaScript. Names are
// `mpb<pid>-<random>-{s,c}`; every pair is removed on dispose and when the process exits or is
// interrupted, and pairs left by a benchmark that was killed are swept at the next start.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const PREFIX = 'mpb';
const live = new Set();
process.once('exit', () => {
  for (const pair of live) pair.dispose();
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    for (const pair of live) pair.dispose();
    process.exit(130);
  });
}

/**
 * Server namespace with `serverCidr` on `mp0`, client namespace with `clientCidr` on `eth0`.
 * `exec` runs a command to completion (bounded), `spawn` starts one that dispose kills.
 */
export function createNetnsPair({ serverCidr = '10.99.0.1/16', clientCidr = '10.99.0.2/16' } = {}) {
  sweepStale();
  const tag = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
  const server = `${tag}-s`;
  const client = `${tag}-c`;
  const children = new Set();
  ip('netns', 'add', server);
  try {
    ip('netns', 'add', client);
    ip('link', 'add', 'mp0', 'netns', server, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client);
    for (const [ns, dev, cidr] of [[server, 'mp0', serverCidr], [client, 'eth0', clientCidr]]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'addr', 'add', cidr, 'dev', dev);
    }
  } catch (error) {
    remove([server, client]);
    throw error;
  }
  let disposed = false;
  const pair = {
    server,
    client,
    serverAddress: serverCidr.split('/')[0],
    clientAddress: clientCidr.split('/')[0],
    exec(ns, command, args, { timeoutMs = 60_000 } = {}) {
      try {
        const stdout = execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
        return { stdout, stderr: '', status: 0 };
      } catch (error) {
        return { stdout: error.stdout ?? '', stderr: error.stderr ?? String(error.message), status: error.status ?? null };
      }
    },
    spawn(ns, command, args, options = {}) {
      const child = spawn('ip', ['netns', 'exec', ns, command, ...args], options);
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const child of children) child.kill('SIGKILL');
      remove([server, client]);
      live.delete(pair);
    },
  };
  live.add(pair);
  return pair;
}

/** Removes `mpb<pid>-*` namespaces whose process is gone. */
function sweepStale() {
  let names;
  try {
    names = ip('netns', 'list').split('\n').map((line) => line.split(' ')[0]);
  } catch {
    return;
  }
  for (const name of names) {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (match && !alive(Number(match[1]))) remove([name]);
  }
}

function remove(names) {
  for (const name of names) {
    // Killing what still runs inside lets the namespace (and its veth end) go away.
    try {
      for (const pid of ip('netns', 'pids', name).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
    try {
      ip('netns', 'delete', name);
    } catch {
      // already gone
    }
  }
}

function ip(...args) {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
