import type { ApiResponse, RequestContext, Resource, RouteDef } from './context.js';
import { checkIfMatch, detailResponse, json, listResponse, lookup } from './context.js';
import { ApiError } from './errors.js';
import { deviceFilters, interfaceFilters, macAddressFilters } from './filters.js';
import { formatInterface } from './ip.js';
import { normalizeMac } from './mac.js';
import {
  DEVICE_STATUS,
  briefDevice,
  briefInterface,
  briefMacAddress,
  serializeDevice,
  serializeInterface,
  serializeMacAddress,
} from './serializers.js';
import type { DeviceRecord, InterfaceRecord, MacAddressRecord, NetboxStore } from './store.js';
import {
  FieldErrorCollector,
  REQUIRED,
  isRecord,
  pyType,
  readBoolean,
  readChoice,
  readContentType,
  readCustomFields,
  readInteger,
  readRelated,
  readString,
  readTags,
} from './writes.js';

export const deviceResource: Resource<DeviceRecord> = {
  path: 'dcim/devices',
  model: 'dcim.device',
  modelName: 'Device',
  records: (store) => store.devices,
  filters: deviceFilters,
  serialize: serializeDevice,
  brief: briefDevice,
};

export const interfaceResource: Resource<InterfaceRecord> = {
  path: 'dcim/interfaces',
  model: 'dcim.interface',
  modelName: 'Interface',
  records: (store) => store.interfaces,
  filters: interfaceFilters,
  serialize: serializeInterface,
  brief: briefInterface,
};

export const macAddressResource: Resource<MacAddressRecord> = {
  path: 'dcim/mac-addresses',
  model: 'dcim.macaddress',
  modelName: 'MACAddress',
  records: (store) => store.macAddresses,
  filters: macAddressFilters,
  serialize: serializeMacAddress,
  brief: briefMacAddress,
};

export function dcimRoutes(store: NetboxStore): RouteDef[] {
  const routes: RouteDef[] = [
    { pattern: '/api/dcim/devices/', model: 'dcim.device', methods: { GET: (ctx) => listResponse(ctx, deviceResource) } },
    {
      pattern: '/api/dcim/devices/:id/',
      model: 'dcim.device',
      methods: { GET: (ctx) => detailResponse(ctx, deviceResource, lookup(ctx, deviceResource)), PATCH: patchDevice },
    },
    { pattern: '/api/dcim/interfaces/', model: 'dcim.interface', methods: { GET: (ctx) => listResponse(ctx, interfaceResource) } },
    {
      pattern: '/api/dcim/interfaces/:id/',
      model: 'dcim.interface',
      methods: { GET: (ctx) => detailResponse(ctx, interfaceResource, lookup(ctx, interfaceResource)), PATCH: patchInterface },
    },
  ];
  if (store.features.macAddressModel) {
    routes.push(
      {
        pattern: '/api/dcim/mac-addresses/',
        model: 'dcim.macaddress',
        methods: { GET: (ctx) => listResponse(ctx, macAddressResource), POST: createMacAddresses },
      },
      {
        pattern: '/api/dcim/mac-addresses/:id/',
        model: 'dcim.macaddress',
        methods: {
          GET: (ctx) => detailResponse(ctx, macAddressResource, lookup(ctx, macAddressResource)),
          PATCH: patchMacAddress,
          DELETE: (ctx) => {
            deleteMacAddress(ctx.store, lookup(ctx, macAddressResource));
            return { status: 204 };
          },
        },
      },
    );
  }
  return routes;
}

function bodyRecord(ctx: RequestContext): Record<string, unknown> {
  const body = ctx.body();
  if (!isRecord(body)) {
    throw new ApiError(400, { non_field_errors: [`Invalid data. Expected a dictionary, but got ${pyType(body)}.`] });
  }
  return body;
}

function readCommon(
  ctx: RequestContext,
  errors: FieldErrorCollector,
  body: Record<string, unknown>,
  objectType: string,
  record: { tagIds: number[]; customFields: Record<string, unknown>; description: string },
): { tagIds?: number[]; customFields?: Record<string, unknown>; description?: string; modelError?: string } {
  const out: { tagIds?: number[]; customFields?: Record<string, unknown>; description?: string; modelError?: string } = {};
  if (Object.hasOwn(body, 'description')) {
    const description = readString(errors, 'description', body['description'], { allowBlank: true, maxLength: 200 });
    if (typeof description === 'string') out.description = description;
  }
  if (Object.hasOwn(body, 'tags')) {
    const tagIds = readTags(ctx.store, errors, 'tags', body['tags']);
    if (tagIds) out.tagIds = tagIds;
  }
  if (Object.hasOwn(body, 'custom_fields')) {
    const result = readCustomFields(ctx.store, errors, objectType, body['custom_fields'], record.customFields);
    if (result) {
      out.customFields = result.data;
      if (result.modelError) out.modelError = result.modelError;
    }
  }
  return out;
}

function patchDevice(ctx: RequestContext): ApiResponse {
  const device = lookup(ctx, deviceResource);
  checkIfMatch(ctx, device);
  const body = bodyRecord(ctx);
  const errors = new FieldErrorCollector();
  const next: Partial<DeviceRecord> = {};
  if (Object.hasOwn(body, 'name')) {
    const name = readString(errors, 'name', body['name'], { allowBlank: true, allowNull: true, maxLength: 64 });
    if (name !== undefined) next.name = name === '' ? null : name;
  }
  if (Object.hasOwn(body, 'serial')) {
    const serial = readString(errors, 'serial', body['serial'], { allowBlank: true, maxLength: 50 });
    if (typeof serial === 'string') next.serial = serial;
  }
  if (Object.hasOwn(body, 'status')) {
    const status = readChoice(errors, 'status', body['status'], DEVICE_STATUS);
    if (status !== undefined) next.status = status;
  }
  const ipAttrs = (ip: { id: number; address: Parameters<typeof formatInterface>[0] }): Record<string, unknown> => ({
    id: ip.id,
    address: formatInterface(ip.address),
  });
  for (const [field, key] of [
    ['primary_ip4', 'primaryIp4Id'],
    ['primary_ip6', 'primaryIp6Id'],
    ['oob_ip', 'oobIpId'],
  ] as const) {
    if (!Object.hasOwn(body, field)) continue;
    const ip = readRelated(errors, field, body[field], ctx.store.ipAddresses, ipAttrs);
    if (ip !== undefined) next[key] = ip?.id ?? null;
  }
  const common = readCommon(ctx, errors, body, 'dcim.device', device);
  if (!errors.empty) throw new ApiError(400, errors.toJSON());
  if (common.modelError) throw new ApiError(400, { __all__: [common.modelError] });
  // Device.clean(): primary IPs must be of the right family and sit on one of its interfaces.
  for (const [field, key, family] of [
    ['primary_ip4', 'primaryIp4Id', 4],
    ['primary_ip6', 'primaryIp6Id', 6],
    ['oob_ip', 'oobIpId', 0],
  ] as const) {
    const id = next[key];
    if (id === undefined || id === null) continue;
    const ip = ctx.store.ipAddresses.get(id);
    if (!ip) continue;
    const text = formatInterface(ip.address);
    if (family !== 0 && ip.address.family !== family) throw new ApiError(400, { [field]: [`${text} is not an IPv${family} address.`] });
    const iface = ctx.store.assignedInterface(ip.assignedObjectType, ip.assignedObjectId);
    if (!iface || iface.deviceId !== device.id) {
      throw new ApiError(400, { [field]: [`The specified IP address (${text}) is not assigned to this device.`] });
    }
  }
  Object.assign(device, next);
  if (common.tagIds) device.tagIds = common.tagIds;
  if (common.customFields) device.customFields = common.customFields;
  if (common.description !== undefined) device.description = common.description;
  ctx.store.touch(device);
  return detailResponse(ctx, deviceResource, device);
}

function patchInterface(ctx: RequestContext): ApiResponse {
  const iface = lookup(ctx, interfaceResource);
  checkIfMatch(ctx, iface);
  const body = bodyRecord(ctx);
  const errors = new FieldErrorCollector();
  const next: Partial<InterfaceRecord> = {};
  if (Object.hasOwn(body, 'name')) {
    const name = readString(errors, 'name', body['name'], { maxLength: 64 });
    if (typeof name === 'string') next.name = name;
  }
  if (Object.hasOwn(body, 'enabled')) {
    const enabled = readBoolean(errors, 'enabled', body['enabled']);
    if (enabled !== undefined) next.enabled = enabled;
  }
  if (Object.hasOwn(body, 'mgmt_only')) {
    const mgmtOnly = readBoolean(errors, 'mgmt_only', body['mgmt_only']);
    if (mgmtOnly !== undefined) next.mgmtOnly = mgmtOnly;
  }
  if (Object.hasOwn(body, 'mtu')) {
    const mtu = readInteger(errors, 'mtu', body['mtu'], true);
    if (mtu !== undefined) next.mtu = mtu;
  }
  if (ctx.store.features.macAddressModel) {
    // 4.2+: `mac_address` is read-only (ignored); the primary MAC is chosen by id.
    if (Object.hasOwn(body, 'primary_mac_address')) {
      const mac = readRelated(errors, 'primary_mac_address', body['primary_mac_address'], ctx.store.macAddresses, (m) => ({
        id: m.id,
        mac_address: m.mac,
      }));
      if (mac !== undefined) next.primaryMacId = mac?.id ?? null;
    }
  } else if (Object.hasOwn(body, 'mac_address')) {
    const raw = body['mac_address'];
    if (raw === null || raw === '') next.legacyMac = null;
    else {
      const mac = typeof raw === 'string' ? normalizeMac(raw) : undefined;
      if (mac) next.legacyMac = mac;
      else errors.add('mac_address', `Invalid MAC address format: ${String(raw)}`);
    }
  }
  const common = readCommon(ctx, errors, body, 'dcim.interface', iface);
  if (!errors.empty) throw new ApiError(400, errors.toJSON());
  if (common.modelError) throw new ApiError(400, { __all__: [common.modelError] });
  if (next.primaryMacId !== undefined && next.primaryMacId !== null) {
    const mac = ctx.store.macAddresses.get(next.primaryMacId);
    if (mac && (mac.assignedObjectType !== 'dcim.interface' || mac.assignedObjectId !== iface.id)) {
      throw new ApiError(400, { primary_mac_address: [`MAC address ${mac.mac} is not assigned to this interface.`] });
    }
  }
  Object.assign(iface, next);
  if (common.tagIds) iface.tagIds = common.tagIds;
  if (common.customFields) iface.customFields = common.customFields;
  if (common.description !== undefined) iface.description = common.description;
  ctx.store.touch(iface);
  return detailResponse(ctx, interfaceResource, iface);
}

type MacFields = Omit<MacAddressRecord, 'id' | 'created' | 'lastUpdated'>;

function readMacWrite(ctx: RequestContext, body: unknown, current: MacAddressRecord | undefined): MacFields | Record<string, unknown> {
  if (!isRecord(body)) return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${pyType(body)}.`] };
  const errors = new FieldErrorCollector();
  const fields: MacFields = current
    ? {
        mac: current.mac,
        assignedObjectType: current.assignedObjectType,
        assignedObjectId: current.assignedObjectId,
        description: current.description,
        comments: current.comments,
        tagIds: [...current.tagIds],
        customFields: { ...current.customFields },
      }
    : {
        mac: '',
        assignedObjectType: null,
        assignedObjectId: null,
        description: '',
        comments: '',
        tagIds: [],
        customFields: ctx.store.customFieldDefaults('dcim.macaddress'),
      };
  if (Object.hasOwn(body, 'mac_address')) {
    const text = readString(errors, 'mac_address', body['mac_address']);
    if (typeof text === 'string') {
      const mac = normalizeMac(text);
      if (mac) fields.mac = mac;
      else errors.add('mac_address', `Invalid MAC address format: ${text}`);
    }
  } else if (!current) {
    errors.add('mac_address', REQUIRED);
  }
  if (Object.hasOwn(body, 'assigned_object_type')) {
    const type = readContentType(errors, 'assigned_object_type', body['assigned_object_type'], ['dcim.interface', 'virtualization.vminterface']);
    if (type !== undefined) fields.assignedObjectType = type;
  }
  if (Object.hasOwn(body, 'assigned_object_id')) {
    const id = readInteger(errors, 'assigned_object_id', body['assigned_object_id'], true);
    if (id !== undefined) fields.assignedObjectId = id;
  }
  if (Object.hasOwn(body, 'comments')) {
    const comments = readString(errors, 'comments', body['comments'], { allowBlank: true });
    if (typeof comments === 'string') fields.comments = comments;
  }
  const common = readCommon(ctx, errors, body, 'dcim.macaddress', fields);
  if (!errors.empty) return errors.toJSON();
  if (common.modelError) return { __all__: [common.modelError] };
  if (common.tagIds) fields.tagIds = common.tagIds;
  if (common.customFields) fields.customFields = common.customFields;
  if (common.description !== undefined) fields.description = common.description;
  return fields;
}

function isMacFields(value: MacFields | Record<string, unknown>): value is MacFields {
  return typeof (value as MacFields).mac === 'string' && Array.isArray((value as MacFields).tagIds);
}

function insertMac(store: NetboxStore, fields: MacFields): MacAddressRecord {
  const record: MacAddressRecord = { ...fields, id: store.nextId('dcim.macaddress'), ...store.timestamps() };
  store.macAddresses.set(record.id, record);
  return record;
}

function createMacAddresses(ctx: RequestContext): ApiResponse {
  const data = ctx.body();
  if (Array.isArray(data)) {
    const results = data.map((item) => readMacWrite(ctx, item, undefined));
    if (!results.every(isMacFields)) throw new ApiError(400, results.map((r) => (isMacFields(r) ? {} : r)));
    const created = results.map((fields) => insertMac(ctx.store, fields));
    return json(201, created.map((record) => serializeMacAddress(ctx.ser, record)));
  }
  const result = readMacWrite(ctx, data, undefined);
  if (!isMacFields(result)) throw new ApiError(400, result);
  return detailResponse(ctx, macAddressResource, insertMac(ctx.store, result), 201);
}

function patchMacAddress(ctx: RequestContext): ApiResponse {
  const mac = lookup(ctx, macAddressResource);
  checkIfMatch(ctx, mac);
  const result = readMacWrite(ctx, ctx.body(), mac);
  if (!isMacFields(result)) throw new ApiError(400, result);
  Object.assign(mac, result);
  ctx.store.touch(mac);
  return detailResponse(ctx, macAddressResource, mac);
}

export function deleteMacAddress(store: NetboxStore, mac: MacAddressRecord): void {
  store.macAddresses.delete(mac.id);
  for (const iface of store.interfaces.values()) if (iface.primaryMacId === mac.id) iface.primaryMacId = null;
}
