import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigurationError, isPluginDefinition, type AnyPluginDefinition } from '@metalplane/core';
import type { HostConfig } from './config/schema.js';

export interface LoadedPlugin {
  readonly definition: AnyPluginDefinition;
  readonly config: unknown;
}

/**
 * Imports every plugin module the config names. A path (starting with `.` or `/`) is
 * resolved from the config file's directory; anything else is a package name resolved
 * from there too. All failures are reported together.
 */
export async function loadPlugins(entries: HostConfig['plugins'], baseDir: string): Promise<LoadedPlugin[]> {
  const problems: string[] = [];
  const loaded: LoadedPlugin[] = [];
  const require = createRequire(join(baseDir, 'metalplane.yaml'));
  for (const [index, entry] of entries.entries()) {
    const where = `/plugins/${index}/module`;
    let resolved: string;
    try {
      resolved = require.resolve(entry.module);
    } catch {
      problems.push(`${where}: cannot find plugin module "${entry.module}" (looked from ${baseDir})`);
      continue;
    }
    try {
      const module = (await import(pathToFileURL(resolved).href)) as { default?: unknown };
      if (!isPluginDefinition(module.default)) {
        problems.push(`${where}: "${entry.module}" does not default-export a plugin made with definePlugin()`);
        continue;
      }
      loaded.push({ definition: module.default, config: entry.config });
    } catch (error) {
      problems.push(`${where}: importing "${entry.module}" failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return loaded;
}
