import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

type SqliteValue = null | number | bigint | string | Uint8Array;

/** node:sqlite binds only these types; kysely may hand us booleans, Dates and undefined. */
function toSqliteValue(value: unknown): SqliteValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return value;
  throw new TypeError(`cannot bind a ${typeof value} to SQLite`);
}

function bind(parameters: ReadonlyArray<unknown>): SqliteValue[] {
  return parameters.map(toSqliteValue);
}

class NodeSqliteStatement implements SqliteStatement {
  readonly #statement: StatementSync;
  readonly #fresh: () => StatementSync;
  readonly reader: boolean;

  constructor(statement: StatementSync, fresh: () => StatementSync) {
    this.#statement = statement;
    this.#fresh = fresh;
    // kysely asks whether a statement returns rows to choose between all() and run().
    this.reader = statement.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#statement.all(...bind(parameters));
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement.run(...bind(parameters));
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    // A cached statement is shared: two iterations of the same SQL at once must not reset each other.
    return this.#fresh().iterate(...bind(parameters));
  }
}

/**
 * kysely begins transactions with a plain (deferred) `begin`. A deferred transaction that
 * reads and then writes cannot wait for another process's write lock: SQLite fails it
 * with SQLITE_BUSY at once. `begin immediate` takes the write lock up front, where the
 * busy timeout applies.
 */
const BEGIN = /^\s*begin\s*;?\s*$/i;

const SQLITE_BUSY = 5;

/**
 * WAL is a property of the file, so only the first opener switches it. The switch needs
 * an exclusive lock and SQLite reports a competing opener as busy at once, without the
 * busy timeout: wait (synchronously, as node:sqlite is) and try again, within the timeout.
 */
function enableWal(database: DatabaseSync, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      const mode = database.prepare('PRAGMA journal_mode').get() as { journal_mode?: string } | undefined;
      if (mode?.journal_mode === 'wal') return;
      database.exec('PRAGMA journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { errcode?: number }).errcode !== SQLITE_BUSY || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, 25);
    }
  }
}

export interface NodeSqliteOptions {
  readonly busyTimeoutMs: number;
}

/**
 * Adapts `node:sqlite` to the driver interface of kysely's SQLite dialect, so the embedded
 * default needs no native addon. WAL lets readers proceed during a write, and the busy
 * timeout makes a second process wait for the write lock instead of failing at once.
 */
export function openNodeSqliteDatabase(path: string, options: NodeSqliteOptions): SqliteDatabase {
  const database = new DatabaseSync(path);
  database.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
  if (path !== ':memory:') enableWal(database, options.busyTimeoutMs);
  database.exec('PRAGMA foreign_keys = ON');
  database.exec('PRAGMA synchronous = NORMAL');
  // kysely prepares every query anew; compiling the same few hundred SQL texts again each time
  // is most of a small query's cost. Bounded, least recently used first out.
  const statements = new Map<string, NodeSqliteStatement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare: (sql: string) => {
      const text = BEGIN.test(sql) ? 'begin immediate' : sql;
      let statement = statements.get(text);
      if (statement) {
        statements.delete(text);
      } else {
        statement = new NodeSqliteStatement(database.prepare(text), () => database.prepare(text));
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      }
      statements.set(text, statement);
      return statement;
    },
  };
}

/** Distinct SQL texts kept prepared per connection. */
const STATEMENT_CACHE_SIZE = 500;
