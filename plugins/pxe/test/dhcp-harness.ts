import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { BootServiceStatus } from '@metalplane/core';
import { decode, encode, type DhcpPacket } from '../src/dhcp/codec.js';
import type { DhcpObservation, DhcpReservation } from '../src/dhcp/responder.js';
import type { NetnsPair } from './netns.js';

const SERVER_FIXTURE = fileURLToPath(new URL('./fixtures/dhcp-server.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../dist/dhcp/index.js', import.meta.url));
const PROBE_FIXTURE = fileURLToPath(new URL('./fixtures/dhcp-probe.mjs', import.meta.url));

export interface RunningServer {
  /** `DhcpService.status()` right after start. */
  readonly status: BootServiceStatus[];
  readonly events: DhcpObservation[];
  readonly logs: unknown[];
  stats(): Promise<{ counters: Record<string, number>; cpu: { user: number; system: number } }>;
  stop(): Promise<void>;
}

/** Starts the built DhcpService in the pair's server namespace (fixtures/dhcp-server.mjs). */
export async function startServer(pair: NetnsPair, config: object, reservations: Record<string, DhcpReservation> = {}): Promise<RunningServer> {
  if (!existsSync(BUILT)) throw new Error('the DHCP tests run the built plugin: run `tsc -b` (or `npm run build`) in plugins/pxe first');
  const child = pair.spawn(pair.server, process.execPath, [SERVER_FIXTURE, JSON.stringify({ config, reservations })], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: DhcpObservation[] = [];
  const logs: unknown[] = [];
  const waiters: ((line: Record<string, unknown>) => boolean)[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      logs.push(text);
      return;
    }
    if (line.event) events.push(line.event as DhcpObservation);
    if (line.log) logs.push(line);
    for (const waiter of [...waiters]) if (waiter(line)) waiters.splice(waiters.indexOf(waiter), 1);
  });
  const next = (key: string, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`DHCP server fixture: no "${key}" within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      child.once('exit', (code) => reject(new Error(`DHCP server fixture exited (${code}): ${stderr}`)));
      waiters.push((line) => {
        if (!(key in line)) return false;
        clearTimeout(timer);
        resolve(line);
        return true;
      });
    });
  const ready = await next('ready', 10_000);
  return {
    status: ready.status as BootServiceStatus[],
    events,
    logs,
    async stats() {
      const answer = next('counters', 5_000);
      child.stdin!.write('stats\n');
      return (await answer) as unknown as Awaited<ReturnType<RunningServer['stats']>>;
    },
    async stop() {
      await stopChild(child);
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin!.end('stop\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

export interface Received {
  from: string;
  port: number;
  packet: DhcpPacket;
}

/** Sends datagrams from a namespace (fixtures/dhcp-probe.mjs) and returns what came back. */
export function probe(
  pair: NetnsPair,
  ns: string,
  options: { bind?: { address: string; port: number }; sends: { to: string; port: number; data: Buffer }[]; waitMs?: number; expect?: number },
): Received[] {
  const args = {
    bind: options.bind ?? { address: '0.0.0.0', port: 68 },
    sends: options.sends.map((s) => ({ to: s.to, port: s.port, hex: s.data.toString('hex') })),
    waitMs: options.waitMs ?? 1_500,
    expect: options.expect ?? 1,
  };
  const result = pair.exec(ns, process.execPath, [PROBE_FIXTURE, JSON.stringify(args)], { timeoutMs: args.waitMs + 5_000 });
  if (result.status !== 0) throw new Error(`probe failed (${result.status}): ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { from: string; port: number; hex: string })
    .map((r) => ({ from: r.from, port: r.port, packet: decode(Buffer.from(r.hex, 'hex')) }));
}

let xid = 0x1000;

/** A client request (op 1) as firmware would send it. */
export function clientPacket(mac: string, options: [number, Buffer | number[] | string][], fields: Partial<DhcpPacket> = {}): Buffer {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.replaceAll(':', ''), 'hex').copy(chaddr);
  return encode({
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: xid++,
    secs: 0,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr,
    sname: '',
    file: '',
    options: new Map(options.map(([code, value]) => [code, typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value)])),
    ...fields,
  });
}
