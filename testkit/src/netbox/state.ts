import { authorizationHeader, randomAlphanumeric } from './auth.js';
import { formatHost, formatInterface, lastOf, networkOf, parseInterface, toNetwork } from './ip.js';
import type { IpInterface } from './ip.js';
import { normalizeMac } from './mac.js';
import { deleteIpAddress } from './routes-ipam.js';
import { DEVICE_STATUS, IP_ADDRESS_ROLE, IP_ADDRESS_STATUS, IP_RANGE_STATUS, PREFIX_STATUS } from './serializers.js';
import type {
  CustomFieldType,
  DeviceRecord,
  InterfaceRecord,
  IpAddressRecord,
  IpRangeRecord,
  MacAddressRecord,
  NetboxStore,
  PrefixRecord,
  TagRecord,
  TokenRecord,
  VrfRecord,
} from './store.js';

/** A VRF by id or by name. */
export type VrfRef = number | string | null;

export interface VrfSeed {
  readonly name: string;
  readonly rd?: string | null;
  /** Default true, as in NetBox. */
  readonly enforceUnique?: boolean;
  readonly description?: string;
}

export interface PrefixSeed {
  /** CIDR; host bits are cleared (`10.0.0.7/24` → `10.0.0.0/24`). */
  readonly prefix: string;
  readonly vrf?: VrfRef;
  readonly isPool?: boolean;
  readonly status?: 'container' | 'active' | 'reserved' | 'deprecated';
  readonly markUtilized?: boolean;
  readonly description?: string;
  /** Tag slugs; missing tags are created. */
  readonly tags?: readonly string[];
  readonly customFields?: Readonly<Record<string, unknown>>;
}

export interface IpRangeSeed {
  /** With mask, e.g. `192.0.2.10/24`; the mask of `startAddress` is the range's mask length. */
  readonly startAddress: string;
  readonly endAddress: string;
  readonly vrf?: VrfRef;
  readonly status?: 'active' | 'reserved' | 'deprecated';
  readonly markPopulated?: boolean;
  readonly markUtilized?: boolean;
  readonly description?: string;
  readonly tags?: readonly string[];
}

export interface IpAddressSeed {
  /** `192.0.2.10/24`; without a mask it is stored as /32 or /128, like NetBox. */
  readonly address: string;
  readonly vrf?: VrfRef;
  readonly status?: 'active' | 'reserved' | 'deprecated' | 'dhcp' | 'slaac';
  readonly role?: '' | 'loopback' | 'secondary' | 'anycast' | 'vip' | 'vrrp' | 'hsrp' | 'glbp' | 'carp';
  readonly dnsName?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly customFields?: Readonly<Record<string, unknown>>;
  /** Interface id (`dcim.interface`) to assign the address to. */
  readonly assignedInterface?: number;
}

export interface TagSeed {
  readonly name: string;
  /** Default: derived from the name. */
  readonly slug?: string;
  /** 6 hex digits without `#`; default `9e9e9e`. */
  readonly color?: string;
  readonly description?: string;
}

export interface DeviceSeed {
  readonly name: string | null;
  readonly serial?: string;
  readonly assetTag?: string | null;
  readonly status?: keyof typeof DEVICE_STATUS;
  /** Site name; created when missing. Default `emulator`. */
  readonly site?: string;
  readonly role?: string;
  readonly deviceType?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
}

export interface InterfaceSeed {
  /** Device id or name. */
  readonly device: number | string;
  readonly name: string;
  /** Default `1000base-t`. */
  readonly type?: string;
  /**
   * The interface's MAC. On 4.2+ this creates a `dcim.macaddress` assigned to the interface
   * and makes it the primary MAC; before 4.2 it is the interface's own column.
   */
  readonly macAddress?: string;
  readonly enabled?: boolean;
  readonly mgmtOnly?: boolean;
  readonly description?: string;
}

export interface MacAddressSeed {
  readonly macAddress: string;
  /** Interface id to assign it to. */
  readonly interface?: number;
  /** Make it the interface's primary MAC. */
  readonly primary?: boolean;
  readonly description?: string;
}

export interface TokenSeed {
  /** Default 2 on NetBox 4.5+, else 1. */
  readonly version?: 1 | 2;
  /** v2: 12 alphanumeric characters; generated when absent. */
  readonly key?: string;
  /** The secret: 40 characters (v1) or 40 alphanumerics (v2); generated when absent. */
  readonly token?: string;
  /** Default true. */
  readonly writeEnabled?: boolean;
  /** 4.5+; default true. A disabled token answers `Token disabled`. */
  readonly enabled?: boolean;
  readonly expires?: Date | string | null;
  /** Client networks allowed to use the token, e.g. `['127.0.0.0/8']`. */
  readonly allowedIps?: readonly string[];
  /** Model permissions (`ipam.add_ipaddress`, ...); absent means all (a superuser's token). */
  readonly permissions?: readonly string[];
  readonly description?: string;
}

export interface CustomFieldSeed {
  readonly name: string;
  /** Default `text`. */
  readonly type?: CustomFieldType;
  /** Default `['ipam.ipaddress']`. */
  readonly objectTypes?: readonly string[];
  readonly default?: unknown;
  /** For `select`. */
  readonly choices?: readonly string[];
}

export interface TokenInfo {
  readonly id: number;
  readonly version: 1 | 2;
  readonly key: string | null;
  readonly token: string;
  /** The `Authorization` header value: `Token <token>` or `Bearer nbt_<key>.<token>`. */
  readonly authorization: string;
  readonly writeEnabled: boolean;
}

export interface VrfSnapshot {
  readonly id: number;
  readonly name: string;
  readonly rd: string | null;
  readonly enforceUnique: boolean;
}

export interface PrefixSnapshot {
  readonly id: number;
  readonly prefix: string;
  readonly vrfId: number | null;
  readonly status: string;
  readonly isPool: boolean;
  readonly description: string;
  readonly tags: readonly string[];
}

export interface IpRangeSnapshot {
  readonly id: number;
  readonly startAddress: string;
  readonly endAddress: string;
  readonly vrfId: number | null;
  readonly status: string;
  readonly markPopulated: boolean;
  readonly description: string;
  readonly tags: readonly string[];
}

export interface IpAddressSnapshot {
  readonly id: number;
  /** CIDR text as the API shows it, e.g. `192.0.2.10/24`. */
  readonly address: string;
  /** The address without its mask. */
  readonly host: string;
  readonly vrfId: number | null;
  readonly status: string;
  /** `null` when unset. */
  readonly role: string | null;
  readonly dnsName: string;
  readonly description: string;
  /** Tag slugs. */
  readonly tags: readonly string[];
  readonly customFields: Readonly<Record<string, unknown>>;
  readonly assignedObjectType: string | null;
  readonly assignedObjectId: number | null;
  readonly created: Date;
  readonly lastUpdated: Date;
}

export interface TagSnapshot {
  readonly id: number;
  readonly name: string;
  readonly slug: string;
  readonly color: string;
  readonly description: string;
}

export interface DeviceSnapshot {
  readonly id: number;
  readonly name: string | null;
  readonly serial: string;
  readonly status: string;
  readonly primaryIp4Id: number | null;
  readonly primaryIp6Id: number | null;
  readonly tags: readonly string[];
}

export interface InterfaceSnapshot {
  readonly id: number;
  readonly deviceId: number;
  readonly name: string;
  readonly type: string;
  /** As the API's `mac_address` shows it. */
  readonly macAddress: string | null;
  readonly primaryMacAddressId: number | null;
}

export interface MacAddressSnapshot {
  readonly id: number;
  readonly macAddress: string;
  readonly assignedObjectType: string | null;
  readonly assignedObjectId: number | null;
  readonly primary: boolean;
  readonly description: string;
}

export interface DuplicateAddress {
  readonly vrfId: number | null;
  readonly host: string;
  readonly ids: readonly number[];
}

/**
 * The emulator's data as a test sees it: seed it before (or while) the code under test runs,
 * read it afterwards to assert. Seeding bypasses the API's validation (a seeded address may
 * duplicate another, as data imported into a real NetBox can), but rejects malformed input
 * with a `TypeError`. Reads return copies.
 */
export class NetboxState {
  readonly #store: NetboxStore;

  /** @internal */
  constructor(store: NetboxStore) {
    this.#store = store;
  }

  // ---- seeding ----------------------------------------------------------------------------

  addVrf(seed: VrfSeed): VrfSnapshot {
    const store = this.#store;
    const record: VrfRecord = {
      id: store.nextId('ipam.vrf'),
      name: seed.name,
      rd: seed.rd ?? null,
      enforceUnique: seed.enforceUnique ?? true,
      description: seed.description ?? '',
      tagIds: [],
      customFields: {},
      ...store.timestamps(),
    };
    store.vrfs.set(record.id, record);
    return vrfSnapshot(record);
  }

  addPrefix(seed: PrefixSeed): PrefixSnapshot {
    const store = this.#store;
    const parsed = parseInterface(seed.prefix);
    if (!parsed || !seed.prefix.includes('/')) throw new TypeError(`NetBox emulator: invalid prefix "${seed.prefix}"`);
    const status = seed.status ?? 'active';
    if (!Object.hasOwn(PREFIX_STATUS, status)) throw new TypeError(`NetBox emulator: invalid prefix status "${status}"`);
    const record: PrefixRecord = {
      id: store.nextId('ipam.prefix'),
      prefix: toNetwork(parsed),
      vrfId: this.#vrfId(seed.vrf),
      status,
      isPool: seed.isPool ?? false,
      markUtilized: seed.markUtilized ?? false,
      description: seed.description ?? '',
      comments: '',
      tagIds: this.#tagIds(seed.tags),
      customFields: { ...store.customFieldDefaults('ipam.prefix'), ...seed.customFields },
      ...store.timestamps(),
    };
    store.prefixes.set(record.id, record);
    return prefixSnapshot(store, record);
  }

  addIpRange(seed: IpRangeSeed): IpRangeSnapshot {
    const store = this.#store;
    const start = parseInterface(seed.startAddress);
    const end = parseInterface(seed.endAddress);
    if (!start || !end || start.family !== end.family || end.value < start.value) {
      throw new TypeError(`NetBox emulator: invalid IP range ${seed.startAddress} - ${seed.endAddress}`);
    }
    const status = seed.status ?? 'active';
    if (!Object.hasOwn(IP_RANGE_STATUS, status)) throw new TypeError(`NetBox emulator: invalid IP range status "${status}"`);
    const record: IpRangeRecord = {
      id: store.nextId('ipam.iprange'),
      start,
      end,
      vrfId: this.#vrfId(seed.vrf),
      status,
      markPopulated: seed.markPopulated ?? false,
      markUtilized: seed.markUtilized ?? false,
      description: seed.description ?? '',
      comments: '',
      tagIds: this.#tagIds(seed.tags),
      customFields: store.customFieldDefaults('ipam.iprange'),
      ...store.timestamps(),
    };
    store.ipRanges.set(record.id, record);
    return ipRangeSnapshot(store, record);
  }

  /** An address as if someone created it in NetBox directly (e.g. a foreign address). */
  addIpAddress(seed: IpAddressSeed): IpAddressSnapshot {
    const store = this.#store;
    const address = parseInterface(seed.address);
    if (!address) throw new TypeError(`NetBox emulator: invalid IP address "${seed.address}"`);
    const status = seed.status ?? 'active';
    if (!Object.hasOwn(IP_ADDRESS_STATUS, status)) throw new TypeError(`NetBox emulator: invalid IP address status "${status}"`);
    const role = seed.role ?? '';
    if (role !== '' && !Object.hasOwn(IP_ADDRESS_ROLE, role)) throw new TypeError(`NetBox emulator: invalid IP address role "${role}"`);
    if (seed.assignedInterface !== undefined && !store.interfaces.has(seed.assignedInterface)) {
      throw new TypeError(`NetBox emulator: no interface ${seed.assignedInterface}`);
    }
    const record: IpAddressRecord = {
      id: store.nextId('ipam.ipaddress'),
      address,
      vrfId: this.#vrfId(seed.vrf),
      status,
      role,
      assignedObjectType: seed.assignedInterface === undefined ? null : 'dcim.interface',
      assignedObjectId: seed.assignedInterface ?? null,
      natInsideId: null,
      dnsName: (seed.dnsName ?? '').toLowerCase(),
      description: seed.description ?? '',
      comments: '',
      tagIds: this.#tagIds(seed.tags),
      customFields: { ...store.customFieldDefaults('ipam.ipaddress'), ...seed.customFields },
      ...store.timestamps(),
    };
    store.ipAddresses.set(record.id, record);
    return ipAddressSnapshot(store, record);
  }

  addTag(seed: TagSeed): TagSnapshot {
    const store = this.#store;
    const slug = seed.slug ?? slugify(seed.name);
    const color = seed.color ?? '9e9e9e';
    if (!/^[0-9a-f]{6}$/.test(color)) throw new TypeError(`NetBox emulator: tag color must be 6 lower-case hex digits, got "${color}"`);
    for (const tag of store.tags.values()) {
      if (tag.slug === slug || tag.name === seed.name) throw new TypeError(`NetBox emulator: a tag named "${seed.name}" or with slug "${slug}" exists`);
    }
    const record: TagRecord = {
      id: store.nextId('extras.tag'),
      name: seed.name,
      slug,
      color,
      description: seed.description ?? '',
      weight: 1000,
      objectTypes: [],
      ...store.timestamps(),
    };
    store.tags.set(record.id, record);
    return tagSnapshot(record);
  }

  addDevice(seed: DeviceSeed): DeviceSnapshot {
    const store = this.#store;
    const siteName = seed.site ?? 'emulator';
    let site = [...store.sites.values()].find((s) => s.name === siteName);
    if (!site) {
      site = { id: store.nextId('dcim.site'), name: siteName, slug: slugify(siteName), ...store.timestamps() };
      store.sites.set(site.id, site);
    }
    const status = seed.status ?? 'active';
    if (!Object.hasOwn(DEVICE_STATUS, status)) throw new TypeError(`NetBox emulator: invalid device status "${status}"`);
    const record: DeviceRecord = {
      id: store.nextId('dcim.device'),
      name: seed.name,
      serial: seed.serial ?? '',
      assetTag: seed.assetTag ?? null,
      status,
      siteId: site.id,
      role: seed.role ?? 'Server',
      deviceType: seed.deviceType ?? 'Generic Server',
      primaryIp4Id: null,
      primaryIp6Id: null,
      oobIpId: null,
      description: seed.description ?? '',
      comments: '',
      tagIds: this.#tagIds(seed.tags),
      customFields: store.customFieldDefaults('dcim.device'),
      ...store.timestamps(),
    };
    store.devices.set(record.id, record);
    return deviceSnapshot(store, record);
  }

  addInterface(seed: InterfaceSeed): InterfaceSnapshot {
    const store = this.#store;
    const device =
      typeof seed.device === 'number' ? store.devices.get(seed.device) : [...store.devices.values()].find((d) => d.name === seed.device);
    if (!device) throw new TypeError(`NetBox emulator: no device ${String(seed.device)}`);
    let mac: string | undefined;
    if (seed.macAddress !== undefined) {
      mac = normalizeMac(seed.macAddress);
      if (!mac) throw new TypeError(`NetBox emulator: invalid MAC address "${seed.macAddress}"`);
    }
    const record: InterfaceRecord = {
      id: store.nextId('dcim.interface'),
      deviceId: device.id,
      name: seed.name,
      type: seed.type ?? '1000base-t',
      enabled: seed.enabled ?? true,
      mtu: null,
      mgmtOnly: seed.mgmtOnly ?? false,
      description: seed.description ?? '',
      legacyMac: store.features.macAddressModel ? null : (mac ?? null),
      primaryMacId: null,
      tagIds: [],
      customFields: store.customFieldDefaults('dcim.interface'),
      ...store.timestamps(),
    };
    store.interfaces.set(record.id, record);
    if (mac && store.features.macAddressModel) this.addMacAddress({ macAddress: mac, interface: record.id, primary: true });
    return interfaceSnapshot(store, record);
  }

  /** A `dcim.macaddress` (NetBox 4.2+). */
  addMacAddress(seed: MacAddressSeed): MacAddressSnapshot {
    const store = this.#store;
    if (!store.features.macAddressModel) throw new TypeError('NetBox emulator: MAC address objects exist from NetBox 4.2');
    const mac = normalizeMac(seed.macAddress);
    if (!mac) throw new TypeError(`NetBox emulator: invalid MAC address "${seed.macAddress}"`);
    const iface = seed.interface === undefined ? undefined : store.interfaces.get(seed.interface);
    if (seed.interface !== undefined && !iface) throw new TypeError(`NetBox emulator: no interface ${seed.interface}`);
    const record: MacAddressRecord = {
      id: store.nextId('dcim.macaddress'),
      mac,
      assignedObjectType: iface ? 'dcim.interface' : null,
      assignedObjectId: iface?.id ?? null,
      description: seed.description ?? '',
      comments: '',
      tagIds: [],
      customFields: store.customFieldDefaults('dcim.macaddress'),
      ...store.timestamps(),
    };
    store.macAddresses.set(record.id, record);
    if (iface && seed.primary) iface.primaryMacId = record.id;
    return macAddressSnapshot(store, record);
  }

  addCustomField(seed: CustomFieldSeed): void {
    const store = this.#store;
    if ([...store.customFields.values()].some((field) => field.name === seed.name)) {
      throw new TypeError(`NetBox emulator: custom field "${seed.name}" exists`);
    }
    const id = store.nextId('extras.customfield');
    store.customFields.set(id, {
      id,
      name: seed.name,
      type: seed.type ?? 'text',
      objectTypes: [...(seed.objectTypes ?? ['ipam.ipaddress'])],
      default: seed.default,
      choices: [...(seed.choices ?? [])],
    });
  }

  /** Adds an API token and returns the header to send. */
  addToken(seed: TokenSeed = {}): TokenInfo {
    const store = this.#store;
    const version = seed.version ?? (store.features.v2Tokens ? 2 : 1);
    if (version === 2 && !store.features.v2Tokens) throw new TypeError('NetBox emulator: v2 tokens exist from NetBox 4.5');
    const plaintext = seed.token ?? randomAlphanumeric(40);
    let key: string | null = null;
    if (version === 1) {
      if (plaintext.length !== 40 || /\s/.test(plaintext)) throw new TypeError('NetBox emulator: a v1 token is 40 characters without spaces');
    } else {
      key = seed.key ?? randomAlphanumeric(12);
      if (!/^[A-Za-z0-9]{12}$/.test(key)) throw new TypeError('NetBox emulator: a v2 token key is 12 alphanumeric characters');
      if (!/^[A-Za-z0-9]{40}$/.test(plaintext)) throw new TypeError('NetBox emulator: a v2 token is 40 alphanumeric characters');
    }
    const duplicate = [...store.tokens.values()].some((t) => (version === 1 ? t.version === 1 && t.plaintext === plaintext : t.key === key));
    if (duplicate) throw new TypeError('NetBox emulator: that token exists');
    const allowedIps = seed.allowedIps?.map((text) => {
      const net = parseInterface(text);
      if (!net) throw new TypeError(`NetBox emulator: invalid allowed IP "${text}"`);
      return net;
    });
    const expires = seed.expires === undefined || seed.expires === null ? null : new Date(seed.expires);
    if (expires && Number.isNaN(expires.getTime())) throw new TypeError('NetBox emulator: invalid token expiry');
    const record: TokenRecord = {
      id: store.nextId('users.token'),
      version,
      key,
      plaintext,
      writeEnabled: seed.writeEnabled ?? true,
      enabled: seed.enabled ?? true,
      expires,
      allowedIps: allowedIps ?? null,
      permissions: seed.permissions ? new Set(seed.permissions) : null,
      description: seed.description ?? '',
    };
    store.tokens.set(record.id, record);
    return tokenInfo(record);
  }

  updateToken(id: number, patch: Pick<TokenSeed, 'writeEnabled' | 'enabled' | 'expires'>): TokenInfo {
    const token = this.#store.tokens.get(id);
    if (!token) throw new TypeError(`NetBox emulator: no token ${id}`);
    if (patch.writeEnabled !== undefined) token.writeEnabled = patch.writeEnabled;
    if (patch.enabled !== undefined) token.enabled = patch.enabled;
    if (patch.expires !== undefined) token.expires = patch.expires === null ? null : new Date(patch.expires);
    return tokenInfo(token);
  }

  removeToken(id: number): boolean {
    return this.#store.tokens.delete(id);
  }

  /** Changes an address as an operator would in the UI. */
  updateIpAddress(
    id: number,
    patch: Partial<Pick<IpAddressSeed, 'status' | 'description' | 'dnsName' | 'tags' | 'customFields' | 'assignedInterface'>>,
  ): IpAddressSnapshot {
    const store = this.#store;
    const record = store.ipAddresses.get(id);
    if (!record) throw new TypeError(`NetBox emulator: no IP address ${id}`);
    if (patch.status !== undefined) record.status = patch.status;
    if (patch.description !== undefined) record.description = patch.description;
    if (patch.dnsName !== undefined) record.dnsName = patch.dnsName.toLowerCase();
    if (patch.tags !== undefined) record.tagIds = this.#tagIds(patch.tags);
    if (patch.customFields !== undefined) record.customFields = { ...record.customFields, ...patch.customFields };
    if (patch.assignedInterface !== undefined) {
      record.assignedObjectType = 'dcim.interface';
      record.assignedObjectId = patch.assignedInterface;
    }
    store.touch(record);
    return ipAddressSnapshot(store, record);
  }

  removeIpAddress(id: number): boolean {
    const record = this.#store.ipAddresses.get(id);
    if (!record) return false;
    deleteIpAddress(this.#store, record);
    return true;
  }

  // ---- reading ----------------------------------------------------------------------------

  vrfs(): VrfSnapshot[] {
    return [...this.#store.vrfs.values()].map(vrfSnapshot);
  }

  prefixes(): PrefixSnapshot[] {
    return [...this.#store.prefixes.values()].map((record) => prefixSnapshot(this.#store, record));
  }

  ipRanges(): IpRangeSnapshot[] {
    return [...this.#store.ipRanges.values()].map((record) => ipRangeSnapshot(this.#store, record));
  }

  /** Every IP address, in primary-key order (optionally only those in `within`, a CIDR). */
  ipAddresses(options: { readonly within?: string; readonly vrf?: VrfRef } = {}): IpAddressSnapshot[] {
    let within: IpInterface | undefined;
    if (options.within !== undefined) {
      const parsed = parseInterface(options.within);
      if (!parsed) throw new TypeError(`NetBox emulator: invalid CIDR "${options.within}"`);
      within = parsed;
    }
    const vrfId = options.vrf === undefined ? undefined : this.#vrfId(options.vrf);
    return [...this.#store.ipAddresses.values()]
      .filter((ip) => vrfId === undefined || ip.vrfId === vrfId)
      .filter(
        (ip) =>
          !within ||
          (ip.address.family === within.family && ip.address.value >= networkOf(within) && ip.address.value <= lastOf(within)),
      )
      .map((record) => ipAddressSnapshot(this.#store, record));
  }

  ipAddress(id: number): IpAddressSnapshot | undefined {
    const record = this.#store.ipAddresses.get(id);
    return record ? ipAddressSnapshot(this.#store, record) : undefined;
  }

  /** Hosts held by more than one IP address object in the same VRF. */
  duplicateAddresses(): DuplicateAddress[] {
    const groups = new Map<string, { vrfId: number | null; host: string; ids: number[] }>();
    for (const ip of this.#store.ipAddresses.values()) {
      const host = formatHost(ip.address);
      const key = `${ip.vrfId ?? 'global'}|${host}`;
      const group = groups.get(key);
      if (group) group.ids.push(ip.id);
      else groups.set(key, { vrfId: ip.vrfId, host, ids: [ip.id] });
    }
    return [...groups.values()].filter((group) => group.ids.length > 1);
  }

  tags(): TagSnapshot[] {
    return [...this.#store.tags.values()].map(tagSnapshot);
  }

  devices(): DeviceSnapshot[] {
    return [...this.#store.devices.values()].map((record) => deviceSnapshot(this.#store, record));
  }

  interfaces(): InterfaceSnapshot[] {
    return [...this.#store.interfaces.values()].map((record) => interfaceSnapshot(this.#store, record));
  }

  macAddresses(): MacAddressSnapshot[] {
    return [...this.#store.macAddresses.values()].map((record) => macAddressSnapshot(this.#store, record));
  }

  tokens(): TokenInfo[] {
    return [...this.#store.tokens.values()].map(tokenInfo);
  }

  // ---- helpers ----------------------------------------------------------------------------

  #vrfId(ref: VrfRef | undefined): number | null {
    if (ref === undefined || ref === null) return null;
    const vrf =
      typeof ref === 'number' ? this.#store.vrfs.get(ref) : [...this.#store.vrfs.values()].find((v) => v.name === ref || v.rd === ref);
    if (!vrf) throw new TypeError(`NetBox emulator: no VRF ${String(ref)}`);
    return vrf.id;
  }

  /** Tag ids for slugs, creating missing tags (name = slug). */
  #tagIds(slugs: readonly string[] | undefined): number[] {
    const ids: number[] = [];
    for (const slug of slugs ?? []) {
      const existing = [...this.#store.tags.values()].find((tag) => tag.slug === slug);
      const id = existing?.id ?? this.addTag({ name: slug, slug }).id;
      if (!ids.includes(id)) ids.push(id);
    }
    return ids;
  }
}

function slugify(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function tokenInfo(record: TokenRecord): TokenInfo {
  return {
    id: record.id,
    version: record.version,
    key: record.key,
    token: record.plaintext,
    authorization: authorizationHeader(record),
    writeEnabled: record.writeEnabled,
  };
}

function vrfSnapshot(record: VrfRecord): VrfSnapshot {
  return { id: record.id, name: record.name, rd: record.rd, enforceUnique: record.enforceUnique };
}

function prefixSnapshot(store: NetboxStore, record: PrefixRecord): PrefixSnapshot {
  return {
    id: record.id,
    prefix: formatInterface(record.prefix),
    vrfId: record.vrfId,
    status: record.status,
    isPool: record.isPool,
    description: record.description,
    tags: store.tagSlugs(record.tagIds),
  };
}

function ipRangeSnapshot(store: NetboxStore, record: IpRangeRecord): IpRangeSnapshot {
  return {
    id: record.id,
    startAddress: formatInterface(record.start),
    endAddress: formatInterface(record.end),
    vrfId: record.vrfId,
    status: record.status,
    markPopulated: record.markPopulated,
    description: record.description,
    tags: store.tagSlugs(record.tagIds),
  };
}

function ipAddressSnapshot(store: NetboxStore, record: IpAddressRecord): IpAddressSnapshot {
  return {
    id: record.id,
    address: formatInterface(record.address),
    host: formatHost(record.address),
    vrfId: record.vrfId,
    status: record.status,
    role: record.role === '' ? null : record.role,
    dnsName: record.dnsName,
    description: record.description,
    tags: store.tagSlugs(record.tagIds),
    customFields: structuredClone(record.customFields),
    assignedObjectType: record.assignedObjectType,
    assignedObjectId: record.assignedObjectId,
    created: new Date(record.created),
    lastUpdated: new Date(record.lastUpdated),
  };
}

function tagSnapshot(record: TagRecord): TagSnapshot {
  return { id: record.id, name: record.name, slug: record.slug, color: record.color, description: record.description };
}

function deviceSnapshot(store: NetboxStore, record: DeviceRecord): DeviceSnapshot {
  return {
    id: record.id,
    name: record.name,
    serial: record.serial,
    status: record.status,
    primaryIp4Id: record.primaryIp4Id,
    primaryIp6Id: record.primaryIp6Id,
    tags: store.tagSlugs(record.tagIds),
  };
}

function interfaceSnapshot(store: NetboxStore, record: InterfaceRecord): InterfaceSnapshot {
  return {
    id: record.id,
    deviceId: record.deviceId,
    name: record.name,
    type: record.type,
    macAddress: store.interfaceMac(record),
    primaryMacAddressId: record.primaryMacId,
  };
}

function macAddressSnapshot(store: NetboxStore, record: MacAddressRecord): MacAddressSnapshot {
  return {
    id: record.id,
    macAddress: record.mac,
    assignedObjectType: record.assignedObjectType,
    assignedObjectId: record.assignedObjectId,
    primary: [...store.interfaces.values()].some((iface) => iface.primaryMacId === record.id),
    description: record.description,
  };
}

