import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, testDatabaseNames } from './databases.js';

const ENV_KEYS = ['TEST_DATABASES', 'TEST_POSTGRES_URL', 'CI'] as const;
type Env = Partial<Record<(typeof ENV_KEYS)[number], string>>;

/** Runs `fn` with exactly `env` for the keys above (absent keys unset), then restores them. */
function withEnv<T>(env: Env, fn: () => T): T {
  const saved = ENV_KEYS.map((key) => [key, process.env[key]] as const);
  for (const key of ENV_KEYS) setEnv(key, env[key]);
  try {
    return fn();
  } finally {
    for (const [key, value] of saved) setEnv(key, value);
  }
}

async function withEnvAsync<T>(env: Env, fn: () => Promise<T>): Promise<T> {
  const saved = ENV_KEYS.map((key) => [key, process.env[key]] as const);
  for (const key of ENV_KEYS) setEnv(key, env[key]);
  try {
    return await fn();
  } finally {
    for (const [key, value] of saved) setEnv(key, value);
  }
}

function setEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

const URL_SET = { TEST_POSTGRES_URL: 'postgresql://postgres@127.0.0.1:5432/postgres' };

describe('testDatabaseNames', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads an explicit list, trimming and de-duplicating', () => {
    expect(withEnv({ TEST_DATABASES: 'sqlite' }, testDatabaseNames)).toEqual(['sqlite']);
    expect(withEnv({ ...URL_SET, TEST_DATABASES: ' postgres , sqlite,postgres' }, testDatabaseNames)).toEqual([
      'postgres',
      'sqlite',
    ]);
  });

  it('defaults to both engines when TEST_POSTGRES_URL is set', () => {
    expect(withEnv({ ...URL_SET, CI: 'true' }, testDatabaseNames)).toEqual(['sqlite', 'postgres']);
  });

  it('throws on unknown names, naming them', () => {
    expect(() => withEnv({ TEST_DATABASES: 'sqlite,mysql,oracle' }, testDatabaseNames)).toThrow(/mysql, oracle/);
  });

  it('throws under CI when PostgreSQL is not configured', () => {
    expect(() => withEnv({ CI: 'true' }, testDatabaseNames)).toThrow(/CI must test PostgreSQL/);
  });

  it('throws when postgres is requested without TEST_POSTGRES_URL', () => {
    expect(() => withEnv({ TEST_DATABASES: 'sqlite,postgres' }, testDatabaseNames)).toThrow(/TEST_POSTGRES_URL/);
  });

  it('falls back to SQLite outside CI, warning once', async () => {
    vi.resetModules(); // the warning is once per module instance
    const fresh = await import('./databases.js');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(withEnv({}, fresh.testDatabaseNames)).toEqual(['sqlite']);
    expect(withEnv({}, fresh.testDatabaseNames)).toEqual(['sqlite']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(/PostgreSQL is NOT being tested/);
  });
});

describe.each(testDatabaseNames())('createTestDatabase(%s)', (name) => {
  it('gives a config for a fresh database and dispose removes it', async () => {
    const db = await createTestDatabase(name);
    expect(db.name).toBe(name);
    expect(db.config.driver).toBe(name);

    if (db.config.driver === 'sqlite') {
      const dir = dirname(db.config.path);
      expect(existsSync(dir)).toBe(true);
      await db.dispose();
      expect(existsSync(dir)).toBe(false);
    } else {
      const database = new URL(db.config.url).pathname.slice(1);
      expect(await postgresDatabaseExists(database)).toBe(true);
      // A connection left open by a test must not keep the database alive.
      const open = new pg.Client({ connectionString: db.config.url });
      open.on('error', () => {});
      await open.connect();
      await db.dispose();
      expect(await postgresDatabaseExists(database)).toBe(false);
      await open.end().catch(() => {});
    }

    await expect(db.dispose()).resolves.toBeUndefined();
  });
});

describe('createTestDatabase(postgres) with an unreachable server', () => {
  it('fails loudly, without leaking the password', async () => {
    const url = 'postgresql://postgres:s3cret@127.0.0.1:1/postgres';
    const error = await withEnvAsync({ TEST_POSTGRES_URL: url }, () => createTestDatabase('postgres')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/UNREACHABLE/);
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect((error as Error).message).not.toContain('s3cret');
  });
});

async function postgresDatabaseExists(database: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: process.env.TEST_POSTGRES_URL });
  await client.connect();
  try {
    const result = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    return result.rowCount === 1;
  } finally {
    await client.end();
  }
}
