import { ApiError } from './errors.js';
import type { IpInterface, IpInterval } from './ip.js';
import {
  countFree,
  formatHost,
  formatInterface,
  freeAddresses,
  lastOf,
  netContainsHost,
  networkOf,
  parseInterface,
} from './ip.js';
import { IP_ADDRESS_ROLE, IP_ADDRESS_STATUS, NON_UNIQUE_ROLES, ipRangeDisplay, vrfDisplay } from './serializers.js';
import type { IpAddressRecord, IpRangeRecord, NetboxStore, PrefixRecord } from './store.js';
import {
  FieldErrorCollector,
  REQUIRED,
  isRecord,
  pyType,
  readChoice,
  readContentType,
  readCustomFields,
  readInteger,
  readRelated,
  readString,
  readTags,
} from './writes.js';

/**
 * IPAM behaviour: which addresses are available in a prefix or range (`ipam/models/ip.py`
 * `get_available_ips`), and IP address writes with the serializer's field rules and the model's
 * `clean()` (PROTOCOLS.md §1.6, §1.7).
 */

export type IpParent = { readonly kind: 'prefix'; readonly record: PrefixRecord } | { readonly kind: 'range'; readonly record: IpRangeRecord };

export function parentMaskLength(parent: IpParent): number {
  return parent.kind === 'prefix' ? parent.record.prefix.prefixLength : parent.record.start.prefixLength;
}

export function parentFamily(parent: IpParent): 4 | 6 {
  return parent.kind === 'prefix' ? parent.record.prefix.family : parent.record.start.family;
}

interface Availability {
  readonly span: IpInterval;
  readonly excluded: readonly IpInterval[];
}

function availability(store: NetboxStore, parent: IpParent): Availability | undefined {
  if (parent.kind === 'range') {
    const range = parent.record;
    if (range.markPopulated) return undefined;
    const excluded: IpInterval[] = [];
    for (const ip of store.ipAddresses.values()) {
      if (ip.vrfId !== range.vrfId || ip.address.family !== range.start.family) continue;
      if (ip.address.value >= range.start.value && ip.address.value <= range.end.value) {
        excluded.push({ start: ip.address.value, end: ip.address.value });
      }
    }
    return { span: { start: range.start.value, end: range.end.value }, excluded };
  }
  const prefix = parent.record;
  const net = prefix.prefix;
  const first = networkOf(net);
  const last = lastOf(net);
  const excluded: IpInterval[] = [];
  // A global-table container counts addresses of every VRF (`Prefix.get_child_ips`).
  const anyVrf = prefix.vrfId === null && prefix.status === 'container';
  for (const ip of store.ipAddresses.values()) {
    if (!anyVrf && ip.vrfId !== prefix.vrfId) continue;
    if (netContainsHost(net, ip.address)) excluded.push({ start: ip.address.value, end: ip.address.value });
  }
  for (const range of store.ipRanges.values()) {
    if (!range.markPopulated || range.vrfId !== prefix.vrfId) continue;
    if (netContainsHost(net, range.start) && netContainsHost(net, range.end)) {
      excluded.push({ start: range.start.value, end: range.end.value });
    }
  }
  const fullyUsable =
    prefix.isPool || (net.family === 4 && net.prefixLength >= 31) || (net.family === 6 && net.prefixLength >= 127);
  if (!fullyUsable) {
    // IPv4: network and broadcast; IPv6: the subnet-router anycast address (RFC 4291).
    excluded.push({ start: first, end: first });
    if (net.family === 4) excluded.push({ start: last, end: last });
  }
  return { span: { start: first, end: last }, excluded };
}

/** The first `limit` available addresses, ascending. */
export function availableIps(store: NetboxStore, parent: IpParent, limit: number): bigint[] {
  const found = availability(store, parent);
  if (!found || limit <= 0) return [];
  const out: bigint[] = [];
  for (const value of freeAddresses(found.span, found.excluded)) {
    out.push(value);
    if (out.length >= limit) break;
  }
  return out;
}

export function countAvailable(store: NetboxStore, parent: IpParent): bigint {
  const found = availability(store, parent);
  return found ? countFree(found.span, found.excluded) : 0n;
}

// ---- IP address writes ------------------------------------------------------------------

/** Everything an IP address write sets; the record minus id and timestamps. */
export type IpFields = Omit<IpAddressRecord, 'id' | 'created' | 'lastUpdated'>;

export type WriteMode = 'create' | 'update' | 'partial';

const ASSIGNABLE_TYPES = ['dcim.interface', 'virtualization.vminterface', 'ipam.fhrpgroup'];
const DNS_NAME = /^([0-9A-Za-z_-]+|\*)(\.[0-9A-Za-z_-]+)*\.?$/;

export interface ParsedIpWrite {
  readonly fields: IpFields;
  /** A model-level (`__all__`) error found while reading custom fields, reported by `clean`. */
  readonly customFieldError?: string;
}

/**
 * Reads one IP address body as `IPAddressSerializer` does. Returns the field errors
 * (`{"field": ["msg"]}`) or the complete new field values (`current` merged with the body).
 */
export function parseIpWrite(
  store: NetboxStore,
  body: unknown,
  mode: WriteMode,
  current?: IpAddressRecord,
): ParsedIpWrite | Record<string, unknown> {
  const errors = new FieldErrorCollector();
  if (!isRecord(body)) {
    return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${pyType(body)}.`] };
  }
  const base: IpFields = current
    ? copyFields(current)
    : {
        address: { family: 4, value: 0n, prefixLength: 32 },
        vrfId: null,
        status: 'active',
        role: '',
        assignedObjectType: null,
        assignedObjectId: null,
        natInsideId: null,
        dnsName: '',
        description: '',
        comments: '',
        tagIds: [],
        customFields: store.customFieldDefaults('ipam.ipaddress'),
      };
  const fields: IpFields = base;
  const has = (key: string): boolean => Object.hasOwn(body, key);

  if (has('address')) {
    const text = readString(errors, 'address', body['address']);
    if (typeof text === 'string') {
      const parsed = parseInterface(text);
      if (parsed) fields.address = parsed;
      else errors.add('address', `Invalid IP address format: ${text}`);
    }
  } else if (mode !== 'partial') {
    errors.add('address', REQUIRED);
  }
  if (has('vrf')) {
    const vrf = readRelated(errors, 'vrf', body['vrf'], store.vrfs, (v) => ({ id: v.id, name: v.name, rd: v.rd }));
    if (vrf !== undefined) fields.vrfId = vrf?.id ?? null;
  }
  if (has('tenant')) readRelated(errors, 'tenant', body['tenant'], new Map<number, { id: number }>(), (t) => ({ id: t.id }));
  if (has('status')) {
    const status = readChoice(errors, 'status', body['status'], IP_ADDRESS_STATUS);
    if (status !== undefined) fields.status = status;
  }
  if (has('role')) {
    const role = readChoice(errors, 'role', body['role'], IP_ADDRESS_ROLE, true);
    if (role !== undefined) fields.role = role;
  }
  if (has('assigned_object_type')) {
    const type = readContentType(errors, 'assigned_object_type', body['assigned_object_type'], ASSIGNABLE_TYPES);
    if (type !== undefined) fields.assignedObjectType = type;
  }
  if (has('assigned_object_id')) {
    const id = readInteger(errors, 'assigned_object_id', body['assigned_object_id'], true);
    if (id !== undefined) fields.assignedObjectId = id;
  }
  if (has('nat_inside')) {
    const nat = readRelated(errors, 'nat_inside', body['nat_inside'], store.ipAddresses, (ip) => ({
      id: ip.id,
      address: formatInterface(ip.address),
    }));
    if (nat !== undefined) fields.natInsideId = nat?.id ?? null;
  }
  if (has('dns_name')) {
    const dnsName = readString(errors, 'dns_name', body['dns_name'], { allowBlank: true, maxLength: 255 });
    if (typeof dnsName === 'string') {
      if (dnsName !== '' && !DNS_NAME.test(dnsName)) {
        errors.add('dns_name', 'Only alphanumeric characters, asterisks, hyphens, periods, and underscores are allowed in DNS names');
      } else {
        // IPAddress.save() lower-cases the name.
        fields.dnsName = dnsName.toLowerCase();
      }
    }
  }
  if (has('description')) {
    const description = readString(errors, 'description', body['description'], { allowBlank: true, maxLength: 200 });
    if (typeof description === 'string') fields.description = description;
  }
  if (has('comments')) {
    const comments = readString(errors, 'comments', body['comments'], { allowBlank: true });
    if (typeof comments === 'string') fields.comments = comments;
  }
  const tagsResult = readTagChanges(store, errors, body, mode, fields.tagIds);
  if (tagsResult) fields.tagIds = tagsResult;
  let customFieldError: string | undefined;
  if (has('custom_fields')) {
    const result = readCustomFields(store, errors, 'ipam.ipaddress', body['custom_fields'], fields.customFields);
    if (result) {
      fields.customFields = result.data;
      customFieldError = result.modelError;
    }
  }
  if (!errors.empty) return errors.toJSON();
  return customFieldError === undefined ? { fields } : { fields, customFieldError };
}

function copyFields(record: IpAddressRecord): IpFields {
  const { id: _id, created: _created, lastUpdated: _lastUpdated, ...fields } = record;
  return { ...fields, tagIds: [...fields.tagIds], customFields: { ...fields.customFields } };
}

/** `tags` replaces the set; 4.6+ `add_tags`/`remove_tags` change it. */
function readTagChanges(
  store: NetboxStore,
  errors: FieldErrorCollector,
  body: Record<string, unknown>,
  mode: WriteMode,
  current: readonly number[],
): number[] | undefined {
  const has = (key: string): boolean => Object.hasOwn(body, key);
  const incremental = store.features.netbox46 && (has('add_tags') || has('remove_tags'));
  if (has('tags') && incremental) {
    errors.add('non_field_errors', "'tags' cannot be combined with 'add_tags' or 'remove_tags'.");
    return undefined;
  }
  if (has('tags')) return readTags(store, errors, 'tags', body['tags']);
  if (!incremental) return undefined;
  if (mode === 'create' && has('remove_tags')) {
    errors.add('remove_tags', "'remove_tags' cannot be specified when creating an object.");
    return undefined;
  }
  const add = has('add_tags') ? readTags(store, errors, 'add_tags', body['add_tags']) : [];
  const remove = has('remove_tags') ? readTags(store, errors, 'remove_tags', body['remove_tags']) : [];
  if (!add || !remove) return undefined;
  if (add.some((id) => remove.includes(id))) {
    errors.add('non_field_errors', "A tag cannot appear in both 'add_tags' and 'remove_tags'.");
    return undefined;
  }
  return [...current.filter((id) => !remove.includes(id)), ...add.filter((id) => !current.includes(id))];
}

/**
 * `IPAddress.clean()` (4.6): the first failing rule, as `{"field": ["msg"]}` (`__all__` for
 * non-field errors), or `undefined`. `selfId` excludes the object itself from duplicates.
 */
export function cleanIpAddress(
  store: NetboxStore,
  parsed: ParsedIpWrite,
  selfId: number | null,
  options: { readonly checkDuplicates: boolean },
): Record<string, unknown> | undefined {
  const ip = parsed.fields;
  if (parsed.customFieldError) return { __all__: [parsed.customFieldError] };
  const address = ip.address;
  if (address.prefixLength === 0) return { address: ['Cannot create IP address with /0 mask.'] };
  const assigned = ip.assignedObjectType === 'dcim.interface' ? store.assignedInterface(ip.assignedObjectType, ip.assignedObjectId) : undefined;
  if (assigned) {
    const host = formatHost(address);
    if (address.value === networkOf(address)) {
      const exempt = address.family === 4 ? address.prefixLength >= 31 : address.prefixLength >= 127;
      if (!exempt) return { __all__: [`${host} is a network ID, which may not be assigned to an interface.`] };
    }
    if (address.family === 4 && address.value === lastOf(address) && address.prefixLength < 31) {
      return { __all__: [`${host} is a broadcast address, which may not be assigned to an interface.`] };
    }
  }
  if (options.checkDuplicates) {
    const vrf = ip.vrfId === null ? undefined : store.vrfs.get(ip.vrfId);
    const enforced = vrf ? vrf.enforceUnique : store.enforceGlobalUnique;
    if (enforced) {
      const duplicates = findDuplicates(store, ip.vrfId, address, selfId);
      const first = duplicates[0];
      if (first && (!NON_UNIQUE_ROLES.has(ip.role) || duplicates.some((dup) => !NON_UNIQUE_ROLES.has(dup.role)))) {
        const table = vrf ? `VRF ${vrfDisplay(vrf)}` : 'global table';
        return { address: [`Duplicate IP address found in ${table}: ${formatInterface(first.address)}`] };
      }
    }
  }
  if (selfId === null) {
    for (const range of store.ipRanges.values()) {
      if (!range.markPopulated || range.vrfId !== ip.vrfId || range.start.family !== address.family) continue;
      if (address.value >= range.start.value && address.value <= range.end.value) {
        return { address: [`Cannot create IP address ${formatInterface(address)} inside range ${ipRangeDisplay(range)}.`] };
      }
    }
  }
  if (ip.status === 'slaac' && address.family !== 6) {
    return { status: ['Only IPv6 addresses can be assigned SLAAC status'] };
  }
  return undefined;
}

/** Same VRF, same host, any mask (`get_duplicates`), in NetBox's ordering. */
export function findDuplicates(store: NetboxStore, vrfId: number | null, address: IpInterface, selfId: number | null): IpAddressRecord[] {
  return [...store.ipAddresses.values()]
    .filter(
      (other) =>
        other.id !== selfId &&
        other.vrfId === vrfId &&
        other.address.family === address.family &&
        other.address.value === address.value,
    )
    .sort((a, b) => a.address.prefixLength - b.address.prefixLength || a.id - b.id);
}

export function insertIpAddress(store: NetboxStore, fields: IpFields): IpAddressRecord {
  const record: IpAddressRecord = { ...fields, id: store.nextId('ipam.ipaddress'), ...store.timestamps() };
  store.ipAddresses.set(record.id, record);
  return record;
}

export function updateIpAddress(store: NetboxStore, record: IpAddressRecord, fields: IpFields): void {
  Object.assign(record, fields);
  store.touch(record);
}

/**
 * Validates a list of bodies against the current state (each on its own, like a list
 * serializer: items of one batch are not checked against each other) and returns the parsed
 * writes, or the positional errors (`[{}, {"field": [...]}]`).
 */
export function validateIpBatch(
  store: NetboxStore,
  bodies: readonly unknown[],
  options: { readonly checkDuplicates: boolean },
): ParsedIpWrite[] | Record<string, unknown>[] {
  const parsed: ParsedIpWrite[] = [];
  const errors: Record<string, unknown>[] = [];
  let failed = false;
  for (const body of bodies) {
    const result = parseIpWrite(store, body, 'create');
    if (!('fields' in result)) {
      failed = true;
      errors.push(result);
      continue;
    }
    const problem = cleanIpAddress(store, result as ParsedIpWrite, null, options);
    if (problem) {
      failed = true;
      errors.push(problem);
      continue;
    }
    errors.push({});
    parsed.push(result as ParsedIpWrite);
  }
  return failed ? errors : parsed;
}

/** Throws the 400 for a single-object write, or returns the parsed, clean write. */
export function validateIpWrite(
  store: NetboxStore,
  body: unknown,
  mode: WriteMode,
  current: IpAddressRecord | undefined,
  options: { readonly checkDuplicates: boolean },
): ParsedIpWrite {
  const result = parseIpWrite(store, body, mode, current);
  if (!('fields' in result)) throw new ApiError(400, result);
  const parsed = result as ParsedIpWrite;
  const problem = cleanIpAddress(store, parsed, current?.id ?? null, options);
  if (problem) throw new ApiError(400, problem);
  return parsed;
}
