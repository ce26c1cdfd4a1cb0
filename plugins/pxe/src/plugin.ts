import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bootExtensionPoint, ConfigurationError, coreServices, definePlugin, machineMacs, type BootServiceStatus } from '@metalplane/core';
import { BootHooks } from './boot-hooks.js';
import { PxeConfigSchema } from './config.js';
import { dynamicRangeOverlaps } from './range-overlap.js';
import { DEFAULT_IPXE_FILES, DhcpService } from './dhcp/index.js';
import { bootRoutes } from './http/index.js';
import { rpiResolver } from './rpi/index.js';
import { chainResolvers, ipxeResolver, TftpService } from './tftp/index.js';

/**
 * The PXE boot plugin: DHCP (`proxy`, `reservation`, `full` or `off`), TFTP (iPXE binaries,
 * Raspberry Pi firmware and per-board files) and the HTTP side under `/boot` (iPXE scripts,
 * artifacts, iPXE binaries for UEFI HTTP boot). It never decides what a machine boots: every
 * script asks core's boot planner, and every step goes to the machine's boot timeline.
 */
export default definePlugin({
  id: 'pxe',
  version: '0.1.0',
  description: 'network boot: DHCP, TFTP and iPXE over HTTP, Raspberry Pi 4',
  configSchema: PxeConfigSchema,
  provides: { boot: bootExtensionPoint },
  requires: {
    logger: coreServices.logger,
    store: coreServices.store,
    planner: coreServices.bootPlanner,
    recorder: coreServices.bootRecorder,
    bootHttp: coreServices.bootHttp,
    events: coreServices.events,
  },
  setup({ config, deps }) {
    const { logger } = deps;
    const hooks = new BootHooks({ store: deps.store, planner: deps.planner, recorder: deps.recorder, logger, httpBaseUrl: config.httpBaseUrl });

    const dhcp = new DhcpService({
      config: { ...config.dhcp, httpBaseUrl: config.httpBaseUrl },
      hooks: { reservation: (mac) => hooks.reservation(mac), observe: (event) => hooks.dhcp(event) },
      logger: logger.child({ service: 'dhcp' }),
    });

    const tftpLogger = logger.child({ service: 'tftp' });
    const tftp = config.tftp.enabled
      ? new TftpService({
          port: config.tftp.port,
          ...(config.tftp.root ? { root: config.tftp.root } : {}),
          blksizeMax: config.tftp.blksizeMax,
          windowsizeMax: config.tftp.windowsizeMax,
          maxTransfers: config.tftp.maxTransfers,
          timeoutMs: config.tftp.timeoutMs,
          retries: config.tftp.retries,
          resolve: chainResolvers(
            rpiResolver({ ...(config.tftp.root ? { root: config.tftp.root } : {}), rpiBoot: (serial) => hooks.rpiBoot(serial), logger: tftpLogger }),
            ipxeResolver(config.ipxeDirectory, tftpLogger),
          ),
          observe: (event) => hooks.tftp(event),
          logger: tftpLogger,
        })
      : undefined;

    deps.bootHttp.register(async (app) => {
      await app.register(bootRoutes, {
        plan: (request) => hooks.plan(request),
        observe: (event) => hooks.http(event),
        ipxeDirectory: config.ipxeDirectory,
        baseUrl: config.httpBaseUrl,
        ...(config.artifactDirectory ? { artifactDirectory: config.artifactDirectory } : {}),
        machineByServiceTag: async (tag) => {
          const [machine] = await deps.store.machines.findByIdentity([{ kind: 'serial', value: tag }]);
          const mac = machine ? machineMacs(machine)[0] : undefined;
          return mac ? { mac } : null;
        },
      });
    });

    // The registration image is served by the host; it says which address fetched what.
    let unsubscribe: (() => void) | undefined;

    return {
      provides: {
        boot: {
          async status(): Promise<readonly BootServiceStatus[]> {
            return [...dhcp.status(), ...(tftp ? tftp.status() : [])];
          },
        },
      },
      async start() {
        unsubscribe = deps.events.on('boot.file-served', (event) =>
          hooks.http({ step: 'http.file', path: event.path, status: event.status, remoteAddress: event.remoteAddress, durationMs: event.durationMs, ...(event.bytes !== null ? { bytes: event.bytes } : {}) }),
        );
        // Said once at start, not first when a machine is stuck in PXE: what firmware will ask for and is not there.
        const missing = [...new Set(Object.values(DEFAULT_IPXE_FILES))].filter((name) => !existsSync(join(config.ipxeDirectory, name)));
        if (config.dhcp.mode !== 'off' && missing.length > 0) {
          logger.warn(
            { ipxeDirectory: config.ipxeDirectory, missing },
            `iPXE binaries missing from ${config.ipxeDirectory}: ${missing.join(', ')}; machines whose firmware needs them cannot netboot (install Debian's ipxe package, or build them)`,
          );
        }
        if (config.dhcp.mode === 'full') {
          const overlaps = dynamicRangeOverlaps(config.dhcp.subnets, await deps.store.ipPools.list());
          if (overlaps.length > 0) throw new ConfigurationError(overlaps);
        }
        await dhcp.start();
        await tftp?.start();
        logger.info({ dhcp: config.dhcp.mode, tftp: config.tftp.enabled, httpBaseUrl: config.httpBaseUrl }, 'PXE boot services started');
      },
      async stop() {
        unsubscribe?.();
        await tftp?.stop();
        await dhcp.stop();
      },
    };
  },
});
