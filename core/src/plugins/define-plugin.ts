import type { Static, TSchema } from '@sinclair/typebox';
import type { Requirement, Resolved, ServiceRef, ServiceType, AnyServiceRef } from './service-ref.js';

export type ProvidesMap = Record<string, AnyServiceRef>;
export type RequiresMap = Record<string, Requirement>;

export type ResolvedDeps<R extends RequiresMap> = { readonly [K in keyof R]: Resolved<R[K]> };
export type ProvidedServices<P extends ProvidesMap> = { readonly [K in keyof P]: ServiceType<P[K]> };

/** What `setup` gets: the validated, frozen config and the resolved requirements. */
export interface PluginSetupContext<C extends TSchema, R extends RequiresMap> {
  readonly id: string;
  readonly config: Readonly<Static<C>>;
  readonly deps: ResolvedDeps<R>;
}

/** What `setup` returns: the provided services, and optional start/stop hooks. */
export type PluginInstance<P extends ProvidesMap> = (keyof P extends never
  ? { readonly provides?: Record<string, never> }
  : { readonly provides: ProvidedServices<P> }) & {
  /** Called once, in dependency order, after every plugin's setup. Bounded by the start timeout. */
  start?(signal: AbortSignal): Promise<void> | void;
  /** Called once, in reverse order, when the host stops. Must release every socket and timer. */
  stop?(signal: AbortSignal): Promise<void> | void;
};

export interface PluginDefinition<
  C extends TSchema = TSchema,
  P extends ProvidesMap = ProvidesMap,
  R extends RequiresMap = RequiresMap,
> {
  /** kebab-case, unique in a host; also the key of the plugin's config and its HTTP prefix. */
  readonly id: string;
  readonly version: string;
  readonly description?: string;
  /** Validates the plugin's config, gives it defaults and its static type. Use `additionalProperties: false`. */
  readonly configSchema: C;
  readonly provides?: P;
  readonly requires?: R;
  // NoInfer: `provides` alone says what the plugin provides; otherwise undeclared services
  // returned by setup would widen P and type-check, then be dropped at run time.
  setup(context: PluginSetupContext<C, R>): Promise<PluginInstance<NoInfer<P>>> | PluginInstance<NoInfer<P>>;
}

/** Any plugin, whatever its config and services; what the loader handles. */
export type AnyPluginDefinition = PluginDefinition<TSchema, ProvidesMap, RequiresMap>;

/**
 * Declares a plugin. A plugin module default-exports the result.
 *
 * @example
 * export default definePlugin({
 *   id: 'hello',
 *   version: '1.0.0',
 *   configSchema: Type.Object({ greeting: Type.String({ default: 'hello' }) }, { additionalProperties: false }),
 *   provides: { greeter: greeterRef },
 *   requires: { logger: coreServices.logger },
 *   setup: ({ config, deps }) => ({ provides: { greeter: { greet: (n) => `${config.greeting}, ${n}` } } }),
 * });
 */
export function definePlugin<C extends TSchema, P extends ProvidesMap = Record<never, never>, R extends RequiresMap = Record<never, never>>(
  definition: PluginDefinition<C, P, R>,
): PluginDefinition<C, P, R> {
  return Object.freeze(definition);
}

/** Recognises a plugin definition in a module loaded at run time. */
export function isPluginDefinition(value: unknown): value is AnyPluginDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<AnyPluginDefinition>;
  return typeof v.id === 'string' && typeof v.setup === 'function' && typeof v.configSchema === 'object';
}

export type { ServiceRef };
