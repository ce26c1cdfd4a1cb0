import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect, SqliteAdapter, SqliteDialect, type DialectAdapter } from 'kysely';
import pg from 'pg';
import type { DatabaseSchema } from './schema.js';
import type { StoreConfig } from './config.js';
import { openNodeSqliteDatabase } from './node-sqlite-database.js';

/**
 * What differs between the engines beyond SQL kysely already abstracts: how each reports
 * a broken constraint. Repositories ask this, never `if (engine === ...)`.
 */
export interface EngineAdapter {
  readonly engine: StoreConfig['driver'];
  isUniqueViolation(error: unknown): boolean;
  isForeignKeyViolation(error: unknown): boolean;
}

interface ErrorWithCodes {
  code?: unknown;
  errcode?: unknown;
}

function codes(error: unknown): ErrorWithCodes {
  return typeof error === 'object' && error !== null ? (error as ErrorWithCodes) : {};
}

// SQLite extended result codes: SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE, _FOREIGNKEY.
const SQLITE_PRIMARYKEY = 1555;
const SQLITE_UNIQUE = 2067;
const SQLITE_FOREIGNKEY = 787;

const sqliteAdapter: EngineAdapter = {
  engine: 'sqlite',
  isUniqueViolation: (e) => [SQLITE_PRIMARYKEY, SQLITE_UNIQUE].includes(codes(e).errcode as number),
  isForeignKeyViolation: (e) => codes(e).errcode === SQLITE_FOREIGNKEY,
};

const postgresAdapter: EngineAdapter = {
  engine: 'postgres',
  isUniqueViolation: (e) => codes(e).code === '23505',
  isForeignKeyViolation: (e) => codes(e).code === '23503',
};

/**
 * SQLite runs DDL inside transactions, so migrations can too; with every transaction
 * begun IMMEDIATE (see node-sqlite-database.ts) that is what serialises two processes
 * migrating one file, which kysely's no-op SQLite migration lock does not.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class MetalplaneSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

export interface Database {
  readonly db: Kysely<DatabaseSchema>;
  readonly adapter: EngineAdapter;
}

export function openDatabase(config: StoreConfig): Database {
  if (config.driver === 'sqlite') {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    const database = openNodeSqliteDatabase(config.path, { busyTimeoutMs: config.busyTimeoutMs ?? 5000 });
    return { db: new Kysely<DatabaseSchema>({ dialect: new MetalplaneSqliteDialect({ database }) }), adapter: sqliteAdapter };
  }
  const pool = new pg.Pool({ connectionString: config.url, max: config.poolSize ?? 10 });
  // An idle client losing its connection must not take the process down; the pool replaces it.
  pool.on('error', () => {});
  return { db: new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) }), adapter: postgresAdapter };
}
