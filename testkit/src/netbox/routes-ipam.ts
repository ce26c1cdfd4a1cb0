import { setTimeout as sleep } from 'node:timers/promises';
import { canView } from './auth.js';
import type { ApiResponse, RequestContext, Resource, RouteDef } from './context.js';
import { bulkIds, checkIfMatch, detailResponse, json, listResponse, lookup, strictPk } from './context.js';
import { ApiError, notFound } from './errors.js';
import { ipAddressFilters, ipRangeFilters, prefixFilters, vrfFilters } from './filters.js';
import { formatHost } from './ip.js';
import type { IpParent, ParsedIpWrite } from './ipam.js';
import {
  availableIps,
  insertIpAddress,
  parentFamily,
  parentMaskLength,
  updateIpAddress,
  validateIpBatch,
  validateIpWrite,
} from './ipam.js';
import { queryInt } from './pagination.js';
import {
  briefIpAddress,
  briefIpRange,
  briefPrefix,
  briefVrf,
  serializeIpAddress,
  serializeIpRange,
  serializePrefix,
  serializeVrf,
} from './serializers.js';
import type { IpAddressRecord, IpRangeRecord, NetboxStore, PrefixRecord, VrfRecord } from './store.js';
import { FieldErrorCollector, isRecord, pyType, readInteger } from './writes.js';

/** `limit` ≤ 0 on available-ips means "all" in NetBox; the emulator stops here instead. */
export const AVAILABLE_IPS_SAFETY_CAP = 65_536;

export const prefixResource: Resource<PrefixRecord> = {
  path: 'ipam/prefixes',
  model: 'ipam.prefix',
  modelName: 'Prefix',
  records: (store) => store.prefixes,
  filters: prefixFilters,
  serialize: serializePrefix,
  brief: briefPrefix,
};

export const ipRangeResource: Resource<IpRangeRecord> = {
  path: 'ipam/ip-ranges',
  model: 'ipam.iprange',
  modelName: 'IPRange',
  records: (store) => store.ipRanges,
  filters: ipRangeFilters,
  serialize: serializeIpRange,
  brief: briefIpRange,
};

export const ipAddressResource: Resource<IpAddressRecord> = {
  path: 'ipam/ip-addresses',
  model: 'ipam.ipaddress',
  modelName: 'IPAddress',
  records: (store) => store.ipAddresses,
  filters: ipAddressFilters,
  serialize: serializeIpAddress,
  brief: briefIpAddress,
};

export const vrfResource: Resource<VrfRecord> = {
  path: 'ipam/vrfs',
  model: 'ipam.vrf',
  modelName: 'VRF',
  records: (store) => store.vrfs,
  filters: vrfFilters,
  serialize: serializeVrf,
  brief: briefVrf,
};

/** A failure NetBox does not handle: a 500 with its REST error body. */
export class UnhandledServerError extends Error {
  readonly exception: string;
  constructor(exception: string, message: string) {
    super(message);
    this.name = 'UnhandledServerError';
    this.exception = exception;
  }
}

function readOnlyRoutes<T extends { readonly id: number; lastUpdated: Date }>(resource: Resource<T>): RouteDef[] {
  return [
    { pattern: `/api/${resource.path}/`, model: resource.model, methods: { GET: (ctx) => listResponse(ctx, resource) } },
    {
      pattern: `/api/${resource.path}/:id/`,
      model: resource.model,
      methods: { GET: (ctx) => detailResponse(ctx, resource, lookup(ctx, resource)) },
    },
  ];
}

export function ipamRoutes(): RouteDef[] {
  return [
    ...readOnlyRoutes(vrfResource),
    ...readOnlyRoutes(prefixResource),
    ...readOnlyRoutes(ipRangeResource),
    availableIpsRoute('prefix'),
    availableIpsRoute('range'),
    {
      pattern: '/api/ipam/ip-addresses/',
      model: 'ipam.ipaddress',
      methods: {
        GET: (ctx) => listResponse(ctx, ipAddressResource),
        POST: createIpAddresses,
        PATCH: (ctx) => bulkUpdateIpAddresses(ctx, 'partial'),
        PUT: (ctx) => bulkUpdateIpAddresses(ctx, 'update'),
        DELETE: bulkDeleteIpAddresses,
      },
    },
    {
      pattern: '/api/ipam/ip-addresses/:id/',
      model: 'ipam.ipaddress',
      methods: {
        GET: (ctx) => detailResponse(ctx, ipAddressResource, lookup(ctx, ipAddressResource)),
        PATCH: (ctx) => updateOneIpAddress(ctx, 'partial'),
        PUT: (ctx) => updateOneIpAddress(ctx, 'update'),
        DELETE: (ctx) => {
          deleteIpAddress(ctx.store, lookup(ctx, ipAddressResource));
          return { status: 204 };
        },
      },
    },
  ];
}

// ---- available-ips ----------------------------------------------------------------------

function availableIpsRoute(kind: IpParent['kind']): RouteDef {
  return {
    pattern: kind === 'prefix' ? '/api/ipam/prefixes/:id/available-ips/' : '/api/ipam/ip-ranges/:id/available-ips/',
    // The view's queryset is IPAddress: GET needs view_ipaddress, POST add_ipaddress.
    model: 'ipam.ipaddress',
    methods: {
      GET: (ctx) => listAvailableIps(ctx, parentOf(ctx, kind)),
      POST: (ctx) => allocateIps(ctx, kind),
    },
  };
}

function parentOf(ctx: RequestContext, kind: IpParent['kind']): IpParent {
  const raw = ctx.params['id'] ?? '';
  const pk = strictPk(raw);
  // This view uses Django's get_object_or_404, which lets a non-numeric pk escape as a 500.
  if (pk === undefined) throw new UnhandledServerError('ValueError', `Field 'id' expected a number but got '${raw}'.`);
  if (kind === 'prefix') {
    const record = ctx.store.prefixes.get(pk);
    if (!record || !canView(ctx.auth, 'ipam.view_prefix', ctx.access)) throw notFound('Prefix');
    return { kind, record };
  }
  const record = ctx.store.ipRanges.get(pk);
  if (!record || !canView(ctx.auth, 'ipam.view_iprange', ctx.access)) throw notFound('IPRange');
  return { kind, record };
}

function parentVrfId(parent: IpParent): number | null {
  return parent.record.vrfId;
}

/** `get_results_limit`: `int(limit) or MAX_PAGE_SIZE`, capped by MAX_PAGE_SIZE; non-numeric → PAGINATE_COUNT. */
function resultsLimit(ctx: RequestContext): number {
  const raw = ctx.query.get('limit');
  let limit = raw === null ? ctx.pages.paginateCount : (queryInt(raw) ?? ctx.pages.paginateCount);
  if (limit === 0) limit = ctx.pages.maxPageSize;
  if (ctx.pages.maxPageSize) limit = Math.min(limit, ctx.pages.maxPageSize);
  // A negative (or, without MAX_PAGE_SIZE, zero) limit never ends NetBox's loop: every address.
  return limit > 0 ? limit : AVAILABLE_IPS_SAFETY_CAP;
}

function listAvailableIps(ctx: RequestContext, parent: IpParent): ApiResponse {
  const vrfId = parentVrfId(parent);
  const vrf = vrfId === null ? undefined : ctx.store.vrfs.get(vrfId);
  const family = parentFamily(parent);
  const mask = parentMaskLength(parent);
  const body = availableIps(ctx.store, parent, resultsLimit(ctx)).map((value) => ({
    family,
    address: `${formatHost({ family, value })}/${mask}`,
    vrf: vrf ? briefVrf(ctx.ser, vrf) : null,
  }));
  return json(200, body);
}

/** 4.6 `AvailableIPRequestSerializer` (many=True): positional errors, even for a single object. */
function validateAllocationRequests(ctx: RequestContext, parent: IpParent, requested: readonly unknown[]): (number | undefined)[] {
  const errors: Record<string, unknown>[] = [];
  const lengths: (number | undefined)[] = [];
  let failed = false;
  const mask = parentMaskLength(parent);
  const family = parentFamily(parent);
  for (const item of requested) {
    if (!isRecord(item)) {
      failed = true;
      errors.push({ non_field_errors: [`Invalid data. Expected a dictionary, but got ${pyType(item)}.`] });
      lengths.push(undefined);
      continue;
    }
    const collector = new FieldErrorCollector();
    let length: number | undefined;
    if (ctx.store.features.netbox46 && Object.hasOwn(item, 'prefix_length')) {
      const value = readInteger(collector, 'prefix_length', item['prefix_length']);
      if (typeof value === 'number') {
        // The IPv4/IPv6 words are swapped in NetBox's own messages; kept as they are.
        if (value < mask) collector.add('prefix_length', `Prefix length must be greater than or equal to the parent mask length (${mask})`);
        else if (family === 4 && value > 32) collector.add('prefix_length', `Invalid prefix length (${value}) for IPv6`);
        else if (family === 6 && value > 128) collector.add('prefix_length', `Invalid prefix length (${value}) for IPv4`);
        else length = value;
      }
    }
    if (!collector.empty) failed = true;
    errors.push(collector.toJSON());
    lengths.push(length);
  }
  if (failed) throw new ApiError(400, errors);
  return lengths;
}

/**
 * `POST .../available-ips/`. In NetBox the choice of free addresses and their creation run
 * under one global advisory lock; here they run without yielding to the event loop, which is
 * the same thing. With `raceAvailableIps` the emulator behaves like NetBox before that lock
 * (issue #2519): it picks the free addresses, yields, then creates them without re-checking,
 * so concurrent requests can be handed the same address.
 */
async function allocateIps(ctx: RequestContext, kind: IpParent['kind']): Promise<ApiResponse> {
  const parent = parentOf(ctx, kind);
  const data = ctx.body();
  const many = Array.isArray(data);
  const requested: unknown[] = many ? data : [data];
  const lengths = validateAllocationRequests(ctx, parent, requested);

  const free = availableIps(ctx.store, parent, requested.length);
  if (free.length < requested.length) {
    throw new ApiError(409, { detail: 'Insufficient resources are available to satisfy the request' });
  }
  if (ctx.env.raceAvailableIps) {
    await (ctx.env.raceWindowMs > 0 ? sleep(ctx.env.raceWindowMs, undefined, { signal: ctx.env.signal }) : tick(ctx.env.signal));
  }
  const family = parentFamily(parent);
  const vrfId = parentVrfId(parent);
  const bodies = requested.map((item, index) => {
    const { prefix_length: _ignored, ...rest } = item as Record<string, unknown>;
    const value = free[index] ?? 0n;
    return { ...rest, address: `${formatHost({ family, value })}/${lengths[index] ?? parentMaskLength(parent)}`, vrf: vrfId };
  });
  const options = { checkDuplicates: !ctx.env.raceAvailableIps };
  let writes: ParsedIpWrite[];
  if (many) {
    const result = validateIpBatch(ctx.store, bodies, options);
    if (result.some((entry) => !('fields' in entry))) throw new ApiError(400, result);
    writes = result as ParsedIpWrite[];
  } else {
    writes = [validateIpWrite(ctx.store, bodies[0], 'create', undefined, options)];
  }
  const created = writes.map((write) => insertIpAddress(ctx.store, write.fields));
  const rendered = created.map((record) => serializeIpAddress(ctx.ser, record));
  return json(201, many ? rendered : rendered[0]);
}

function tick(signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    setImmediate(() => (signal.aborted ? reject(signal.reason) : resolve()));
  });
}

// ---- IP addresses -----------------------------------------------------------------------

function createIpAddresses(ctx: RequestContext): ApiResponse {
  const data = ctx.body();
  if (Array.isArray(data)) {
    const result = validateIpBatch(ctx.store, data, { checkDuplicates: true });
    if (result.some((entry) => !('fields' in entry))) throw new ApiError(400, result);
    const created = (result as ParsedIpWrite[]).map((write) => insertIpAddress(ctx.store, write.fields));
    return json(201, created.map((record) => serializeIpAddress(ctx.ser, record)));
  }
  const write = validateIpWrite(ctx.store, data, 'create', undefined, { checkDuplicates: true });
  const record = insertIpAddress(ctx.store, write.fields);
  return detailResponse(ctx, ipAddressResource, record, 201);
}

function updateOneIpAddress(ctx: RequestContext, mode: 'update' | 'partial'): ApiResponse {
  const record = lookup(ctx, ipAddressResource);
  checkIfMatch(ctx, record);
  const write = validateIpWrite(ctx.store, ctx.body(), mode, record, { checkDuplicates: true });
  updateIpAddress(ctx.store, record, write.fields);
  return detailResponse(ctx, ipAddressResource, record);
}

/** ≤ 4.6: unknown ids are skipped; the first invalid object answers 400 with its errors alone. */
function bulkUpdateIpAddresses(ctx: RequestContext, mode: 'update' | 'partial'): ApiResponse {
  const { items } = bulkIds(ctx.body());
  const planned: { record: IpAddressRecord; write: ParsedIpWrite }[] = [];
  for (const item of items) {
    const record = ctx.store.ipAddresses.get(Number(item['id']));
    if (!record) continue;
    planned.push({ record, write: validateIpWrite(ctx.store, item, mode, record, { checkDuplicates: true }) });
  }
  for (const { record, write } of planned) updateIpAddress(ctx.store, record, write.fields);
  return json(200, planned.map(({ record }) => serializeIpAddress(ctx.ser, record)));
}

function bulkDeleteIpAddresses(ctx: RequestContext): ApiResponse {
  const { ids } = bulkIds(ctx.body());
  for (const id of ids) {
    const record = ctx.store.ipAddresses.get(id);
    if (record) deleteIpAddress(ctx.store, record);
  }
  return { status: 204 };
}

/** Deletes an IP; devices' primary/OOB IPs and NAT references are set to null (`on_delete=SET_NULL`). */
export function deleteIpAddress(store: NetboxStore, record: IpAddressRecord): void {
  store.ipAddresses.delete(record.id);
  for (const device of store.devices.values()) {
    if (device.primaryIp4Id === record.id) device.primaryIp4Id = null;
    if (device.primaryIp6Id === record.id) device.primaryIp6Id = null;
    if (device.oobIpId === record.id) device.oobIpId = null;
  }
  for (const other of store.ipAddresses.values()) if (other.natInsideId === record.id) other.natInsideId = null;
}
