import type { IncomingHttpHeaders } from 'node:http';
import type { AccessRules, AuthResult } from './auth.js';
import { ApiError, NOT_FOUND, detail, notFound } from './errors.js';
import type { ModelFilters } from './filters.js';
import { applyQuery } from './filters.js';
import type { PageSettings } from './pagination.js';
import { paginate, queryInt } from './pagination.js';
import type { Json, SerializeContext } from './serializers.js';
import { pythonIso } from './serializers.js';
import type { NetboxStore } from './store.js';

/** What a route handler gets. */
export interface RequestContext {
  readonly method: string;
  /** The path as received, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** The absolute request URL, like Django's `request.build_absolute_uri()`. */
  readonly requestUrl: string;
  readonly auth: AuthResult;
  readonly store: NetboxStore;
  readonly ser: SerializeContext;
  readonly pages: PageSettings;
  readonly access: AccessRules;
  readonly env: HandlerEnvironment;
  /** The parsed body (DRF `request.data`): `{}` when empty; throws 400/415 like DRF. */
  body(): unknown;
}

/** Emulator settings the handlers need. */
export interface HandlerEnvironment {
  readonly raceAvailableIps: boolean;
  readonly raceWindowMs: number;
  /** Aborted when the server goes down or stops: in-flight work must not commit. */
  readonly signal: AbortSignal;
  readonly hostname: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type Handler = (ctx: RequestContext) => ApiResponse | Promise<ApiResponse>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteDef {
  /** Fastify pattern with the trailing slash, e.g. `/api/ipam/prefixes/:id/`. */
  readonly pattern: string;
  /** `app.model` whose permissions guard the route; `null` for none; `'authenticated'` to require a token. */
  readonly model: string | null | 'authenticated';
  readonly methods: Partial<Record<HttpMethod, Handler>>;
}

/** A model exposed as `/api/<path>/` and `/api/<path>/<id>/`. */
export interface Resource<T extends { readonly id: number }> {
  readonly path: string;
  /** `app.model`, e.g. `ipam.prefix`. */
  readonly model: string;
  /** Class name for 404 messages, e.g. `Prefix`. */
  readonly modelName: string;
  readonly records: (store: NetboxStore) => Map<number, T>;
  readonly filters: (store: NetboxStore) => ModelFilters<T>;
  readonly serialize: (ser: SerializeContext, record: T) => Json;
  readonly brief: (ser: SerializeContext, record: T) => Json;
}

export function permissionFor(model: string, method: string): string | null {
  const action: Record<string, string> = { GET: 'view', HEAD: 'view', POST: 'add', PUT: 'change', PATCH: 'change', DELETE: 'delete' };
  const verb = action[method];
  if (!verb) return null;
  const [app, name] = model.split('.');
  return `${app}.${verb}_${name}`;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, body, headers };
}

/** `?fields=`, `?omit=`, `?brief=` (GET only; any non-empty `brief` value turns it on). */
export function shape<T extends { readonly id: number }>(ctx: RequestContext, resource: Resource<T>, record: T): Json {
  const read = ctx.method === 'GET' || ctx.method === 'HEAD';
  const fields = read ? splitList(ctx.query.get('fields')) : [];
  const omit = read && ctx.store.features.v2Tokens ? splitList(ctx.query.get('omit')) : [];
  if (fields.length > 0) return pick(resource.serialize(ctx.ser, record), (key) => fields.includes(key));
  if (omit.length > 0) return pick(resource.serialize(ctx.ser, record), (key) => !omit.includes(key));
  if (read && ctx.query.get('brief')) return resource.brief(ctx.ser, record);
  return resource.serialize(ctx.ser, record);
}

function splitList(value: string | null): string[] {
  return (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

function pick(object: Json, keep: (key: string) => boolean): Json {
  return Object.fromEntries(Object.entries(object).filter(([key]) => keep(key)));
}

/** `GET /api/<path>/`: filtered, ordered, paginated. */
export function listResponse<T extends { readonly id: number }>(ctx: RequestContext, resource: Resource<T>): ApiResponse {
  const items = applyQuery(ctx.store, [...resource.records(ctx.store).values()], ctx.query, resource.filters(ctx.store));
  const page = paginate(items, ctx.query, ctx.requestUrl, ctx.pages, (item) => item.id);
  return json(200, { ...page, results: page.results.map((record) => shape(ctx, resource, record)) });
}

/** The object named by `:id`, or the 404 DRF gives (`Not found.` when the id is not even a number). */
export function lookup<T extends { readonly id: number }>(ctx: RequestContext, resource: Resource<T>, param = 'id'): T {
  const id = strictPk(ctx.params[param]);
  if (id === undefined) throw detail(404, NOT_FOUND);
  const record = resource.records(ctx.store).get(id);
  if (!record) throw ctx.store.features.modelNotFoundMessage ? notFound(resource.modelName) : detail(404, NOT_FOUND);
  return record;
}

/** A primary key as Django's `AutoField.get_prep_value` accepts it. */
export function strictPk(text: string | undefined): number | undefined {
  const id = queryInt(text ?? null);
  return id === undefined ? undefined : id;
}

/** 4.6+: the weak ETag of a detail response. */
export function etagHeaders(ctx: RequestContext, record: { lastUpdated: Date }): Record<string, string> {
  return ctx.store.features.netbox46 ? { etag: `W/"${pythonIso(record.lastUpdated)}"` } : {};
}

/** 4.6+: `If-Match` on PUT/PATCH; a mismatch is a 412 carrying the current ETag. */
export function checkIfMatch(ctx: RequestContext, record: { lastUpdated: Date }): void {
  if (!ctx.store.features.netbox46) return;
  const header = ctx.headers['if-match'];
  if (header === undefined) return;
  const current = `W/"${pythonIso(record.lastUpdated)}"`;
  const wanted = String(header)
    .split(',')
    .map((part) => part.trim());
  if (wanted.includes('*') || wanted.includes(current) || wanted.includes(current.slice(2))) return;
  throw new ApiError(412, { detail: 'Precondition failed.' }, { etag: current });
}

export function detailResponse<T extends { readonly id: number; lastUpdated: Date }>(
  ctx: RequestContext,
  resource: Resource<T>,
  record: T,
  status = 200,
): ApiResponse {
  return json(status, shape(ctx, resource, record), etagHeaders(ctx, record));
}

/** Bulk update/delete bodies: a list of objects with an integer `id` (`BulkOperationSerializer`). */
export function bulkIds(body: unknown): { readonly ids: number[]; readonly items: Record<string, unknown>[] } {
  if (!Array.isArray(body)) {
    throw new ApiError(400, { non_field_errors: [`Expected a list of items but got type "${typeof body === 'object' && body !== null ? 'dict' : typeof body}".`] });
  }
  const errors: Record<string, unknown>[] = [];
  const ids: number[] = [];
  const items: Record<string, unknown>[] = [];
  let failed = false;
  for (const item of body) {
    const record = typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : undefined;
    const id = record?.['id'];
    if (!record) {
      failed = true;
      errors.push({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    } else if (id === undefined) {
      failed = true;
      errors.push({ id: ['This field is required.'] });
    } else if (typeof id !== 'number' && !(typeof id === 'string' && /^\d+$/.test(id))) {
      failed = true;
      errors.push({ id: ['A valid integer is required.'] });
    } else {
      errors.push({});
      ids.push(Number(id));
      items.push(record);
    }
  }
  if (failed) throw new ApiError(400, errors);
  return { ids, items };
}
