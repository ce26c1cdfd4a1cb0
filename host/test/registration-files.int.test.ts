import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { Host } from '../src/host.js';

async function hostWithImageDirectory(imageDirectory: string): Promise<Host> {
  const loaded = resolveConfig(
    { store: { driver: 'sqlite', path: ':memory:' }, log: { level: 'silent' }, enrollment: { imageDirectory } },
    tmpdir(),
    'test',
  );
  return Host.create({ loaded, logger: pino({ level: 'silent' }) });
}

describe('registration image files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-image-'));
  const kernel = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
  let host: Host;

  beforeAll(async () => {
    mkdirSync(join(dir, 'registration'));
    writeFileSync(join(dir, 'registration', 'vmlinuz'), kernel);
    host = await hostWithImageDirectory(join(dir, 'registration'));
  });
  afterAll(async () => {
    await host.stop();
  });

  it('serves a file whole with its length, and announces it for the boot timeline', async () => {
    const served: unknown[] = [];
    const off = host.metalplane.events.on('boot.file-served', (event) => void served.push(event));
    const res = await host.server.inject({ url: '/boot/registration/vmlinuz?x=1', remoteAddress: '10.99.0.50' });
    off();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(kernel.length));
    expect(res.rawPayload.equals(kernel)).toBe(true);
    expect(served).toEqual([{ path: '/boot/registration/vmlinuz', remoteAddress: '10.99.0.50', status: 200, bytes: kernel.length, durationMs: expect.any(Number) }]);
  });

  it('serves a byte range', async () => {
    const res = await host.server.inject({ url: '/boot/registration/vmlinuz', headers: { range: 'bytes=1000-1999' } });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 1000-1999/${kernel.length}`);
    expect(res.rawPayload.equals(kernel.subarray(1000, 2000))).toBe(true);
  });

  it('never leaves its directory', async () => {
    for (const url of ['/boot/registration/../../package.json', '/boot/registration/..%2f..%2fpackage.json', '/boot/registration/%2e%2e/%2e%2e/etc/passwd', '/boot/registration/']) {
      const res = await host.server.inject({ url });
      expect([403, 404], `${url}: ${res.statusCode}`).toContain(res.statusCode);
      expect(res.body).not.toContain('root:');
      expect(res.body).not.toContain('@metalplane/host');
    }
  });

  it('says how to build the image when it is missing', async () => {
    const bare = await hostWithImageDirectory(join(dir, 'nowhere'));
    try {
      const res = await bare.server.inject({ url: '/boot/registration/vmlinuz' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: { code: 'not_found', message: expect.stringContaining('npm run build:image -w @metalplane/agent') } });
    } finally {
      await bare.stop();
    }
  });
});
