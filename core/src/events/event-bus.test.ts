import { describe, expect, it, vi } from 'vitest';
import type { Logger } from '../logger.js';
import { EventBus, type MetalplaneEvents } from './event-bus.js';

function fakeLogger() {
  const logger = {
    debug: vi.fn<Logger['debug']>(),
    info: vi.fn<Logger['info']>(),
    warn: vi.fn<Logger['warn']>(),
    error: vi.fn<Logger['error']>(),
    child: vi.fn((): Logger => logger),
  };
  return logger;
}

const created: MetalplaneEvents['machine.created'] = { machineId: 'm-1', phase: 'discovered', actor: 'dhcp' };

/** Lets rejected listener promises reach their catch handlers. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('EventBus', () => {
  it('delivers the payload to every listener of the event, in subscription order, and to no other', () => {
    const bus = new EventBus(fakeLogger());
    const seen: string[] = [];
    bus.on('machine.created', (p) => void seen.push(`first:${p.machineId}`));
    bus.on('machine.created', (p) => void seen.push(`second:${p.actor}`));
    bus.on('machine.updated', () => void seen.push('updated'));

    bus.emit('machine.created', created);
    expect(seen).toEqual(['first:m-1', 'second:dhcp']);
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('listener broke');
      },
    ],
    ['rejects', async () => Promise.reject(new Error('listener broke'))],
  ] as const)('a listener that %s is logged with the event name; the others still run and emit does not throw', async (_how, bad) => {
    const logger = fakeLogger();
    const bus = new EventBus(logger);
    const seen: string[] = [];
    bus.on('machine.created', () => void seen.push('before'));
    bus.on('machine.created', bad);
    bus.on('machine.created', () => void seen.push('after'));

    expect(() => bus.emit('machine.created', created)).not.toThrow();
    await settle();

    expect(seen).toEqual(['before', 'after']);
    expect(logger.error).toHaveBeenCalledTimes(1);
    const [fields, message] = logger.error.mock.calls[0]!;
    expect(fields).toMatchObject({ event: 'machine.created', err: expect.objectContaining({ message: 'listener broke' }) });
    expect(message).toBe('listener of machine.created failed');
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('logs a non-Error thrown value as it is', async () => {
    const logger = fakeLogger();
    const bus = new EventBus(logger);
    bus.on('machine.updated', () => {
      throw 'just a string';
    });
    bus.on('machine.updated', async () => Promise.reject(42));
    bus.emit('machine.updated', { machineId: 'm-1', resourceVersion: 2 });
    await settle();
    expect(logger.error.mock.calls.map(([fields]) => (fields as { err: unknown }).err)).toEqual(['just a string', 42]);
  });

  it('keeps delivering after a listener failed', async () => {
    const logger = fakeLogger();
    const bus = new EventBus(logger);
    let calls = 0;
    bus.on('machine.created', () => {
      calls += 1;
      throw new Error('again');
    });
    bus.emit('machine.created', created);
    bus.emit('machine.created', created);
    expect(calls).toBe(2);
    expect(logger.error).toHaveBeenCalledTimes(2);
  });

  it('unsubscribes only the listener whose function is called; calling it twice is harmless', () => {
    const bus = new EventBus(fakeLogger());
    const seen: string[] = [];
    const listener = (p: MetalplaneEvents['machine.created']) => void seen.push(p.machineId);
    const offA = bus.on('machine.created', listener);
    bus.on('machine.created', listener);
    bus.on('machine.created', () => void seen.push('other'));

    bus.emit('machine.created', created);
    expect(seen).toEqual(['m-1', 'm-1', 'other']);

    seen.length = 0;
    offA();
    offA();
    bus.emit('machine.created', created);
    expect(seen).toEqual(['m-1', 'other']);
  });

  it('removeAllListeners silences every event', () => {
    const bus = new EventBus(fakeLogger());
    const seen: string[] = [];
    bus.on('machine.created', () => void seen.push('created'));
    bus.on('machine.updated', () => void seen.push('updated'));
    bus.removeAllListeners();
    bus.emit('machine.created', created);
    bus.emit('machine.updated', { machineId: 'm-1', resourceVersion: 2 });
    expect(seen).toEqual([]);
  });
});
