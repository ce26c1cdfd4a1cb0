import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@metalplane/core';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseStore, OFFER_HOLD_MS, type Pool } from './leases.js';
import { ipToInt } from './net.js';

const pool: Pool = { start: ipToInt('10.0.0.10'), end: ipToInt('10.0.0.12'), exclude: new Set([ipToInt('10.0.0.11')]) };
const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-leases-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function store(file?: string) {
  let now = 1_000_000;
  const leases = new LeaseStore({ logger: silentLogger, now: () => now, ...(file ? { file } : {}) });
  return { leases, advance: (ms: number) => (now += ms) };
}

describe('LeaseStore', () => {
  it('offers free addresses in order, skipping excluded ones, and nothing when exhausted', () => {
    const { leases } = store();
    expect(leases.offer('a', pool)).toBe('10.0.0.10');
    expect(leases.offer('b', pool)).toBe('10.0.0.12');
    expect(leases.offer('c', pool)).toBeUndefined();
    expect(leases.offer('a', pool)).toBe('10.0.0.10');
  });

  it('honours a requested address when free', () => {
    const { leases } = store();
    expect(leases.offer('a', pool, '10.0.0.12')).toBe('10.0.0.12');
    expect(leases.offer('b', pool, '10.0.0.12')).toBe('10.0.0.10');
    expect(leases.offer('c', pool, '10.0.0.11')).toBeUndefined();
  });

  it('lets an unaccepted offer lapse', () => {
    const { leases, advance } = store();
    leases.offer('a', pool);
    leases.offer('b', pool);
    advance(OFFER_HOLD_MS + 1);
    expect(leases.offer('c', pool)).toBe('10.0.0.10');
  });

  it('binds only the client\'s own or free addresses', async () => {
    const { leases } = store();
    expect(await leases.bind('a', '10.0.0.10', pool, 60)).toBe(true);
    expect(await leases.bind('b', '10.0.0.10', pool, 60)).toBe(false);
    expect(await leases.bind('b', '10.0.0.11', pool, 60)).toBe(false);
    expect(await leases.bind('b', '10.0.0.99', pool, 60)).toBe(false);
    expect(await leases.bind('a', '10.0.0.10', pool, 60)).toBe(true);
  });

  it('frees on release and holds a declined address back for a while', async () => {
    const { leases, advance } = store();
    await leases.bind('a', '10.0.0.10', pool, 60);
    expect(await leases.release('b', '10.0.0.10')).toBe(false);
    expect(await leases.release('a', '10.0.0.10')).toBe(true);
    expect(leases.offer('b', pool)).toBe('10.0.0.10');
    await leases.bind('b', '10.0.0.10', pool, 60);
    expect(await leases.decline('b', '10.0.0.10', 100)).toBe(true);
    expect(leases.offer('c', pool)).toBe('10.0.0.12');
    expect(leases.offer('d', pool)).toBeUndefined();
    advance(100_001);
    expect(leases.offer('d', pool)).toBe('10.0.0.10');
  });

  it('writes the lease file atomically and reads it back', async () => {
    const dir = tmp();
    const file = join(dir, 'leases.json');
    const first = store(file);
    await first.leases.bind('a', '10.0.0.12', pool, 3600);
    await Promise.all([first.leases.bind('b', '10.0.0.10', pool, 3600), first.leases.release('a', '10.0.0.12')]);
    expect(readdirSync(dir)).toEqual(['leases.json']);
    expect(JSON.parse(readFileSync(file, 'utf8')).leases).toEqual([{ mac: 'b', address: '10.0.0.10', expiresAt: 1_000_000 + 3_600_000 }]);
    const second = store(file);
    await second.leases.load();
    expect(second.leases.leaseOf('b')).toEqual({ address: '10.0.0.10', expiresAt: 1_000_000 + 3_600_000, bound: true });
    expect(second.leases.offer('c', pool)).toBe('10.0.0.12');
  });

  it('starts empty from a corrupt or missing lease file', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.json'), '{nope');
    const { leases } = store(join(dir, 'bad.json'));
    await leases.load();
    expect(leases.offer('a', pool)).toBe('10.0.0.10');
    await store(join(dir, 'missing.json')).leases.load();
  });
});
