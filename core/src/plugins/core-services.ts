import type { FastifyPluginAsync } from 'fastify';
import type { BootPlanner } from '../boot/boot-planner.js';
import type { BootRecorder } from '../boot/timeline.js';
import type { EventBus } from '../events/event-bus.js';
import type { TransitionRequest } from '../lifecycle/transition.js';
import type { Logger } from '../logger.js';
import type { Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';
import { createServiceRef } from './service-ref.js';

/**
 * Routes of one plugin, mounted by the host under `/api/v1/plugins/<plugin id>`.
 * Register them during `setup`; the host mounts them before it starts listening.
 */
export interface HttpRoutes {
  readonly prefix: string;
  register(routes: FastifyPluginAsync): void;
}

/**
 * Routes of a boot plugin that machines fetch (iPXE scripts, kernels, binaries), mounted by
 * the host under `/boot`, outside the API: firmware cannot authenticate and URLs in boot
 * scripts should stay short.
 */
export type BootHttpRoutes = HttpRoutes;

/** The lifecycle as a service: the only way a plugin changes a machine's phase. */
export interface Lifecycle {
  transition(machineId: string, request: TransitionRequest): Promise<Machine>;
}

/** Services core gives every plugin that asks for them. */
export const coreServices = {
  logger: createServiceRef<Logger>()({ id: 'core.logger', scope: 'plugin', description: 'a logger bound to the plugin id' }),
  events: createServiceRef<EventBus>()({ id: 'core.events', description: 'the typed event bus' }),
  store: createServiceRef<Store>()({ id: 'core.store', description: 'repositories and migrations' }),
  lifecycle: createServiceRef<Lifecycle>()({ id: 'core.lifecycle', description: 'machine phase transitions' }),
  bootPlanner: createServiceRef<BootPlanner>()({ id: 'core.boot-planner', description: 'the boot decision over stored state' }),
  http: createServiceRef<HttpRoutes>()({ id: 'core.http', scope: 'plugin', description: 'HTTP routes under the plugin prefix' }),
  bootHttp: createServiceRef<BootHttpRoutes>()({ id: 'core.boot-http', scope: 'plugin', description: 'HTTP routes under /boot, for machines' }),
  bootRecorder: createServiceRef<BootRecorder>()({ id: 'core.boot-recorder', description: 'boot timeline, last seen, discovery, loop guard counts' }),
} as const;
