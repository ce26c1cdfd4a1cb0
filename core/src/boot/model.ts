import { Type, type Static } from '@sinclair/typebox';
import { LabelSelectorSchema, MacAddressSchema } from '../model/machine.js';

export const BootProfileKinds = ['talos', 'nixos', 'kernel', 'ipxe', 'localboot'] as const;
export type BootProfileKind = (typeof BootProfileKinds)[number];

const UrlOrArtifact = Type.String({
  minLength: 1,
  description: 'an http(s) URL or `artifact:<sha256>` for a file in artifact storage',
});

export const TalosProfileSpecSchema = Type.Object(
  {
    kind: Type.Literal('talos'),
    /** Image Factory schematic id (64 hex chars). */
    schematic: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    version: Type.String({ pattern: '^v\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?$' }),
    arch: Type.Optional(Type.Union([Type.Literal('amd64'), Type.Literal('arm64')])),
    factoryUrl: Type.Optional(Type.String({ default: 'https://factory.talos.dev' })),
    extraKernelArgs: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const NixosProfileSpecSchema = Type.Object(
  {
    kind: Type.Literal('nixos'),
    /** Extra kernel arguments appended to the ones the build produced. */
    extraKernelArgs: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const KernelProfileSpecSchema = Type.Object(
  {
    kind: Type.Literal('kernel'),
    kernel: UrlOrArtifact,
    initrd: Type.Optional(Type.Array(UrlOrArtifact)),
    cmdline: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const IpxeProfileSpecSchema = Type.Object(
  {
    kind: Type.Literal('ipxe'),
    script: Type.String({ minLength: 1, maxLength: 65536 }),
  },
  { additionalProperties: false },
);

export const LocalbootProfileSpecSchema = Type.Object(
  { kind: Type.Literal('localboot') },
  { additionalProperties: false },
);

export const BootProfileSpecSchema = Type.Union([
  TalosProfileSpecSchema,
  NixosProfileSpecSchema,
  KernelProfileSpecSchema,
  IpxeProfileSpecSchema,
  LocalbootProfileSpecSchema,
]);
export type BootProfileSpec = Static<typeof BootProfileSpecSchema>;

export const ResourceNameSchema = Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' });

export const BootProfileSchema = Type.Object(
  {
    name: ResourceNameSchema,
    spec: BootProfileSpecSchema,
    resourceVersion: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type BootProfile = Static<typeof BootProfileSchema>;

/**
 * Which machines an intent applies to. Exactly one of the fields is set; a more specific
 * selector wins over a less specific one (machineId > mac > labels).
 */
export const BootSelectorSchema = Type.Union([
  Type.Object({ machineId: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  Type.Object({ mac: MacAddressSchema }, { additionalProperties: false }),
  Type.Object({ labels: LabelSelectorSchema }, { additionalProperties: false }),
]);
export type BootSelector = Static<typeof BootSelectorSchema>;

export const BootIntentModes = ['once', 'always'] as const;
export type BootIntentMode = (typeof BootIntentModes)[number];

/** The fields of an intent a client writes. */
export const BootIntentSpecSchema = Type.Object(
  {
    selector: BootSelectorSchema,
    profile: ResourceNameSchema,
    mode: Type.Union(BootIntentModes.map((m) => Type.Literal(m))),
    /** Netboots this intent may serve before the machine is put on hold. */
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export type BootIntentSpec = Static<typeof BootIntentSpecSchema>;

export const BootIntentSchema = Type.Object(
  {
    id: Type.String(),
    spec: BootIntentSpecSchema,
    /** Netboots served under this intent. */
    attempts: Type.Integer({ minimum: 0 }),
    /** Set when the installed OS reported success; a consumed `once` intent no longer applies. */
    consumedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    resourceVersion: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type BootIntent = Static<typeof BootIntentSchema>;
