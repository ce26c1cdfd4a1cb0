import { ApiError } from './errors.js';
import type { IpInterface } from './ip.js';
import { compareInet, formatInterface, netContainsHost, netContainsNet, parseHost, parseInterface, toNetwork } from './ip.js';
import { normalizeMac } from './mac.js';
import { queryInt } from './pagination.js';
import {
  DEVICE_STATUS,
  IP_ADDRESS_ROLE,
  IP_ADDRESS_STATUS,
  IP_RANGE_STATUS,
  PREFIX_STATUS,
  deviceDisplay,
} from './serializers.js';
import type {
  DeviceRecord,
  InterfaceRecord,
  IpAddressRecord,
  IpRangeRecord,
  MacAddressRecord,
  NetboxStore,
  PrefixRecord,
  TagRecord,
  VrfRecord,
} from './store.js';

/**
 * django-filter as NetBox configures it (PROTOCOLS.md §1.5): repeated values OR, different
 * parameters AND, `tag` AND; lookup suffixes (`__n`, `__ic`, ...); invalid values of validated
 * filters → 400 `{"param": ["msg"]}`; unknown parameters ignored; `cf_<name>` for custom fields.
 */

type Predicate<T> = (item: T) => boolean;
/** A predicate, the error messages for this parameter, or `null` to ignore the parameter. */
type FilterOutcome<T> = Predicate<T> | { readonly errors: readonly string[] } | null;
type FilterDef<T> = (values: readonly string[], lookup: string) => FilterOutcome<T>;

export interface ModelFilters<T> {
  readonly objectType: string;
  readonly filters: Readonly<Record<string, FilterDef<T>>>;
  /** `?ordering=` fields; the first entry is the model's default ordering. */
  readonly ordering: Readonly<Record<string, (a: T, b: T) => number>>;
  readonly defaultOrdering: (a: T, b: T) => number;
  readonly customFields: (item: T) => Record<string, unknown>;
}

/** Query parameters that are not filters. */
const RESERVED = new Set(['limit', 'offset', 'start', 'ordering', 'brief', 'fields', 'omit', 'format', 'exclude']);

const CHOICE_ERROR = (value: string): string => `Select a valid choice. ${value} is not one of the available choices.`;

/** Filters and orders `items` by the query; throws the 400 for invalid filter values. */
export function applyQuery<T>(store: NetboxStore, items: readonly T[], query: URLSearchParams, model: ModelFilters<T>): T[] {
  const grouped = new Map<string, string[]>();
  for (const [key, value] of query) {
    const list = grouped.get(key);
    if (list) list.push(value);
    else grouped.set(key, [value]);
  }
  const predicates: Predicate<T>[] = [];
  const errors: Record<string, string[]> = {};
  for (const [key, values] of grouped) {
    if (RESERVED.has(key)) continue;
    if (key.startsWith('cf_')) {
      const name = key.slice(3);
      if (store.customFieldsFor(model.objectType).some((field) => field.name === name)) {
        predicates.push((item) => values.some((value) => customFieldMatches(model.customFields(item)[name], value)));
      }
      continue;
    }
    const split = key.indexOf('__');
    const base = split >= 0 ? key.slice(0, split) : key;
    const lookup = split >= 0 ? key.slice(split + 2) : '';
    const def = Object.hasOwn(model.filters, base) ? model.filters[base] : undefined;
    if (!def) continue;
    const outcome = def(values, lookup);
    if (outcome === null) continue;
    if (typeof outcome === 'function') predicates.push(outcome);
    else errors[key] = [...outcome.errors];
  }
  if (Object.keys(errors).length > 0) throw new ApiError(400, errors);
  const filtered = items.filter((item) => predicates.every((predicate) => predicate(item)));
  return filtered.sort(orderingOf(query, model));
}

function customFieldMatches(actual: unknown, wanted: string): boolean {
  if (actual === null || actual === undefined) return false;
  if (typeof actual === 'boolean') return wanted.toLowerCase() === String(actual);
  if (typeof actual === 'object') return JSON.stringify(actual) === wanted;
  return String(actual) === wanted;
}

function orderingOf<T>(query: URLSearchParams, model: ModelFilters<T>): (a: T, b: T) => number {
  const raw = query.get('ordering');
  if (!raw) return model.defaultOrdering;
  const parts = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => Object.hasOwn(model.ordering, part.replace(/^-/, '')));
  if (parts.length === 0) return model.defaultOrdering;
  return (a, b) => {
    for (const part of parts) {
      const descending = part.startsWith('-');
      const compare = model.ordering[part.replace(/^-/, '')];
      const result = compare ? compare(a, b) : 0;
      if (result !== 0) return descending ? -result : result;
    }
    return model.defaultOrdering(a, b);
  };
}

// ---- filter builders --------------------------------------------------------------------

const negate = <T>(predicate: Predicate<T>): Predicate<T> => (item) => !predicate(item);

/** `MultiValueNumberFilter`: exact, `n`, `lt`, `lte`, `gt`, `gte`, `empty`. */
function numberFilter<T>(get: (item: T) => number | null | readonly number[]): FilterDef<T> {
  return (values, lookup) => {
    const asList = (item: T): readonly number[] => {
      const value = get(item);
      return value === null ? [] : typeof value === 'number' ? [value] : value;
    };
    if (lookup === 'empty') {
      const wanted = values.at(-1)?.toLowerCase() === 'true';
      return (item) => (asList(item).length === 0) === wanted;
    }
    const numbers = values.map((value) => queryInt(value));
    if (numbers.some((n) => n === undefined)) return { errors: ['Enter a whole number.'] };
    const wanted = numbers as number[];
    const compare: Record<string, (actual: number, n: number) => boolean> = {
      '': (actual, n) => actual === n,
      n: (actual, n) => actual === n,
      lt: (actual, n) => actual < n,
      lte: (actual, n) => actual <= n,
      gt: (actual, n) => actual > n,
      gte: (actual, n) => actual >= n,
    };
    const test = compare[lookup];
    if (!test) return null;
    const predicate: Predicate<T> = (item) => asList(item).some((actual) => wanted.some((n) => test(actual, n)));
    return lookup === 'n' ? negate(predicate) : predicate;
  };
}

/** `MultiValueCharFilter` with NetBox's string lookups. */
function stringFilter<T>(get: (item: T) => string | null | readonly string[]): FilterDef<T> {
  return (values, lookup) => {
    const asList = (item: T): readonly string[] => {
      const value = get(item);
      return value === null ? [] : typeof value === 'string' ? [value] : value;
    };
    if (lookup === 'empty') {
      const wanted = values.at(-1)?.toLowerCase() === 'true';
      return (item) => asList(item).every((value) => value === '') === wanted;
    }
    const tests: Record<string, (actual: string, wanted: string) => boolean> = {
      '': (a, w) => a === w,
      n: (a, w) => a === w,
      ic: (a, w) => a.toLowerCase().includes(w.toLowerCase()),
      nic: (a, w) => a.toLowerCase().includes(w.toLowerCase()),
      isw: (a, w) => a.toLowerCase().startsWith(w.toLowerCase()),
      nisw: (a, w) => a.toLowerCase().startsWith(w.toLowerCase()),
      iew: (a, w) => a.toLowerCase().endsWith(w.toLowerCase()),
      niew: (a, w) => a.toLowerCase().endsWith(w.toLowerCase()),
      ie: (a, w) => a.toLowerCase() === w.toLowerCase(),
      nie: (a, w) => a.toLowerCase() === w.toLowerCase(),
      regex: (a, w) => safeRegex(w, '')?.test(a) ?? false,
      iregex: (a, w) => safeRegex(w, 'i')?.test(a) ?? false,
    };
    const test = tests[lookup];
    if (!test) return null;
    const predicate: Predicate<T> = (item) => asList(item).some((actual) => values.some((wanted) => test(actual, wanted)));
    return lookup.startsWith('n') ? negate(predicate) : predicate;
  };
}

function safeRegex(pattern: string, flags: string): RegExp | undefined {
  try {
    return new RegExp(pattern, flags);
  } catch {
    return undefined;
  }
}

/** A choice filter: unknown values → 400 `Select a valid choice.`. */
function choiceFilter<T>(get: (item: T) => string, choices: Readonly<Record<string, string>>): FilterDef<T> {
  return (values, lookup) => {
    if (lookup !== '' && lookup !== 'n') return null;
    const bad = values.find((value) => !Object.hasOwn(choices, value));
    if (bad !== undefined) return { errors: [CHOICE_ERROR(bad)] };
    const predicate: Predicate<T> = (item) => values.includes(get(item));
    return lookup === 'n' ? negate(predicate) : predicate;
  };
}

/**
 * `ModelMultipleChoiceFilter` by primary key: every value must name an existing object (or be
 * `null` for "none"), else 400.
 */
function modelFilter<T>(get: (item: T) => number | null | readonly number[], exists: (id: number) => boolean): FilterDef<T> {
  return (values, lookup) => {
    if (lookup !== '' && lookup !== 'n') return null;
    const wanted: (number | null)[] = [];
    for (const value of values) {
      if (value === 'null') {
        wanted.push(null);
        continue;
      }
      const id = queryInt(value);
      if (id === undefined || !exists(id)) return { errors: [CHOICE_ERROR(value)] };
      wanted.push(id);
    }
    const predicate: Predicate<T> = (item) => {
      const actual = get(item);
      const list = actual === null ? [null] : typeof actual === 'number' ? [actual] : actual.length ? actual : [null];
      return list.some((id) => wanted.includes(id));
    };
    return lookup === 'n' ? negate(predicate) : predicate;
  };
}

/** `ModelMultipleChoiceFilter` by a unique attribute (e.g. a device by name, a VRF by `rd`). */
function modelAttrFilter<T>(
  get: (item: T) => string | null | readonly string[],
  exists: (value: string) => boolean,
): FilterDef<T> {
  return (values, lookup) => {
    if (lookup !== '' && lookup !== 'n') return null;
    const bad = values.find((value) => value !== 'null' && !exists(value));
    if (bad !== undefined) return { errors: [CHOICE_ERROR(bad)] };
    const predicate: Predicate<T> = (item) => {
      const actual = get(item);
      const list = actual === null ? [] : typeof actual === 'string' ? [actual] : actual;
      return values.some((value) => (value === 'null' ? list.length === 0 : list.includes(value)));
    };
    return lookup === 'n' ? negate(predicate) : predicate;
  };
}

/** `TagFilter`: by slug (or id), repeated values AND (`tag__n`: none of them). */
function tagFilter<T extends { tagIds: number[] }>(store: NetboxStore, by: 'slug' | 'id'): FilterDef<T> {
  return (values, lookup) => {
    if (lookup !== '' && lookup !== 'n') return null;
    const ids: number[] = [];
    for (const value of values) {
      const tag: TagRecord | undefined =
        by === 'slug'
          ? [...store.tags.values()].find((t) => t.slug === value)
          : store.tags.get(queryInt(value) ?? Number.NaN);
      if (!tag) return { errors: [CHOICE_ERROR(value)] };
      ids.push(tag.id);
    }
    if (lookup === 'n') return (item) => !ids.some((id) => item.tagIds.includes(id));
    return (item) => ids.every((id) => item.tagIds.includes(id));
  };
}

function booleanFilter<T>(get: (item: T) => boolean): FilterDef<T> {
  return (values, lookup) => {
    if (lookup !== '') return null;
    const value = values.at(-1)?.toLowerCase();
    if (value === 'true' || value === '1') return (item) => get(item);
    if (value === 'false' || value === '0') return (item) => !get(item);
    return null;
  };
}

function custom<T>(fn: (values: readonly string[]) => Predicate<T> | null): FilterDef<T> {
  return (values, lookup) => (lookup === '' ? fn(values) : null);
}

const byId = <T extends { id: number }>(a: T, b: T): number => a.id - b.id;
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const natural = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
const nullsFirst = (a: number | null, b: number | null): number => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a - b);

/** Parses `parent`-style networks; NetBox uses `IPNetwork(value).cidr`. */
function parseNetworks(values: readonly string[]): IpInterface[] | undefined {
  const out: IpInterface[] = [];
  for (const value of values) {
    const parsed = parseInterface(value);
    if (!parsed) return undefined;
    out.push(toNetwork(parsed));
  }
  return out;
}

function idFilter<T extends { id: number }>(): FilterDef<T> {
  return numberFilter((item) => item.id);
}

// ---- per-model filter sets --------------------------------------------------------------

export function prefixFilters(store: NetboxStore): ModelFilters<PrefixRecord> {
  return {
    objectType: 'ipam.prefix',
    customFields: (p) => p.customFields,
    defaultOrdering: (a, b) => nullsFirst(a.vrfId, b.vrfId) || compareInet(a.prefix, b.prefix) || byId(a, b),
    ordering: {
      id: byId,
      prefix: (a, b) => compareInet(a.prefix, b.prefix),
      vrf: (a, b) => nullsFirst(a.vrfId, b.vrfId),
      status: (a, b) => byText(a.status, b.status),
      created: (a, b) => a.created.getTime() - b.created.getTime(),
      last_updated: (a, b) => a.lastUpdated.getTime() - b.lastUpdated.getTime(),
    },
    filters: {
      id: idFilter(),
      prefix: custom((values) => {
        const wanted = values.map((v) => parseInterface(v)).filter((v): v is IpInterface => v !== undefined);
        return (p) => wanted.some((w) => w.family === p.prefix.family && w.prefixLength === p.prefix.prefixLength && w.value === p.prefix.value);
      }),
      vrf_id: modelFilter((p) => p.vrfId, (id) => store.vrfs.has(id)),
      vrf: modelAttrFilter(
        (p) => (p.vrfId === null ? null : (store.vrfs.get(p.vrfId)?.rd ?? null)),
        (rd) => [...store.vrfs.values()].some((v) => v.rd === rd),
      ),
      status: choiceFilter((p) => p.status, PREFIX_STATUS),
      is_pool: booleanFilter((p) => p.isPool),
      mark_utilized: booleanFilter((p) => p.markUtilized),
      family: numberFilter((p) => p.prefix.family),
      mask_length: numberFilter((p) => p.prefix.prefixLength),
      description: stringFilter((p) => p.description),
      tag: tagFilter(store, 'slug'),
      tag_id: tagFilter(store, 'id'),
      contains: custom((values) => {
        const value = values.at(-1)?.trim() ?? '';
        if (!value) return null;
        if (value.includes('/')) {
          const net = parseInterface(value);
          return net ? (p) => netContainsNet(p.prefix, toNetwork(net)) : () => false;
        }
        const host = parseHost(value);
        return host ? (p) => netContainsHost(p.prefix, host) : () => false;
      }),
      within: custom((values) => {
        const nets = parseNetworks(values.slice(-1));
        if (!nets) return () => false;
        return (p) => nets.some((net) => netContainsNet(net, p.prefix) && net.prefixLength < p.prefix.prefixLength);
      }),
      within_include: custom((values) => {
        const nets = parseNetworks(values.slice(-1));
        if (!nets) return () => false;
        return (p) => nets.some((net) => netContainsNet(net, p.prefix));
      }),
      q: custom((values) => {
        const value = values.at(-1)?.trim() ?? '';
        if (!value) return null;
        const parsed = parseInterface(value);
        const net = parsed ? toNetwork(parsed) : undefined;
        return (p) =>
          p.description.toLowerCase().includes(value.toLowerCase()) ||
          formatInterface(p.prefix).includes(value) ||
          (net !== undefined && netContainsNet(p.prefix, net));
      }),
    },
  };
}

export function ipRangeFilters(store: NetboxStore): ModelFilters<IpRangeRecord> {
  return {
    objectType: 'ipam.iprange',
    customFields: (r) => r.customFields,
    defaultOrdering: (a, b) => nullsFirst(a.vrfId, b.vrfId) || compareInet(a.start, b.start) || byId(a, b),
    ordering: { id: byId, start_address: (a, b) => compareInet(a.start, b.start) },
    filters: {
      id: idFilter(),
      start_address: stringFilter((r) => formatInterface(r.start).split('/')[0] ?? ''),
      end_address: stringFilter((r) => formatInterface(r.end).split('/')[0] ?? ''),
      vrf_id: modelFilter((r) => r.vrfId, (id) => store.vrfs.has(id)),
      status: choiceFilter((r) => r.status, IP_RANGE_STATUS),
      mark_populated: booleanFilter((r) => r.markPopulated),
      family: numberFilter((r) => r.start.family),
      description: stringFilter((r) => r.description),
      tag: tagFilter(store, 'slug'),
      tag_id: tagFilter(store, 'id'),
      contains: custom((values) => {
        const host = parseHost(values.at(-1)?.split('/')[0] ?? '');
        if (!host) return () => false;
        return (r) => r.start.family === host.family && host.value >= r.start.value && host.value <= r.end.value;
      }),
      q: custom((values) => {
        const value = values.at(-1)?.trim() ?? '';
        if (!value) return null;
        return (r) => r.description.toLowerCase().includes(value.toLowerCase()) || formatInterface(r.start).startsWith(value);
      }),
    },
  };
}

export function ipAddressFilters(store: NetboxStore): ModelFilters<IpAddressRecord> {
  const interfaceOf = (ip: IpAddressRecord): InterfaceRecord | undefined => store.assignedInterface(ip.assignedObjectType, ip.assignedObjectId);
  return {
    objectType: 'ipam.ipaddress',
    customFields: (ip) => ip.customFields,
    defaultOrdering: (a, b) => compareInet(a.address, b.address) || byId(a, b),
    ordering: {
      id: byId,
      address: (a, b) => compareInet(a.address, b.address),
      dns_name: (a, b) => byText(a.dnsName, b.dnsName),
      status: (a, b) => byText(a.status, b.status),
      created: (a, b) => a.created.getTime() - b.created.getTime(),
      last_updated: (a, b) => a.lastUpdated.getTime() - b.lastUpdated.getTime(),
    },
    filters: {
      id: idFilter(),
      // `address__net_in`: with a mask → exact; without → host match; invalid values skipped.
      address: custom((values) => {
        const wanted = values.map((value) => ({ value, parsed: parseInterface(value) }));
        return (ip) =>
          wanted.some(({ value, parsed }) => {
            if (!parsed) return false;
            if (value.includes('/')) return parsed.prefixLength === ip.address.prefixLength && parsed.family === ip.address.family && parsed.value === ip.address.value;
            return parsed.family === ip.address.family && parsed.value === ip.address.value;
          });
      }),
      // `search_by_parent`: any invalid network → nothing.
      parent: custom((values) => {
        const nets = parseNetworks(values.filter((value) => value.trim() !== ''));
        if (!nets) return () => false;
        if (nets.length === 0) return null;
        return (ip) => nets.some((net) => netContainsHost(net, ip.address));
      }),
      vrf_id: modelFilter((ip) => ip.vrfId, (id) => store.vrfs.has(id)),
      vrf: modelAttrFilter(
        (ip) => (ip.vrfId === null ? null : (store.vrfs.get(ip.vrfId)?.rd ?? null)),
        (rd) => [...store.vrfs.values()].some((v) => v.rd === rd),
      ),
      present_in_vrf_id: custom((values) => {
        const id = queryInt(values.at(-1) ?? null);
        return (ip) => ip.vrfId === id;
      }),
      family: numberFilter((ip) => ip.address.family),
      mask_length: numberFilter((ip) => ip.address.prefixLength),
      status: choiceFilter((ip) => ip.status, IP_ADDRESS_STATUS),
      role: choiceFilter((ip) => ip.role, IP_ADDRESS_ROLE),
      dns_name: stringFilter((ip) => ip.dnsName),
      description: stringFilter((ip) => ip.description),
      assigned_object_type: stringFilter((ip) => ip.assignedObjectType),
      assigned_object_id: numberFilter((ip) => ip.assignedObjectId),
      interface_id: modelFilter(
        (ip) => (ip.assignedObjectType === 'dcim.interface' ? ip.assignedObjectId : null),
        (id) => store.interfaces.has(id),
      ),
      device_id: numberFilter((ip) => interfaceOf(ip)?.deviceId ?? null),
      device: custom((values) => (ip) => {
        const device = store.devices.get(interfaceOf(ip)?.deviceId ?? Number.NaN);
        return device !== undefined && device.name !== null && values.includes(device.name);
      }),
      assigned: booleanFilter((ip) => ip.assignedObjectId !== null),
      assigned_to_interface: booleanFilter((ip) => ip.assignedObjectType === 'dcim.interface' && ip.assignedObjectId !== null),
      tag: tagFilter(store, 'slug'),
      tag_id: tagFilter(store, 'id'),
      q: custom((values) => {
        const value = values.at(-1) ?? '';
        if (!value.trim()) return null;
        const lower = value.toLowerCase();
        return (ip) =>
          ip.dnsName.toLowerCase().includes(lower) ||
          ip.description.toLowerCase().includes(lower) ||
          formatInterface(ip.address).toLowerCase().startsWith(lower);
      }),
    },
  };
}

export function tagFilters(): ModelFilters<TagRecord> {
  return {
    objectType: 'extras.tag',
    customFields: () => ({}),
    defaultOrdering: (a, b) => a.weight - b.weight || byText(a.name, b.name) || byId(a, b),
    ordering: { id: byId, name: (a, b) => byText(a.name, b.name), slug: (a, b) => byText(a.slug, b.slug), weight: (a, b) => a.weight - b.weight },
    filters: {
      id: idFilter(),
      name: stringFilter((t) => t.name),
      slug: stringFilter((t) => t.slug),
      color: stringFilter((t) => t.color),
      description: stringFilter((t) => t.description),
      weight: numberFilter((t) => t.weight),
      q: custom((values) => {
        const value = values.at(-1)?.trim().toLowerCase() ?? '';
        if (!value) return null;
        return (t) => t.name.toLowerCase().includes(value) || t.slug.toLowerCase().includes(value) || t.description.toLowerCase().includes(value);
      }),
    },
  };
}

export function vrfFilters(store: NetboxStore): ModelFilters<VrfRecord> {
  return {
    objectType: 'ipam.vrf',
    customFields: (v) => v.customFields,
    defaultOrdering: (a, b) => natural(a.name, b.name) || byText(a.rd ?? '', b.rd ?? '') || byId(a, b),
    ordering: { id: byId, name: (a, b) => natural(a.name, b.name) },
    filters: {
      id: idFilter(),
      name: stringFilter((v) => v.name),
      rd: stringFilter((v) => v.rd),
      enforce_unique: booleanFilter((v) => v.enforceUnique),
      tag: tagFilter(store, 'slug'),
      q: custom((values) => {
        const value = values.at(-1)?.trim().toLowerCase() ?? '';
        if (!value) return null;
        return (v) => v.name.toLowerCase().includes(value) || (v.rd ?? '').toLowerCase().includes(value);
      }),
    },
  };
}

/** A `mac_address` filter value: exact after normalisation; invalid values match nothing. */
function macFilter<T>(get: (item: T) => readonly string[]): FilterDef<T> {
  return (values, lookup) => {
    if (lookup === '' || lookup === 'n') {
      const wanted = values.map((value) => normalizeMac(value)).filter((mac): mac is string => mac !== undefined);
      const predicate: Predicate<T> = (item) => get(item).some((mac) => wanted.includes(mac));
      return lookup === 'n' ? negate(predicate) : predicate;
    }
    return stringFilter<T>(get)(values, lookup);
  };
}

export function deviceFilters(store: NetboxStore): ModelFilters<DeviceRecord> {
  const interfacesOf = (device: DeviceRecord): InterfaceRecord[] => [...store.interfaces.values()].filter((i) => i.deviceId === device.id);
  return {
    objectType: 'dcim.device',
    customFields: (d) => d.customFields,
    defaultOrdering: (a, b) => natural(a.name ?? '', b.name ?? '') || byId(a, b),
    ordering: { id: byId, name: (a, b) => natural(a.name ?? '', b.name ?? ''), serial: (a, b) => byText(a.serial, b.serial) },
    filters: {
      id: idFilter(),
      name: stringFilter((d) => d.name),
      serial: stringFilter((d) => d.serial),
      asset_tag: stringFilter((d) => d.assetTag),
      status: choiceFilter((d) => d.status, DEVICE_STATUS),
      site_id: modelFilter((d) => d.siteId, (id) => store.sites.has(id)),
      mac_address: macFilter((d) => interfacesOf(d).flatMap((i) => store.interfaceMacs(i))),
      tag: tagFilter(store, 'slug'),
      tag_id: tagFilter(store, 'id'),
      q: custom((values) => {
        const value = values.at(-1)?.trim().toLowerCase() ?? '';
        if (!value) return null;
        return (d) =>
          deviceDisplay(d).toLowerCase().includes(value) || d.serial.toLowerCase() === value || (d.assetTag ?? '').toLowerCase() === value;
      }),
    },
  };
}

export function interfaceFilters(store: NetboxStore): ModelFilters<InterfaceRecord> {
  const deviceName = (i: InterfaceRecord): string | null => store.devices.get(i.deviceId)?.name ?? null;
  return {
    objectType: 'dcim.interface',
    customFields: (i) => i.customFields,
    defaultOrdering: (a, b) => a.deviceId - b.deviceId || natural(a.name, b.name) || byId(a, b),
    ordering: { id: byId, name: (a, b) => natural(a.name, b.name) },
    filters: {
      id: idFilter(),
      name: stringFilter((i) => i.name),
      type: stringFilter((i) => i.type),
      enabled: booleanFilter((i) => i.enabled),
      mgmt_only: booleanFilter((i) => i.mgmtOnly),
      device_id: modelFilter((i) => i.deviceId, (id) => store.devices.has(id)),
      device: modelAttrFilter(deviceName, (name) => [...store.devices.values()].some((d) => d.name === name)),
      mac_address: macFilter((i) => store.interfaceMacs(i)),
      primary_mac_address: macFilter((i) => {
        const mac = store.interfaceMac(i);
        return mac ? [mac] : [];
      }),
      description: stringFilter((i) => i.description),
      tag: tagFilter(store, 'slug'),
      tag_id: tagFilter(store, 'id'),
      q: custom((values) => {
        const value = values.at(-1)?.trim().toLowerCase() ?? '';
        if (!value) return null;
        return (i) => i.name.toLowerCase().includes(value) || i.description.toLowerCase().includes(value);
      }),
    },
  };
}

export function macAddressFilters(store: NetboxStore): ModelFilters<MacAddressRecord> {
  const interfaceOf = (m: MacAddressRecord): InterfaceRecord | undefined => store.assignedInterface(m.assignedObjectType, m.assignedObjectId);
  return {
    objectType: 'dcim.macaddress',
    customFields: (m) => m.customFields,
    defaultOrdering: (a, b) => byText(a.mac, b.mac) || byId(a, b),
    ordering: { id: byId, mac_address: (a, b) => byText(a.mac, b.mac) },
    filters: {
      id: idFilter(),
      mac_address: macFilter((m) => [m.mac]),
      assigned_object_type: stringFilter((m) => m.assignedObjectType),
      assigned_object_id: numberFilter((m) => m.assignedObjectId),
      interface_id: modelFilter(
        (m) => (m.assignedObjectType === 'dcim.interface' ? m.assignedObjectId : null),
        (id) => store.interfaces.has(id),
      ),
      interface: custom((values) => (m) => {
        const name = interfaceOf(m)?.name;
        return name !== undefined && values.includes(name);
      }),
      device_id: modelFilter((m) => interfaceOf(m)?.deviceId ?? null, (id) => store.devices.has(id)),
      device: modelAttrFilter(
        (m) => store.devices.get(interfaceOf(m)?.deviceId ?? Number.NaN)?.name ?? null,
        (name) => [...store.devices.values()].some((d) => d.name === name),
      ),
      assigned: booleanFilter((m) => m.assignedObjectId !== null),
      primary: booleanFilter((m) => [...store.interfaces.values()].some((i) => i.primaryMacId === m.id)),
      description: stringFilter((m) => m.description),
      tag: tagFilter(store, 'slug'),
      tag_id: tagFilter(store, 'id'),
      q: custom((values) => {
        const value = values.at(-1)?.trim().toUpperCase() ?? '';
        if (!value) return null;
        return (m) => m.mac.includes(value) || m.description.toUpperCase().includes(value);
      }),
    },
  };
}
