import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { inspect } from 'node:util';
import type { Logger } from '@metalplane/core';
import { afterEach, describe, expect, it } from 'vitest';
import { NetboxClient, netboxAuthorization, parseRetryAfter, requiredPermission } from './client.js';
import {
  NetboxAuthError,
  NetboxExhaustedError,
  NetboxNotFoundError,
  NetboxUnavailableError,
  NetboxValidationError,
} from './errors.js';

const V1 = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0';
const V2 = 'nbt_abcdefABCDEF.0123456789abcdefghijABCDEFGHIJ0123456789klmn';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

type Action =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | 'reset'
  | 'hang';

/** A real HTTP server on 127.0.0.1 whose answers the test scripts, one call at a time. */
async function scripted(answer: (req: Seen, index: number) => Action): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body };
      seen.push(entry);
      const action = answer(entry, seen.length - 1);
      if (action === 'reset') return req.socket.destroy();
      if (action === 'hang') return;
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
      res.end(action.body === undefined ? '' : JSON.stringify(action.body));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function recordingLogger(lines: string[]): Logger {
  const log = (obj: object, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(answer: (req: Seen, index: number) => Action, options: { token?: string; retries?: number; timeoutMs?: number; path?: string } = {}) {
  const server = await scripted(answer);
  const logs: string[] = [];
  const client = new NetboxClient({
    url: server.url + (options.path ?? ''),
    token: options.token ?? V1,
    retries: options.retries ?? 3,
    retryBaseMs: 2,
    timeoutMs: options.timeoutMs ?? 2000,
    logger: recordingLogger(logs),
  });
  cleanups.push(() => server.close(), () => client.close());
  return { server, client, logs };
}

describe('token header', () => {
  it.each([
    ['a v1 token', V1, `Token ${V1}`, 'v1'],
    ['a v1 token pasted with its keyword', `Token ${V1}`, `Token ${V1}`, 'v1'],
    ['a v2 token', V2, `Bearer ${V2}`, 'v2'],
    ['a v2 token pasted with its keyword and a newline from a file', `Bearer ${V2}\n`, `Bearer ${V2}`, 'v2'],
  ])('%s', (_name, token, header, version) => {
    expect(netboxAuthorization(token)).toEqual({ header, version });
  });

  it.each([
    ['too short for v1', 'abc123'],
    ['v1 length but with a symbol', `${V1.slice(0, 39)}!`],
    ['v2 without the dot', 'nbt_abcdef0123456789'],
  ])('rejects a token %s without repeating it', (_name, token) => {
    let message = '';
    try {
      netboxAuthorization(token);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/NetBox token/);
    expect(message).not.toContain(token.trim());
  });

  it('sends the header the token shape calls for', async () => {
    for (const token of [V1, V2]) {
      const { server, client } = await setup(() => ({ status: 200, body: {} }), { token });
      await client.get('/api/status/');
      expect(server.seen[0]?.authorization).toBe(token === V1 ? `Token ${V1}` : `Bearer ${V2}`);
    }
  });

  it('keeps a path prefix of the base URL', async () => {
    const { server, client } = await setup(() => ({ status: 200, body: { ok: true } }), { path: '/netbox/' });
    await client.get('/api/status/', { query: { a: 1, tag: ['x', 'y'], skip: undefined, vrf_id: null } });
    expect(server.seen[0]?.url).toBe('/netbox/api/status/?a=1&tag=x&tag=y&vrf_id=null');
  });
});

describe('retries', () => {
  it('retries a 5xx and returns the answer that follows', async () => {
    const { server, client, logs } = await setup((_, i) => (i < 2 ? { status: 502, body: { detail: 'bad gateway' } } : { status: 200, body: { ok: 1 } }));
    expect(await client.get('/api/ipam/prefixes/1/')).toEqual({ ok: 1 });
    expect(server.seen).toHaveLength(3);
    expect(logs.filter((l) => l.includes('retrying'))).toHaveLength(2);
  });

  it('honours Retry-After on 429, also for a POST (a 429 was not handled)', async () => {
    const { server, client } = await setup((_, i) => (i === 0 ? { status: 429, body: { detail: 'slow down' }, headers: { 'retry-after': '1' } } : { status: 201, body: { id: 7 } }));
    const started = Date.now();
    expect(await client.post('/api/ipam/prefixes/1/available-ips/', { status: 'active' })).toEqual({ id: 7 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(server.seen.map((s) => s.method)).toEqual(['POST', 'POST']);
  });

  it('gives up at once when Retry-After is longer than it will wait', async () => {
    const server = await scripted(() => ({ status: 503, body: { detail: 'maintenance' }, headers: { 'retry-after': '3600' } }));
    const client = new NetboxClient({ url: server.url, token: V1, retries: 5, retryBaseMs: 1, retryMaxDelayMs: 1000 });
    cleanups.push(() => server.close(), () => client.close());
    await expect(client.get('/api/status/')).rejects.toThrow(/asked to wait 3600 s/);
    expect(server.seen).toHaveLength(1);
  });

  it('retries a GET whose connection was reset (ECONNRESET)', async () => {
    const { server, client } = await setup((_, i) => (i === 0 ? 'reset' : { status: 200, body: { ok: 2 } }));
    expect(await client.get('/api/ipam/ip-addresses/')).toEqual({ ok: 2 });
    expect(server.seen).toHaveLength(2);
  });

  it('does not repeat a POST whose connection broke after it was sent, and says it may have been applied', async () => {
    const { server, client } = await setup(() => 'reset');
    const error = await client.post('/api/ipam/prefixes/1/available-ips/', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetboxUnavailableError);
    expect((error as NetboxUnavailableError).maybeApplied).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  it('retries connection refused, bounded, even for a POST', async () => {
    const { server, client } = await setup(() => ({ status: 200 }));
    await server.close();
    const error = await client.post('/api/ipam/prefixes/1/available-ips/', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetboxUnavailableError);
    expect((error as NetboxUnavailableError).attempts).toBe(4);
    expect((error as NetboxUnavailableError).maybeApplied).toBe(false);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('retries a request that timed out waiting for headers', async () => {
    const { server, client } = await setup((_, i) => (i === 0 ? 'hang' : { status: 200, body: { ok: 3 } }), { timeoutMs: 300 });
    expect(await client.get('/api/status/')).toEqual({ ok: 3 });
    expect(server.seen).toHaveLength(2);
  });

  it.each([
    [400, { address: ['Duplicate IP address found in global table: 10.0.0.5/24'], tags: ['Related object not found using the provided attributes: {"slug": "x"}'] }, NetboxValidationError, /address: Duplicate IP.*tags: Related object not found/],
    [403, { detail: 'Invalid v1 token' }, NetboxAuthError, /v1 token.*Invalid v1 token.*does not know this token/],
    [404, { detail: 'No Prefix matches the given query.' }, NetboxNotFoundError, /No Prefix matches/],
  ])('never retries a %i', async (status, body, type, message) => {
    const { server, client } = await setup(() => ({ status, body }));
    const error = await client.get('/api/ipam/prefixes/9/').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    expect(server.seen).toHaveLength(1);
  });

  it('names nested field errors (list fields, bulk bodies)', async () => {
    const { client } = await setup(() => ({ status: 400, body: [{}, { tags: [{}, ['Related object not found using the provided numeric ID: 9']] }] }));
    const error = (await client.post('/api/ipam/ip-addresses/', [{}, {}]).catch((e: unknown) => e)) as NetboxValidationError;
    expect(error.fieldErrors).toEqual([{ field: '[1].tags[1]', messages: ['Related object not found using the provided numeric ID: 9'] }]);
    expect(error.message).toMatch(/\[1\]\.tags\[1\]: Related object not found/);
  });

  it('names the field errors of a 400', async () => {
    const { client } = await setup(() => ({ status: 400, body: { dns_name: ['Only alphanumeric characters, hyphens, periods, and underscores are allowed in DNS names'] } }));
    const error = (await client.post('/api/ipam/ip-addresses/', {}).catch((e: unknown) => e)) as NetboxValidationError;
    expect(error.fieldErrors).toEqual([{ field: 'dns_name', messages: [expect.stringMatching(/DNS names/)] }]);
  });

  it('tells a missing permission from a bad token, naming the permission', async () => {
    const { client } = await setup(() => ({ status: 403, body: { detail: 'You do not have permission to perform this action.' } }), { token: V2 });
    const error = (await client.post('/api/ipam/prefixes/4/available-ips/', {}).catch((e: unknown) => e)) as NetboxAuthError;
    expect(error).toBeInstanceOf(NetboxAuthError);
    expect(error.problem).toBe('permission');
    expect(error.message).toMatch(/v2 token.*ipam\.add_ipaddress \(and ipam\.view_prefix\).*write-enabled/);
  });

  it('says that a v2 token needs NetBox 4.5 when an older NetBox cannot read the header', async () => {
    const { client } = await setup(() => ({ status: 403, body: { detail: 'Invalid token header. No credentials provided.' } }), { token: V2 });
    await expect(client.get('/api/status/')).rejects.toThrow(/v2 tokens need NetBox 4\.5/);
  });

  it('maps a 409 of available-ips to exhaustion', async () => {
    const { client } = await setup(() => ({ status: 409, body: { detail: 'Insufficient resources are available to satisfy the request' } }));
    await expect(client.post('/api/ipam/prefixes/1/available-ips/', {})).rejects.toBeInstanceOf(NetboxExhaustedError);
  });
});

describe('abort', () => {
  it('stops a request in flight when the signal aborts', async () => {
    const { client } = await setup(() => 'hang', { timeoutMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller gave up')), 50);
    const started = Date.now();
    await expect(client.get('/api/status/', { signal: controller.signal })).rejects.toThrow(/caller gave up/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops waiting between retries when the signal aborts', async () => {
    const { server, client } = await setup(() => ({ status: 503, body: { detail: 'down' }, headers: { 'retry-after': '20' } }), { retries: 3 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop now')), 100);
    const started = Date.now();
    await expect(client.get('/api/status/', { signal: controller.signal })).rejects.toThrow(/stop now/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.seen).toHaveLength(1);
  });
});

describe('pagination', () => {
  it('follows next links (absolute URLs) until the last page', async () => {
    const items = Array.from({ length: 7 }, (_, i) => ({ id: i + 1 }));
    const { server, client } = await setup((req) => {
      const url = new URL(req.url, 'http://x');
      const limit = Number(url.searchParams.get('limit'));
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const next = offset + limit < items.length ? `http://netbox.invalid${url.pathname}?limit=${limit}&offset=${offset + limit}&tag=a` : null;
      return { status: 200, body: { count: items.length, next, previous: null, results: items.slice(offset, offset + limit) } };
    });
    expect(await client.list('/api/ipam/ip-addresses/', { query: { tag: 'a' }, pageSize: 3 })).toEqual(items);
    expect(server.seen.map((s) => s.url)).toEqual([
      '/api/ipam/ip-addresses/?limit=3&tag=a',
      '/api/ipam/ip-addresses/?limit=3&offset=3&tag=a',
      '/api/ipam/ip-addresses/?limit=3&offset=6&tag=a',
    ]);
  });

  it('stops at the page bound instead of looping forever', async () => {
    const { server, client } = await setup((req) => ({ status: 200, body: { count: null, next: `http://127.0.0.1${req.url}`, previous: null, results: [{ id: 1 }] } }));
    await expect(client.list('/api/ipam/ip-addresses/', { maxPages: 4 })).rejects.toThrow(/more than 4 pages/);
    expect(server.seen).toHaveLength(4);
  });
});

describe('the token is never shown', () => {
  it('is scrubbed from error messages, logs, and inspect output', async () => {
    const { client, logs } = await setup((req) => ({ status: 500, body: { detail: `server echoed ${req.authorization}` } }), { token: V2, retries: 1 });
    const error = (await client.get('/api/status/').catch((e: unknown) => e)) as Error;
    const secret = V2.split('.')[1]!;
    const everything = [error.message, JSON.stringify(error), inspect(error, { depth: 5 }), inspect(client, { depth: 5 }), ...logs].join('\n');
    expect(everything).toContain('[REDACTED]');
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(V2);
  });
});

describe('helpers', () => {
  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it.each([
    ['GET', '/api/ipam/ip-addresses/', 'ipam.view_ipaddress'],
    ['DELETE', '/api/ipam/ip-addresses/12/', 'ipam.delete_ipaddress'],
    ['PATCH', '/api/ipam/ip-addresses/12/', 'ipam.change_ipaddress'],
    ['POST', '/api/extras/tags/', 'extras.add_tag'],
    ['POST', '/api/ipam/ip-ranges/3/available-ips/', 'ipam.add_ipaddress (and ipam.view_iprange)'],
    ['GET', '/api/dcim/mac-addresses/', 'dcim.view_macaddress'],
  ])('names the permission for %s %s', (method, path, permission) => {
    expect(requiredPermission(method, path)).toBe(permission);
  });
});
