import { describe, expect, it } from 'vitest';
import { openNodeSqliteDatabase } from './node-sqlite-database.js';

describe('the node:sqlite adapter', () => {
  const open = () => {
    const db = openNodeSqliteDatabase(':memory:', { busyTimeoutMs: 1000 });
    db.prepare('create table t (id integer primary key, v text)').run([]);
    for (let i = 1; i <= 5; i++) db.prepare('insert into t (id, v) values (?, ?)').run([i, `v${i}`]);
    return db;
  };

  it('reuses prepared statements: the same SQL with other parameters answers for those parameters', () => {
    const db = open();
    const select = 'select v from t where id = ?';
    expect(db.prepare(select).all([2])).toEqual([{ v: 'v2' }]);
    expect(db.prepare(select).all([4])).toEqual([{ v: 'v4' }]);
    expect(db.prepare('select count(*) as n from t').all([])).toEqual([{ n: 5 }]);
    db.close();
  });

  it('two iterations of the same SQL at once do not reset each other', () => {
    const db = open();
    const sql = 'select id from t where id >= ? order by id';
    const first = db.prepare(sql).iterate([1]);
    const second = db.prepare(sql).iterate([4]);
    expect(first.next().value).toEqual({ id: 1 });
    expect([...second]).toEqual([{ id: 4 }, { id: 5 }]);
    expect([...first]).toEqual([{ id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }]);
    db.close();
  });

  it('keeps working past the cache bound (distinct SQL texts are evicted, not refused)', () => {
    const db = open();
    for (let i = 0; i < 1200; i++) expect(db.prepare(`select ${i} as n`).all([])).toEqual([{ n: i }]);
    expect(db.prepare('select 0 as n').all([])).toEqual([{ n: 0 }]);
    db.close();
  });

  it('begins transactions immediate (the write lock up front)', () => {
    const db = open();
    db.prepare('begin').run([]);
    db.prepare('insert into t (id, v) values (?, ?)').run([6, 'v6']);
    db.prepare('commit').run([]);
    expect(db.prepare('select count(*) as n from t').all([])).toEqual([{ n: 6 }]);
    db.close();
  });
});
