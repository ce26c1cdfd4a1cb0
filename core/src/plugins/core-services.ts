import type { FastifyPluginAsync } from 'fastify';
import type { BootPlanner } from '../boot/boot-planner.js';
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
} as const;
