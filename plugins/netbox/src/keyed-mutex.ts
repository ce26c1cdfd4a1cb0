/**
 * One async critical section per key: `run(key, fn)` starts `fn` once every earlier `fn`
 * for the same key has settled (in call order); different keys never wait for each other.
 * A waiter whose signal aborts leaves the queue without running.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    try {
      await waitFor(previous, signal);
      return await fn();
    } finally {
      // Run after `previous` in any case, so an aborted waiter never lets a later one overtake a holder.
      void previous.then(release);
      if (this.#tails.get(key) === tail) void tail.then(() => this.#tails.get(key) === tail && this.#tails.delete(key));
    }
  }

  /** Keys with a holder or waiters (for tests and metrics). */
  get size(): number {
    return this.#tails.size;
  }
}

function waitFor(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
