// Child processes for benchmarks: each one's output is awaited with a deadline, and every
// child is killed when the benchmark exits, however it exits.
import { spawn } from 'node:child_process';

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Starts `node <args>` and resolves with the first match of `ready` in its stdout
 * (rejects after `timeoutMs`, or when the process exits first).
 */
export function startNode(args, { cwd, ready, timeoutMs = 20_000 }) {
  const child = spawn(process.execPath, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')}: not ready within ${timeoutMs} ms\n${out}${err}`)), timeoutMs);
    child.stderr.on('data', (chunk) => (err += chunk));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, exited, stop: () => stop(child, exited) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready\n${out}${err}`));
    });
  });
}

async function stop(child, exited) {
  child.stdin.end();
  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
  if (code === 'timeout') child.kill('SIGKILL');
  children.delete(child);
  return code;
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pooled(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]();
      }
    }),
  );
  return results;
}

/** The q-quantile (0..1) of numbers, by the nearest-rank method. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
