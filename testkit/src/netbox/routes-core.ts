import type { ApiResponse, RequestContext, Resource, RouteDef } from './context.js';
import { checkIfMatch, detailResponse, json, listResponse, lookup } from './context.js';
import { ApiError } from './errors.js';
import { tagFilters } from './filters.js';
import { briefTag, serializeTag } from './serializers.js';
import type { NetboxStore, TagRecord } from './store.js';
import { FieldErrorCollector, REQUIRED, isRecord, pyType, readInteger, readString } from './writes.js';

/** `/api/`, `/api/status/`, `/api/authentication-check/` and `/api/extras/tags/`. */

export const tagResource: Resource<TagRecord> = {
  path: 'extras/tags',
  model: 'extras.tag',
  modelName: 'Tag',
  records: (store) => store.tags,
  filters: tagFilters,
  serialize: serializeTag,
  brief: briefTag,
};

export function coreRoutes(store: NetboxStore): RouteDef[] {
  const routes: RouteDef[] = [
    { pattern: '/api/', model: null, methods: { GET: apiRoot } },
    { pattern: '/api/status/', model: null, methods: { GET: status } },
    {
      pattern: '/api/extras/tags/',
      model: 'extras.tag',
      methods: { GET: (ctx) => listResponse(ctx, tagResource), POST: createTags },
    },
    {
      pattern: '/api/extras/tags/:id/',
      model: 'extras.tag',
      methods: {
        GET: (ctx) => detailResponse(ctx, tagResource, lookup(ctx, tagResource)),
        PATCH: patchTag,
        DELETE: (ctx) => {
          const tag = lookup(ctx, tagResource);
          deleteTag(ctx.store, tag);
          return { status: 204 };
        },
      },
    },
  ];
  if (store.features.v2Tokens) {
    routes.push({ pattern: '/api/authentication-check/', model: 'authenticated', methods: { GET: authenticationCheck } });
  }
  return routes;
}

function apiRoot(ctx: RequestContext): ApiResponse {
  const base = `${ctx.ser.baseUrl}/api`;
  const apps = ['circuits', 'core', 'dcim', 'extras', 'ipam', 'plugins', 'status', 'tenancy', 'users', 'virtualization', 'vpn', 'wireless'];
  return json(200, Object.fromEntries(apps.map((app) => [app, `${base}/${app}/`])));
}

function status(ctx: RequestContext): ApiResponse {
  const features = ctx.store.features;
  const apps = { 'django_filters': '25.1', 'django_prometheus': '2.3.1', 'django_rq': '3.0', 'rest_framework': '3.16.0' };
  const body: Record<string, unknown> = { 'django-version': '5.2.4' };
  if (features.statusHostname) body['hostname'] = ctx.env.hostname;
  body[features.statusHostname ? 'installed_apps' : 'installed-apps'] = apps;
  body['netbox-version'] = features.full;
  if (features.statusFullVersion) body['netbox-full-version'] = `${features.full}-emulator`;
  body['plugins'] = {};
  body['python-version'] = '3.12.3';
  body['rq-workers-running'] = 1;
  return json(200, body);
}

function authenticationCheck(ctx: RequestContext): ApiResponse {
  return json(200, {
    id: 1,
    url: `${ctx.ser.baseUrl}/api/users/users/1/`,
    display_url: `${ctx.ser.baseUrl}/users/users/1/`,
    display: 'admin',
    username: 'admin',
    first_name: '',
    last_name: '',
    email: '',
    is_active: true,
    is_staff: true,
    is_superuser: true,
  });
}

type TagFields = Omit<TagRecord, 'id' | 'created' | 'lastUpdated'>;

const SLUG = /^[-\p{L}\p{N}_]+$/u;
const COLOR = /^[0-9a-f]{6}$/;

/** `TagSerializer` rules; uniqueness of name and slug against the store and `pending` (a bulk batch). */
function readTagWrite(store: NetboxStore, body: unknown, current: TagRecord | undefined): TagFields | Record<string, unknown> {
  if (!isRecord(body)) return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${pyType(body)}.`] };
  const errors = new FieldErrorCollector();
  const fields: TagFields = current
    ? { name: current.name, slug: current.slug, color: current.color, description: current.description, weight: current.weight, objectTypes: [...current.objectTypes] }
    : { name: '', slug: '', color: '9e9e9e', description: '', weight: 1000, objectTypes: [] };
  const others = [...store.tags.values()].filter((tag) => tag.id !== current?.id);
  if (Object.hasOwn(body, 'name')) {
    const name = readString(errors, 'name', body['name'], { maxLength: 100 });
    if (typeof name === 'string') {
      if (others.some((tag) => tag.name === name)) errors.add('name', 'tag with this name already exists.');
      else fields.name = name;
    }
  } else if (!current) errors.add('name', REQUIRED);
  if (Object.hasOwn(body, 'slug')) {
    const slug = readString(errors, 'slug', body['slug'], { maxLength: 100 });
    if (typeof slug === 'string') {
      if (!SLUG.test(slug)) errors.add('slug', 'Enter a valid “slug” consisting of Unicode letters, numbers, underscores, or hyphens.');
      else if (others.some((tag) => tag.slug === slug)) errors.add('slug', 'tag with this slug already exists.');
      else fields.slug = slug;
    }
  } else if (!current) errors.add('slug', REQUIRED);
  if (Object.hasOwn(body, 'color')) {
    const color = readString(errors, 'color', body['color'], { maxLength: 6 });
    if (typeof color === 'string') {
      if (!COLOR.test(color)) errors.add('color', 'Enter a valid hexadecimal RGB color code.');
      else fields.color = color;
    }
  }
  if (Object.hasOwn(body, 'description')) {
    const description = readString(errors, 'description', body['description'], { allowBlank: true, maxLength: 200 });
    if (typeof description === 'string') fields.description = description;
  }
  if (Object.hasOwn(body, 'weight')) {
    const weight = readInteger(errors, 'weight', body['weight']);
    if (typeof weight === 'number') fields.weight = weight;
  }
  if (Object.hasOwn(body, 'object_types')) {
    const types = body['object_types'];
    if (!Array.isArray(types) || !types.every((t) => typeof t === 'string' && /^[a-z_]+\.[a-z_]+$/.test(t))) {
      errors.add('object_types', "Invalid value. Specify a content type as '<app_label>.<model_name>'.");
    } else {
      fields.objectTypes = types as string[];
    }
  }
  return errors.empty ? fields : errors.toJSON();
}

function isTagFields(value: TagFields | Record<string, unknown>): value is TagFields {
  return typeof value['name'] === 'string' && typeof value['slug'] === 'string' && Array.isArray(value['objectTypes']);
}

function insertTag(store: NetboxStore, fields: TagFields): TagRecord {
  const record: TagRecord = { ...fields, id: store.nextId('extras.tag'), ...store.timestamps() };
  store.tags.set(record.id, record);
  return record;
}

function createTags(ctx: RequestContext): ApiResponse {
  const data = ctx.body();
  if (Array.isArray(data)) {
    const results = data.map((item) => readTagWrite(ctx.store, item, undefined));
    if (!results.every(isTagFields)) throw new ApiError(400, results.map((r) => (isTagFields(r) ? {} : r)));
    const created = results.map((fields) => insertTag(ctx.store, fields));
    return json(201, created.map((tag) => serializeTag(ctx.ser, tag)));
  }
  const result = readTagWrite(ctx.store, data, undefined);
  if (!isTagFields(result)) throw new ApiError(400, result);
  return detailResponse(ctx, tagResource, insertTag(ctx.store, result), 201);
}

function patchTag(ctx: RequestContext): ApiResponse {
  const tag = lookup(ctx, tagResource);
  checkIfMatch(ctx, tag);
  const result = readTagWrite(ctx.store, ctx.body(), tag);
  if (!isTagFields(result)) throw new ApiError(400, result);
  Object.assign(tag, result);
  ctx.store.touch(tag);
  return detailResponse(ctx, tagResource, tag);
}

/** Deleting a tag removes it from every object (a many-to-many through table). */
export function deleteTag(store: NetboxStore, tag: TagRecord): void {
  store.tags.delete(tag.id);
  const maps = [store.vrfs, store.prefixes, store.ipRanges, store.ipAddresses, store.devices, store.interfaces, store.macAddresses];
  for (const map of maps) {
    for (const record of map.values()) record.tagIds = record.tagIds.filter((id) => id !== tag.id);
  }
}
