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

/** One entry per offending field, with a JSON pointer that starts at the request part. */
export function fieldErrors(errors: readonly FastifySchemaValidationError[], part: string | undefined): FieldError[] {
  return errors.map((e) => {
    const base = `/${part ?? 'body'}${e.instancePath}`;
    const params = e.params as Record<string, unknown>;
    if (typeof params['additionalProperty'] === 'string') {
      return { path: `${base}/${params['additionalProperty']}`, message: 'unknown field' };
    }
    if (typeof params['missingProperty'] === 'string') {
      return { path: `${base}/${params['missingProperty']}`, message: 'is required' };
    }
    return { path: base, message: e.message ?? 'is invalid' };
  });
}
