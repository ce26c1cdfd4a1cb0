import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootRoutes, type BootHttpEvent, type BootPlanRequest } from '../src/http/index.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let dir: string;
let app: FastifyInstance;
let origin: string;
let events: BootHttpEvent[];
let asked: BootPlanRequest[];
let smallSha: string;
let bigSha: string;
let small: Buffer;

/** Writes `size` bytes of a repeating random block, without holding the file in memory. */
function writeLarge(path: string, size: number): string {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < size; written += block.length) {
      writeSync(fd, block);
      hash.update(block);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** curl with a hard time limit (`--max-time` and a kill timeout); headers go to a file. */
async function curlFull(args: readonly string[], output = '-'): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const headerFile = join(dir, `h-${randomBytes(4).toString('hex')}`);
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', '-D', headerFile, '-o', output, ...args], { encoding: 'buffer', maxBuffer: 8 * MiB, timeout: 25_000 });
  const lines = readFileSync(headerFile, 'latin1').trim().split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: stdout };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mp-http-lo-'));
  mkdirSync(join(dir, 'artifacts'));
  mkdirSync(join(dir, 'ipxe'));
  small = randomBytes(10_000);
  smallSha = createHash('sha256').update(small).digest('hex');
  const fd = openSync(join(dir, 'artifacts', smallSha), 'w');
  writeSync(fd, small);
  closeSync(fd);
  const tmp = join(dir, 'big.tmp');
  bigSha = writeLarge(tmp, 64 * MiB);
  renameSync(tmp, join(dir, 'artifacts', bigSha));

  app = Fastify();
  await app.register(bootRoutes, {
    prefix: '/boot',
    baseUrl: 'http://127.0.0.1:1',
    ipxeDirectory: join(dir, 'ipxe'),
    artifactDirectory: join(dir, 'artifacts'),
    plan: async (request) => {
      asked.push(request);
      return { machineId: null, plan: { kind: 'registration', kernel: 'registration/vmlinuz', initrd: ['registration/initrd.img'], cmdline: '', reason: 'unknown machine' } };
    },
    observe: (event) => events.push(event),
  });
  origin = await app.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  events = [];
  asked = [];
});

/** Waits (bounded) for the observer, which runs when the response has closed. */
async function observed(count: number): Promise<BootHttpEvent[]> {
  for (let i = 0; i < 100 && events.length < count; i++) await new Promise((r) => setTimeout(r, 20));
  return events;
}

describe('over loopback with curl', () => {
  it('serves the script for an unknown MAC and asks core for it', async () => {
    const res = await curlFull([`${origin}/boot/ipxe?mac=52:54:00:AA:BB:CC&uuid=&serial=&arch=i386&platform=pcbios`]);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('kernel http://127.0.0.1:1/boot/registration/vmlinuz || goto mp_failed\n');
    expect(asked).toEqual([{ mac: '52:54:00:aa:bb:cc', arch: 'bios', client: 'ipxe', remoteAddress: '127.0.0.1' }]);
  });

  it.each([
    ['-500', 206, `bytes 9500-9999/10000`, 9500, 500],
    ['100-', 206, `bytes 100-9999/10000`, 100, 9900],
    ['0-0', 206, `bytes 0-0/10000`, 0, 1],
    ['9990-20000', 206, `bytes 9990-9999/10000`, 9990, 10],
    ['10000-', 416, 'bytes */10000', 0, 0],
  ])('--range %s → %i', async (range, status, contentRange, start, length) => {
    const res = await curlFull(['--range', range, `${origin}/boot/artifacts/${smallSha}`]);
    expect(res.status).toBe(status);
    expect(res.headers['content-range']).toBe(contentRange);
    if (status === 206) {
      expect(res.headers['content-length']).toBe(String(length));
      expect(res.body.equals(small.subarray(start, start + length))).toBe(true);
    }
    expect(await observed(1)).toEqual([expect.objectContaining({ step: 'http.file', status, bytes: length })]);
  });

  it('answers curl -I (HEAD) with length, ranges and validators', async () => {
    const res = await curlFull(['-I', `${origin}/boot/artifacts/${smallSha}`]);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'content-length': '10000', 'accept-ranges': 'bytes', etag: `"${smallSha}"` });
    expect(res.headers['last-modified']).toBeDefined();
  });

  it('sends no body to HEAD (read off the socket)', async () => {
    const { port } = new URL(origin);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(`HEAD /boot/artifacts/${smallSha} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let text = '';
      socket.setTimeout(5_000, () => socket.destroy(new Error('timed out')));
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(raw).toContain('content-length: 10000\r\n');
    expect(raw.endsWith('\r\n\r\n')).toBe(true);
  });

  it('does not let a path out of the artifact directory', async () => {
    const res = await curlFull(['--path-as-is', `${origin}/boot/artifacts/../../../../etc/passwd`]);
    expect(res.status).toBe(404);
    const encoded = await curlFull([`${origin}/boot/artifacts/..%2f..%2f..%2fetc%2fpasswd`]);
    expect(encoded.status).toBe(400);
    expect(encoded.body.toString()).toContain('/params/sha256');
  });
});

describe('64 MiB artifact', () => {
  it('streams it whole without holding it in memory, and reports bytes and time', async () => {
    // Live memory, not garbage: collect before each sample. curl is the client (another
    // process) and reads at 64 MiB/s, so a server that read ahead of it would hold the file.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage();
    let peak = 0;
    let samples = 0;
    const sampler = setInterval(() => {
      gc();
      samples++;
      const now = process.memoryUsage();
      peak = Math.max(peak, now.arrayBuffers - before.arrayBuffers, now.rss - before.rss);
    }, 50);
    const started = performance.now();
    const res = await curlFull(['--limit-rate', '64M', '-w', '%{size_download}', `${origin}/boot/artifacts/${bigSha}`], '/dev/null').finally(() => clearInterval(sampler));
    const seconds = (performance.now() - started) / 1000;
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(String(64 * MiB));
    const [event] = await observed(1);
    expect(event).toMatchObject({ step: 'http.file', status: 200, bytes: 64 * MiB });
    expect(event!.durationMs).toBeGreaterThan(0);
    console.log(`64 MiB in ${seconds.toFixed(2)} s; ${samples} samples; peak live growth (rss or buffers) ${(peak / MiB).toFixed(1)} MiB`);
    expect(samples).toBeGreaterThan(5);
    expect(peak).toBeLessThan(16 * MiB);
  });

  it('streams it intact to a second client', async () => {
    const { received, digest } = await new Promise<{ received: number; digest: string }>((resolve, reject) => {
      const request = get(`${origin}/boot/artifacts/${bigSha}`, { timeout: 30_000 }, (res) => {
        const hash = createHash('sha256');
        let n = 0;
        res.on('data', (chunk: Buffer) => {
          n += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ received: n, digest: hash.digest('hex') }));
        res.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', reject);
    });
    expect(received).toBe(64 * MiB);
    expect(digest).toBe(bigSha);
  });

  it('reports a download cut short with the bytes that went out', async () => {
    await new Promise<void>((resolve, reject) => {
      const request = get(`${origin}/boot/artifacts/${bigSha}`, { timeout: 10_000 }, (res) => {
        let n = 0;
        res.on('data', (chunk: Buffer) => {
          n += chunk.length;
          if (n >= MiB) {
            request.destroy();
            resolve();
          }
        });
      });
      request.on('error', (error) => (request.destroyed ? resolve() : reject(error)));
    });
    const [event] = await observed(1);
    expect(event).toMatchObject({ step: 'http.file', status: 200 });
    expect(event!.bytes).toBeGreaterThanOrEqual(MiB);
    expect(event!.bytes).toBeLessThan(64 * MiB);
  });
});

