import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import { serve } from './process.js';

const CLAIMS = 2000;
const IN_FLIGHT = 64;

/** Runs `tasks` with at most `limit` at a time. */
async function pooled<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

describe.each(testDatabaseNames())('built-in IPAM across two host processes (%s)', (engine) => {
  it(`gives ${CLAIMS} concurrent claims on a /24 distinct addresses or pool_exhausted`, async () => {
    const database = await createTestDatabase(engine);
    try {
      const dir = mkdtempSync(join(tmpdir(), 'mp-ipam-'));
      const store = database.config.driver === 'postgres' ? `  driver: postgres\n  url: "${database.config.url}"\n` : `  driver: sqlite\n  path: ${database.config.path}\n`;
      writeFileSync(join(dir, 'metalplane.yaml'), `server:\n  port: 0\nstore:\n${store}log:\n  level: warn\n`);
      const hosts = [await serve(['serve', '-c', 'metalplane.yaml'], dir), await serve(['serve', '-c', 'metalplane.yaml'], dir)];

      const created = await fetch(`${hosts[0]!.baseUrl}/api/v1/ip-pools`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'small', spec: { cidr: '10.20.30.0/24', gateway: '10.20.30.1' } }),
      });
      expect(created.status).toBe(201);

      const started = Date.now();
      const responses = await pooled(
        Array.from({ length: CLAIMS }, (_, i) => async () => {
          const res = await fetch(`${hosts[i % 2]!.baseUrl}/api/v1/ip-claims`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ pool: 'small', owner: { key: `machine-${i}` } }),
          });
          return { status: res.status, body: (await res.json()) as { status?: { address?: string }; error?: { code: string; details: { pool?: string } } } };
        }),
        IN_FLIGHT,
      );
      const seconds = (Date.now() - started) / 1000;

      const bound = responses.filter((r) => r.status === 201).map((r) => r.body.status?.address);
      const exhausted = responses.filter((r) => r.status === 409);
      const other = responses.filter((r) => r.status !== 201 && r.status !== 409);
      console.log(`${engine}: ${CLAIMS} claims over 2 processes in ${seconds.toFixed(1)} s: ${bound.length} bound, ${exhausted.length} pool_exhausted`);

      expect(other).toEqual([]);
      expect(bound).toHaveLength(253);
      expect(new Set(bound).size).toBe(253);
      expect(bound).not.toContain('10.20.30.1');
      for (const r of exhausted) expect(r.body.error).toMatchObject({ code: 'pool_exhausted', details: { pool: 'small' } });

      // What the database holds agrees: 253 claims, 253 distinct allocations, nothing half-written.
      const listed = await fetch(`${hosts[1]!.baseUrl}/api/v1/ip-claims?pool=small&limit=1000`);
      const items = ((await listed.json()) as { items: { status: { phase: string; address: string } }[] }).items;
      expect(items).toHaveLength(253);
      expect(items.every((c) => c.status.phase === 'bound')).toBe(true);
      expect(new Set(items.map((c) => c.status.address)).size).toBe(253);

      for (const host of hosts) host.child.kill('SIGTERM');
      expect(await Promise.all(hosts.map((h) => h.exited))).toEqual([0, 0]);
    } finally {
      await database.dispose();
    }
  }, 180_000);
});
