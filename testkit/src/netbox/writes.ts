import type { CustomFieldData, CustomFieldRecord, NetboxStore } from './store.js';

/**
 * Django REST framework's field rules for request bodies, with its exact messages: required
 * and null checks, choices, related objects by id or by attributes
 * (`netbox/utilities/api.py`), tags and custom fields.
 */

export const REQUIRED = 'This field is required.';
export const NOT_NULL = 'This field may not be null.';
export const NOT_BLANK = 'This field may not be blank.';

/** Collects `{"field": ["msg", ...]}` the way a serializer does. */
export class FieldErrorCollector {
  readonly #errors: Record<string, unknown> = {};

  add(field: string, message: string): void {
    const list = this.#errors[field];
    if (Array.isArray(list)) list.push(message);
    else this.#errors[field] = [message];
  }

  /** Nested errors, e.g. `{"tags": [{}, ["msg"]]}`. */
  set(field: string, value: unknown): void {
    this.#errors[field] = value;
  }

  get empty(): boolean {
    return Object.keys(this.#errors).length === 0;
  }

  toJSON(): Record<string, unknown> {
    return { ...this.#errors };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Python's `repr` for the simple values DRF puts in messages (`{'slug': 'x'}`). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (isRecord(value)) return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
  return String(value);
}

/** Python's `str` of a scalar, as it appears inside f-string messages. */
export function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  return pyRepr(value);
}

/** `int(value)` as Python does it; `undefined` where Python raises. */
export function pyInt(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number(value.trim());
  return undefined;
}

/** DRF `CharField`: strings, and numbers turned into strings; `undefined` plus an error otherwise. */
export function readString(
  errors: FieldErrorCollector,
  field: string,
  value: unknown,
  options: { allowBlank?: boolean; allowNull?: boolean; maxLength?: number } = {},
): string | null | undefined {
  if (value === null) {
    if (options.allowNull) return null;
    errors.add(field, NOT_NULL);
    return undefined;
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    errors.add(field, 'Not a valid string.');
    return undefined;
  }
  const text = String(value).trim();
  if (text === '' && !options.allowBlank) {
    errors.add(field, NOT_BLANK);
    return undefined;
  }
  if (options.maxLength !== undefined && text.length > options.maxLength) {
    errors.add(field, `Ensure this field has no more than ${options.maxLength} characters.`);
    return undefined;
  }
  return text;
}

/** DRF `IntegerField`. */
export function readInteger(errors: FieldErrorCollector, field: string, value: unknown, allowNull = false): number | null | undefined {
  if (value === null) {
    if (allowNull) return null;
    errors.add(field, NOT_NULL);
    return undefined;
  }
  if (typeof value === 'boolean' || pyInt(value) === undefined || (typeof value === 'number' && !Number.isInteger(value))) {
    errors.add(field, 'A valid integer is required.');
    return undefined;
  }
  return pyInt(value);
}

/** DRF `BooleanField`. */
export function readBoolean(errors: FieldErrorCollector, field: string, value: unknown): boolean | undefined {
  const truthy = new Set<unknown>([true, 1, '1', 'true', 'True', 'TRUE', 'yes', 'Yes', 'y', 'Y', 'on', 'On', 't', 'T']);
  const falsy = new Set<unknown>([false, 0, '0', 'false', 'False', 'FALSE', 'no', 'No', 'n', 'N', 'off', 'Off', 'f', 'F']);
  if (truthy.has(value)) return true;
  if (falsy.has(value)) return false;
  errors.add(field, 'Must be a valid boolean.');
  return undefined;
}

/** NetBox `ChoiceField`: the bare value is written (`"active"`). */
export function readChoice(
  errors: FieldErrorCollector,
  field: string,
  value: unknown,
  choices: Readonly<Record<string, string>>,
  allowBlank = false,
): string | undefined {
  if (value === null) {
    errors.add(field, NOT_NULL);
    return undefined;
  }
  if (value === '' && allowBlank) return '';
  const key = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  if (key === undefined || !Object.hasOwn(choices, key)) {
    errors.add(field, `"${key ?? pyStr(value)}" is not a valid choice.`);
    return undefined;
  }
  return key;
}

/** `ContentTypeField` for generic relations (`"dcim.interface"`). */
export function readContentType(
  errors: FieldErrorCollector,
  field: string,
  value: unknown,
  allowed: readonly string[],
): string | null | undefined {
  if (value === null) return null;
  if (typeof value !== 'string' || value.split('.').length !== 2) {
    errors.add(field, "Invalid value. Specify a content type as '<app_label>.<model_name>'.");
    return undefined;
  }
  if (!allowed.includes(value.toLowerCase())) {
    errors.add(field, `Invalid content type: ${value}`);
    return undefined;
  }
  return value.toLowerCase();
}

/**
 * A related object given as a primary key or as a dictionary of unique attributes
 * (`get_related_object_by_attrs`). `attributes` maps API attribute names to record values.
 */
export function readRelated<T extends { readonly id: number }>(
  errors: FieldErrorCollector,
  field: string,
  value: unknown,
  records: ReadonlyMap<number, T>,
  attributes: (record: T) => Readonly<Record<string, unknown>>,
  allowNull = true,
): T | null | undefined {
  if (value === null) {
    if (allowNull) return null;
    errors.add(field, NOT_NULL);
    return undefined;
  }
  const message = resolveRelated(value, records, attributes);
  if (typeof message === 'string') {
    errors.add(field, message);
    return undefined;
  }
  return message;
}

/** The related record, or the DRF message explaining why there is none. */
export function resolveRelated<T extends { readonly id: number }>(
  value: unknown,
  records: ReadonlyMap<number, T>,
  attributes: (record: T) => Readonly<Record<string, unknown>>,
): T | string {
  if (isRecord(value)) {
    const matches = [...records.values()].filter((record) => {
      const attrs = attributes(record);
      return Object.entries(value).every(([key, wanted]) => Object.hasOwn(attrs, key) && looseEquals(attrs[key], wanted));
    });
    const unknownKey = Object.keys(value).find((key) => {
      const sample = records.values().next();
      return !sample.done && !Object.hasOwn(attributes(sample.value), key);
    });
    if (unknownKey !== undefined) {
      return `Cannot resolve keyword '${unknownKey}' into field.`;
    }
    if (matches.length === 0) return `Related object not found using the provided attributes: ${pyRepr(value)}`;
    if (matches.length > 1) return `Multiple objects match the provided attributes: ${pyRepr(value)}`;
    return matches[0] as T;
  }
  const pk = pyInt(value);
  if (pk === undefined) {
    return `Related objects must be referenced by numeric ID or by dictionary of attributes. Received an unrecognized value: ${pyStr(value)}`;
  }
  const record = records.get(pk);
  if (!record) return `Related object not found using the provided numeric ID: ${pk}`;
  return record;
}

function looseEquals(actual: unknown, wanted: unknown): boolean {
  if (actual === wanted) return true;
  if (typeof actual === 'number' && typeof wanted === 'string') return String(actual) === wanted;
  return false;
}

/** Tag attributes usable in `{"slug": ...}` style references. */
export function tagAttributes(tag: { id: number; name: string; slug: string; color: string }): Record<string, unknown> {
  return { id: tag.id, name: tag.name, slug: tag.slug, color: tag.color };
}

/**
 * A `tags` list (pks or attribute dicts; tags must exist). Errors are positional, the way a
 * nested list serializer reports them: `{"tags": [{}, ["msg"]]}`.
 */
export function readTags(store: NetboxStore, errors: FieldErrorCollector, field: string, value: unknown): number[] | undefined {
  if (value === null) {
    errors.add(field, NOT_NULL);
    return undefined;
  }
  if (!Array.isArray(value)) {
    errors.add(field, `Expected a list of items but got type "${pyType(value)}".`);
    return undefined;
  }
  const ids: number[] = [];
  const itemErrors: unknown[] = [];
  let failed = false;
  for (const item of value) {
    const result = resolveRelated(item, store.tags, tagAttributes);
    if (typeof result === 'string') {
      failed = true;
      itemErrors.push([result]);
    } else {
      itemErrors.push({});
      if (!ids.includes(result.id)) ids.push(result.id);
    }
  }
  if (failed) {
    errors.set(field, itemErrors);
    return undefined;
  }
  return ids;
}

export function pyType(value: unknown): string {
  if (value === null) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'dict';
}

/**
 * `custom_fields`: a dict merged over the current data (PATCH of one key keeps the others).
 * Unknown names and wrong value types are model-level errors in NetBox (`__all__`); they are
 * returned separately so the caller can report them after field errors, as `full_clean` does.
 */
export function readCustomFields(
  store: NetboxStore,
  errors: FieldErrorCollector,
  objectType: string,
  value: unknown,
  current: CustomFieldData,
): { data: CustomFieldData; modelError?: string } | undefined {
  if (!isRecord(value)) {
    errors.add(
      'custom_fields',
      'Invalid data format. Custom field data must be passed as a dictionary mapping field names to their values.',
    );
    return undefined;
  }
  const fields = new Map(store.customFieldsFor(objectType).map((field) => [field.name, field]));
  const data: CustomFieldData = { ...current };
  let modelError: string | undefined;
  for (const [name, fieldValue] of Object.entries(value)) {
    const field = fields.get(name);
    if (!field) {
      modelError ??= `Unknown field name '${name}' in custom field data.`;
      continue;
    }
    const problem = fieldValue === null ? undefined : customFieldProblem(field, fieldValue);
    if (problem) modelError ??= `Invalid value for custom field '${name}': ${problem}`;
    data[name] = fieldValue;
  }
  return modelError === undefined ? { data } : { data, modelError };
}

function customFieldProblem(field: CustomFieldRecord, value: unknown): string | undefined {
  switch (field.type) {
    case 'text':
    case 'longtext':
      return typeof value === 'string' ? undefined : 'Value must be a string.';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : 'Value must be an integer.';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'Value must be true or false.';
    case 'select':
      return typeof value === 'string' && field.choices.includes(value)
        ? undefined
        : `Invalid choice (${pyStr(value)}) for choice set.`;
    case 'json':
      return undefined;
  }
}
