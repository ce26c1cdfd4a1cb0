import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FieldError } from '../errors.js';

/**
 * Applies the schema's defaults to a copy of `input` and lists every violation with its
 * JSON pointer under `basePath`. The result is frozen: config is read, never written.
 */
export function validateWithDefaults<T>(schema: TSchema, input: unknown, basePath = ''): { value: T; errors: FieldError[] } {
  const value = Value.Default(schema, Value.Clone(input ?? {})) as T;
  const errors = [...Value.Errors(schema, value)].map((e) => ({ path: `${basePath}${e.path}` || '/', message: e.message }));
  return { value: deepFreeze(value), errors: dedupeByPath(errors) };
}

/** TypeBox reports a union failure once per branch; one line per path is what a person reads. */
function dedupeByPath(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
