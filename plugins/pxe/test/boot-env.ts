import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BootEvent, Machine } from '@metalplane/core';
import { createNetnsPair, type NetnsPair } from './netns.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'host', 'dist', 'cli.js');
const PLUGIN = join(ROOT, 'plugins', 'pxe', 'dist', 'index.js');
export const REGISTRATION_IMAGE = join(ROOT, 'agent', 'dist', 'registration');

/**
 * The real host process, with this plugin, inside the server namespace of a netns pair: DHCP
 * in `full` mode on 10.99.0.0/24, TFTP, and HTTP on 10.99.0.1:8080. The test process cannot
 * reach that namespace, so the API is called with curl inside it.
 */
export interface BootEnvironment {
  readonly pair: NetnsPair;
  readonly baseUrl: string;
  api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): T;
  machineByMac(mac: string): Machine | undefined;
  timeline(machineId: string): BootEvent[];
  /** What the host printed (its log). */
  log(): string;
  dispose(): void;
}

export async function startBootEnvironment(): Promise<BootEnvironment> {
  const pair = createNetnsPair();
  const dir = mkdtempSync(join(tmpdir(), 'mp-pxe-e2e-'));
  const baseUrl = `http://${pair.serverAddress}:8080`;
  const config = {
    server: { host: '0.0.0.0', port: 8080 },
    store: { driver: 'sqlite', path: join(dir, 'metalplane.db') },
    log: { level: 'info' },
    enrollment: { imageDirectory: REGISTRATION_IMAGE, action: 'poweroff' },
    plugins: [
      {
        module: PLUGIN,
        config: {
          httpBaseUrl: baseUrl,
          dhcp: {
            mode: 'full',
            leaseFile: join(dir, 'leases.json'),
            subnets: [{ cidr: pair.subnet, serverAddress: pair.serverAddress, range: { start: '10.99.0.100', end: '10.99.0.199' }, leaseSeconds: 600 }],
          },
        },
      },
    ],
  };
  // JSON is YAML.
  writeFileSync(join(dir, 'metalplane.yaml'), JSON.stringify(config, null, 2));
  const child = pair.spawn(pair.server, process.execPath, [CLI, 'serve', '-c', join(dir, 'metalplane.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const dispose = () => {
    child.kill('SIGKILL');
    pair.dispose();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`the host did not start within 30 s:\n${output}`)), 30_000);
      const poll = setInterval(() => {
        if (/API: +http/.test(output)) done();
      }, 50);
      const done = (error?: Error) => {
        clearTimeout(deadline);
        clearInterval(poll);
        if (error) reject(error);
        else resolve();
      };
      child.once('exit', (code) => done(new Error(`the host exited with ${code}:\n${output}`)));
    });
  } catch (error) {
    dispose();
    throw error;
  }

  const api = <T>(method: string, path: string, body?: unknown): T => {
    const args = ['-sS', '--max-time', '10', '-X', method, `${baseUrl}/api/v1${path}`];
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    const result = pair.exec(pair.server, 'curl', args);
    if (result.status !== 0) throw new Error(`curl ${method} ${path}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };
  return {
    pair,
    baseUrl,
    api,
    machineByMac: (mac) => api<{ items: Machine[] }>('GET', `/machines?mac=${mac}`).items[0],
    timeline: (machineId) => api<{ items: BootEvent[] }>('GET', `/machines/${machineId}/boot-timeline?limit=500`).items.reverse(),
    log: () => output,
    dispose,
  };
}
