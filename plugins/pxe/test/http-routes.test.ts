import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DirectBootPlan } from '@metalplane/core';
import { bootRoutes, type BootHttpEvent, type BootPlanRequest, type BootRoutesOptions } from '../src/http/index.js';

const baseUrl = 'http://10.0.0.1:8080';
const sha = 'ab'.repeat(32);
const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

let dir: string;
let app: FastifyInstance;
let events: BootHttpEvent[];
let asked: BootPlanRequest[];
let nextPlan: DirectBootPlan;
let planError: Error | null;

async function build(extra: Partial<BootRoutesOptions> = {}): Promise<FastifyInstance> {
  const instance = Fastify();
  await instance.register(bootRoutes, {
    prefix: '/boot',
    baseUrl,
    ipxeDirectory: join(dir, 'ipxe'),
    artifactDirectory: join(dir, 'artifacts'),
    plan: async (request) => {
      asked.push(request);
      if (planError) throw planError;
      return { machineId: request.mac === '52:54:00:00:00:01' ? 'm-1' : null, plan: nextPlan };
    },
    observe: (event) => {
      events.push(event);
    },
    machineByServiceTag: async (tag) => (tag === 'ABC1234' ? { mac: '52:54:00:00:00:01' } : null),
    ...extra,
  });
  return instance;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mp-http-'));
  mkdirSync(join(dir, 'artifacts'));
  mkdirSync(join(dir, 'ipxe'));
  writeFileSync(join(dir, 'artifacts', sha), content);
  writeFileSync(join(dir, 'ipxe', 'ipxe.efi'), Buffer.from('MZ-fake-efi'));
  mkdirSync(join(dir, 'ipxe', 'snponly.efi'));
  app = await build();
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  events = [];
  asked = [];
  planError = null;
  nextPlan = { kind: 'registration', kernel: 'registration/vmlinuz', initrd: ['registration/initrd.img'], cmdline: 'console=ttyS0', reason: 'unknown machine' };
});

describe('GET /boot/ipxe', () => {
  it('asks core for the plan of an unknown MAC (normalised) and answers the script', async () => {
    const res = await app.inject({ url: '/boot/ipxe?mac=52-54-00-AB-CD-EF&uuid=&serial=&arch=x86_64&platform=efi' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(asked).toEqual([{ mac: '52:54:00:ab:cd:ef', arch: 'uefi-x64', client: 'ipxe', remoteAddress: '127.0.0.1' }]);
    expect(res.body.startsWith('#!ipxe\n')).toBe(true);
    expect(res.body).toContain(`kernel ${baseUrl}/boot/registration/vmlinuz initrd=initrd0 console=ttyS0 || goto mp_failed\n`);
    expect(events).toEqual([
      expect.objectContaining({ step: 'ipxe.script', mac: '52:54:00:ab:cd:ef', machineId: null, path: '/boot/ipxe', status: 200, planKind: 'registration', bytes: Buffer.byteLength(res.body) }),
    ]);
    expect(events[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['i386', 'pcbios', 'bios'],
    ['x86_64', 'pcbios', 'bios'],
    ['x86_64', 'efi', 'uefi-x64'],
    ['arm64', 'efi', 'uefi-arm64'],
    ['arm64', '', 'uefi-arm64'],
    ['x86_64', '', 'unknown'],
    ['i386', 'efi', 'unknown'],
    ['riscv64', 'efi', 'unknown'],
    ['uefi-http', '', 'uefi-http'],
  ])('maps buildarch %s platform "%s" to %s', async (arch, platform, expected) => {
    const res = await app.inject({ url: `/boot/ipxe?mac=52:54:00:00:00:02&arch=${arch}&platform=${platform}` });
    expect(res.statusCode).toBe(200);
    expect(asked[0]?.arch).toBe(expected);
  });

  it('passes uuid (lower case) and serial, and drops placeholder values', async () => {
    await app.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:02&uuid=4C4C4544-0042-3510-8052-B7C04F4E3732&serial=AB%20123' });
    await app.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:02&uuid=00000000-0000-0000-0000-000000000000&serial=To%20Be%20Filled%20By%20O.E.M.' });
    expect(asked).toEqual([
      { mac: '52:54:00:00:00:02', arch: 'unknown', client: 'ipxe', remoteAddress: '127.0.0.1', uuid: '4c4c4544-0042-3510-8052-b7c04f4e3732', serial: 'AB 123' },
      { mac: '52:54:00:00:00:02', arch: 'unknown', client: 'ipxe', remoteAddress: '127.0.0.1' },
    ]);
  });

  it.each([
    ['', '/querystring/mac'],
    ['mac=', '/querystring/mac'],
    ['mac=52:54:00:00:00', '/querystring/mac'],
    ['mac=zz:54:00:00:00:01', '/querystring/mac'],
    ['mac=52:54:00:00:00:01&mac=52:54:00:00:00:02', '/querystring/mac'],
    ['mac=52:54:00:00:00:01&uuid=not-a-uuid', '/querystring/uuid'],
    ['mac=52:54:00:00:00:01&serial=a%0Ab', '/querystring/serial'],
    [`mac=52:54:00:00:00:01&arch=${'x'.repeat(40)}`, '/querystring/arch'],
  ])('answers 400 naming the field for "%s"', async (query, field) => {
    const res = await app.inject({ url: `/boot/ipxe?${query}` });
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: { code: string; message: string; details: { errors: { path: string }[] } } };
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.details.errors.map((e) => e.path)).toContain(field);
    expect(body.error.message).toContain(field);
    expect(asked).toEqual([]);
    expect(events).toEqual([expect.objectContaining({ step: 'ipxe.script', status: 400 })]);
  });

  it('serves each plan kind', async () => {
    const cases: [DirectBootPlan, string][] = [
      [{ kind: 'kernel', kernel: `artifact:${sha}`, initrd: [], cmdline: 'quiet', reason: 'k' }, `kernel ${baseUrl}/boot/artifacts/${sha} quiet || goto mp_failed\n`],
      [{ kind: 'script', script: 'echo custom', reason: 's' }, '#!ipxe\necho custom\n'],
      [{ kind: 'localboot', method: 'exit', reason: 'l' }, '\nexit 1\n'],
      [{ kind: 'localboot', method: 'sanboot', reason: 'l' }, '\nsanboot --no-describe --drive 0x80 ||\n'],
      [{ kind: 'hold', reason: 'operator hold' }, `chain --replace --autofree ${baseUrl}/boot/ipxe?mac=52:54:00:00:00:01&arch=bios&serial=S+1 ||\n`],
    ];
    for (const [plan, expected] of cases) {
      nextPlan = plan;
      const res = await app.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:01&arch=i386&platform=pcbios&serial=S%201' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain(expected);
    }
    expect(events.map((e) => [e.planKind, e.machineId])).toEqual([
      ['kernel', 'm-1'],
      ['script', 'm-1'],
      ['localboot', 'm-1'],
      ['localboot', 'm-1'],
      ['hold', 'm-1'],
    ]);
  });

  it('answers 404 for localboot http-404, so the firmware goes to the next boot device', async () => {
    nextPlan = { kind: 'localboot', method: 'http-404', reason: 'no boot intent: booting from disk' };
    const res = await app.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:01' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toBe('metalplane: boot from disk: no boot intent: booting from disk\n');
    expect(events).toEqual([expect.objectContaining({ status: 404, planKind: 'localboot', machineId: 'm-1' })]);
  });

  it('serves a hold script saying why when the plan cannot be written safely', async () => {
    nextPlan = { kind: 'kernel', kernel: 'k', initrd: [], cmdline: 'quiet\nshell', reason: 'k' };
    const res = await app.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:01' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('echo metalplane: this machine is on hold: metalplane cannot serve this boot plan: boot plan cmdline contains a control character');
    expect(res.body).not.toContain('\nshell\n');
    expect(events).toEqual([expect.objectContaining({ status: 200, planKind: 'kernel', error: expect.stringContaining('cmdline') })]);
  });

  it('answers 503 when core has no plan', async () => {
    planError = new Error('database is locked');
    const res = await app.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:01' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: { code: 'boot_plan_unavailable', message: expect.stringContaining('database is locked') } });
    expect(events).toEqual([expect.objectContaining({ status: 503 })]);
  });

  it('does not answer HEAD: asking for a plan records a boot', async () => {
    const res = await app.inject({ method: 'HEAD', url: '/boot/ipxe?mac=52:54:00:00:00:01' });
    expect(res.statusCode).toBe(404);
    expect(asked).toEqual([]);
  });

  it('survives an observer that throws', async () => {
    const throwing = await build({
      observe: () => {
        throw new Error('observer bug');
      },
    });
    const res = await throwing.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:01' });
    expect(res.statusCode).toBe(200);
    await throwing.close();
  });
});

describe('GET /boot/nixos/machines/<service tag>.ipxe', () => {
  it('finds the machine by service tag and serves its script', async () => {
    const res = await app.inject({ url: '/boot/nixos/machines/ABC1234.ipxe?arch=x86_64&platform=efi' });
    expect(res.statusCode).toBe(200);
    expect(asked).toEqual([{ mac: '52:54:00:00:00:01', arch: 'uefi-x64', client: 'ipxe', remoteAddress: '127.0.0.1' }]);
    expect(res.body.startsWith('#!ipxe\n')).toBe(true);
    expect(events).toEqual([expect.objectContaining({ path: '/boot/nixos/machines/ABC1234.ipxe', machineId: 'm-1', status: 200 })]);
  });

  it('answers 404 for an unknown tag and 400 for a malformed one', async () => {
    const unknown = await app.inject({ url: '/boot/nixos/machines/NOPE.ipxe' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'not_found', details: { serviceTag: 'NOPE' } } });
    for (const url of ['/boot/nixos/machines/ABC1234', '/boot/nixos/machines/..%2Fx.ipxe', '/boot/nixos/machines/%20.ipxe']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ error: { details: { errors: [{ path: '/params/service_tag' }] } } });
    }
    expect(asked).toEqual([]);
  });

  it('answers 404 when no lookup is configured', async () => {
    const bare = await build({ machineByServiceTag: undefined });
    const res = await bare.inject({ url: '/boot/nixos/machines/ABC1234.ipxe' });
    expect(res.statusCode).toBe(404);
    await bare.close();
  });
});

describe('files', () => {
  it('serves an artifact with length, validators and ranges', async () => {
    const res = await app.inject({ url: `/boot/artifacts/${sha}` });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(content)).toBe(true);
    expect(res.headers).toMatchObject({
      'content-length': '1000',
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      etag: `"${sha}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    });
    expect(res.headers['last-modified']).toMatch(/GMT$/);
    expect(events).toEqual([expect.objectContaining({ step: 'http.file', path: `/boot/artifacts/${sha}`, status: 200, bytes: 1000 })]);
  });

  it.each([
    ['bytes=0-99', 206, 'bytes 0-99/1000', 0, 100],
    ['bytes=100-', 206, 'bytes 100-999/1000', 100, 900],
    ['bytes=-500', 206, 'bytes 500-999/1000', 500, 500],
    ['bytes=-5000', 206, 'bytes 0-999/1000', 0, 1000],
    ['bytes=990-5000', 206, 'bytes 990-999/1000', 990, 10],
    ['bytes=999-999', 206, 'bytes 999-999/1000', 999, 1],
    ['bytes=1000-', 416, 'bytes */1000', 0, 0],
    ['bytes=5000-6000', 416, 'bytes */1000', 0, 0],
    ['bytes=-0', 416, 'bytes */1000', 0, 0],
    ['bytes=500-100', 200, undefined, 0, 1000],
    ['bytes=0-1,5-6', 200, undefined, 0, 1000],
    ['items=0-1', 200, undefined, 0, 1000],
    ['bytes=abc', 200, undefined, 0, 1000],
  ])('Range %s → %i %s', async (range, status, contentRange, start, length) => {
    const res = await app.inject({ url: `/boot/artifacts/${sha}`, headers: { range } });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-range']).toBe(contentRange);
    if (status !== 416) {
      expect(res.headers['content-length']).toBe(String(length));
      expect(res.rawPayload.equals(content.subarray(start, start + length))).toBe(true);
    }
    expect(events).toEqual([expect.objectContaining({ status, bytes: status === 416 ? 0 : length })]);
  });

  it('honours If-Range only when it matches', async () => {
    const fresh = await app.inject({ url: `/boot/artifacts/${sha}`, headers: { range: 'bytes=0-9', 'if-range': `"${sha}"` } });
    expect(fresh.statusCode).toBe(206);
    const stale = await app.inject({ url: `/boot/artifacts/${sha}`, headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(stale.statusCode).toBe(200);
    expect(stale.headers['content-length']).toBe('1000');
  });

  it('answers conditional requests with 304', async () => {
    const byTag = await app.inject({ url: `/boot/artifacts/${sha}`, headers: { 'if-none-match': `"x", "${sha}"` } });
    expect(byTag.statusCode).toBe(304);
    expect(byTag.body).toBe('');
    const first = await app.inject({ url: `/boot/artifacts/${sha}` });
    const byDate = await app.inject({ url: `/boot/artifacts/${sha}`, headers: { 'if-modified-since': first.headers['last-modified'] as string } });
    expect(byDate.statusCode).toBe(304);
    const changed = await app.inject({ url: `/boot/artifacts/${sha}`, headers: { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' } });
    expect(changed.statusCode).toBe(200);
  });

  it('answers HEAD with the headers and no body, ignoring Range', async () => {
    const res = await app.inject({ method: 'HEAD', url: `/boot/artifacts/${sha}`, headers: { range: 'bytes=0-9' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('1000');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.rawPayload.length).toBe(0);
    expect(events).toEqual([expect.objectContaining({ status: 200, bytes: 0 })]);
  });

  it.each([
    `/boot/artifacts/${'ab'.repeat(31)}`,
    `/boot/artifacts/${'g'.repeat(64)}`,
    '/boot/artifacts/..%2F..%2Fetc%2Fpasswd',
    `/boot/artifacts/%2E%2E%2F${'a'.repeat(58)}`,
    `/boot/artifacts/${'ab'.repeat(32)}%00`,
  ])('answers 400 naming sha256 for %s', async (url) => {
    const res = await app.inject({ url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'invalid_input', details: { errors: [{ path: '/params/sha256' }] } } });
  });

  it('never leaves the directories: dot segments are not routed', async () => {
    for (const url of ['/boot/artifacts/../../../etc/passwd', '/boot/../etc/passwd', '/boot/ipxe.efi/../../x']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain('root:');
    }
  });

  it('answers 404 naming a missing artifact, and when storage is not configured', async () => {
    const missing = 'cd'.repeat(32);
    const res = await app.inject({ url: `/boot/artifacts/${missing}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not_found', message: `${missing} not found`, details: { file: missing } } });
    const bare = await build({ artifactDirectory: undefined });
    const none = await bare.inject({ url: `/boot/artifacts/${sha}` });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toMatchObject({ error: { message: 'artifact storage is not configured' } });
    await bare.close();
  });

  it('serves the iPXE binaries by name only', async () => {
    const efi = await app.inject({ url: '/boot/ipxe.efi' });
    expect(efi.statusCode).toBe(200);
    expect(efi.body).toBe('MZ-fake-efi');
    expect(efi.headers['etag']).toMatch(/^W\/"b-[0-9a-f]+"$/);
    expect(efi.headers['cache-control']).toBe('no-cache');
    const head = await app.inject({ method: 'HEAD', url: '/boot/ipxe.efi' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('11');
    // A directory where a binary should be is not a file.
    const dirAnswer = await app.inject({ url: '/boot/snponly.efi' });
    expect(dirAnswer.statusCode).toBe(404);
    expect(dirAnswer.json()).toMatchObject({ error: { message: 'snponly.efi not found' } });
    const absent = await app.inject({ url: '/boot/snp-arm64.efi' });
    expect(absent.statusCode).toBe(404);
    const other = await app.inject({ url: '/boot/passwd' });
    expect(other.statusCode).toBe(404);
  });
});
