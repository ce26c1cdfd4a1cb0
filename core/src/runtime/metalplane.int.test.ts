import { Type, type TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, MetalplaneError, PluginError } from '../errors.js';
import type { MetalplaneEvents } from '../events/event-bus.js';
import { coreServices } from '../plugins/core-services.js';
import { definePlugin, type AnyPluginDefinition, type PluginInstance, type ProvidesMap, type RequiresMap } from '../plugins/define-plugin.js';
import { createServiceRef, optional } from '../plugins/service-ref.js';
import { createMetalplane, type Metalplane, type MetalplaneConfig, type MetalplaneOptions } from './metalplane.js';

// ---------------------------------------------------------------------------------------
// Fixtures

interface Clock {
  now(): string;
}
interface Hook {
  name(): string;
}
interface Resolver {
  resolve(key: string): Promise<string | null>;
}

const clockRef = createServiceRef<Clock>()({ id: 'test.clock' });
const hookRef = createServiceRef<Hook>()({ id: 'test.hook', dispatch: 'all' });
const resolverRef = createServiceRef<Resolver>()({ id: 'test.resolver', dispatch: 'first-non-null' });
const pingRef = createServiceRef<object>()({ id: 'test.ping' });
const pongRef = createServiceRef<object>()({ id: 'test.pong' });
const absentRef = createServiceRef<object>()({ id: 'test.absent' });

const config: MetalplaneConfig = { store: { driver: 'sqlite', path: ':memory:' } };
const emptySchema = Type.Object({}, { additionalProperties: false });

interface Fixture {
  provides?: ProvidesMap;
  requires?: RequiresMap;
  configSchema?: TSchema;
  /** Services to return from setup; by default an empty object per declared ref. */
  services?: Record<string, object>;
  setup?: (deps: Record<string, unknown>, config: unknown) => void;
  start?: (signal: AbortSignal) => Promise<void> | void;
  stop?: () => Promise<void> | void;
}

/** A plugin that records setup/start/stop into `calls` as `<id>.<hook>`. */
function plugin(id: string, calls: string[], fixture: Fixture = {}): AnyPluginDefinition {
  return definePlugin({
    id,
    version: '1.0.0',
    configSchema: fixture.configSchema ?? emptySchema,
    provides: fixture.provides ?? {},
    requires: fixture.requires ?? {},
    setup: ({ deps, config }) => {
      calls.push(`${id}.setup`);
      fixture.setup?.(deps, config);
      const provides = fixture.services ?? Object.fromEntries(Object.keys(fixture.provides ?? {}).map((k) => [k, {}]));
      const instance: PluginInstance<ProvidesMap> = {
        provides,
        start: async (signal) => {
          calls.push(`${id}.start`);
          await fixture.start?.(signal);
        },
        stop: async () => {
          calls.push(`${id}.stop`);
          await fixture.stop?.();
        },
      };
      return instance;
    },
  }) as AnyPluginDefinition;
}

function problemsOf(options: MetalplaneOptions): readonly string[] {
  try {
    createMetalplane(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).problems;
  }
  throw new Error('expected a ConfigurationError');
}

// ---------------------------------------------------------------------------------------

describe('createMetalplane', () => {
  it('reports every problem at once, before anything starts', () => {
    const calls: string[] = [];
    const strict = Type.Object({ port: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
    const problems = problemsOf({
      config: {
        store: { driver: 'sqlite', path: '' },
        bogus: true,
        plugins: { web: { port: 0 }, dns: { port: 'x' }, ghost: {} },
      } as unknown as MetalplaneConfig,
      plugins: [
        plugin('web', calls, { configSchema: strict }),
        plugin('dns', calls, { configSchema: strict }),
        plugin('needs-absent', calls, { requires: { absent: absentRef } }),
        plugin('clock-a', calls, { provides: { clock: clockRef } }),
        plugin('clock-b', calls, { provides: { clock: clockRef } }),
        plugin('ping', calls, { provides: { ping: pingRef }, requires: { pong: pongRef } }),
        plugin('pong', calls, { provides: { pong: pongRef }, requires: { ping: pingRef } }),
      ],
    });

    const expected: [string, RegExp][] = [
      ['core config: store', /^\/store: /],
      ['core config: unknown key', /^\/bogus: /],
      ['plugin config: web', /^\/plugins\/web\/port: /],
      ['plugin config: dns', /^\/plugins\/dns\/port: /],
      ['config of an unloaded plugin', /^\/plugins\/ghost: config given for plugin ghost, which is not loaded$/],
      ['missing provider', /^plugin needs-absent requires test\.absent \(as "absent"\), but no loaded plugin provides it$/],
      ['two providers of a single ref', /^service test\.clock takes exactly one provider, but clock-a and clock-b both provide it$/],
      ['cycle', /^plugins depend on each other in a cycle: ping, pong$/],
    ];
    for (const [what, pattern] of expected) {
      expect(problems.some((p) => pattern.test(p)), `${what}: ${pattern} in\n${problems.join('\n')}`).toBe(true);
    }
    expect(problems).toHaveLength(expected.length);
    expect(calls).toEqual([]);
  });

  it.each([
    ['an id that is not kebab-case', [plugin('Bad_Id', [])], /^plugin id "Bad_Id" is not kebab-case$/],
    ['the same plugin twice', [plugin('twice', []), plugin('twice', [])], /^plugin twice is loaded twice$/],
    ['a plugin providing a core service', [plugin('rogue', [], { provides: { store: coreServices.store } })], /^plugin rogue provides core\.store, which only core may provide$/],
    ['a cycle between two plugins', [
      plugin('a', [], { provides: { ping: pingRef }, requires: { pong: pongRef } }),
      plugin('b', [], { provides: { pong: pongRef }, requires: { ping: pingRef } }),
    ], /^plugins depend on each other in a cycle: a, b$/],
  ] as const)('reports %s', (_what, plugins, pattern) => {
    const problems = problemsOf({ config, plugins });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it('is fine with a missing provider of an optional or an `all` requirement', () => {
    const mp = createMetalplane({
      config,
      plugins: [plugin('consumer', [], { requires: { clock: optional(clockRef), hooks: hookRef, resolvers: optional(resolverRef) } })],
    });
    expect(mp.pluginOrder).toEqual(['consumer']);
  });

  it('applies defaults and freezes the config, core and plugins alike', async () => {
    let seen: unknown;
    const schema = Type.Object(
      { port: Type.Integer({ default: 8080 }), names: Type.Array(Type.String(), { default: ['a'] }), host: Type.String() },
      { additionalProperties: false },
    );
    const mp = createMetalplane({
      config: { ...config, plugins: { web: { host: 'localhost' } } },
      plugins: [plugin('web', [], { configSchema: schema, setup: (_deps, c) => (seen = c) })],
    });
    expect(mp.config.boot).toMatchObject({ loopGuardLimit: 5, registration: { kernel: 'registration/vmlinuz' } });
    expect(Object.isFrozen(mp.config)).toBe(true);
    expect(Object.isFrozen(mp.config.store)).toBe(true);

    await mp.start();
    try {
      expect(seen).toEqual({ host: 'localhost', port: 8080, names: ['a'] });
      expect(Object.isFrozen(seen)).toBe(true);
      expect(Object.isFrozen((seen as { names: string[] }).names)).toBe(true);
      expect(() => {
        (seen as { port: number }).port = 1;
      }).toThrow(TypeError);
    } finally {
      await mp.stop();
    }
  });

  it('does not change the config object it was given', () => {
    const given = { ...config, plugins: { web: {} } };
    const schema = Type.Object({ port: Type.Integer({ default: 8080 }) });
    createMetalplane({ config: given, plugins: [plugin('web', [], { configSchema: schema })] });
    expect(given).toEqual({ ...config, plugins: { web: {} } });
    expect(Object.isFrozen(given)).toBe(false);
  });
});

describe('Metalplane lifecycle', () => {
  it('starts in dependency order and stops in exactly the reverse order', async () => {
    const calls: string[] = [];
    const mp = createMetalplane({
      config,
      plugins: [
        plugin('consumer', calls, { requires: { clock: clockRef, hooks: hookRef } }),
        plugin('hook-b', calls, { provides: { hook: hookRef } }),
        plugin('clock', calls, { provides: { clock: clockRef }, requires: { logger: coreServices.logger } }),
        plugin('hook-a', calls, { provides: { hook: hookRef } }),
        plugin('loner', calls),
      ],
    });
    expect(mp.pluginOrder).toEqual(['hook-b', 'clock', 'hook-a', 'loner', 'consumer']);
    expect(mp.state).toBe('created');

    await mp.start();
    expect(mp.state).toBe('running');
    const order = mp.pluginOrder;
    expect(calls).toEqual([...order.map((id) => `${id}.setup`), ...order.map((id) => `${id}.start`)]);

    calls.length = 0;
    await mp.stop();
    expect(calls).toEqual([...order].reverse().map((id) => `${id}.stop`));
    expect(mp.state).toBe('stopped');
    expect(() => mp.store).toThrow(MetalplaneError);

    calls.length = 0;
    await mp.stop();
    expect(calls).toEqual([]);
    await expect(mp.start()).rejects.toMatchObject({ code: 'invalid_state' });
  });

  it('fails a start that never finishes with a PluginError after the timeout, stopping what had started', async () => {
    const calls: string[] = [];
    let aborted = false;
    const mp = createMetalplane({
      config,
      startTimeoutMs: 50,
      plugins: [
        plugin('first', calls),
        plugin('hangs', calls, {
          start: (signal) =>
            new Promise<void>(() => {
              signal.addEventListener('abort', () => (aborted = true));
            }),
        }),
        plugin('never', calls),
      ],
    });

    const started = Date.now();
    const error = await mp.start().catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({ code: 'plugin_error', pluginId: 'hangs', method: 'start', details: { pluginId: 'hangs', method: 'start' } });
    expect((error as Error).message).toMatch(/plugin hangs failed in start: .*50 ms/);
    expect(aborted).toBe(true);
    expect(mp.state).toBe('failed');
    // `never` was set up but never started, so it is not stopped either.
    expect(calls).toEqual(['first.setup', 'hangs.setup', 'never.setup', 'first.start', 'hangs.start', 'hangs.stop', 'first.stop']);
  });

  it('a start that throws is a PluginError naming the plugin, with the original as cause', async () => {
    const calls: string[] = [];
    const boom = new Error('port 67 in use');
    const mp = createMetalplane({
      config,
      plugins: [
        plugin('ok', calls),
        plugin('dhcp', calls, {
          start: () => {
            throw boom;
          },
        }),
      ],
    });
    const error = await mp.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ pluginId: 'dhcp', method: 'start', cause: boom });
    expect(calls).toEqual(['ok.setup', 'dhcp.setup', 'ok.start', 'dhcp.start', 'dhcp.stop', 'ok.stop']);
  });

  it('a setup that throws is a PluginError(setup), and nothing is started or stopped', async () => {
    const calls: string[] = [];
    const boom = new Error('bad wiring');
    const mp = createMetalplane({
      config,
      plugins: [
        plugin('ok', calls),
        plugin('broken', calls, {
          setup: () => {
            throw boom;
          },
        }),
        plugin('later', calls),
      ],
    });
    const error = await mp.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({ pluginId: 'broken', method: 'setup', cause: boom });
    expect(calls).toEqual(['ok.setup', 'broken.setup']);
    expect(mp.state).toBe('failed');
  });

  it('a setup that does not return a declared service is a PluginError(setup)', async () => {
    const mp = createMetalplane({ config, plugins: [plugin('liar', [], { provides: { clock: clockRef }, services: {} })] });
    const error = await mp.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ pluginId: 'liar', method: 'setup' });
    expect((error as Error).message).toContain('test.clock');
  });

  it('stops on `await using`', async () => {
    const calls: string[] = [];
    let handle: Metalplane | undefined;
    {
      await using mp = createMetalplane({ config, plugins: [plugin('a', calls)] });
      handle = mp;
      await mp.start();
      expect(mp.state).toBe('running');
      calls.length = 0;
    }
    expect(calls).toEqual(['a.stop']);
    expect(handle.state).toBe('stopped');
  });
});

describe('Metalplane services', () => {
  it('wraps what a provided service throws or rejects in a PluginError naming plugin and `<ref id>.<method>`', async () => {
    const syncError = new Error('clock broke');
    const asyncError = new Error('lookup failed');
    const mp = createMetalplane({
      config,
      plugins: [
        plugin('clock', [], {
          provides: { clock: clockRef },
          services: {
            clock: {
              now: () => {
                throw syncError;
              },
            },
          },
        }),
        plugin('dns', [], {
          provides: { resolver: resolverRef },
          services: { resolver: { resolve: async () => Promise.reject(asyncError) } },
        }),
      ],
    });
    await mp.start();
    try {
      const clock = mp.get(clockRef)!;
      const thrown = (() => {
        try {
          clock.now();
        } catch (error) {
          return error;
        }
      })();
      expect(thrown).toBeInstanceOf(PluginError);
      expect(thrown).toMatchObject({ pluginId: 'clock', method: 'test.clock.now', cause: syncError });

      const rejected = await mp.getAll(resolverRef)[0]!.resolve('x').catch((e: unknown) => e);
      expect(rejected).toBeInstanceOf(PluginError);
      expect(rejected).toMatchObject({ pluginId: 'dns', method: 'test.resolver.resolve', cause: asyncError });
    } finally {
      await mp.stop();
    }
  });

  it('passes return values and non-function properties through the wrapper', async () => {
    const service = { label: 'wall', now: () => '2026-01-01T00:00:00.000Z' };
    const mp = createMetalplane({ config, plugins: [plugin('clock', [], { provides: { clock: clockRef }, services: { clock: service } })] });
    await mp.start();
    try {
      const clock = mp.get(clockRef) as typeof service;
      expect(clock.now()).toBe('2026-01-01T00:00:00.000Z');
      expect(clock.label).toBe('wall');
    } finally {
      await mp.stop();
    }
  });

  it('resolves `all` and `first-non-null` refs to arrays in plugin order, and optional singles to undefined', async () => {
    let deps: Record<string, unknown> = {};
    const hook = (name: string) => ({ hook: { name: () => name } });
    const resolver = (answer: string | null) => ({ resolver: { resolve: async () => answer } });
    const mp = createMetalplane({
      config,
      plugins: [
        plugin('consumer', [], {
          requires: { hooks: hookRef, resolvers: resolverRef, clock: optional(clockRef), maybeHooks: optional(hookRef), logger: coreServices.logger },
          setup: (d) => (deps = d),
        }),
        plugin('hook-z', [], { provides: { hook: hookRef }, services: hook('z') }),
        plugin('dns-none', [], { provides: { resolver: resolverRef }, services: resolver(null) }),
        plugin('hook-a', [], { provides: { hook: hookRef }, services: hook('a') }),
        plugin('dns-yes', [], { provides: { resolver: resolverRef }, services: resolver('10.0.0.7') }),
      ],
    });
    await mp.start();
    try {
      expect((deps.hooks as Hook[]).map((h) => h.name())).toEqual(['z', 'a']);
      expect((deps.maybeHooks as Hook[]).map((h) => h.name())).toEqual(['z', 'a']);
      expect(await Promise.all((deps.resolvers as Resolver[]).map((r) => r.resolve('x')))).toEqual([null, '10.0.0.7']);
      expect('clock' in deps).toBe(true);
      expect(deps.clock).toBeUndefined();
      expect(mp.getAll(hookRef).map((h) => h.name())).toEqual(['z', 'a']);
      expect(mp.get(clockRef)).toBeUndefined();
    } finally {
      await mp.stop();
    }
  });

  it('gives each plugin core services, and plugin-scoped HTTP routes under /api/v1/plugins/<id> (or /boot)', async () => {
    const routesA = async () => {};
    const routesB = async () => {};
    const routesC = async () => {};
    const prefixes: string[] = [];
    let deps: Record<string, unknown> = {};
    const http = (routes: typeof routesA) => (d: Record<string, unknown>) => {
      const h = d.http as { prefix: string; register(r: typeof routesA): void };
      prefixes.push(h.prefix);
      h.register(routes);
    };
    const mp = createMetalplane({
      config,
      plugins: [
        plugin('web-ui', [], { requires: { http: coreServices.http }, setup: http(routesA) }),
        plugin('core-user', [], {
          requires: {
            http: coreServices.http,
            store: coreServices.store,
            events: coreServices.events,
            lifecycle: coreServices.lifecycle,
            planner: coreServices.bootPlanner,
            recorder: coreServices.bootRecorder,
          },
          setup: (d) => {
            deps = d;
            http(routesB)(d);
          },
        }),
        plugin('booter', [], { requires: { http: coreServices.bootHttp }, setup: http(routesC) }),
      ],
    });
    await mp.start();
    try {
      expect(prefixes).toEqual(['/api/v1/plugins/web-ui', '/api/v1/plugins/core-user', '/boot']);
      expect(mp.routes).toEqual([
        { pluginId: 'web-ui', prefix: '/api/v1/plugins/web-ui', routes: routesA },
        { pluginId: 'core-user', prefix: '/api/v1/plugins/core-user', routes: routesB },
        { pluginId: 'booter', prefix: '/boot', routes: routesC },
      ]);
      expect(deps.store).toBe(mp.store);
      expect(deps.events).toBe(mp.events);
      expect(deps.planner).toBe(mp.bootPlanner);
      expect(deps.recorder).toBe(mp.bootRecorder);
    } finally {
      await mp.stop();
    }
  });

  it('transitions machines through metalplane.transition and the lifecycle service, emitting on metalplane.events', async () => {
    let lifecycle: { transition: (id: string, r: { transition: string; actor: string }) => Promise<{ phase: string }> } | undefined;
    const mp = createMetalplane({
      config,
      plugins: [plugin('operator', [], { requires: { lifecycle: coreServices.lifecycle }, setup: (d) => (lifecycle = d.lifecycle as typeof lifecycle) })],
    });
    await mp.start();
    try {
      const emitted: MetalplaneEvents['machine.transitioned'][] = [];
      mp.events.on('machine.transitioned', (e) => {
        emitted.push(e);
      });
      const machine = await mp.store.machines.create({ identity: [{ kind: 'mac', value: 'aa:bb:cc:dd:ee:01' }] });

      const enrolled = await mp.transition(machine.id, { transition: 'enroll', actor: 'agent' });
      expect(enrolled).toMatchObject({ phase: 'enrolled', resourceVersion: 2 });
      const configured = await lifecycle!.transition(machine.id, { transition: 'configure', actor: 'operator' });
      expect(configured.phase).toBe('configured');

      expect(emitted.map((e) => [e.machineId, e.transition, e.from, e.to, e.actor, e.resourceVersion])).toEqual([
        [machine.id, 'enroll', 'discovered', 'enrolled', 'agent', 2],
        [machine.id, 'configure', 'enrolled', 'configured', 'operator', 3],
      ]);
    } finally {
      await mp.stop();
    }
  });

  it('has no store or boot planner before start', () => {
    const mp = createMetalplane({ config });
    expect(() => mp.store).toThrow(expect.objectContaining({ code: 'not_started' }));
    expect(() => mp.bootPlanner).toThrow(expect.objectContaining({ code: 'not_started' }));
    expect(mp.getAll(hookRef)).toEqual([]);
  });
});
