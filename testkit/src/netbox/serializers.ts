import { formatHost, formatInterface, netContainsNet } from './ip.js';
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
 * Records rendered the way NetBox 4.x serializers render them (PROTOCOLS.md §1.3, §1.6): key
 * order of `Meta.fields`, choices as `{value, label}`, related objects as brief nested objects,
 * absolute `url`s built from the request's host, DRF timestamps.
 */

export type Json = Record<string, unknown>;

export interface SerializeContext {
  readonly store: NetboxStore;
  /** `http://host:port`, from the request's `Host` header, as Django's `build_absolute_uri`. */
  readonly baseUrl: string;
}

export const PREFIX_STATUS: Readonly<Record<string, string>> = {
  container: 'Container',
  active: 'Active',
  reserved: 'Reserved',
  deprecated: 'Deprecated',
};
export const IP_RANGE_STATUS: Readonly<Record<string, string>> = {
  active: 'Active',
  reserved: 'Reserved',
  deprecated: 'Deprecated',
};
export const IP_ADDRESS_STATUS: Readonly<Record<string, string>> = {
  active: 'Active',
  reserved: 'Reserved',
  deprecated: 'Deprecated',
  dhcp: 'DHCP',
  slaac: 'SLAAC',
};
export const IP_ADDRESS_ROLE: Readonly<Record<string, string>> = {
  loopback: 'Loopback',
  secondary: 'Secondary',
  anycast: 'Anycast',
  vip: 'VIP',
  vrrp: 'VRRP',
  hsrp: 'HSRP',
  glbp: 'GLBP',
  carp: 'CARP',
};
/** Roles that may share an address with each other (`IPADDRESS_ROLES_NONUNIQUE`). */
export const NON_UNIQUE_ROLES: ReadonlySet<string> = new Set(['anycast', 'vip', 'vrrp', 'hsrp', 'glbp', 'carp']);
export const DEVICE_STATUS: Readonly<Record<string, string>> = {
  offline: 'Offline',
  active: 'Active',
  planned: 'Planned',
  staged: 'Staged',
  failed: 'Failed',
  inventory: 'Inventory',
  decommissioning: 'Decommissioning',
};
const INTERFACE_TYPES: Readonly<Record<string, string>> = {
  virtual: 'Virtual',
  bridge: 'Bridge',
  lag: 'Link Aggregation Group (LAG)',
  '100base-tx': '100BASE-TX (10/100ME)',
  '1000base-t': '1000BASE-T (1GE)',
  '2.5gbase-t': '2.5GBASE-T (2.5GE)',
  '10gbase-t': '10GBASE-T (10GE)',
  '10gbase-x-sfpp': 'SFP+ (10GE)',
  '25gbase-x-sfp28': 'SFP28 (25GE)',
  '100gbase-x-qsfp28': 'QSFP28 (100GE)',
  other: 'Other',
};

const FAMILY: Readonly<Record<number, string>> = { 4: 'IPv4', 6: 'IPv6' };

export function choice(value: string, labels: Readonly<Record<string, string>>): Json {
  return { value, label: labels[value] ?? value };
}

/** DRF `DateTimeField`: Python `isoformat()` (microseconds only when non-zero), `+00:00` as `Z`. */
export function drfTime(date: Date): string {
  return pythonIso(date).replace(/\+00:00$/, 'Z');
}

/** Python `datetime.isoformat()` of an aware UTC datetime. */
export function pythonIso(date: Date): string {
  const iso = date.toISOString();
  const ms = date.getUTCMilliseconds();
  const seconds = iso.slice(0, 19);
  return ms === 0 ? `${seconds}+00:00` : `${seconds}.${String(ms * 1000).padStart(6, '0')}+00:00`;
}

function urls(ctx: SerializeContext, path: string, id: number): Json {
  const out: Json = { id, url: `${ctx.baseUrl}/api/${path}/${id}/` };
  if (ctx.store.features.displayUrl) out['display_url'] = `${ctx.baseUrl}/${path}/${id}/`;
  return out;
}

function briefUrls(ctx: SerializeContext, path: string, id: number): Json {
  return { id, url: `${ctx.baseUrl}/api/${path}/${id}/` };
}

function owner(ctx: SerializeContext): Json {
  return ctx.store.features.v2Tokens ? { owner: null } : {};
}

function stamps(record: { created: Date; lastUpdated: Date }): Json {
  return { created: drfTime(record.created), last_updated: drfTime(record.lastUpdated) };
}

function tagsOf(ctx: SerializeContext, tagIds: readonly number[]): Json[] {
  return tagIds
    .map((id) => ctx.store.tags.get(id))
    .filter((tag): tag is TagRecord => tag !== undefined)
    .map((tag) => nestedTag(ctx, tag));
}

export function vrfDisplay(vrf: VrfRecord): string {
  return vrf.rd ? `${vrf.name} (${vrf.rd})` : vrf.name;
}

export function ipRangeDisplay(range: IpRangeRecord): string {
  return `${formatHost(range.start)}-${formatHost(range.end)}/${range.start.prefixLength}`;
}

export function deviceDisplay(device: DeviceRecord): string {
  return device.name ?? `${device.deviceType} (${device.id})`;
}

// ---- tags -------------------------------------------------------------------------------

export function nestedTag(ctx: SerializeContext, tag: TagRecord): Json {
  const out = urls(ctx, 'extras/tags', tag.id);
  return { ...out, display: tag.name, name: tag.name, slug: tag.slug, color: tag.color };
}

export function briefTag(ctx: SerializeContext, tag: TagRecord): Json {
  return {
    ...briefUrls(ctx, 'extras/tags', tag.id),
    display: tag.name,
    name: tag.name,
    slug: tag.slug,
    color: tag.color,
    description: tag.description,
  };
}

export function serializeTag(ctx: SerializeContext, tag: TagRecord): Json {
  return {
    ...urls(ctx, 'extras/tags', tag.id),
    display: tag.name,
    name: tag.name,
    slug: tag.slug,
    color: tag.color,
    description: tag.description,
    weight: tag.weight,
    object_types: [...tag.objectTypes],
    tagged_items: ctx.store.taggedItems(tag.id),
    ...stamps(tag),
  };
}

// ---- VRFs -------------------------------------------------------------------------------

function prefixCount(ctx: SerializeContext, vrf: VrfRecord): number {
  return [...ctx.store.prefixes.values()].filter((prefix) => prefix.vrfId === vrf.id).length;
}

export function briefVrf(ctx: SerializeContext, vrf: VrfRecord): Json {
  return {
    ...briefUrls(ctx, 'ipam/vrfs', vrf.id),
    display: vrfDisplay(vrf),
    name: vrf.name,
    rd: vrf.rd,
    description: vrf.description,
    prefix_count: prefixCount(ctx, vrf),
  };
}

export function serializeVrf(ctx: SerializeContext, vrf: VrfRecord): Json {
  return {
    ...urls(ctx, 'ipam/vrfs', vrf.id),
    display: vrfDisplay(vrf),
    name: vrf.name,
    rd: vrf.rd,
    tenant: null,
    enforce_unique: vrf.enforceUnique,
    description: vrf.description,
    ...owner(ctx),
    comments: '',
    import_targets: [],
    export_targets: [],
    tags: tagsOf(ctx, vrf.tagIds),
    custom_fields: ctx.store.renderCustomFields('ipam.vrf', vrf.customFields),
    ...stamps(vrf),
    ipaddress_count: [...ctx.store.ipAddresses.values()].filter((ip) => ip.vrfId === vrf.id).length,
    prefix_count: prefixCount(ctx, vrf),
  };
}

function vrfRef(ctx: SerializeContext, vrfId: number | null): Json | null {
  if (vrfId === null) return null;
  const vrf = ctx.store.vrfs.get(vrfId);
  return vrf ? briefVrf(ctx, vrf) : null;
}

// ---- prefixes ---------------------------------------------------------------------------

function prefixDepth(ctx: SerializeContext, prefix: PrefixRecord): { children: number; depth: number } {
  let children = 0;
  let depth = 0;
  for (const other of ctx.store.prefixes.values()) {
    if (other.id === prefix.id || other.vrfId !== prefix.vrfId) continue;
    const same = other.prefix.prefixLength === prefix.prefix.prefixLength && other.prefix.value === prefix.prefix.value;
    if (same) continue;
    if (netContainsNet(prefix.prefix, other.prefix)) children++;
    else if (netContainsNet(other.prefix, prefix.prefix)) depth++;
  }
  return { children, depth };
}

export function briefPrefix(ctx: SerializeContext, prefix: PrefixRecord): Json {
  return {
    ...briefUrls(ctx, 'ipam/prefixes', prefix.id),
    display: formatInterface(prefix.prefix),
    family: familyChoice(prefix.prefix.family),
    prefix: formatInterface(prefix.prefix),
    description: prefix.description,
    _depth: prefixDepth(ctx, prefix).depth,
  };
}

export function serializePrefix(ctx: SerializeContext, prefix: PrefixRecord): Json {
  const { children, depth } = prefixDepth(ctx, prefix);
  const scope = ctx.store.features.macAddressModel
    ? { scope_type: null, scope_id: null, scope: null }
    : { site: null };
  return {
    ...urls(ctx, 'ipam/prefixes', prefix.id),
    display: formatInterface(prefix.prefix),
    family: familyChoice(prefix.prefix.family),
    prefix: formatInterface(prefix.prefix),
    vrf: vrfRef(ctx, prefix.vrfId),
    ...scope,
    tenant: null,
    vlan: null,
    status: choice(prefix.status, PREFIX_STATUS),
    role: null,
    is_pool: prefix.isPool,
    mark_utilized: prefix.markUtilized,
    description: prefix.description,
    ...owner(ctx),
    comments: prefix.comments,
    tags: tagsOf(ctx, prefix.tagIds),
    custom_fields: ctx.store.renderCustomFields('ipam.prefix', prefix.customFields),
    ...stamps(prefix),
    children,
    _depth: depth,
  };
}

export function familyChoice(family: 4 | 6): Json {
  return { value: family, label: FAMILY[family] };
}

// ---- IP ranges --------------------------------------------------------------------------

function rangeSize(range: IpRangeRecord): number {
  return Number(range.end.value - range.start.value + 1n);
}

export function briefIpRange(ctx: SerializeContext, range: IpRangeRecord): Json {
  return {
    ...briefUrls(ctx, 'ipam/ip-ranges', range.id),
    display: ipRangeDisplay(range),
    family: familyChoice(range.start.family),
    start_address: formatInterface(range.start),
    end_address: formatInterface(range.end),
    description: range.description,
  };
}

export function serializeIpRange(ctx: SerializeContext, range: IpRangeRecord): Json {
  return {
    ...urls(ctx, 'ipam/ip-ranges', range.id),
    display: ipRangeDisplay(range),
    family: familyChoice(range.start.family),
    start_address: formatInterface(range.start),
    end_address: formatInterface(range.end),
    size: rangeSize(range),
    vrf: vrfRef(ctx, range.vrfId),
    tenant: null,
    status: choice(range.status, IP_RANGE_STATUS),
    role: null,
    description: range.description,
    ...owner(ctx),
    comments: range.comments,
    tags: tagsOf(ctx, range.tagIds),
    custom_fields: ctx.store.renderCustomFields('ipam.iprange', range.customFields),
    ...stamps(range),
    mark_populated: range.markPopulated,
    mark_utilized: range.markUtilized,
  };
}

// ---- IP addresses -----------------------------------------------------------------------

export function briefIpAddress(ctx: SerializeContext, ip: IpAddressRecord): Json {
  return {
    ...briefUrls(ctx, 'ipam/ip-addresses', ip.id),
    display: formatInterface(ip.address),
    family: familyChoice(ip.address.family),
    address: formatInterface(ip.address),
    description: ip.description,
  };
}

export function serializeIpAddress(ctx: SerializeContext, ip: IpAddressRecord): Json {
  const assigned = ctx.store.assignedInterface(ip.assignedObjectType, ip.assignedObjectId);
  const natInside = ip.natInsideId === null ? undefined : ctx.store.ipAddresses.get(ip.natInsideId);
  const natOutside = [...ctx.store.ipAddresses.values()].filter((other) => other.natInsideId === ip.id);
  return {
    ...urls(ctx, 'ipam/ip-addresses', ip.id),
    display: formatInterface(ip.address),
    family: familyChoice(ip.address.family),
    address: formatInterface(ip.address),
    vrf: vrfRef(ctx, ip.vrfId),
    tenant: null,
    status: choice(ip.status, IP_ADDRESS_STATUS),
    role: ip.role === '' ? null : choice(ip.role, IP_ADDRESS_ROLE),
    assigned_object_type: ip.assignedObjectType,
    assigned_object_id: ip.assignedObjectId,
    assigned_object: assigned ? briefInterface(ctx, assigned) : null,
    nat_inside: natInside ? briefIpAddress(ctx, natInside) : null,
    nat_outside: natOutside.map((other) => briefIpAddress(ctx, other)),
    dns_name: ip.dnsName,
    description: ip.description,
    ...owner(ctx),
    comments: ip.comments,
    tags: tagsOf(ctx, ip.tagIds),
    custom_fields: ctx.store.renderCustomFields('ipam.ipaddress', ip.customFields),
    ...stamps(ip),
  };
}

// ---- DCIM -------------------------------------------------------------------------------

function namedBrief(ctx: SerializeContext, model: string, path: string, name: string, extra: Json = {}): Json {
  const id = ctx.store.namedId(model, name);
  const slug = name.toLowerCase().replace(/[^a-z0-9_]+/g, '-').replace(/^-|-$/g, '');
  return { ...briefUrls(ctx, path, id), display: name, ...extra, name, slug, description: '' };
}

export function briefDevice(ctx: SerializeContext, device: DeviceRecord): Json {
  return {
    ...briefUrls(ctx, 'dcim/devices', device.id),
    display: deviceDisplay(device),
    name: device.name,
    description: device.description,
  };
}

function ipRef(ctx: SerializeContext, id: number | null): Json | null {
  if (id === null) return null;
  const ip = ctx.store.ipAddresses.get(id);
  return ip ? briefIpAddress(ctx, ip) : null;
}

export function serializeDevice(ctx: SerializeContext, device: DeviceRecord): Json {
  const site = ctx.store.sites.get(device.siteId);
  const interfaceCount = [...ctx.store.interfaces.values()].filter((i) => i.deviceId === device.id).length;
  const manufacturer = namedBrief(ctx, 'dcim.manufacturer', 'dcim/manufacturers', 'Generic');
  const deviceTypeId = ctx.store.namedId('dcim.devicetype', device.deviceType);
  const deviceTypeSlug = device.deviceType.toLowerCase().replace(/[^a-z0-9_]+/g, '-').replace(/^-|-$/g, '');
  return {
    ...urls(ctx, 'dcim/devices', device.id),
    display: deviceDisplay(device),
    name: device.name,
    device_type: {
      ...briefUrls(ctx, 'dcim/device-types', deviceTypeId),
      display: device.deviceType,
      manufacturer,
      model: device.deviceType,
      slug: deviceTypeSlug,
      description: '',
    },
    role: namedBrief(ctx, 'dcim.devicerole', 'dcim/device-roles', device.role),
    tenant: null,
    platform: null,
    serial: device.serial,
    asset_tag: device.assetTag,
    site: site
      ? { ...briefUrls(ctx, 'dcim/sites', site.id), display: site.name, name: site.name, slug: site.slug, description: '' }
      : null,
    location: null,
    rack: null,
    position: null,
    face: null,
    latitude: null,
    longitude: null,
    parent_device: null,
    status: choice(device.status, DEVICE_STATUS),
    airflow: null,
    primary_ip: ipRef(ctx, device.primaryIp6Id ?? device.primaryIp4Id),
    primary_ip4: ipRef(ctx, device.primaryIp4Id),
    primary_ip6: ipRef(ctx, device.primaryIp6Id),
    oob_ip: ipRef(ctx, device.oobIpId),
    cluster: null,
    virtual_chassis: null,
    vc_position: null,
    vc_priority: null,
    description: device.description,
    ...owner(ctx),
    comments: device.comments,
    config_template: null,
    local_context_data: null,
    tags: tagsOf(ctx, device.tagIds),
    custom_fields: ctx.store.renderCustomFields('dcim.device', device.customFields),
    ...stamps(device),
    console_port_count: 0,
    console_server_port_count: 0,
    power_port_count: 0,
    power_outlet_count: 0,
    interface_count: interfaceCount,
    front_port_count: 0,
    rear_port_count: 0,
    device_bay_count: 0,
    module_bay_count: 0,
    inventory_item_count: 0,
  };
}

export function briefInterface(ctx: SerializeContext, iface: InterfaceRecord): Json {
  const device = ctx.store.devices.get(iface.deviceId);
  return {
    ...briefUrls(ctx, 'dcim/interfaces', iface.id),
    display: iface.name,
    device: device ? briefDevice(ctx, device) : null,
    name: iface.name,
    description: iface.description,
    cable: null,
    _occupied: false,
  };
}

export function serializeInterface(ctx: SerializeContext, iface: InterfaceRecord): Json {
  const device = ctx.store.devices.get(iface.deviceId);
  const macModel = ctx.store.features.macAddressModel;
  const primary = iface.primaryMacId === null ? undefined : ctx.store.macAddresses.get(iface.primaryMacId);
  const macFields: Json = macModel
    ? {
        mac_address: ctx.store.interfaceMac(iface),
        primary_mac_address: primary ? briefMacAddress(ctx, primary) : null,
        mac_addresses: ctx.store.macsOfInterface(iface.id).map((mac) => briefMacAddress(ctx, mac)),
      }
    : { mac_address: iface.legacyMac };
  const ipCount = [...ctx.store.ipAddresses.values()].filter(
    (ip) => ip.assignedObjectType === 'dcim.interface' && ip.assignedObjectId === iface.id,
  ).length;
  return {
    ...urls(ctx, 'dcim/interfaces', iface.id),
    display: iface.name,
    device: device ? briefDevice(ctx, device) : null,
    vdcs: [],
    module: null,
    name: iface.name,
    label: '',
    type: choice(iface.type, INTERFACE_TYPES),
    enabled: iface.enabled,
    parent: null,
    bridge: null,
    lag: null,
    mtu: iface.mtu,
    ...macFields,
    speed: null,
    duplex: null,
    wwn: null,
    mgmt_only: iface.mgmtOnly,
    description: iface.description,
    mode: null,
    untagged_vlan: null,
    tagged_vlans: [],
    mark_connected: false,
    cable: null,
    cable_end: '',
    link_peers: [],
    link_peers_type: null,
    vrf: null,
    connected_endpoints: null,
    connected_endpoints_type: null,
    connected_endpoints_reachable: null,
    ...owner(ctx),
    tags: tagsOf(ctx, iface.tagIds),
    custom_fields: ctx.store.renderCustomFields('dcim.interface', iface.customFields),
    ...stamps(iface),
    count_ipaddresses: ipCount,
    count_fhrp_groups: 0,
    _occupied: false,
  };
}

export function briefMacAddress(ctx: SerializeContext, mac: MacAddressRecord): Json {
  return {
    ...briefUrls(ctx, 'dcim/mac-addresses', mac.id),
    display: mac.mac,
    mac_address: mac.mac,
    description: mac.description,
  };
}

export function serializeMacAddress(ctx: SerializeContext, mac: MacAddressRecord): Json {
  const assigned = ctx.store.assignedInterface(mac.assignedObjectType, mac.assignedObjectId);
  return {
    ...urls(ctx, 'dcim/mac-addresses', mac.id),
    display: mac.mac,
    mac_address: mac.mac,
    assigned_object_type: mac.assignedObjectType,
    assigned_object_id: mac.assignedObjectId,
    assigned_object: assigned ? briefInterface(ctx, assigned) : null,
    description: mac.description,
    ...owner(ctx),
    comments: mac.comments,
    tags: tagsOf(ctx, mac.tagIds),
    custom_fields: ctx.store.renderCustomFields('dcim.macaddress', mac.customFields),
    ...stamps(mac),
  };
}
