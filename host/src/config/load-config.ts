import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigurationError, validateWithDefaults, type FieldError } from '@metalplane/core';
import { parseDocument } from 'yaml';
import { HostConfigSchema, defaultStorePath, type HostConfig } from './schema.js';

export interface LoadedConfig {
  readonly config: HostConfig;
  /** Relative paths in the config (plugin modules, the SQLite file) are resolved from here. */
  readonly baseDir: string;
  /** Where it came from: a file path, or `embedded default`. */
  readonly source: string;
}

const REFERENCE = /\$\{(env|file):([^}]*)\}/g;

/**
 * Replaces `${env:NAME}` and `${file:path}` inside string values (never in keys, and
 * never as YAML: a secret cannot change the document's structure). `$${` is a literal `${`.
 */
export function substitute(value: unknown, baseDir: string, path: string, errors: FieldError[], env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    const escaped = value.split('$${');
    return escaped
      .map((part) =>
        part.replace(REFERENCE, (_match, kind: string, ref: string) => {
          if (kind === 'env') {
            const found = env[ref];
            if (found === undefined) errors.push({ path, message: `environment variable ${ref} is not set` });
            return found ?? '';
          }
          try {
            return readFileSync(resolve(baseDir, ref), 'utf8').replace(/\r?\n$/, '');
          } catch (error) {
            errors.push({ path, message: `cannot read file ${ref}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
            return '';
          }
        }),
      )
      .join('${');
  }
  if (Array.isArray(value)) return value.map((item, i) => substitute(item, baseDir, `${path}/${i}`, errors, env));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substitute(item, baseDir, `${path}/${escapePointer(key)}`, errors, env)]),
    );
  }
  return value;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Validates a parsed document; every problem is reported at once, each with its path. */
export function resolveConfig(document: unknown, baseDir: string, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const errors: FieldError[] = [];
  const substituted = substitute(document ?? {}, baseDir, '', errors, env);
  const { value, errors: schemaErrors } = validateWithDefaults<HostConfig>(HostConfigSchema, substituted);
  errors.push(...schemaErrors);
  if (errors.length > 0) throw new ConfigurationError(errors.map((e) => `${source}: ${e.path || '/'}: ${e.message}`));
  return { config: value, baseDir, source };
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError([`${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigurationError(document.errors.map((e) => `${path}: ${e.message}`));
  }
  return resolveConfig(document.toJS(), dirname(resolve(path)), path, env);
}

/** The embedded default: SQLite under ./data, API on 127.0.0.1:8080, the default plugins. */
export function embeddedDefaultConfig(cwd: string = process.cwd()): LoadedConfig {
  return resolveConfig({ store: { driver: 'sqlite', path: defaultStorePath } }, cwd, 'embedded default');
}
