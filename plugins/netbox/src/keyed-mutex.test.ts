import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.js';

describe('KeyedMutex', () => {
  it('runs one holder per key at a time, in call order, and keys in parallel', async () => {
    const mutex = new KeyedMutex();
    const running = new Map<string, number>();
    let maxSameKey = 0;
    let maxOverall = 0;
    const order: string[] = [];
    const task = (key: string, i: number) =>
      mutex.run(key, async () => {
        running.set(key, (running.get(key) ?? 0) + 1);
        maxSameKey = Math.max(maxSameKey, running.get(key)!);
        maxOverall = Math.max(maxOverall, [...running.values()].reduce((a, b) => a + b, 0));
        await sleep(2);
        order.push(`${key}${i}`);
        running.set(key, running.get(key)! - 1);
        return i;
      });
    const results = await Promise.all([...Array.from({ length: 20 }, (_, i) => task('a', i)), ...Array.from({ length: 20 }, (_, i) => task('b', i))]);
    expect(results).toEqual([...Array.from({ length: 20 }, (_, i) => i), ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(maxSameKey).toBe(1);
    expect(maxOverall).toBe(2);
    expect(order.filter((o) => o.startsWith('a'))).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    await sleep(0);
    expect(mutex.size).toBe(0);
  });

  it('goes on after a holder throws', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await mutex.run('k', async () => 'next')).toBe('next');
  });

  it('lets an aborted waiter leave without running and without letting a later one overtake the holder', async () => {
    const mutex = new KeyedMutex();
    let releaseHolder!: () => void;
    const events: string[] = [];
    const holder = mutex.run('k', () => new Promise<void>((resolve) => (releaseHolder = () => (events.push('holder done'), resolve()))));
    const controller = new AbortController();
    const aborted = mutex.run('k', async () => events.push('aborted ran'), controller.signal);
    const later = mutex.run('k', async () => events.push('later ran'));
    controller.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    await sleep(5);
    expect(events).toEqual([]);
    releaseHolder();
    await holder;
    await later;
    expect(events).toEqual(['holder done', 'later ran']);
  });
});
