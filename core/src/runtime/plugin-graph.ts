import type { AnyPluginDefinition } from '../plugins/define-plugin.js';
import { isOptional, refOf, type AnyServiceRef } from '../plugins/service-ref.js';

export interface PluginGraph {
  /** Plugins in an order where every provider comes before its consumers. */
  readonly order: readonly AnyPluginDefinition[];
  /** Providers of each service id, in plugin order. */
  readonly providers: ReadonlyMap<string, readonly AnyPluginDefinition[]>;
}

/**
 * Checks the whole dependency graph and orders it. Returns every problem found (missing
 * provider, two providers of a single service, a cycle, a duplicate id), not just the first.
 */
export function buildPluginGraph(
  plugins: readonly AnyPluginDefinition[],
  coreRefs: ReadonlySet<string>,
): { graph: PluginGraph; problems: string[] } {
  const problems: string[] = [];
  const seenIds = new Set<string>();
  for (const plugin of plugins) {
    if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(plugin.id)) problems.push(`plugin id "${plugin.id}" is not kebab-case`);
    if (seenIds.has(plugin.id)) problems.push(`plugin ${plugin.id} is loaded twice`);
    seenIds.add(plugin.id);
  }

  const providers = new Map<string, AnyPluginDefinition[]>();
  const refs = new Map<string, AnyServiceRef>();
  for (const plugin of plugins) {
    for (const ref of Object.values(plugin.provides ?? {})) {
      if (coreRefs.has(ref.id)) problems.push(`plugin ${plugin.id} provides ${ref.id}, which only core may provide`);
      providers.set(ref.id, [...(providers.get(ref.id) ?? []), plugin]);
      refs.set(ref.id, ref);
    }
  }
  for (const [id, list] of providers) {
    if (refs.get(id)?.dispatch === 'single' && list.length > 1) {
      problems.push(`service ${id} takes exactly one provider, but ${list.map((p) => p.id).join(' and ')} both provide it`);
    }
  }

  const dependsOn = new Map<string, Set<string>>();
  for (const plugin of plugins) {
    const edges = new Set<string>();
    for (const [name, requirement] of Object.entries(plugin.requires ?? {})) {
      const ref = refOf(requirement);
      if (coreRefs.has(ref.id)) continue;
      const list = providers.get(ref.id) ?? [];
      if (list.length === 0 && !isOptional(requirement) && ref.dispatch === 'single') {
        problems.push(`plugin ${plugin.id} requires ${ref.id} (as "${name}"), but no loaded plugin provides it`);
      }
      for (const provider of list) if (provider.id !== plugin.id) edges.add(provider.id);
    }
    dependsOn.set(plugin.id, edges);
  }

  const order = topologicalOrder(plugins, dependsOn, problems);
  return { graph: { order, providers }, problems };
}

/** Kahn's algorithm, keeping the configured order among plugins that are free to go. */
function topologicalOrder(
  plugins: readonly AnyPluginDefinition[],
  dependsOn: ReadonlyMap<string, ReadonlySet<string>>,
  problems: string[],
): AnyPluginDefinition[] {
  const placed = new Set<string>();
  const order: AnyPluginDefinition[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (const plugin of plugins) {
      if (placed.has(plugin.id)) continue;
      const waiting = [...(dependsOn.get(plugin.id) ?? [])].filter((d) => !placed.has(d));
      if (waiting.length === 0) {
        placed.add(plugin.id);
        order.push(plugin);
        progress = true;
      }
    }
  }
  const stuck = plugins.filter((p) => !placed.has(p.id)).map((p) => p.id);
  if (stuck.length > 0) problems.push(`plugins depend on each other in a cycle: ${stuck.join(', ')}`);
  return order;
}
