import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const running = new Set<ChildProcessWithoutNullStreams>();

afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

export interface HostProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly baseUrl: string;
  readonly exited: Promise<number | null>;
}

/** Starts `metalplane <args>` and resolves once it printed its API address (bounded: 20 s). */
export function serve(args: string[], cwd: string): Promise<HostProcess> {
  const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env } });
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`no API address within 20 s\n${stdout}\n${stderr}`)), 20_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = stdout.match(/API: +(http:\/\/127\.0\.0\.1:\d+)\/api\/v1/);
      if (match) {
        clearTimeout(timer);
        resolve({ child, baseUrl: match[1]!, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening\n${stdout}\n${stderr}`));
    });
  });
}

/** Runs the CLI to completion; for commands that must fail fast. */
export function runToExit(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
