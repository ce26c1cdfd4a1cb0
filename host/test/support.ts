import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { Machine, SeedEnrollment } from '@metalplane/core';
import { createTestDatabase, type TestDatabaseName } from '@metalplane/core/testing';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { Host } from '../src/host.js';
import type { ErrorBody } from '../src/http/error-table.js';

export type Response = LightMyRequestResponse;

export interface TestHost {
  readonly host: Host;
  inject(options: InjectOptions | string): Promise<Response>;
  /** Stops the host and drops its database; safe to call more than once. */
  dispose(): Promise<void>;
}

/** A Host (no plugins, silent logger) on a fresh, empty database of the given engine. */
export async function createTestHost(engine: TestDatabaseName): Promise<TestHost> {
  const database = await createTestDatabase(engine);
  try {
    const loaded = resolveConfig({ store: database.config, log: { level: 'silent' } }, tmpdir(), `test config (${engine})`);
    const host = await Host.create({ loaded, logger: pino({ level: 'silent' }) });
    let disposed: Promise<void> | undefined;
    return {
      host,
      inject: (options) => host.server.inject(options),
      dispose: () =>
        (disposed ??= (async () => {
          try {
            await host.stop();
          } finally {
            await database.dispose();
          }
        })()),
    };
  } catch (error) {
    await database.dispose();
    throw error;
  }
}

/**
 * One host per `describe` block: created in `beforeAll`, disposed in `afterAll`. Tests share
 * its database, so each one uses its own MACs (see `newMac`) and filters by them.
 */
export function useTestHost(engine: TestDatabaseName): TestHost {
  let current: TestHost | undefined;
  beforeAll(async () => {
    current = await createTestHost(engine);
  });
  afterAll(async () => {
    await current?.dispose();
  });
  const get = (): TestHost => {
    if (!current) throw new Error('the test host is not created yet (use it inside a test or hook)');
    return current;
  };
  return {
    get host() {
      return get().host;
    },
    inject: (options) => get().inject(options),
    dispose: () => get().dispose(),
  };
}

/** A random locally administered unicast MAC, lower case and colon separated. */
export function newMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** A random service tag that is not a firmware placeholder. */
export function newServiceTag(): string {
  return `TAG${randomBytes(5).toString('hex').toUpperCase()}`;
}

/** A seed enrollment payload with full hardware, for the given MACs (the first is the boot NIC). */
export function seedPayload(macs: readonly string[] = [newMac(), newMac()], serviceTag: string = newServiceTag()): SeedEnrollment {
  return {
    service_tag: serviceTag,
    mac_address: macs[0]!,
    hardware: {
      manufacturer: 'Dell Inc.',
      model: 'PowerEdge R650',
      serial_number: serviceTag,
      bios_version: '1.9.2',
      cpu: { model: 'Intel Xeon Gold 6338', cores: 32, threads: 64, sockets: 2, max_freq_mhz: 3200, architecture: 'x86_64' },
      memory: {
        total_bytes: 274877906944,
        total_gb: 256,
        modules: [{ slot: 'A1', size_bytes: 34359738368, type: 'DDR4', speed: 3200 }],
      },
      disks: [
        { device: '/dev/nvme0n1', model: 'Samsung PM9A3', size_bytes: 1920383410176, serial: 'S64GNE0R000001' },
        { device: '/dev/sda', model: 'Intel S4510', size_bytes: 480103981056, type: 'ssd', serial: 'PHYF000001' },
        { device: '/dev/sdb', model: 'Seagate Exos', size_bytes: 8001563222016, rotational: true, serial: 'ZA1000001' },
      ],
      nics: macs.map((mac, i) => ({
        name: `eno${i + 1}`,
        mac_address: mac.toUpperCase(),
        driver: i === 0 ? 'ice' : 'igb',
        speed: i === 0 ? '10Gbps' : '1000Mb/s',
        pci_address: `0000:3${i}:00.0`,
        link_status: 'up',
      })),
      gpus: [{ model: 'A100', vendor: 'NVIDIA', pci_address: '0000:ca:00.0', memory_bytes: 42949672960 }],
    },
  };
}

export interface EnrollResult {
  readonly created: boolean;
  readonly machine: Machine;
  readonly warnings: string[];
}

/** POST /api/v1/enroll; returns the raw response. */
export function postEnroll(api: TestHost, payload: unknown): Promise<Response> {
  return api.inject({ method: 'POST', url: '/api/v1/enroll', payload: payload as InjectOptions['payload'] });
}

/** Enrolls and expects success (201 or 200). */
export async function enroll(api: TestHost, payload: SeedEnrollment): Promise<EnrollResult> {
  const res = await postEnroll(api, payload);
  expect([200, 201], res.body).toContain(res.statusCode);
  return res.json<EnrollResult>();
}

/** A freshly enrolled machine (phase `enrolled`) with two NICs of its own. */
export async function createMachine(api: TestHost, macs: readonly string[] = [newMac(), newMac()]): Promise<Machine> {
  const { machine, created } = await enroll(api, seedPayload(macs));
  expect(created).toBe(true);
  return machine;
}

export async function getMachine(api: TestHost, id: string): Promise<Machine> {
  const res = await api.inject(`/api/v1/machines/${id}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Machine>();
}

export interface MachinePage {
  readonly items: Machine[];
  readonly next: string | null;
}

export async function listMachines(api: TestHost, query = ''): Promise<MachinePage> {
  const res = await api.inject(`/api/v1/machines${query ? `?${query}` : ''}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<MachinePage>();
}

/** Every machine in the database, following `next`. */
export async function allMachines(api: TestHost): Promise<Machine[]> {
  const all: Machine[] = [];
  let next: string | null = null;
  do {
    const page: MachinePage = await listMachines(api, `limit=1000${next ? `&continue=${next}` : ''}`);
    all.push(...page.items);
    next = page.next;
  } while (next);
  return all;
}

/** Asserts the response is a JSON error with this status and code; returns the body. */
export function expectError(res: Response, status: number, code: string): ErrorBody['error'] {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error;
}

/** The JSON pointers an invalid_input error names. */
export function errorPaths(error: ErrorBody['error']): string[] {
  const errors = (error.details['errors'] ?? []) as { path: string }[];
  return errors.map((e) => e.path);
}

/** Asserts a 400 invalid_input naming `path` (among possibly others); returns the error. */
export function expectInvalid(res: Response, path: string): ErrorBody['error'] {
  const error = expectError(res, 400, 'invalid_input');
  expect(errorPaths(error)).toContain(path);
  return error;
}
