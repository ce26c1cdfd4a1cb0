import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NetboxEmulator, NetboxEmulatorOptions } from '../src/index.js';
import { startNetboxEmulator } from '../src/index.js';

/** Every request goes over real HTTP with Node's fetch (undici). */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly headers: Headers;
}

interface Call {
  readonly method?: string;
  readonly auth?: string | null;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

async function call(nb: NetboxEmulator, path: string, options: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const auth = options.auth === undefined ? nb.tokens[0]?.authorization : options.auth;
  if (auth) headers['authorization'] = auth;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const url = path.startsWith('http') ? path : `${nb.url}${path}`;
  const response = await fetch(url, { method: options.method ?? 'GET', headers, body, redirect: 'manual' });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get('content-type') ?? '').startsWith('application/json')) parsed = JSON.parse(text);
  return { status: response.status, body: parsed, text, headers: response.headers };
}

const started: NetboxEmulator[] = [];

async function emulator(options: NetboxEmulatorOptions = {}): Promise<NetboxEmulator> {
  const nb = await startNetboxEmulator({ tokens: [{ version: 2 }], ...options });
  started.push(nb);
  return nb;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((nb) => nb.stop()));
});

function results(answer: Answer): Record<string, unknown>[] {
  return (answer.body as { results: Record<string, unknown>[] }).results;
}

function addresses(answer: Answer): string[] {
  const body = answer.body as Record<string, unknown>[] | { results: Record<string, unknown>[] };
  const list = Array.isArray(body) ? body : body.results;
  return list.map((item) => item['address'] as string);
}

describe('authentication (4.6)', () => {
  let nb: NetboxEmulator;
  beforeAll(async () => {
    nb = await startNetboxEmulator({
      tokens: [
        { version: 2 },
        { version: 1 },
        { version: 2, writeEnabled: false },
        { version: 2, enabled: false },
        { version: 1, expires: new Date(Date.now() - 60_000) },
        { version: 2, permissions: ['ipam.view_ipaddress', 'ipam.add_ipaddress'] },
        { version: 2, allowedIps: ['10.9.9.0/24'] },
      ],
    });
    nb.state.addPrefix({ prefix: '192.0.2.0/24' });
  });
  afterAll(() => nb.stop());

  const tokens = (): NetboxEmulator['tokens'] => nb.tokens;
  const unknown40 = 'a'.repeat(40);

  it.each([
    ['no header', null, 'Authentication credentials were not provided.'],
    ['an unknown keyword (ignored, so anonymous)', 'Basic dXNlcjpwYXNz', 'Authentication credentials were not provided.'],
    ['an unknown v1 token', `Token ${unknown40}`, 'Invalid v1 token'],
    ['an unknown v2 key', `Bearer nbt_AAAAAAAAAAAA.${unknown40}`, 'Invalid v2 token'],
    ['a v2 token without a key', `Bearer nbt_${unknown40}`, "Invalid authorization header: Could not parse key from v2 token. Did you mean to use 'Token' instead of 'Bearer'?"],
    ['extra words', `Token ${unknown40} extra`, 'Invalid authorization header: Must be in the form "Bearer <key>.<token>" or "Token <token>"'],
    ['a keyword alone', 'Bearer', 'Invalid authorization header: Must be in the form "Bearer <key>.<token>" or "Token <token>"'],
  ])('answers 403 with the exact detail for %s', async (_name, header, message) => {
    const answer = await call(nb, '/api/ipam/prefixes/', { auth: header });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ detail: message });
    expect(answer.headers.get('content-type')).toBe('application/json');
  });

  it('accepts v1 and v2 tokens, whatever the keyword case', async () => {
    const [v2, v1] = tokens();
    for (const header of [v2?.authorization, v1?.authorization, v2?.authorization.replace('Bearer', 'bearer'), v1?.authorization.replace('Token', 'TOKEN')]) {
      const answer = await call(nb, '/api/ipam/prefixes/', { auth: header ?? null });
      expect(answer.status, header).toBe(200);
      expect(answer.headers.get('api-version')).toBe('4.6');
      expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('infers the version from the nbt_ prefix, not from the keyword', async () => {
    const [v2, v1] = tokens();
    expect((await call(nb, '/api/ipam/prefixes/', { auth: `Token nbt_${v2?.key}.${v2?.token}` })).status).toBe(200);
    expect((await call(nb, '/api/ipam/prefixes/', { auth: `Bearer ${v1?.token}` })).status).toBe(200);
  });

  it('reports a right v2 key with a wrong secret like an unknown key', async () => {
    const answer = await call(nb, '/api/ipam/prefixes/', { auth: `Bearer nbt_${tokens()[0]?.key}.${unknown40}` });
    expect(answer.body).toEqual({ detail: 'Invalid v2 token' });
  });

  it('lets a read-only token read but not write', async () => {
    const readOnly = tokens()[2]?.authorization ?? null;
    expect((await call(nb, '/api/ipam/ip-addresses/', { auth: readOnly })).status).toBe(200);
    const write = await call(nb, '/api/ipam/ip-addresses/', { auth: readOnly, method: 'POST', body: { address: '192.0.2.9/24' } });
    expect(write.status).toBe(403);
    expect(write.body).toEqual({ detail: 'You do not have permission to perform this action.' });
    expect(nb.state.ipAddresses()).toHaveLength(0);
  });

  it('refuses disabled, expired and out-of-network tokens', async () => {
    expect((await call(nb, '/api/status/', { auth: tokens()[3]?.authorization ?? null })).body).toEqual({ detail: 'Token disabled' });
    expect((await call(nb, '/api/status/', { auth: tokens()[4]?.authorization ?? null })).body).toEqual({ detail: 'Token expired' });
    expect((await call(nb, '/api/status/', { auth: tokens()[6]?.authorization ?? null })).body).toEqual({
      detail: 'Source IP 127.0.0.1 is not permitted to authenticate using this token.',
    });
  });

  it('refuses anonymous writes even where reads are open', async () => {
    const open = await emulator({ loginRequired: false, exemptViewPermissions: ['*'] });
    expect((await call(open, '/api/ipam/prefixes/', { auth: null })).status).toBe(200);
    expect((await call(open, '/api/status/', { auth: null })).status).toBe(200);
    const write = await call(open, '/api/extras/tags/', { auth: null, method: 'POST', body: { name: 'x', slug: 'x' } });
    expect(write.status).toBe(403);
    expect(write.body).toEqual({ detail: 'Authentication credentials were not provided.' });
  });

  it('checks model permissions, and hides a parent the token may not view', async () => {
    const limited = tokens()[5]?.authorization ?? null;
    const prefixes = await call(nb, '/api/ipam/prefixes/', { auth: limited });
    expect(prefixes.status).toBe(403);
    expect(prefixes.body).toEqual({ detail: 'You do not have permission to perform this action.' });
    const prefix = nb.state.prefixes()[0];
    const allocate = await call(nb, `/api/ipam/prefixes/${prefix?.id}/available-ips/`, { auth: limited, method: 'POST', body: {} });
    expect(allocate.status).toBe(404);
    expect(allocate.body).toEqual({ detail: 'No Prefix matches the given query.' });
  });

  it('records how each request authenticated', () => {
    const kinds = new Set(nb.requests().map((request) => request.auth));
    expect(kinds).toEqual(new Set(['anonymous', 'rejected', 'v1', 'v2']));
  });
});

describe('authentication before 4.5 (DRF TokenAuthentication)', () => {
  it('knows only the Token keyword and the old messages', async () => {
    const nb = await emulator({ version: '4.4.10', tokens: [{ version: 1 }] });
    expect((await call(nb, '/api/status/')).status).toBe(200);
    expect((await call(nb, '/api/status/', { auth: `Bearer nbt_AAAAAAAAAAAA.${'a'.repeat(40)}` })).body).toEqual({
      detail: 'Authentication credentials were not provided.',
    });
    expect((await call(nb, '/api/status/', { auth: 'Token' })).body).toEqual({ detail: 'Invalid token header. No credentials provided.' });
    expect((await call(nb, '/api/status/', { auth: 'Token a b' })).body).toEqual({
      detail: 'Invalid token header. Token string should not contain spaces.',
    });
    expect((await call(nb, '/api/status/', { auth: `Token ${'b'.repeat(40)}` })).body).toEqual({ detail: 'Invalid token' });
    expect(() => nb.state.addToken({ version: 2 })).toThrow(TypeError);
  });
});

describe('/api/status/', () => {
  it('has the 4.4+ keys', async () => {
    const nb = await emulator({ hostname: 'nb-1' });
    const answer = await call(nb, '/api/status/');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ 'netbox-version': '4.6.8', hostname: 'nb-1', plugins: {}, 'rq-workers-running': 1 });
    expect(Object.keys(answer.body as object)).toContain('installed_apps');
  });

  it('has the 4.2 keys on 4.2', async () => {
    const nb = await emulator({ version: '4.2.9', tokens: [{ version: 1 }] });
    const body = (await call(nb, '/api/status/')).body as Record<string, unknown>;
    expect(Object.keys(body)).toContain('installed-apps');
    expect(body['hostname']).toBeUndefined();
    expect(body['netbox-full-version']).toBeUndefined();
  });
});

describe('trailing slashes', () => {
  it('redirects a slash-less GET with 301, keeping the query', async () => {
    const nb = await emulator();
    const answer = await call(nb, '/api/ipam/ip-addresses?limit=5&q=web', { auth: null });
    expect(answer.status).toBe(301);
    expect(answer.headers.get('location')).toBe('/api/ipam/ip-addresses/?limit=5&q=web');
  });

  it('answers a slash-less write with 404 on 4.6 and a redirect before', async () => {
    const nb = await emulator();
    const write = await call(nb, '/api/ipam/ip-addresses', { method: 'POST', body: { address: '10.0.0.1/24' } });
    expect(write.status).toBe(404);
    expect(write.body).toEqual({ detail: 'Not found.' });
    const old = await emulator({ version: '4.5.3' });
    expect((await call(old, '/api/ipam/ip-addresses', { method: 'POST', body: { address: '10.0.0.1/24' } })).status).toBe(301);
    expect(nb.state.ipAddresses()).toHaveLength(0);
  });

  it('answers an unknown path with an HTML 404', async () => {
    const nb = await emulator();
    const answer = await call(nb, '/api/ipam/nothing-here/');
    expect(answer.status).toBe(404);
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
  });
});

describe('pagination', () => {
  let nb: NetboxEmulator;
  beforeAll(async () => {
    nb = await startNetboxEmulator({ tokens: [{ version: 2 }], maxPageSize: 100 });
    for (let i = 1; i <= 120; i++) nb.state.addIpAddress({ address: `10.1.${Math.floor(i / 250)}.${i % 250}/16` });
    nb.state.addIpAddress({ address: '10.2.0.1/16' });
  });
  afterAll(() => nb.stop());

  it('pages with count/next/previous and absolute URLs, and a walk sees every object once', async () => {
    const first = await call(nb, '/api/ipam/ip-addresses/?parent=10.1.0.0/16');
    expect(first.status).toBe(200);
    const body = first.body as { count: number; next: string; previous: null; results: unknown[] };
    expect(body.count).toBe(120);
    expect(body.results).toHaveLength(50);
    expect(body.previous).toBeNull();
    // DRF rebuilds the query sorted and quote_plus-encoded.
    expect(body.next).toBe(`${nb.url}/api/ipam/ip-addresses/?limit=50&offset=50&parent=10.1.0.0%2F16`);

    const seen: string[] = [];
    let next: string | null = `${nb.url}/api/ipam/ip-addresses/?parent=10.1.0.0/16&limit=40`;
    for (let pages = 0; next !== null && pages < 10; pages++) {
      const page: Answer = await call(nb, next);
      seen.push(...addresses(page));
      next = (page.body as { next: string | null }).next;
    }
    expect(next).toBeNull();
    expect(seen).toHaveLength(120);
    expect(new Set(seen).size).toBe(120);
  });

  it('links back with previous, dropping offset on the first page', async () => {
    const second = (await call(nb, '/api/ipam/ip-addresses/?limit=50&offset=50')).body as { previous: string };
    expect(second.previous).toBe(`${nb.url}/api/ipam/ip-addresses/?limit=50`);
    const third = (await call(nb, '/api/ipam/ip-addresses/?limit=50&offset=100')).body as { previous: string; next: null };
    expect(third.previous).toBe(`${nb.url}/api/ipam/ip-addresses/?limit=50&offset=50`);
    expect(third.next).toBeNull();
  });

  it.each([
    ['limit=0', 100],
    ['limit=500', 100],
    ['limit=-3', 50],
    ['limit=abc', 50],
    ['limit=7', 7],
  ])('clamps %s to %i results', async (query, expected) => {
    expect(results(await call(nb, `/api/ipam/ip-addresses/?${query}`))).toHaveLength(expected);
  });

  it('answers an empty page past the end', async () => {
    const body = (await call(nb, '/api/ipam/ip-addresses/?offset=500')).body as { count: number; results: unknown[] };
    expect(body.count).toBe(121);
    expect(body.results).toEqual([]);
  });

  it('supports 4.6 cursor pagination', async () => {
    const page = (await call(nb, '/api/ipam/ip-addresses/?start=100&limit=10')).body as { count: null; next: string; previous: null; results: { id: number }[] };
    expect(page.count).toBeNull();
    expect(page.results.map((r) => r.id)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    expect(page.next).toBe(`${nb.url}/api/ipam/ip-addresses/?limit=10&start=110`);
    const conflict = await call(nb, '/api/ipam/ip-addresses/?start=1&offset=5');
    expect(conflict.status).toBe(400);
    expect(conflict.body).toEqual(["'start' and 'offset' are mutually exclusive."]);
  });
});

describe('available-ips GET', () => {
  it.each([
    ['192.0.2.0/29', false, ['192.0.2.1/29', '192.0.2.2/29', '192.0.2.3/29', '192.0.2.4/29', '192.0.2.5/29', '192.0.2.6/29']],
    ['192.0.2.0/29', true, ['192.0.2.0/29', '192.0.2.1/29', '192.0.2.2/29', '192.0.2.3/29', '192.0.2.4/29', '192.0.2.5/29', '192.0.2.6/29', '192.0.2.7/29']],
    ['192.0.2.0/31', false, ['192.0.2.0/31', '192.0.2.1/31']],
    ['192.0.2.9/32', false, ['192.0.2.9/32']],
    ['2001:db8::/126', false, ['2001:db8::1/126', '2001:db8::2/126', '2001:db8::3/126']],
    ['2001:db8::/127', false, ['2001:db8::/127', '2001:db8::1/127']],
  ])('%s (pool: %s) offers exactly the usable addresses', async (prefix, isPool, expected) => {
    const nb = await emulator();
    const { id } = nb.state.addPrefix({ prefix, isPool });
    const answer = await call(nb, `/api/ipam/prefixes/${id}/available-ips/`);
    expect(answer.status).toBe(200);
    expect(Array.isArray(answer.body)).toBe(true);
    expect(addresses(answer)).toEqual(expected);
    expect((answer.body as { family: number; vrf: null }[])[0]).toMatchObject({ family: prefix.includes(':') ? 6 : 4, vrf: null });
  });

  it('is a plain list limited by limit (default 50, 0 = MAX_PAGE_SIZE, capped)', async () => {
    const nb = await emulator({ maxPageSize: 200 });
    const { id } = nb.state.addPrefix({ prefix: '2001:db8:1::/64' });
    const path = `/api/ipam/prefixes/${id}/available-ips/`;
    expect(addresses(await call(nb, path))).toHaveLength(50);
    expect(addresses(await call(nb, `${path}?limit=3`))).toEqual(['2001:db8:1::1/64', '2001:db8:1::2/64', '2001:db8:1::3/64']);
    expect(addresses(await call(nb, `${path}?limit=0`))).toHaveLength(200);
    expect(addresses(await call(nb, `${path}?limit=100000`))).toHaveLength(200);
    expect(addresses(await call(nb, `${path}?limit=x`))).toHaveLength(50);
  });

  it('skips used addresses of the same VRF and populated ranges, not those of another VRF', async () => {
    const nb = await emulator();
    const blue = nb.state.addVrf({ name: 'blue', rd: '65000:1' });
    const { id } = nb.state.addPrefix({ prefix: '10.0.0.0/28' });
    nb.state.addIpAddress({ address: '10.0.0.1/28' });
    nb.state.addIpAddress({ address: '10.0.0.3/32' });
    nb.state.addIpAddress({ address: '10.0.0.2/28', vrf: blue.id });
    nb.state.addIpRange({ startAddress: '10.0.0.5/28', endAddress: '10.0.0.9/28', markPopulated: true });
    const answer = await call(nb, `/api/ipam/prefixes/${id}/available-ips/`);
    expect(addresses(answer)).toEqual(['10.0.0.2/28', '10.0.0.4/28', '10.0.0.10/28', '10.0.0.11/28', '10.0.0.12/28', '10.0.0.13/28', '10.0.0.14/28']);
  });

  it('counts every VRF in a global container prefix', async () => {
    const nb = await emulator();
    const blue = nb.state.addVrf({ name: 'blue' });
    const { id } = nb.state.addPrefix({ prefix: '10.0.0.0/30', status: 'container' });
    nb.state.addIpAddress({ address: '10.0.0.1/30', vrf: blue.id });
    expect(addresses(await call(nb, `/api/ipam/prefixes/${id}/available-ips/`))).toEqual(['10.0.0.2/30']);
  });

  it('gives the parent VRF and an empty list when exhausted', async () => {
    const nb = await emulator();
    const vrf = nb.state.addVrf({ name: 'red', rd: '65000:2' });
    const { id } = nb.state.addPrefix({ prefix: '10.0.0.0/30', vrf: vrf.id });
    const first = (await call(nb, `/api/ipam/prefixes/${id}/available-ips/`)).body as { vrf: { id: number; name: string; rd: string } }[];
    expect(first[0]?.vrf).toMatchObject({ id: vrf.id, name: 'red', rd: '65000:2', display: 'red (65000:2)' });
    nb.state.addIpAddress({ address: '10.0.0.1/30', vrf: vrf.id });
    nb.state.addIpAddress({ address: '10.0.0.2/30', vrf: vrf.id });
    const empty = await call(nb, `/api/ipam/prefixes/${id}/available-ips/`);
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual([]);
  });

  it('answers 404 for an unknown parent and 500 for a non-numeric one', async () => {
    const nb = await emulator();
    const missing = await call(nb, '/api/ipam/prefixes/999/available-ips/');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ detail: 'No Prefix matches the given query.' });
    const range = await call(nb, '/api/ipam/ip-ranges/999/available-ips/');
    expect(range.body).toEqual({ detail: 'No IPRange matches the given query.' });
    const bogus = await call(nb, '/api/ipam/prefixes/abc/available-ips/');
    expect(bogus.status).toBe(500);
    expect(bogus.body).toMatchObject({ exception: 'ValueError', error: "Field 'id' expected a number but got 'abc'." });
  });
});

describe('available-ips POST', () => {
  let nb: NetboxEmulator;
  let prefixId: number;
  beforeAll(async () => {
    nb = await startNetboxEmulator({ tokens: [{ version: 2 }] });
    nb.state.addTag({ name: 'managed-by=metalplane', slug: 'managed-by-metalplane' });
  });
  afterAll(() => nb.stop());
  beforeAll(() => {
    prefixId = nb.state.addPrefix({ prefix: '192.0.2.0/29' }).id;
  });

  const path = (): string => `/api/ipam/prefixes/${prefixId}/available-ips/`;

  it('creates one address from a single object and answers the object', async () => {
    const answer = await call(nb, path(), {
      method: 'POST',
      body: { description: 'web-1', dns_name: 'Web-1.Example.org', status: 'reserved', tags: [{ slug: 'managed-by-metalplane' }], address: '8.8.8.8/8' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      address: '192.0.2.1/29',
      family: { value: 4, label: 'IPv4' },
      status: { value: 'reserved', label: 'Reserved' },
      dns_name: 'web-1.example.org',
      description: 'web-1',
      vrf: null,
      tags: [{ slug: 'managed-by-metalplane', name: 'managed-by=metalplane', color: '9e9e9e' }],
    });
    expect((answer.body as { url: string }).url).toBe(`${nb.url}/api/ipam/ip-addresses/${(answer.body as { id: number }).id}/`);
  });

  it('creates several from a list and answers a list', async () => {
    const answer = await call(nb, path(), { method: 'POST', body: [{ description: 'a' }, { description: 'b' }] });
    expect(answer.status).toBe(201);
    expect(addresses(answer)).toEqual(['192.0.2.2/29', '192.0.2.3/29']);
  });

  it('answers an empty list with an empty list', async () => {
    const answer = await call(nb, path(), { method: 'POST', body: [] });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual([]);
  });

  it('is all-or-nothing: 409 with NetBox body when there are not enough', async () => {
    const before = nb.state.ipAddresses().length;
    const answer = await call(nb, path(), { method: 'POST', body: [{}, {}, {}, {}] });
    expect(answer.status).toBe(409);
    expect(answer.body).toEqual({ detail: 'Insufficient resources are available to satisfy the request' });
    expect(nb.state.ipAddresses()).toHaveLength(before);
  });

  it('reports field errors as a dict for one object and positionally for a list', async () => {
    const single = await call(nb, path(), { method: 'POST', body: { status: 'bogus' } });
    expect(single.status).toBe(400);
    expect(single.body).toEqual({ status: ['"bogus" is not a valid choice.'] });
    const list = await call(nb, path(), { method: 'POST', body: [{}, { tags: [{ slug: 'nope' }] }] });
    expect(list.status).toBe(400);
    expect(list.body).toEqual([{}, { tags: [["Related object not found using the provided attributes: {'slug': 'nope'}"]] }]);
    expect(nb.state.ipAddresses()).toHaveLength(3);
  });

  it('accepts prefix_length (4.6) and validates it positionally', async () => {
    const bad = await call(nb, path(), { method: 'POST', body: { prefix_length: 20 } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual([{ prefix_length: ['Prefix length must be greater than or equal to the parent mask length (29)'] }]);
    const host = await call(nb, path(), { method: 'POST', body: { prefix_length: 32 } });
    expect(host.status).toBe(201);
    expect((host.body as { address: string }).address).toBe('192.0.2.4/32');
  });

  it('allocates IPv6 and from IP ranges', async () => {
    const v6 = nb.state.addPrefix({ prefix: '2001:db8:42::/64' });
    const first = await call(nb, `/api/ipam/prefixes/${v6.id}/available-ips/`, { method: 'POST', body: {} });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ address: '2001:db8:42::1/64', family: { value: 6, label: 'IPv6' } });

    const range = nb.state.addIpRange({ startAddress: '198.51.100.10/24', endAddress: '198.51.100.12/24' });
    nb.state.addIpAddress({ address: '198.51.100.10/24' });
    const listed = await call(nb, `/api/ipam/ip-ranges/${range.id}/available-ips/`);
    expect(addresses(listed)).toEqual(['198.51.100.11/24', '198.51.100.12/24']);
    const made = await call(nb, `/api/ipam/ip-ranges/${range.id}/available-ips/`, { method: 'POST', body: [{}, {}] });
    expect(addresses(made)).toEqual(['198.51.100.11/24', '198.51.100.12/24']);
    const full = await call(nb, `/api/ipam/ip-ranges/${range.id}/available-ips/`, { method: 'POST', body: {} });
    expect(full.status).toBe(409);
    const populated = nb.state.addIpRange({ startAddress: '198.51.100.50/24', endAddress: '198.51.100.60/24', markPopulated: true });
    expect((await call(nb, `/api/ipam/ip-ranges/${populated.id}/available-ips/`)).body).toEqual([]);
  });
});

describe('ip-addresses', () => {
  it('creates, rejects duplicates, patches, and deletes', async () => {
    const nb = await emulator();
    nb.state.addTag({ name: 'a', slug: 'a' });
    nb.state.addTag({ name: 'b', slug: 'b' });
    const created = await call(nb, '/api/ipam/ip-addresses/', { method: 'POST', body: { address: '192.0.2.10/24', tags: [{ slug: 'a' }] } });
    expect(created.status).toBe(201);
    const id = (created.body as { id: number }).id;
    expect(created.headers.get('etag')).toMatch(/^W\/"\d{4}-/);

    const duplicate = await call(nb, '/api/ipam/ip-addresses/', { method: 'POST', body: { address: '192.0.2.10/32' } });
    expect(duplicate.status).toBe(400);
    expect(duplicate.body).toEqual({ address: ['Duplicate IP address found in global table: 192.0.2.10/24'] });

    const patched = await call(nb, `/api/ipam/ip-addresses/${id}/`, {
      method: 'PATCH',
      body: { tags: [{ slug: 'b' }], dns_name: 'HOST.example', status: 'deprecated' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ dns_name: 'host.example', status: { value: 'deprecated', label: 'Deprecated' } });
    expect((patched.body as { tags: { slug: string }[] }).tags.map((t) => t.slug)).toEqual(['b']);

    const stale = await call(nb, `/api/ipam/ip-addresses/${id}/`, { method: 'PATCH', body: { description: 'x' }, headers: { 'if-match': 'W/"2000-01-01T00:00:00+00:00"' } });
    expect(stale.status).toBe(412);

    const deleted = await call(nb, `/api/ipam/ip-addresses/${id}/`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const gone = await call(nb, `/api/ipam/ip-addresses/${id}/`);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ detail: 'No IPAddress matches the given query.' });
    expect((await call(nb, '/api/ipam/ip-addresses/abc/')).body).toEqual({ detail: 'Not found.' });
  });

  it('validates fields like NetBox', async () => {
    const nb = await emulator();
    const cases: [unknown, unknown][] = [
      [{}, { address: ['This field is required.'] }],
      [{ address: 'nope' }, { address: ['Invalid IP address format: nope'] }],
      [{ address: '10.0.0.1/0' }, { address: ['Cannot create IP address with /0 mask.'] }],
      [{ address: '10.0.0.1/24', status: 'slaac' }, { status: ['Only IPv6 addresses can be assigned SLAAC status'] }],
      [{ address: '10.0.0.1/24', vrf: 42 }, { vrf: ['Related object not found using the provided numeric ID: 42'] }],
      [{ address: '10.0.0.1/24', vrf: 'blue' }, { vrf: ['Related objects must be referenced by numeric ID or by dictionary of attributes. Received an unrecognized value: blue'] }],
      [{ address: '10.0.0.1/24', dns_name: 'bad name' }, { dns_name: ['Only alphanumeric characters, asterisks, hyphens, periods, and underscores are allowed in DNS names'] }],
      [{ address: '10.0.0.1/24', custom_fields: { owner: 'x' } }, { __all__: ["Unknown field name 'owner' in custom field data."] }],
    ];
    for (const [body, errors] of cases) {
      const answer = await call(nb, '/api/ipam/ip-addresses/', { method: 'POST', body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body, JSON.stringify(body)).toEqual(errors);
    }
    expect(nb.state.ipAddresses()).toHaveLength(0);
  });

  it('refuses a network ID or broadcast address on an interface', async () => {
    const nb = await emulator();
    const device = nb.state.addDevice({ name: 'node-1' });
    const iface = nb.state.addInterface({ device: device.id, name: 'eth0' });
    const network = await call(nb, '/api/ipam/ip-addresses/', {
      method: 'POST',
      body: { address: '10.0.0.0/24', assigned_object_type: 'dcim.interface', assigned_object_id: iface.id },
    });
    expect(network.body).toEqual({ __all__: ['10.0.0.0 is a network ID, which may not be assigned to an interface.'] });
    const ok = await call(nb, '/api/ipam/ip-addresses/', {
      method: 'POST',
      body: { address: '10.0.0.5/24', assigned_object_type: 'dcim.interface', assigned_object_id: iface.id },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ assigned_object: { id: iface.id, name: 'eth0', device: { id: device.id, name: 'node-1' } } });
  });

  it('bulk-creates (positional errors) and bulk-deletes', async () => {
    const nb = await emulator();
    const bad = await call(nb, '/api/ipam/ip-addresses/', { method: 'POST', body: [{ address: '10.0.0.1/24' }, { address: 'x' }] });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual([{}, { address: ['Invalid IP address format: x'] }]);
    const made = await call(nb, '/api/ipam/ip-addresses/', { method: 'POST', body: [{ address: '10.0.0.1/24' }, { address: '10.0.0.2/24' }] });
    expect(made.status).toBe(201);
    const ids = (made.body as { id: number }[]).map((ip) => ({ id: ip.id }));
    const removed = await call(nb, '/api/ipam/ip-addresses/', { method: 'DELETE', body: [...ids, { id: 9999 }] });
    expect(removed.status).toBe(204);
    expect(nb.state.ipAddresses()).toHaveLength(0);
  });

  it('answers 415 for a non-JSON body and 400 for broken JSON', async () => {
    const nb = await emulator();
    const text = await call(nb, '/api/ipam/ip-addresses/', { method: 'POST', body: 'address=1', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body).toEqual({ detail: 'Unsupported media type "text/plain" in request.' });
    const broken = await call(nb, '/api/ipam/ip-addresses/', { method: 'POST', body: '{"address":' });
    expect(broken.status).toBe(400);
    expect((broken.body as { detail: string }).detail).toMatch(/^JSON parse error - /);
  });
});

describe('filters', () => {
  let nb: NetboxEmulator;
  beforeAll(async () => {
    nb = await startNetboxEmulator({ tokens: [{ version: 2 }] });
    const blue = nb.state.addVrf({ name: 'blue' });
    nb.state.addPrefix({ prefix: '10.0.0.0/24', description: 'servers' });
    nb.state.addPrefix({ prefix: '10.0.0.0/24', vrf: blue.id });
    nb.state.addPrefix({ prefix: '10.0.1.0/24' });
    const device = nb.state.addDevice({ name: 'node-1' });
    const iface = nb.state.addInterface({ device: device.id, name: 'eth0' });
    nb.state.addIpAddress({ address: '10.0.0.5/24', tags: ['managed', 'owner-a'], description: 'web', dnsName: 'web.example' });
    nb.state.addIpAddress({ address: '10.0.0.6/24', tags: ['managed'], assignedInterface: iface.id });
    nb.state.addIpAddress({ address: '10.0.0.5/32', vrf: blue.id });
    nb.state.addIpAddress({ address: '10.0.1.7/24', description: 'Web frontend' });
  });
  afterAll(() => nb.stop());

  const list = async (query: string): Promise<string[]> => addresses(await call(nb, `/api/ipam/ip-addresses/?${query}`));

  it('filters ip-addresses the way NetBox does', async () => {
    expect(await list('address=10.0.0.5')).toEqual(['10.0.0.5/24', '10.0.0.5/32']);
    expect(await list('address=10.0.0.5/24')).toEqual(['10.0.0.5/24']);
    expect(await list('address=garbage')).toEqual([]);
    // PostgreSQL inet order: common leading bits, then mask length, then the address.
    expect(await list('parent=10.0.0.0/24')).toEqual(['10.0.0.5/24', '10.0.0.6/24', '10.0.0.5/32']);
    expect(await list('parent=10.0.0.0/24&vrf_id=null')).toEqual(['10.0.0.5/24', '10.0.0.6/24']);
    expect(await list('tag=managed')).toEqual(['10.0.0.5/24', '10.0.0.6/24']);
    expect(await list('tag=managed&tag=owner-a')).toEqual(['10.0.0.5/24']);
    expect(await list('description=web')).toEqual(['10.0.0.5/24']);
    expect(await list('description__ic=web')).toEqual(['10.0.0.5/24', '10.0.1.7/24']);
    expect(await list('dns_name=web.example')).toEqual(['10.0.0.5/24']);
    expect(await list('assigned_object_id=1')).toEqual(['10.0.0.6/24']);
    expect(await list('id=1&id=4')).toEqual(['10.0.0.5/24', '10.0.1.7/24']);
    expect(await list('q=frontend')).toEqual(['10.0.1.7/24']);
    expect(await list('unknown_filter=1')).toHaveLength(4);
  });

  it('answers 400 for invalid filter values', async () => {
    const tag = await call(nb, '/api/ipam/ip-addresses/?tag=nope');
    expect(tag.status).toBe(400);
    expect(tag.body).toEqual({ tag: ['Select a valid choice. nope is not one of the available choices.'] });
    expect((await call(nb, '/api/ipam/ip-addresses/?vrf_id=99')).body).toEqual({
      vrf_id: ['Select a valid choice. 99 is not one of the available choices.'],
    });
    expect((await call(nb, '/api/ipam/ip-addresses/?id=abc')).body).toEqual({ id: ['Enter a whole number.'] });
  });

  it('filters prefixes by prefix, vrf_id, id and q, and retrieves one', async () => {
    const prefixes = async (query: string): Promise<number[]> =>
      results(await call(nb, `/api/ipam/prefixes/?${query}`)).map((p) => p['id'] as number);
    expect(await prefixes('prefix=10.0.0.0/24')).toEqual([1, 2]);
    expect(await prefixes('prefix=10.0.0.0/24&vrf_id=1')).toEqual([2]);
    expect(await prefixes('id=3')).toEqual([3]);
    expect(await prefixes('q=servers')).toEqual([1]);
    expect(await prefixes('contains=10.0.1.9')).toEqual([3]);
    const one = await call(nb, '/api/ipam/prefixes/1/');
    expect(one.body).toMatchObject({ id: 1, prefix: '10.0.0.0/24', status: { value: 'active', label: 'Active' }, is_pool: false, tags: [], custom_fields: {} });
    expect((await call(nb, '/api/ipam/prefixes/1/?brief=1')).body).toEqual({
      id: 1,
      url: `${nb.url}/api/ipam/prefixes/1/`,
      display: '10.0.0.0/24',
      family: { value: 4, label: 'IPv4' },
      prefix: '10.0.0.0/24',
      description: 'servers',
      _depth: 0,
    });
    expect((await call(nb, '/api/ipam/prefixes/77/')).body).toEqual({ detail: 'No Prefix matches the given query.' });
  });
});

describe('tags', () => {
  it('creates, lists by slug and rejects duplicates', async () => {
    const nb = await emulator();
    const created = await call(nb, '/api/extras/tags/', { method: 'POST', body: { name: 'managed-by=metalplane', slug: 'managed-by-metalplane', color: '00ff00' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'managed-by=metalplane', slug: 'managed-by-metalplane', color: '00ff00', tagged_items: 0 });
    const again = await call(nb, '/api/extras/tags/', { method: 'POST', body: { name: 'other', slug: 'managed-by-metalplane' } });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ slug: ['tag with this slug already exists.'] });
    const missing = await call(nb, '/api/extras/tags/', { method: 'POST', body: { name: 'x' } });
    expect(missing.body).toEqual({ slug: ['This field is required.'] });
    expect(results(await call(nb, '/api/extras/tags/?slug=managed-by-metalplane')).map((t) => t['id'])).toEqual([
      (created.body as { id: number }).id,
    ]);
    expect(results(await call(nb, '/api/extras/tags/?slug=nope'))).toEqual([]);
  });
});

describe('DCIM: MAC addresses, interfaces and devices', () => {
  it('finds a MAC in any notation through mac-addresses and interfaces (4.2+)', async () => {
    const nb = await emulator();
    const device = nb.state.addDevice({ name: 'node-1', serial: 'SN1' });
    const iface = nb.state.addInterface({ device: device.id, name: 'eth0', macAddress: 'aa:bb:cc:00:11:22' });
    const macs = await call(nb, '/api/dcim/mac-addresses/?mac_address=AA-BB-CC-00-11-22');
    expect(results(macs)).toHaveLength(1);
    expect(results(macs)[0]).toMatchObject({
      mac_address: 'AA:BB:CC:00:11:22',
      assigned_object_type: 'dcim.interface',
      assigned_object_id: iface.id,
      assigned_object: { id: iface.id, name: 'eth0', device: { id: device.id, name: 'node-1' } },
    });
    expect(results(await call(nb, '/api/dcim/mac-addresses/?mac_address=not-a-mac'))).toEqual([]);
    const ifaces = await call(nb, '/api/dcim/interfaces/?mac_address=aabb.cc00.1122');
    expect(results(ifaces)).toHaveLength(1);
    expect(results(ifaces)[0]).toMatchObject({ id: iface.id, mac_address: 'AA:BB:CC:00:11:22', primary_mac_address: { mac_address: 'AA:BB:CC:00:11:22' } });
    expect(results(await call(nb, `/api/dcim/interfaces/?device_id=${device.id}`))).toHaveLength(1);
    expect((await call(nb, '/api/dcim/interfaces/?device_id=99')).status).toBe(400);
    const retrieved = await call(nb, `/api/dcim/devices/${device.id}/`);
    expect(retrieved.body).toMatchObject({ id: device.id, name: 'node-1', serial: 'SN1', status: { value: 'active', label: 'Active' }, interface_count: 1 });
    expect((await call(nb, '/api/dcim/devices/99/')).body).toEqual({ detail: 'No Device matches the given query.' });
  });

  it('creates a MAC and sets it as primary in two calls', async () => {
    const nb = await emulator();
    const device = nb.state.addDevice({ name: 'node-2' });
    const iface = nb.state.addInterface({ device: device.id, name: 'eth1' });
    const mac = await call(nb, '/api/dcim/mac-addresses/', {
      method: 'POST',
      body: { mac_address: '02:00:00:00:00:01', assigned_object_type: 'dcim.interface', assigned_object_id: iface.id },
    });
    expect(mac.status).toBe(201);
    const patched = await call(nb, `/api/dcim/interfaces/${iface.id}/`, { method: 'PATCH', body: { primary_mac_address: (mac.body as { id: number }).id } });
    expect(patched.body).toMatchObject({ mac_address: '02:00:00:00:00:01' });
  });

  it('has no mac-addresses endpoint before 4.2; interfaces filter on their own column', async () => {
    const nb = await emulator({ version: '4.1.11', tokens: [{ version: 1 }] });
    const device = nb.state.addDevice({ name: 'old' });
    nb.state.addInterface({ device: device.id, name: 'eth0', macAddress: '00:1a:2b:3c:4d:5e' });
    expect((await call(nb, '/api/dcim/mac-addresses/')).status).toBe(404);
    const ifaces = await call(nb, '/api/dcim/interfaces/?mac_address=00:1A:2B:3C:4D:5E');
    expect(results(ifaces)).toHaveLength(1);
    expect(results(ifaces)[0]?.['primary_mac_address']).toBeUndefined();
  });
});

describe('faults', () => {
  it('fails every n-th request with NetBox 500 bodies', async () => {
    const nb = await emulator();
    nb.faults.set({ status5xx: { every: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(nb, '/api/status/')).status);
    expect(statuses).toEqual([200, 200, 500, 200, 200, 500]);
    const failed = nb.requests().filter((r) => r.fault === 'status');
    expect(failed).toHaveLength(2);
    nb.faults.set({ status5xx: { count: 1, status: 502 } });
    const gateway = await call(nb, '/api/status/');
    expect(gateway.status).toBe(502);
    expect(gateway.text).toContain('502 Bad Gateway');
    nb.faults.clear();
    expect((await call(nb, '/api/status/')).status).toBe(200);
  });

  it('can lose the answer after committing (phase "after")', async () => {
    const nb = await emulator();
    const { id } = nb.state.addPrefix({ prefix: '10.0.0.0/24' });
    nb.faults.set({ status5xx: { count: 1, phase: 'after' }, match: { method: 'POST' } });
    const lost = await call(nb, `/api/ipam/prefixes/${id}/available-ips/`, { method: 'POST', body: {} });
    expect(lost.status).toBe(500);
    expect(lost.body).toMatchObject({ exception: 'OperationalError', netbox_version: '4.6.8' });
    expect(nb.state.ipAddresses().map((ip) => ip.address)).toEqual(['10.0.0.1/24']);
  });

  it('adds latency, answers 429 with Retry-After, and drops connections', async () => {
    const nb = await emulator();
    nb.faults.set({ latencyMs: 120 });
    const t0 = performance.now();
    await call(nb, '/api/status/');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);

    nb.faults.set({ status429: { count: 1, retryAfterSeconds: 2 } });
    const limited = await call(nb, '/api/status/');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');

    nb.faults.set({ dropConnections: 1 });
    await expect(call(nb, '/api/status/')).rejects.toThrow(/fetch failed/);
    expect((await call(nb, '/api/status/')).status).toBe(200);
    expect(nb.faults.stats()).toMatchObject({ dropped: 1, matched: 2 });
    expect(nb.requests().some((r) => r.status === 'dropped')).toBe(true);
  });

  it('goes down (connection refused) and comes back on the same port with its data', async () => {
    const nb = await emulator();
    const port = nb.port;
    nb.state.addPrefix({ prefix: '10.0.0.0/24' });
    await nb.faults.down();
    expect(nb.faults.isDown).toBe(true);
    const error = await call(nb, '/api/status/').catch((e: unknown) => e);
    expect(((error as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
    await nb.faults.up();
    expect(nb.port).toBe(port);
    expect((await call(nb, '/api/status/')).status).toBe(200);
    expect(results(await call(nb, '/api/ipam/prefixes/'))).toHaveLength(1);
  });

  it('loses the answer but keeps the write when the connection drops after handling', async () => {
    const nb = await emulator();
    const { id } = nb.state.addPrefix({ prefix: '10.0.0.0/24' });
    nb.faults.set({ dropConnections: { count: 1, phase: 'after' } });
    await expect(call(nb, `/api/ipam/prefixes/${id}/available-ips/`, { method: 'POST', body: {} })).rejects.toThrow(/fetch failed/);
    expect(nb.state.ipAddresses().map((ip) => ip.address)).toEqual(['10.0.0.1/24']);
  });

  it('commits nothing for a request in flight when it goes down, and stops promptly', async () => {
    const nb = await emulator();
    const { id } = nb.state.addPrefix({ prefix: '10.0.0.0/24' });
    nb.faults.set({ latencyMs: 10_000 });
    const pending = call(nb, `/api/ipam/prefixes/${id}/available-ips/`, { method: 'POST', body: {} }).catch((e: unknown) => e);
    for (let i = 0; i < 100 && nb.requests().length === 0 && nb.faults.stats().matched === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await nb.faults.down();
    expect(await pending).toBeInstanceOf(Error);
    await nb.faults.up();
    nb.faults.clear();
    expect(nb.state.ipAddresses()).toEqual([]);
    nb.faults.set({ latencyMs: 10_000 });
    const second = call(nb, '/api/status/').catch((e: unknown) => e);
    for (let i = 0; i < 100 && nb.faults.stats().matched === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await nb.stop();
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(await second).toBeInstanceOf(Error);
  });

  it('listens on a requested port', async () => {
    const first = await emulator();
    const port = first.port;
    await first.stop();
    const second = await emulator({ port });
    expect(second.url).toBe(`http://127.0.0.1:${port}`);
    expect((await call(second, '/api/status/')).status).toBe(200);
  });

  it('rejects an invalid fault configuration', async () => {
    const nb = await emulator();
    expect(() => nb.faults.set({ status5xx: { every: 0 } })).toThrow(TypeError);
  });
});

describe('concurrent available-ips POSTs (NetBox issue #2519)', () => {
  async function allocateConcurrently(options: NetboxEmulatorOptions): Promise<NetboxEmulator> {
    const nb = await emulator(options);
    const { id } = nb.state.addPrefix({ prefix: '10.20.0.0/24' });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(nb, `/api/ipam/prefixes/${id}/available-ips/`, { method: 'POST', body: { description: `claim-${i}` } })),
    );
    expect(answers.map((a) => a.status)).toEqual(new Array(50).fill(201));
    expect(nb.state.ipAddresses()).toHaveLength(50);
    return nb;
  }

  it('hands out duplicates when the emulator races like NetBox before its advisory lock', async () => {
    const nb = await allocateConcurrently({ raceAvailableIps: true, raceWindowMs: 20 });
    const duplicates = nb.state.duplicateAddresses();
    expect(duplicates.length).toBeGreaterThan(0);
    expect(new Set(nb.state.ipAddresses().map((ip) => ip.host)).size).toBeLessThan(50);
  });

  it('never hands out a duplicate with the lock (the default)', async () => {
    const nb = await allocateConcurrently({});
    expect(nb.state.duplicateAddresses()).toEqual([]);
    expect(new Set(nb.state.ipAddresses().map((ip) => ip.host)).size).toBe(50);
  });
});
