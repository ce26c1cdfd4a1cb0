import { Type } from '@sinclair/typebox';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Store } from '../store/store.js';
import { coreServices, type HttpRoutes } from './core-services.js';
import { definePlugin, isPluginDefinition, type AnyPluginDefinition, type PluginDefinition } from './define-plugin.js';
import { createServiceRef, optional, type Resolved, type ServiceRef } from './service-ref.js';

// The `expectTypeOf` and `@ts-expect-error` lines are checked by `tsc -p tsconfig.test.json`;
// at run time they are no-ops, and the rest checks what the values are.

interface Clock {
  now(): number;
}
interface Hook {
  run(): void;
}
interface Greeter {
  greet(name: string): string;
}

const clockRef = createServiceRef<Clock>()({ id: 'test.clock' });
const hookRef = createServiceRef<Hook>()({ id: 'test.hook', dispatch: 'all' });
const firstRef = createServiceRef<Hook>()({ id: 'test.first', dispatch: 'first-non-null' });
const greeterRef = createServiceRef<Greeter>()({ id: 'test.greeter' });

const configSchema = Type.Object(
  {
    greeting: Type.String({ default: 'hello' }),
    port: Type.Integer(),
    tags: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

describe('createServiceRef', () => {
  it('defaults to a single, root-scoped ref and carries T and the dispatch in its type', () => {
    expect(clockRef).toEqual({ id: 'test.clock', dispatch: 'single', scope: 'root' });
    expect(hookRef.dispatch).toBe('all');
    expect(coreServices.logger).toMatchObject({ id: 'core.logger', scope: 'plugin', dispatch: 'single' });

    expectTypeOf(clockRef).toEqualTypeOf<ServiceRef<Clock, 'single'>>();
    expectTypeOf(hookRef).toEqualTypeOf<ServiceRef<Hook, 'all'>>();
    expectTypeOf(firstRef).toEqualTypeOf<ServiceRef<Hook, 'first-non-null'>>();
  });

  it('resolves single to T, all/first-non-null to readonly T[], optional single to T | undefined', () => {
    expect(optional(clockRef)).toEqual({ optional: true, ref: clockRef });

    expectTypeOf<Resolved<typeof clockRef>>().toEqualTypeOf<Clock>();
    expectTypeOf<Resolved<typeof hookRef>>().toEqualTypeOf<readonly Hook[]>();
    expectTypeOf<Resolved<typeof firstRef>>().toEqualTypeOf<readonly Hook[]>();
    expectTypeOf<Resolved<ReturnType<typeof optional<Clock, 'single'>>>>().toEqualTypeOf<Clock | undefined>();
    expectTypeOf<Resolved<ReturnType<typeof optional<Hook, 'all'>>>>().toEqualTypeOf<readonly Hook[]>();
  });
});

describe('definePlugin', () => {
  const typed = definePlugin({
    id: 'typed',
    version: '1.0.0',
    configSchema,
    provides: { greeter: greeterRef },
    requires: {
      clock: clockRef,
      hooks: hookRef,
      firsts: firstRef,
      maybeClock: optional(clockRef),
      maybeHooks: optional(hookRef),
      logger: coreServices.logger,
      store: coreServices.store,
      http: coreServices.http,
    },
    setup: ({ id, config, deps }) => {
      expectTypeOf(id).toEqualTypeOf<string>();
      expectTypeOf(config).toEqualTypeOf<Readonly<{ greeting: string; port: number; tags?: string[] }>>();
      expectTypeOf(deps.clock).toEqualTypeOf<Clock>();
      expectTypeOf(deps.hooks).toEqualTypeOf<readonly Hook[]>();
      expectTypeOf(deps.firsts).toEqualTypeOf<readonly Hook[]>();
      expectTypeOf(deps.maybeClock).toEqualTypeOf<Clock | undefined>();
      expectTypeOf(deps.maybeHooks).toEqualTypeOf<readonly Hook[]>();
      expectTypeOf(deps.logger).toEqualTypeOf<Logger>();
      expectTypeOf(deps.store).toEqualTypeOf<Store>();
      expectTypeOf(deps.http).toEqualTypeOf<HttpRoutes>();
      // @ts-expect-error deps only has what `requires` names
      void deps.events;
      // @ts-expect-error config is read-only
      config.port = 1;

      for (const hook of deps.hooks) hook.run();
      return {
        provides: { greeter: { greet: (name) => `${config.greeting}, ${name} (${deps.clock.now()})` } },
        stop: () => {},
      };
    },
  });

  it('keeps the definition as given, frozen', () => {
    expect(typed).toMatchObject({ id: 'typed', version: '1.0.0', configSchema, provides: { greeter: greeterRef } });
    expect(Object.isFrozen(typed)).toBe(true);
    expectTypeOf(typed).toExtend<AnyPluginDefinition>();
  });

  it('setup gets typed deps and config and returns the typed services', async () => {
    const ran: string[] = [];
    const instance = await typed.setup({
      id: 'typed',
      config: { greeting: 'hi', port: 1 },
      deps: {
        clock: { now: () => 42 },
        hooks: [{ run: () => void ran.push('hook') }],
        firsts: [],
        maybeClock: undefined,
        maybeHooks: [],
        logger: silentLogger,
        store: {} as Store,
        http: { prefix: '/api/v1/plugins/typed', register: () => {} },
      },
    });
    expect(ran).toEqual(['hook']);
    expect(instance.provides.greeter.greet('ada')).toBe('hi, ada (42)');
    expectTypeOf(instance.provides.greeter).toEqualTypeOf<Greeter>();
  });

  it('rejects, at compile time, a setup whose services do not match the declared refs', () => {
    const base = { version: '1.0.0', configSchema, provides: { greeter: greeterRef } } as const;
    const wrong = [
      definePlugin({
        ...base,
        id: 'wrong-method',
        // @ts-expect-error greet must return a string
        setup: () => ({ provides: { greeter: { greet: (name: string) => name.length } } }),
      }),
      definePlugin({
        ...base,
        id: 'missing-service',
        // @ts-expect-error the declared greeter is missing
        setup: () => ({ provides: {} }),
      }),
      definePlugin({
        ...base,
        id: 'no-provides',
        // @ts-expect-error provides is required when the plugin declares services
        setup: () => ({}),
      }),
      definePlugin({
        id: 'undeclared',
        version: '1.0.0',
        configSchema,
        // @ts-expect-error a plugin that declares no services provides none
        setup: () => ({ provides: { greeter: { greet: (name: string) => name } } }),
      }),
    ];
    expect(wrong.map((p) => p.id)).toEqual(['wrong-method', 'missing-service', 'no-provides', 'undeclared']);
  });

  it('lets a plugin without services omit provides', () => {
    const emptyConfig = Type.Object({});
    const plain = definePlugin({
      id: 'plain',
      version: '1.0.0',
      configSchema: emptyConfig,
      requires: { events: coreServices.events },
      setup: ({ deps }) => {
        expectTypeOf(deps.events).toEqualTypeOf<EventBus>();
        return { start: () => {} };
      },
    });
    expectTypeOf(plain).toEqualTypeOf<PluginDefinition<typeof emptyConfig, Record<never, never>, { events: typeof coreServices.events }>>();
    expect(isPluginDefinition(plain)).toBe(true);
  });
});

describe('isPluginDefinition', () => {
  const setup = () => ({});
  it.each([
    ['a definePlugin result', definePlugin({ id: 'p', version: '1.0.0', configSchema: Type.Object({}), setup }), true],
    ['a plain object of the right shape', { id: 'p', configSchema: {}, setup }, true],
    ['null', null, false],
    ['undefined', undefined, false],
    ['a string', 'p', false],
    ['a function', setup, false],
    ['an empty object', {}, false],
    ['no setup', { id: 'p', configSchema: {} }, false],
    ['setup that is not a function', { id: 'p', configSchema: {}, setup: 'x' }, false],
    ['no configSchema', { id: 'p', setup }, false],
    ['an id that is not a string', { id: 1, configSchema: {}, setup }, false],
    ['a module namespace wrapping a definition', { default: { id: 'p', configSchema: {}, setup } }, false],
  ] as const)('%s -> %s', (_name, value, expected) => {
    expect(isPluginDefinition(value)).toBe(expected);
  });

  it('narrows unknown to a plugin definition', () => {
    const value: unknown = { id: 'p', configSchema: {}, setup: () => ({}) };
    if (!isPluginDefinition(value)) throw new Error('expected a plugin definition');
    expectTypeOf(value).toEqualTypeOf<AnyPluginDefinition>();
    expect(value.id).toBe('p');
  });
});
