import { Type, type Static } from '@sinclair/typebox';
import { HardwareInventorySchema } from './hardware.js';
import { MachinePhases } from '../lifecycle/phases.js';

export const MacAddressSchema = Type.String({
  pattern: '^([0-9a-f]{2}:){5}[0-9a-f]{2}$',
  description: 'lower-case, colon-separated',
});

/**
 * The keys a machine can be recognised by. Any one of them finds the machine; each value
 * belongs to at most one machine (the store enforces it).
 */
export const IdentityKinds = ['mac', 'smbios-uuid', 'serial', 'rpi-serial', 'disk-serial'] as const;
export type IdentityKind = (typeof IdentityKinds)[number];

export const IdentityKeySchema = Type.Object(
  {
    kind: Type.Union(IdentityKinds.map((k) => Type.Literal(k))),
    value: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type IdentityKey = Static<typeof IdentityKeySchema>;

export const MachineRoles = ['compute', 'storage', 'control-plane'] as const;
export type MachineRole = (typeof MachineRoles)[number];

export const TaintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export const TaintSchema = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 253 }),
    value: Type.Optional(Type.String({ maxLength: 253 })),
    effect: Type.Union(TaintEffects.map((e) => Type.Literal(e))),
  },
  { additionalProperties: false },
);
export type Taint = Static<typeof TaintSchema>;

export const ConditionSchema = Type.Object(
  {
    type: Type.String({ minLength: 1, description: 'Ready, NetworkUnavailable, InventoryStale, IdentityAmbiguous, ...' }),
    status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]),
    reason: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
    lastTransitionTime: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type Condition = Static<typeof ConditionSchema>;

/** How a machine leaves iPXE for its local disk; `exit` does not work on every firmware. */
export const BootFromDiskMethods = ['exit', 'sanboot', 'http-404'] as const;
export type BootFromDiskMethod = (typeof BootFromDiskMethods)[number];

const LabelKeySchema = Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9_./-]{0,251}[A-Za-z0-9])?$' });
export const LabelsSchema = Type.Record(LabelKeySchema, Type.String({ maxLength: 253 }), { additionalProperties: false });
/** Labels that select machines: at least one, or a selector would match the whole fleet. */
export const LabelSelectorSchema = Type.Record(LabelKeySchema, Type.String({ maxLength: 253 }), {
  minProperties: 1,
  additionalProperties: false,
});

/** The fields an operator sets; everything else is observed or derived. */
export const MachineSpecSchema = Type.Object(
  {
    hostname: Type.Optional(
      Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', maxLength: 253 }),
    ),
    labels: Type.Optional(LabelsSchema),
    roles: Type.Optional(Type.Array(Type.Union(MachineRoles.map((r) => Type.Literal(r))), { uniqueItems: true })),
    taints: Type.Optional(Type.Array(TaintSchema)),
    bootFromDisk: Type.Optional(Type.Union(BootFromDiskMethods.map((m) => Type.Literal(m)))),
  },
  { additionalProperties: false },
);
export type MachineSpec = Static<typeof MachineSpecSchema>;

/** Netboot bookkeeping used by the loop guard. */
export const NetbootStateSchema = Type.Object(
  {
    /** Netboots served since the machine last made progress (a transition or an OS report). */
    attemptsSinceProgress: Type.Integer({ minimum: 0 }),
    lastNetbootAt: Type.Optional(Type.String({ format: 'date-time' })),
    /** Set by the loop guard or an operator; cleared only by an operator re-arming the machine. */
    hold: Type.Optional(Type.Object({ reason: Type.String(), since: Type.String({ format: 'date-time' }) })),
  },
  { additionalProperties: false },
);
export type NetbootState = Static<typeof NetbootStateSchema>;

/** An address a machine holds (or waits for) through an IP claim; the claim is the truth. */
export const MachineAddressSchema = Type.Object(
  {
    claimId: Type.String(),
    pool: Type.String(),
    phase: Type.String({ description: 'the claim phase: pending, bound, conflict, failed' }),
    address: Type.Optional(Type.String()),
    prefixLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
    mac: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type MachineAddress = Static<typeof MachineAddressSchema>;

export const MachineSchema = Type.Object(
  {
    id: Type.String(),
    hostname: Type.Union([Type.String(), Type.Null()]),
    phase: Type.Union(MachinePhases.map((p) => Type.Literal(p))),
    identity: Type.Array(IdentityKeySchema),
    labels: Type.Record(Type.String(), Type.String()),
    roles: Type.Array(Type.Union(MachineRoles.map((r) => Type.Literal(r)))),
    taints: Type.Array(TaintSchema),
    conditions: Type.Array(ConditionSchema),
    hardware: HardwareInventorySchema,
    bootFromDisk: Type.Union(BootFromDiskMethods.map((m) => Type.Literal(m))),
    netboot: NetbootStateSchema,
    resourceVersion: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    /** Addresses from the machine's IP claims that are not released. */
    addresses: Type.Array(MachineAddressSchema),
    /** When the hardware inventory was last reported (enrollment); drives `InventoryStale`. */
    inventoryReportedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type Machine = Static<typeof MachineSchema>;

/** `kind=value`: one identity key as a string, for sets and maps. */
export function identityKeyString(key: IdentityKey): string {
  return `${key.kind}=${key.value}`;
}

/** MACs of a machine, in the order they were learned. */
export function machineMacs(machine: Pick<Machine, 'identity'>): string[] {
  return machine.identity.filter((k) => k.kind === 'mac').map((k) => k.value);
}

/** Canonical form of a MAC address (lower case, colon separated), or null when it is not one. */
export function normalizeMac(input: string): string | null {
  const hex = input.trim().toLowerCase().replace(/[-:.]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}
