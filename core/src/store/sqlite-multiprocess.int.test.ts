import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Store } from './store.js';

// node:sqlite is synchronous: two connections of one process waiting on each other's lock
// would block the event loop, so "several processes" is tested with several processes,
// running the built package.
const builtCore = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

function runInChild(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const openAndEnroll = `
const { Store } = await import(process.env.CORE);
// Start together, so the migrations really race.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(process.env.START_AT) - Date.now())));
const store = await Store.open({ driver: 'sqlite', path: process.env.DB });
for (let i = 0; i < 20; i++) {
  await store.machines.create({ identity: [{ kind: 'serial', value: process.env.WORKER + '-' + i }] });
}
await store.close();
`;

describe('SQLite shared by several processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-sqlite-mp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates a fresh file once and lets every process write', async () => {
    const db = join(dir, 'shared.db');
    const startAt = String(Date.now() + 1500);
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((worker) => runInChild(openAndEnroll, { CORE: builtCore, DB: db, WORKER: worker, START_AT: startAt })),
    );
    for (const result of results) expect(result, result.output).toMatchObject({ code: 0 });

    const store = await Store.open({ driver: 'sqlite', path: db });
    try {
      const page = await store.machines.list({ limit: 1000 });
      expect(page.items).toHaveLength(80);
      expect(await store.migrate('metalplane', (await import('./migrations.js')).coreMigrations)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
