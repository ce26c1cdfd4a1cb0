import {
  EventBus,
  IpClaims,
  silentLogger,
  Store,
  validateWithDefaults,
  type HttpRoutes,
  type IpamProvider,
  type IpPoolSpec,
  type Logger,
} from '@metalplane/core';
import { createTestDatabase, type TestDatabase, type TestDatabaseName } from '@metalplane/core/testing';
import { startNetboxEmulator, type NetboxEmulator, type NetboxEmulatorOptions } from '@metalplane/testkit';
import type { FastifyPluginAsync } from 'fastify';
import netboxPlugin, { type NetboxConfig } from '../src/index.js';

/** A v1 token the tests give the emulator and the plugin (40 alphanumerics). */
export const V1_TOKEN = 'Metalplane0Test0Token0For0Netbox00000001';

export async function startNetbox(options: NetboxEmulatorOptions = {}): Promise<NetboxEmulator> {
  return startNetboxEmulator({ tokens: [{ version: 1, token: V1_TOKEN }], ...options });
}

/** Logs kept in memory, to assert on (and to show the token never appears). */
export function recordingLogger(lines: string[] = []): Logger & { lines: string[] } {
  const log = (level: string) => (obj: object, msg?: string) => {
    lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  };
  const logger: Logger & { lines: string[] } = {
    lines,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: () => logger,
  };
  return logger;
}

/** One instance of the plugin, set up the way the host does it: validated config, its deps. */
export interface PluginUnderTest {
  readonly ipam: IpamProvider;
  readonly routes: FastifyPluginAsync[];
  readonly logger: Logger & { lines: string[] };
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPlugin(
  store: Store,
  config: Partial<NetboxConfig> & { url: string },
  events: EventBus = new EventBus(silentLogger),
): Promise<PluginUnderTest> {
  const { value, errors } = validateWithDefaults<NetboxConfig>(netboxPlugin.configSchema, {
    token: V1_TOKEN,
    retries: 2,
    retryBaseMs: 5,
    timeoutMs: 5000,
    ...config,
  });
  if (errors.length > 0) throw new Error(`bad test config: ${JSON.stringify(errors)}`);
  const logger = recordingLogger();
  const routes: FastifyPluginAsync[] = [];
  const http: HttpRoutes = { prefix: '/api/v1/plugins/netbox', register: (r) => routes.push(r) };
  const instance = await netboxPlugin.setup({ id: 'netbox', config: value, deps: { logger, store, http, events } });
  const controller = new AbortController();
  return {
    ipam: instance.provides.ipam,
    routes,
    logger,
    start: async () => {
      await instance.start?.(controller.signal);
    },
    stop: async () => {
      await instance.stop?.(controller.signal);
    },
  };
}

/** A store on a fresh test database (SQLite unless told), the event bus, and core's claims over `providers`. */
export interface Core {
  readonly db: TestDatabase;
  readonly store: Store;
  readonly events: EventBus;
  claims(providers: () => readonly IpamProvider[]): IpClaims;
  close(): Promise<void>;
}

export async function openCore(engine: TestDatabaseName = 'sqlite'): Promise<Core> {
  const db = await createTestDatabase(engine);
  const store = await Store.open(db.config);
  const events = new EventBus(silentLogger);
  return {
    db,
    store,
    events,
    claims: (providers) => new IpClaims(store, events, providers),
    close: async () => {
      await store.close();
      await db.dispose();
    },
  };
}

export function netboxPool(cidr: string, providerRef: Record<string, unknown>, extra: Partial<IpPoolSpec> = {}): IpPoolSpec {
  return { cidr, provider: 'netbox', providerRef, ...extra };
}

/** Resolves when `condition` holds, polling; fails after `timeoutMs` (every wait is bounded). */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Every address NetBox holds with our ownership tag, with the owner tag it carries. */
export function taggedAddresses(netbox: NetboxEmulator, ownershipTag = 'managed-by-metalplane') {
  return netbox.state
    .ipAddresses()
    .filter((ip) => ip.tags.includes(ownershipTag))
    .map((ip) => ({ ...ip, ownerTag: ip.tags.find((t) => t.startsWith('metalplane-owner-')) }));
}
