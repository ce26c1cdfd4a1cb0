import type { FastifySchemaCompiler } from 'fastify';
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from '@metalplane/core';

// ajv-formats ships CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(options: Options): Ajv {
  // strict: false because TypeBox schemas carry annotations of ours (e.g. `secret`).
  return addFormats(new Ajv({ allErrors: true, useDefaults: true, removeAdditional: false, strict: false, ...options }));
}

/**
 * Bodies are validated as sent: no type coercion ("5" is not a number) and unknown fields
 * rejected. Query strings and path parameters are text on the wire, so they are coerced.
 */
const bodyAjv = makeAjv({ coerceTypes: false });
const textAjv = makeAjv({ coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);

const BRANCH = /^(.*\/anyOf)\/(\d+)\//;

/**
 * A union (`anyOf`) reports the failures of every branch. When some branches fail only
 * because a constant differs (`kind: talos` against the nixos branch), those are the
 * wrong branches: keep the errors of the others, which are about what the client meant.
 */
function withoutRejectedBranches(errors: readonly FastifySchemaValidationError[]): FastifySchemaValidationError[] {
  const rejected = new Set<string>();
  const branches = new Map<string, Set<string>>();
  for (const e of errors) {
    const match = BRANCH.exec(e.schemaPath);
    if (!match) continue;
    const [, base, index] = match as unknown as [string, string, string];
    branches.set(base, (branches.get(base) ?? new Set()).add(index));
    if (e.keyword === 'const') rejected.add(`${base}/${index}`);
  }
  const keep = (e: FastifySchemaValidationError): boolean => {
    const match = BRANCH.exec(e.schemaPath);
    if (match) {
      const [, base, index] = match as unknown as [string, string, string];
      const all = branches.get(base)!;
      const remaining = [...all].filter((i) => !rejected.has(`${base}/${i}`));
      return remaining.length === 0 ? e.keyword === 'const' : remaining.includes(index);
    }
    // The union's own "must match a schema in anyOf" adds nothing once a branch was told apart by its constant.
    const toldApart = [...rejected].some((r) => r.startsWith(`${e.schemaPath}/`));
    return !(e.keyword === 'anyOf' && toldApart);
  };
  return errors.filter(keep);
}

/** One entry per offending field, with a JSON pointer that starts at the request part. */
export function fieldErrors(all: readonly FastifySchemaValidationError[], part: string | undefined): FieldError[] {
  const errors = withoutRejectedBranches(all);
  // Every branch wanted another constant (an unknown `kind`): say which ones exist, once.
  const allowed = new Map<string, unknown[]>();
  for (const e of errors) {
    if (e.keyword !== 'const') continue;
    const path = `/${part ?? 'body'}${e.instancePath}`;
    allowed.set(path, [...(allowed.get(path) ?? []), (e.params as { allowedValue?: unknown }).allowedValue]);
  }
  const result: FieldError[] = [...allowed].map(([path, values]) => ({
    path,
    message: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
  }));
  const seen = new Set(result.map((e) => `${e.path} ${e.message}`));
  for (const e of errors) {
    if (e.keyword === 'const') continue;
    const error = describe(e, part);
    const key = `${error.path} ${error.message}`;
    if (!seen.has(key)) result.push(error);
    seen.add(key);
  }
  return result;
}

function describe(e: FastifySchemaValidationError, part: string | undefined): FieldError {
  const base = `/${part ?? 'body'}${e.instancePath}`;
    const params = e.params as Record<string, unknown>;
    if (typeof params['additionalProperty'] === 'string') {
      return { path: `${base}/${params['additionalProperty']}`, message: 'unknown field' };
    }
    if (typeof params['missingProperty'] === 'string') {
      return { path: `${base}/${params['missingProperty']}`, message: 'is required' };
    }
  return { path: base, message: e.message ?? 'is invalid' };
}
