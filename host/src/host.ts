import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createMetalplane, type Metalplane, type MetalplaneConfig, type StoreConfig } from '@metalplane/core';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { LoadedConfig } from './config/load-config.js';
import { defaultStorePath } from './config/schema.js';
import { buildServer } from './http/server.js';
import { loadPlugins } from './plugin-loader.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
export const hostVersion = packageJson.version;

export interface HostOptions {
  readonly loaded: LoadedConfig;
  /** Defaults to a pino logger at the configured level, writing JSON lines to stderr. */
  readonly logger?: Logger;
}

/** A SQLite path in the config is relative to the config file, like every other path. */
function resolveStore(store: StoreConfig | undefined, baseDir: string): StoreConfig {
  const config = store ?? { driver: 'sqlite', path: defaultStorePath };
  if (config.driver !== 'sqlite' || config.path === ':memory:' || isAbsolute(config.path)) return config;
  return { ...config, path: resolve(baseDir, config.path) };
}

/**
 * The metalplane process: plugins from the config, the core, and the HTTP server.
 * `start()` fails without side effects left behind; `stop()` closes the server (letting
 * in-flight requests finish), then stops the plugins in reverse and closes the database.
 */
export class Host {
  readonly metalplane: Metalplane;
  readonly server: FastifyInstance;
  readonly logger: Logger;
  readonly #loaded: LoadedConfig;
  #stopping: Promise<void> | undefined;

  private constructor(loaded: LoadedConfig, metalplane: Metalplane, server: FastifyInstance, logger: Logger) {
    this.#loaded = loaded;
    this.metalplane = metalplane;
    this.server = server;
    this.logger = logger;
  }

  /** Loads plugins, validates everything, starts core and plugins, and mounts the API (not yet listening). */
  static async create(options: HostOptions): Promise<Host> {
    const { config, baseDir } = options.loaded;
    const logger = options.logger ?? pino({ level: config.log.level });
    const plugins = await loadPlugins(config.plugins, baseDir);
    const metalplaneConfig: MetalplaneConfig = {
      store: resolveStore(config.store, baseDir),
      ...(config.boot ? { boot: config.boot } : {}),
      ...(config.machines ? { machines: config.machines } : {}),
      ...(config.ipam ? { ipam: config.ipam } : {}),
      plugins: Object.fromEntries(plugins.filter((p) => p.config !== undefined).map((p) => [p.definition.id, p.config])),
    };
    const metalplane = createMetalplane({ config: metalplaneConfig, plugins: plugins.map((p) => p.definition), logger });
    await metalplane.start();
    try {
      const server = await buildServer({
        metalplane,
        logger,
        bodyLimitBytes: config.server.bodyLimitBytes,
        version: hostVersion,
        enrollmentAction: config.enrollment.action,
        registrationImageDirectory: resolve(baseDir, config.enrollment.imageDirectory),
      });
      await server.ready();
      return new Host(options.loaded, metalplane, server, logger);
    } catch (error) {
      await metalplane.stop();
      throw error;
    }
  }

  /** Listens on the configured address; returns the base URL. */
  async listen(): Promise<string> {
    const { host, port } = this.#loaded.config.server;
    await this.server.listen({ host, port });
    const address = this.server.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  }

  /** Idempotent: a second call waits for the first. */
  async stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.server.close();
      await this.metalplane.stop();
    })();
    return this.#stopping;
  }
}
