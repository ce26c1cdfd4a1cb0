import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { StoreConfig } from '../store/config.js';

/** A database engine the store supports and the tests run against. */
export type TestDatabaseName = 'sqlite' | 'postgres';

const ALL_DATABASES: readonly TestDatabaseName[] = ['sqlite', 'postgres'];

let warnedPostgresSkipped = false;

/**
 * The engines to run database tests on, from `TEST_DATABASES` (a comma list). When that is unset:
 * both if `TEST_POSTGRES_URL` is set; otherwise SQLite only, with a warning — except under CI,
 * which must test PostgreSQL. Throws on unknown names or on `postgres` without `TEST_POSTGRES_URL`,
 * so a run never skips an engine silently.
 */
export function testDatabaseNames(): TestDatabaseName[] {
  const requested = process.env.TEST_DATABASES?.trim();
  const hasPostgresUrl = Boolean(process.env.TEST_POSTGRES_URL);
  if (!requested) {
    if (hasPostgresUrl) return [...ALL_DATABASES];
    if (process.env.CI) {
      throw new Error('CI must test PostgreSQL: run the suite through `npm test` or set TEST_POSTGRES_URL');
    }
    if (!warnedPostgresSkipped) {
      warnedPostgresSkipped = true;
      console.warn('PostgreSQL is NOT being tested (TEST_POSTGRES_URL is unset); run `npm test` to test it too');
    }
    return ['sqlite'];
  }

  const names = [...new Set(requested.split(',').map((name) => name.trim()).filter(Boolean))];
  const unknown = names.filter((name) => !ALL_DATABASES.includes(name as TestDatabaseName));
  if (unknown.length > 0) {
    throw new Error(`TEST_DATABASES has unknown database(s) ${unknown.join(', ')}; known: ${ALL_DATABASES.join(', ')}`);
  }
  if (names.includes('postgres') && !hasPostgresUrl) {
    throw new Error(
      'TEST_DATABASES includes postgres but TEST_POSTGRES_URL is unset: run the suite through `npm test` ' +
        '(or `node scripts/test.mjs --with-postgres -- <command>`), or set TEST_POSTGRES_URL',
    );
  }
  return names as TestDatabaseName[];
}

/** A fresh, empty database for one test (or suite); call `dispose` when done. */
export interface TestDatabase {
  readonly name: TestDatabaseName;
  /** Store configuration pointing at this database. */
  readonly config: StoreConfig;
  /** Removes the database; safe to call more than once. */
  dispose(): Promise<void>;
}

/**
 * Creates an empty database on the given engine: SQLite gets a file in a new temp dir, PostgreSQL a
 * new `mp_test_<hex>` database on the server at `TEST_POSTGRES_URL`. Throws if that server is
 * unreachable — tests must fail, not skip.
 */
export async function createTestDatabase(name: TestDatabaseName): Promise<TestDatabase> {
  return name === 'sqlite' ? createSqliteDatabase() : createPostgresDatabase();
}

async function createSqliteDatabase(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'mp-test-sqlite-'));
  return {
    name: 'sqlite',
    config: { driver: 'sqlite', path: join(dir, 'store.db') },
    dispose: once(() => rm(dir, { recursive: true, force: true })),
  };
}

async function createPostgresDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_POSTGRES_URL;
  if (!serverUrl) throw new Error('createTestDatabase("postgres") needs TEST_POSTGRES_URL');
  const database = `mp_test_${randomBytes(8).toString('hex')}`;
  const quoted = pg.escapeIdentifier(database);
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${quoted}`));

  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return {
    name: 'postgres',
    config: { driver: 'postgres', url: url.toString() },
    dispose: once(() => withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`))),
  };
}

/** Runs `fn` on a short-lived connection to `url`. */
async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new Error(
      `PostgreSQL at ${redactUrl(url)} is UNREACHABLE, so the postgres tests cannot run ` +
        `(${error instanceof Error ? error.message : String(error)}). Run the suite through \`npm test\`, ` +
        'which starts a throwaway server, or fix TEST_POSTGRES_URL.',
      { cause: error },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(TEST_POSTGRES_URL, not a valid URL)';
  }
}

function once(fn: () => Promise<unknown>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn().then(() => undefined));
}
