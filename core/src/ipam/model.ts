import { Type, type Static } from '@sinclair/typebox';
import { ResourceNameSchema } from '../boot/model.js';
import type { FieldError } from '../errors.js';
import { LabelSelectorSchema, MacAddressSchema, MachineRoles, type Machine } from '../model/machine.js';
import { addressToBigInt, contains, familyOf, parsePrefix } from './ip.js';

export const AllocationStrategies = ['sequential', 'hash'] as const;
export type AllocationStrategy = (typeof AllocationStrategies)[number];

/** The provider that allocates from a pool when it is not a plugin. */
export const BUILTIN_IPAM = 'builtin';

export const IpPoolSpecSchema = Type.Object(
  {
    /** `10.0.0.0/24` or `2001:db8::/64`. */
    cidr: Type.String({ minLength: 3, maxLength: 64 }),
    /** Hand out only from this part of the prefix. */
    range: Type.Optional(Type.Object({ start: Type.String(), end: Type.String() }, { additionalProperties: false })),
    gateway: Type.Optional(Type.String()),
    dnsServers: Type.Optional(Type.Array(Type.String(), { maxItems: 8 })),
    /** Addresses (`10.0.0.5`) or ranges (`10.0.0.10-10.0.0.20`) never handed out. */
    reserved: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 1000 })),
    /**
     * `sequential`: the lowest free address. `hash`: an address derived from the claim's owner,
     * so a rebuilt database gives a machine the same address again when it is free.
     */
    strategy: Type.Optional(Type.Union(AllocationStrategies.map((s) => Type.Literal(s)), { default: 'sequential' })),
    /** `builtin`, or the id of an IPAM plugin (e.g. `netbox`). */
    provider: Type.Optional(Type.String({ minLength: 1, maxLength: 64, default: BUILTIN_IPAM })),
    /** Provider-specific reference, e.g. `{ prefixId: 12 }` for NetBox. */
    providerRef: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /**
     * Machines that get an address from this pool on their boot NIC without anyone asking:
     * those with any of `roles` and all of `labels`. At least one criterion, so a pool is
     * never handed to the whole fleet by an empty rule.
     */
    assignTo: Type.Optional(
      Type.Object(
        {
          roles: Type.Optional(Type.Array(Type.Union(MachineRoles.map((r) => Type.Literal(r))), { minItems: 1 })),
          labels: Type.Optional(LabelSelectorSchema),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type IpPoolSpec = Static<typeof IpPoolSpecSchema>;

export const IpPoolSchema = Type.Object(
  {
    name: ResourceNameSchema,
    spec: IpPoolSpecSchema,
    resourceVersion: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type IpPool = Static<typeof IpPoolSchema>;

export const IpClaimOwnerSchema = Type.Object(
  {
    /** Stable key of the owner; with the pool it makes the claim unique (asking twice is one claim). */
    key: Type.String({ minLength: 1, maxLength: 256 }),
    machineId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    mac: Type.Optional(MacAddressSchema),
  },
  { additionalProperties: false },
);

export const IpClaimSpecSchema = Type.Object(
  {
    pool: ResourceNameSchema,
    owner: IpClaimOwnerSchema,
    requestedAddress: Type.Optional(Type.String({ minLength: 2, maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type IpClaimSpec = Static<typeof IpClaimSpecSchema>;

export const IpClaimPhases = ['pending', 'bound', 'conflict', 'released', 'failed'] as const;
export type IpClaimPhase = (typeof IpClaimPhases)[number];

export const IpClaimStatusSchema = Type.Object(
  {
    phase: Type.Union(IpClaimPhases.map((p) => Type.Literal(p))),
    address: Type.Optional(Type.String()),
    prefixLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
    gateway: Type.Optional(Type.String()),
    dnsServers: Type.Optional(Type.Array(Type.String())),
    providerRef: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    error: Type.Optional(Type.String()),
    /** Failed attempts so far and when the reconcile loop tries again. */
    attempts: Type.Optional(Type.Integer({ minimum: 0 })),
    nextAttemptAt: Type.Optional(Type.String({ format: 'date-time' })),
    boundAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export type IpClaimStatus = Static<typeof IpClaimStatusSchema>;

export const IpClaimSchema = Type.Object(
  {
    id: Type.String(),
    spec: IpClaimSpecSchema,
    status: IpClaimStatusSchema,
    resourceVersion: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type IpClaim = Static<typeof IpClaimSchema>;

/** Parses `10.0.0.10-10.0.0.20` or one address into a closed numeric range. */
export function parseAddressRange(text: string): { first: bigint; last: bigint } | null {
  const [from, to = from] = text.split('-').map((s) => s.trim()) as [string, string?];
  const family = familyOf(from);
  if (!family || familyOf(to!) !== family) return null;
  const first = addressToBigInt(from);
  const last = addressToBigInt(to!);
  return first <= last ? { first, last } : null;
}

/** What a schema cannot say about a pool: the prefix parses, and everything else lies in it. */
export function validatePoolSpec(spec: IpPoolSpec, basePath = '/spec'): FieldError[] {
  const errors: FieldError[] = [];
  const prefix = parsePrefix(spec.cidr);
  if (!prefix) return [{ path: `${basePath}/cidr`, message: 'must be a prefix with zero host bits, e.g. 10.0.0.0/24 or 2001:db8::/64' }];
  const inside = (address: string, path: string) => {
    if (familyOf(address) !== prefix.family) errors.push({ path, message: `must be an IPv${prefix.family} address` });
    else if (!contains(prefix, addressToBigInt(address))) errors.push({ path, message: `must lie in ${spec.cidr}` });
  };
  if (spec.gateway !== undefined) inside(spec.gateway, `${basePath}/gateway`);
  if (spec.range) {
    inside(spec.range.start, `${basePath}/range/start`);
    inside(spec.range.end, `${basePath}/range/end`);
    if (familyOf(spec.range.start) && familyOf(spec.range.end) && addressToBigInt(spec.range.start) > addressToBigInt(spec.range.end)) {
      errors.push({ path: `${basePath}/range`, message: 'start must not come after end' });
    }
  }
  for (const [i, dns] of (spec.dnsServers ?? []).entries()) {
    if (!familyOf(dns)) errors.push({ path: `${basePath}/dnsServers/${i}`, message: 'must be an IP address' });
  }
  for (const [i, entry] of (spec.reserved ?? []).entries()) {
    const range = parseAddressRange(entry);
    if (!range) errors.push({ path: `${basePath}/reserved/${i}`, message: 'must be an address or a range a-b' });
    else if (!contains(prefix, range.first) || !contains(prefix, range.last)) {
      errors.push({ path: `${basePath}/reserved/${i}`, message: `must lie in ${spec.cidr}` });
    }
  }
  return errors;
}

/** Whether a pool's `assignTo` rule gives this machine an address. */
export function poolAssignsTo(spec: IpPoolSpec, machine: Pick<Machine, 'roles' | 'labels'>): boolean {
  const rule = spec.assignTo;
  if (!rule || (!rule.roles && !rule.labels)) return false;
  const roles = !rule.roles || rule.roles.some((r) => machine.roles.includes(r));
  const labels = !rule.labels || Object.entries(rule.labels).every(([k, v]) => machine.labels[k] === v);
  return roles && labels;
}
