import type { IpInterface } from './ip.js';
import type { NetboxFeatures } from './version.js';

/**
 * The emulator's in-memory database: one map per model, keyed by primary key. Maps keep
 * insertion order, which is primary-key order because ids only grow. Records are internal and
 * mutable; tests see them through `NetboxState`, routes through the serializers.
 */

export type CustomFieldData = Record<string, unknown>;

interface Timestamps {
  created: Date;
  lastUpdated: Date;
}

interface Taggable {
  tagIds: number[];
  customFields: CustomFieldData;
}

export interface VrfRecord extends Timestamps, Taggable {
  readonly id: number;
  name: string;
  rd: string | null;
  enforceUnique: boolean;
  description: string;
}

export interface PrefixRecord extends Timestamps, Taggable {
  readonly id: number;
  /** Always a network (host bits clear). */
  prefix: IpInterface;
  vrfId: number | null;
  status: string;
  isPool: boolean;
  markUtilized: boolean;
  description: string;
  comments: string;
}

export interface IpRangeRecord extends Timestamps, Taggable {
  readonly id: number;
  start: IpInterface;
  end: IpInterface;
  vrfId: number | null;
  status: string;
  markPopulated: boolean;
  markUtilized: boolean;
  description: string;
  comments: string;
}

export interface IpAddressRecord extends Timestamps, Taggable {
  readonly id: number;
  address: IpInterface;
  vrfId: number | null;
  status: string;
  /** `''` when unset (rendered as `null`). */
  role: string;
  assignedObjectType: string | null;
  assignedObjectId: number | null;
  natInsideId: number | null;
  dnsName: string;
  description: string;
  comments: string;
}

export interface TagRecord extends Timestamps {
  readonly id: number;
  name: string;
  slug: string;
  color: string;
  description: string;
  weight: number;
  objectTypes: string[];
}

export interface SiteRecord extends Timestamps {
  readonly id: number;
  name: string;
  slug: string;
}

export interface DeviceRecord extends Timestamps, Taggable {
  readonly id: number;
  name: string | null;
  serial: string;
  assetTag: string | null;
  status: string;
  siteId: number;
  role: string;
  deviceType: string;
  primaryIp4Id: number | null;
  primaryIp6Id: number | null;
  oobIpId: number | null;
  description: string;
  comments: string;
}

export interface InterfaceRecord extends Timestamps, Taggable {
  readonly id: number;
  deviceId: number;
  name: string;
  type: string;
  enabled: boolean;
  mtu: number | null;
  mgmtOnly: boolean;
  description: string;
  /** Before 4.2 the MAC is a column of the interface. */
  legacyMac: string | null;
  /** 4.2+: the `dcim.macaddress` chosen as primary. */
  primaryMacId: number | null;
}

export interface MacAddressRecord extends Timestamps, Taggable {
  readonly id: number;
  /** Upper-case colon form. */
  mac: string;
  assignedObjectType: string | null;
  assignedObjectId: number | null;
  description: string;
  comments: string;
}

export interface TokenRecord {
  readonly id: number;
  readonly version: 1 | 2;
  /** v2 only: the 12-character public key. */
  readonly key: string | null;
  readonly plaintext: string;
  writeEnabled: boolean;
  enabled: boolean;
  expires: Date | null;
  /** Networks a client must come from, e.g. `['127.0.0.0/8']`; `null` for any. */
  allowedIps: readonly IpInterface[] | null;
  /** `app.action_model` strings; `null` means every permission (a superuser). */
  permissions: ReadonlySet<string> | null;
  description: string;
}

export type CustomFieldType = 'text' | 'longtext' | 'integer' | 'boolean' | 'json' | 'select';

export interface CustomFieldRecord {
  readonly id: number;
  readonly name: string;
  readonly type: CustomFieldType;
  /** `app.model` labels, e.g. `ipam.ipaddress`. */
  readonly objectTypes: readonly string[];
  readonly default: unknown;
  readonly choices: readonly string[];
}

export interface StoreOptions {
  readonly features: NetboxFeatures;
  readonly enforceGlobalUnique: boolean;
  readonly now: () => Date;
}

export class NetboxStore {
  readonly features: NetboxFeatures;
  readonly enforceGlobalUnique: boolean;
  readonly now: () => Date;

  readonly vrfs = new Map<number, VrfRecord>();
  readonly prefixes = new Map<number, PrefixRecord>();
  readonly ipRanges = new Map<number, IpRangeRecord>();
  readonly ipAddresses = new Map<number, IpAddressRecord>();
  readonly tags = new Map<number, TagRecord>();
  readonly sites = new Map<number, SiteRecord>();
  readonly devices = new Map<number, DeviceRecord>();
  readonly interfaces = new Map<number, InterfaceRecord>();
  readonly macAddresses = new Map<number, MacAddressRecord>();
  readonly tokens = new Map<number, TokenRecord>();
  readonly customFields = new Map<number, CustomFieldRecord>();

  readonly #counters = new Map<string, number>();
  readonly #named = new Map<string, number>();

  constructor(options: StoreOptions) {
    this.features = options.features;
    this.enforceGlobalUnique = options.enforceGlobalUnique;
    this.now = options.now;
  }

  /** A stable id for a by-name placeholder object (device roles, device types, manufacturers). */
  namedId(model: string, name: string): number {
    const key = `${model}\u0000${name}`;
    let id = this.#named.get(key);
    if (id === undefined) {
      id = this.nextId(model);
      this.#named.set(key, id);
    }
    return id;
  }

  nextId(model: string): number {
    const id = (this.#counters.get(model) ?? 0) + 1;
    this.#counters.set(model, id);
    return id;
  }

  timestamps(): Timestamps {
    const now = this.now();
    return { created: now, lastUpdated: now };
  }

  touch(record: Timestamps): void {
    record.lastUpdated = this.now();
  }

  customFieldsFor(objectType: string): CustomFieldRecord[] {
    return [...this.customFields.values()].filter((field) => field.objectTypes.includes(objectType));
  }

  /** Custom field data as NetBox renders it: every field of the object type, `null` when unset. */
  renderCustomFields(objectType: string, data: CustomFieldData): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of this.customFieldsFor(objectType).sort((a, b) => a.name.localeCompare(b.name))) {
      out[field.name] = data[field.name] ?? null;
    }
    return out;
  }

  /** Defaults of the object type's custom fields, applied on create. */
  customFieldDefaults(objectType: string): CustomFieldData {
    const out: CustomFieldData = {};
    for (const field of this.customFieldsFor(objectType)) {
      if (field.default !== undefined && field.default !== null) out[field.name] = structuredClone(field.default);
    }
    return out;
  }

  tagSlugs(tagIds: readonly number[]): string[] {
    return tagIds.map((id) => this.tags.get(id)?.slug).filter((slug): slug is string => slug !== undefined);
  }

  /** How many objects carry the tag (the `tagged_items` count). */
  taggedItems(tagId: number): number {
    let count = 0;
    const maps: readonly ReadonlyMap<number, { tagIds: number[] }>[] = [
      this.vrfs,
      this.prefixes,
      this.ipRanges,
      this.ipAddresses,
      this.devices,
      this.interfaces,
      this.macAddresses,
    ];
    for (const map of maps) for (const record of map.values()) if (record.tagIds.includes(tagId)) count++;
    return count;
  }

  /** The MAC address records assigned to an interface (4.2+ model). */
  macsOfInterface(interfaceId: number): MacAddressRecord[] {
    return [...this.macAddresses.values()].filter(
      (mac) => mac.assignedObjectType === 'dcim.interface' && mac.assignedObjectId === interfaceId,
    );
  }

  /** The interface's MAC as `mac_address` shows it: the primary MAC (4.2+) or the column. */
  interfaceMac(record: InterfaceRecord): string | null {
    if (!this.features.macAddressModel) return record.legacyMac;
    if (record.primaryMacId === null) return null;
    return this.macAddresses.get(record.primaryMacId)?.mac ?? null;
  }

  /** Every MAC an interface answers to in filters (`mac_addresses__mac_address` on 4.2+). */
  interfaceMacs(record: InterfaceRecord): string[] {
    if (!this.features.macAddressModel) return record.legacyMac ? [record.legacyMac] : [];
    return this.macsOfInterface(record.id).map((mac) => mac.mac);
  }

  /** The interface behind an IP's or MAC's generic assignment, when it is an existing `dcim.interface`. */
  assignedInterface(type: string | null, id: number | null): InterfaceRecord | undefined {
    if (type !== 'dcim.interface' || id === null) return undefined;
    return this.interfaces.get(id);
  }
}
