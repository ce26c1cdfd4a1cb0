import 'reflect-metadata';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { BootPlanner, BootSettingsSchema, defaultBootSettings } from '../boot/boot-planner.js';
import { BootRecorder } from '../boot/timeline.js';
import { ConfigurationError, MetalplaneError, PluginError } from '../errors.js';
import { EventBus } from '../events/event-bus.js';
import { transition } from '../lifecycle/transition.js';
import { osExtensionPoint } from '../extension-points/os.js';
import { ipamExtensionPoint } from '../extension-points/ipam.js';
import { IpClaims } from '../ipam/claims.js';
import { drainMachine, type DrainOutcome, type DrainRequest } from '../operations/drain.js';
import { refreshMachineConditions } from '../operations/readiness.js';
import { silentLogger, type Logger } from '../logger.js';
import { coreServices, type HttpRoutes, type Lifecycle } from '../plugins/core-services.js';
import type { AnyPluginDefinition, PluginInstance, ProvidesMap } from '../plugins/define-plugin.js';
import { isOptional, refOf, type AnyServiceRef, type Dispatch, type ServiceRef } from '../plugins/service-ref.js';
import { StoreConfigSchema } from '../store/config.js';
import { Store } from '../store/store.js';
import { buildPluginGraph, type PluginGraph } from './plugin-graph.js';
import { validateWithDefaults } from './validate.js';

/** Core's own configuration; plugin configs sit under `plugins.<id>`. */
export const MetalplaneConfigSchema = Type.Object(
  {
    store: StoreConfigSchema,
    boot: Type.Optional(BootSettingsSchema),
    machines: Type.Optional(
      Type.Object(
        {
          /** A machine not heard from for this long gets `Ready=False`. */
          staleAfterSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 30 * 24 * 3600, default: 600 })),
          /** An inventory not reported for this long gets `InventoryStale=True`. */
          inventoryMaxAgeDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 30 })),
          /** How often these conditions are re-evaluated. */
          readinessIntervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, default: 30 })),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    ipam: Type.Optional(
      Type.Object(
        {
          /** How often pending claims are retried, pool rules applied and bound addresses checked. */
          reconcileIntervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, default: 15 })),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    plugins: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { default: {} })),
  },
  { additionalProperties: false },
);
export type MetalplaneConfig = Static<typeof MetalplaneConfigSchema>;

export interface MetalplaneOptions {
  readonly config: MetalplaneConfig;
  readonly plugins?: readonly AnyPluginDefinition[];
  readonly logger?: Logger;
  /** A plugin whose start takes longer fails the start (default 30 s). */
  readonly startTimeoutMs?: number;
  /** A plugin whose stop takes longer is abandoned with an error log (default 10 s). */
  readonly stopTimeoutMs?: number;
}

/** Routes a plugin registered, for the host to mount under `prefix`. */
export interface PluginRoutes {
  readonly pluginId: string;
  readonly prefix: string;
  readonly routes: FastifyPluginAsync;
}

type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

interface StartedPlugin {
  readonly definition: AnyPluginDefinition;
  readonly instance: PluginInstance<ProvidesMap>;
}

const coreRefIds: ReadonlySet<string> = new Set(Object.values(coreServices).map((r) => r.id));

/**
 * Validates configuration and the plugin graph, and returns an instance ready to start.
 * Nothing is opened here: every problem (bad config anywhere, missing provider, cycle)
 * is reported at once as a ConfigurationError before any plugin runs.
 */
export function createMetalplane(options: MetalplaneOptions): Metalplane {
  const plugins = options.plugins ?? [];
  const problems: string[] = [];
  const core = validateWithDefaults<MetalplaneConfig>(MetalplaneConfigSchema, options.config);
  problems.push(...core.errors.map((e) => `${e.path}: ${e.message}`));

  const pluginConfigs = new Map<string, unknown>();
  const given = (core.value.plugins ?? {}) as Record<string, unknown>;
  for (const plugin of plugins) {
    const result = validateWithDefaults(plugin.configSchema, given[plugin.id] ?? {}, `/plugins/${plugin.id}`);
    problems.push(...result.errors.map((e) => `${e.path}: ${e.message}`));
    pluginConfigs.set(plugin.id, result.value);
  }
  for (const id of Object.keys(given)) {
    if (!plugins.some((p) => p.id === id)) problems.push(`/plugins/${id}: config given for plugin ${id}, which is not loaded`);
  }

  const { graph, problems: graphProblems } = buildPluginGraph(plugins, coreRefIds);
  problems.push(...graphProblems);
  if (problems.length > 0) throw new ConfigurationError(problems);
  return new Metalplane(core.value, graph, pluginConfigs, options);
}

/**
 * A running metalplane: the store, the event bus, the lifecycle, and the plugins.
 * `start()` opens the store (migrating it), sets every plugin up and starts it in
 * dependency order; `stop()` undoes it in reverse. Usable with `await using`.
 */
export class Metalplane implements AsyncDisposable {
  readonly config: MetalplaneConfig;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly #graph: PluginGraph;
  readonly #pluginConfigs: ReadonlyMap<string, unknown>;
  readonly #startTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #routes: PluginRoutes[] = [];
  readonly #started: StartedPlugin[] = [];
  #container: DependencyContainer | undefined;
  #store: Store | undefined;
  #bootPlanner: BootPlanner | undefined;
  #bootRecorder: BootRecorder | undefined;
  #ipClaims: IpClaims | undefined;
  #state: State = 'created';
  #conditionsTimer: NodeJS.Timeout | undefined;
  #conditionsRun: Promise<unknown> | undefined;
  #ipamTimer: NodeJS.Timeout | undefined;
  #ipamRun: Promise<unknown> | undefined;
  readonly #assignments = new Set<Promise<void>>();

  constructor(
    config: MetalplaneConfig,
    graph: PluginGraph,
    pluginConfigs: ReadonlyMap<string, unknown>,
    options: MetalplaneOptions,
  ) {
    this.config = config;
    this.#graph = graph;
    this.#pluginConfigs = pluginConfigs;
    this.logger = options.logger ?? silentLogger;
    this.events = new EventBus(this.logger.child({ component: 'events' }));
    this.#startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  }

  get state(): State {
    return this.#state;
  }

  /** The store; available once started. */
  get store(): Store {
    if (!this.#store) throw new MetalplaneError('not_started', 'metalplane is not started');
    return this.#store;
  }

  /** IP claims over the built-in IPAM and the IPAM plugins; available once started. */
  get ipClaims(): IpClaims {
    if (!this.#ipClaims) throw new MetalplaneError('not_started', 'metalplane is not started');
    return this.#ipClaims;
  }

  get bootPlanner(): BootPlanner {
    if (!this.#bootPlanner) throw new MetalplaneError('not_started', 'metalplane is not started');
    return this.#bootPlanner;
  }

  get bootRecorder(): BootRecorder {
    if (!this.#bootRecorder) throw new MetalplaneError('not_started', 'metalplane is not started');
    return this.#bootRecorder;
  }

  /** Routes the plugins registered during setup, in plugin order. */
  get routes(): readonly PluginRoutes[] {
    return this.#routes;
  }

  /** Plugin ids in start order. */
  get pluginOrder(): readonly string[] {
    return this.#graph.order.map((p) => p.id);
  }

  async transition(machineId: string, request: Parameters<Lifecycle['transition']>[1]) {
    return transition(this.store, this.events, machineId, request);
  }

  /** The single provider of a service, or undefined when none is loaded. */
  get<T>(ref: ServiceRef<T, 'single'>): T | undefined {
    const all = this.getAll(ref);
    return all[0];
  }

  /** Every provider of a service, in plugin order. */
  getAll<T>(ref: ServiceRef<T, Dispatch>): readonly T[] {
    const container = this.#container;
    if (!container || !container.isRegistered(ref.id)) return [];
    return container.resolveAll<T>(ref.id);
  }

  async start(): Promise<void> {
    if (this.#state !== 'created') throw new MetalplaneError('invalid_state', `cannot start from state ${this.#state}`);
    this.#state = 'starting';
    try {
      this.#store = await Store.open(this.config.store);
      const boot = this.config.boot ?? defaultBootSettings;
      this.#bootPlanner = new BootPlanner(this.#store, boot);
      this.#bootRecorder = new BootRecorder(this.#store, this.events, boot, this.logger.child({ component: 'boot' }));
      this.#ipClaims = new IpClaims(this.#store, this.events, () => this.getAll(ipamExtensionPoint));
      this.#container = rootContainer.createChildContainer();
      this.#registerCore(this.#container, this.#store);
      const setUp: StartedPlugin[] = [];
      for (const definition of this.#graph.order) {
        setUp.push({ definition, instance: await this.#setup(definition, this.#container) });
      }
      for (const { definition, instance } of setUp) {
        // Stopped on failure even if its own start fails: it may hold part of what it opened.
        this.#started.push({ definition, instance });
        if (instance.start) await this.#withTimeout(definition.id, 'start', this.#startTimeoutMs, (s) => instance.start!(s));
        this.logger.info({ plugin: definition.id }, `plugin ${definition.id} started`);
      }
      this.#startConditionsLoop();
      this.#startIpamLoop();
      this.#state = 'running';
    } catch (error) {
      this.#state = 'failed';
      await this.#teardown();
      throw error;
    }
  }

  /**
   * Takes a machine in maintenance through `draining` (asking the OS plugin to drain it)
   * to `offline`; see `drainMachine`.
   */
  async drain(machineId: string, request: DrainRequest): Promise<DrainOutcome> {
    return drainMachine(this.store, this.events, this.getAll(osExtensionPoint), machineId, request);
  }

  /** Re-evaluates every machine's Ready and InventoryStale conditions now (the loop does it every interval). */
  async refreshConditions(now: Date = new Date()): Promise<string[]> {
    return refreshMachineConditions(this.store, now, {
      staleAfterMs: (this.config.machines?.staleAfterSeconds ?? 600) * 1000,
      inventoryMaxAgeMs: (this.config.machines?.inventoryMaxAgeDays ?? 30) * 24 * 3600 * 1000,
    });
  }

  #startConditionsLoop(): void {
    const intervalMs = (this.config.machines?.readinessIntervalSeconds ?? 30) * 1000;
    this.#conditionsTimer = setInterval(() => {
      if (this.#conditionsRun || this.#state !== 'running') return;
      this.#conditionsRun = this.refreshConditions()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'refreshing machine conditions failed'))
        .finally(() => {
          this.#conditionsRun = undefined;
        });
    }, intervalMs);
    this.#conditionsTimer.unref();
  }

  /**
   * Claims follow machines: an enrolled or changed machine gets the addresses its pools'
   * rules give it at once; the loop retries, releases and checks drift in the background.
   */
  #startIpamLoop(): void {
    const assign = (machineId: string) => {
      if (this.#state !== 'running') return;
      const assignment = (async () => {
        const machine = await this.store.machines.get(machineId);
        if (machine) await this.ipClaims.assignForMachine(machine);
      })()
        .catch((error: unknown) => this.logger.warn({ err: error, machineId }, 'assigning IP claims failed; the reconcile loop retries'))
        .finally(() => this.#assignments.delete(assignment));
      this.#assignments.add(assignment);
    };
    this.events.on('machine.enrolled', ({ machineId }) => assign(machineId));
    this.events.on('machine.updated', ({ machineId }) => assign(machineId));
    this.events.on('machine.transitioned', ({ machineId }) => assign(machineId));
    const intervalMs = (this.config.ipam?.reconcileIntervalSeconds ?? 15) * 1000;
    this.#ipamTimer = setInterval(() => {
      if (this.#ipamRun || this.#state !== 'running') return;
      this.#ipamRun = this.ipClaims
        .reconcile()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'IP claim reconcile failed'))
        .finally(() => {
          this.#ipamRun = undefined;
        });
    }, intervalMs);
    this.#ipamTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping' || this.#state === 'created') return;
    clearInterval(this.#conditionsTimer);
    clearInterval(this.#ipamTimer);
    this.#state = 'stopping';
    await this.#conditionsRun;
    await this.#ipamRun;
    await Promise.allSettled([...this.#assignments]);
    await this.#teardown();
    this.#state = 'stopped';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #registerCore(container: DependencyContainer, store: Store): void {
    container.register(coreServices.events.id, { useValue: this.events });
    container.register(coreServices.store.id, { useValue: store });
    container.register(coreServices.bootPlanner.id, { useValue: this.#bootPlanner });
    container.register(coreServices.bootRecorder.id, { useValue: this.#bootRecorder });
    const lifecycle: Lifecycle = { transition: (id, request) => transition(store, this.events, id, request) };
    container.register(coreServices.lifecycle.id, { useValue: lifecycle });
  }

  /** Services whose instance depends on who asks for it. */
  #pluginScoped(ref: AnyServiceRef, pluginId: string): unknown {
    if (ref.id === coreServices.logger.id) return this.logger.child({ plugin: pluginId });
    if (ref.id === coreServices.http.id || ref.id === coreServices.bootHttp.id) {
      const prefix = ref.id === coreServices.http.id ? `/api/v1/plugins/${pluginId}` : '/boot';
      const http: HttpRoutes = { prefix, register: (routes) => this.#routes.push({ pluginId, prefix, routes }) };
      return http;
    }
    throw new MetalplaneError('unknown_service', `no plugin-scoped service ${ref.id}`);
  }

  async #setup(definition: AnyPluginDefinition, container: DependencyContainer): Promise<PluginInstance<ProvidesMap>> {
    const deps: Record<string, unknown> = {};
    for (const [name, requirement] of Object.entries(definition.requires ?? {})) {
      const ref = refOf(requirement);
      if (ref.scope === 'plugin') {
        deps[name] = this.#pluginScoped(ref, definition.id);
        continue;
      }
      const all = container.isRegistered(ref.id) ? container.resolveAll(ref.id) : [];
      deps[name] = ref.dispatch === 'single' ? (all[0] ?? (isOptional(requirement) ? undefined : missing(ref))) : all;
    }
    let instance: PluginInstance<ProvidesMap>;
    try {
      instance = await definition.setup({ id: definition.id, config: this.#pluginConfigs.get(definition.id) as never, deps: deps as never });
    } catch (error) {
      throw new PluginError(definition.id, 'setup', error);
    }
    const provided = (instance.provides ?? {}) as Record<string, unknown>;
    for (const [name, ref] of Object.entries(definition.provides ?? {})) {
      const service = provided[name];
      if (typeof service !== 'object' || service === null) {
        throw new PluginError(definition.id, 'setup', new Error(`setup did not return the service "${name}" (${ref.id}) it declares`));
      }
      container.register(ref.id, { useValue: wrapErrors(service, definition.id, ref.id) });
    }
    return instance;
  }

  async #withTimeout(pluginId: string, method: 'start' | 'stop', timeoutMs: number, run: (signal: AbortSignal) => Promise<void> | void): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(() => run(controller.signal)), timeout]);
    } catch (error) {
      throw new PluginError(pluginId, method, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops started plugins in reverse order, then closes the store; never throws. */
  async #teardown(): Promise<void> {
    while (this.#started.length > 0) {
      const { definition, instance } = this.#started.pop()!;
      if (!instance.stop) continue;
      try {
        await this.#withTimeout(definition.id, 'stop', this.#stopTimeoutMs, (s) => instance.stop!(s));
        this.logger.info({ plugin: definition.id }, `plugin ${definition.id} stopped`);
      } catch (error) {
        this.logger.error({ err: error, plugin: definition.id }, `plugin ${definition.id} failed to stop`);
      }
    }
    this.#container = undefined;
    this.events.removeAllListeners();
    const store = this.#store;
    this.#store = undefined;
    this.#bootPlanner = undefined;
    this.#bootRecorder = undefined;
    this.#ipClaims = undefined;
    if (store) await store.close();
  }
}

function missing(ref: AnyServiceRef): never {
  throw new MetalplaneError('missing_service', `no provider of ${ref.id}`);
}

/**
 * Wraps a provided service so anything its methods throw or reject with names the plugin
 * and the method (a PluginError whose `cause` is the original error).
 */
function wrapErrors<T extends object>(service: T, pluginId: string, refId: string): T {
  return new Proxy(service, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = `${refId}.${String(property)}`;
      return (...args: unknown[]) => {
        try {
          const result: unknown = value.apply(target, args);
          return result instanceof Promise
            ? result.catch((error: unknown) => {
                throw new PluginError(pluginId, method, error);
              })
            : result;
        } catch (error) {
          throw new PluginError(pluginId, method, error);
        }
      };
    },
  });
}
