import { Type, type Static } from '@sinclair/typebox';
import { BootFromDiskMethods, MacAddressSchema } from '../model/machine.js';

/**
 * What booted, as far as the boot services can tell: firmware family and CPU architecture.
 * `uefi-http` is UEFI HTTP Boot (DHCP option 93 = 16/19, vendor class `HTTPClient`); `rpi` is
 * the Raspberry Pi 4/CM4 EEPROM bootloader (it sends arch 0, recognised by option 43/97 or OUI).
 */
export const BootArchs = ['bios', 'uefi-x64', 'uefi-arm64', 'uefi-http', 'rpi', 'unknown'] as const;
export type BootArch = (typeof BootArchs)[number];

/**
 * Who is asking for a boot plan.
 * - `pxe-firmware`: a PXE or UEFI (HTTP) boot ROM; it can only load a binary, so anything
 *   that needs a script is wrapped in a `chain` to iPXE (UEFI HTTP Boot firmware reports
 *   this client with arch `uefi-http` and gets `ipxe.efi` by absolute URL).
 * - `ipxe`: iPXE itself (DHCP user class `iPXE` / option 175); never chain-loaded again.
 * - `rpi-firmware`: the Raspberry Pi bootloader, which loads kernel and initrd over TFTP.
 * - `http`: any other HTTP client asking for the plan as-is.
 */
export const BootClients = ['pxe-firmware', 'ipxe', 'rpi-firmware', 'http'] as const;
export type BootClient = (typeof BootClients)[number];

export const BootRequestSchema = Type.Object(
  {
    /** Normalized (lower case, colon separated); see `normalizeMac`. */
    mac: MacAddressSchema,
    arch: Type.Union(BootArchs.map((a) => Type.Literal(a))),
    client: Type.Union(BootClients.map((c) => Type.Literal(c))),
    uuid: Type.Optional(Type.String({ minLength: 1 })),
    serial: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type BootRequest = Static<typeof BootRequestSchema>;

export const BootPlanKinds = ['registration', 'chain', 'kernel', 'script', 'localboot', 'hold'] as const;
export type BootPlanKind = (typeof BootPlanKinds)[number];

/** Fields every plan carries: why it was chosen and, where one was involved, the intent and profile. */
const common = {
  /** Human-readable explanation of why this plan was chosen. */
  reason: Type.String(),
  intentId: Type.Optional(Type.String()),
  profileName: Type.Optional(Type.String()),
};

/** A kernel, initrds and command line: http(s) URLs or `artifact:<sha256>` strings, as given. */
export const KernelBootPlanSchema = Type.Object(
  {
    kind: Type.Literal('kernel'),
    kernel: Type.String(),
    initrd: Type.Array(Type.String()),
    cmdline: Type.String(),
    ...common,
  },
  { additionalProperties: false },
);
export type KernelBootPlan = Static<typeof KernelBootPlanSchema>;

/** The registration image, served to machines that are unknown or not yet enrolled. */
export const RegistrationBootPlanSchema = Type.Object(
  {
    kind: Type.Literal('registration'),
    kernel: Type.String(),
    initrd: Type.Array(Type.String()),
    cmdline: Type.String(),
    ...common,
  },
  { additionalProperties: false },
);
export type RegistrationBootPlan = Static<typeof RegistrationBootPlanSchema>;

/** An iPXE script body. */
export const ScriptBootPlanSchema = Type.Object(
  {
    kind: Type.Literal('script'),
    script: Type.String(),
    ...common,
  },
  { additionalProperties: false },
);
export type ScriptBootPlan = Static<typeof ScriptBootPlanSchema>;

/** Leave the network boot for the local disk, the way the machine's firmware needs it. */
export const LocalbootBootPlanSchema = Type.Object(
  {
    kind: Type.Literal('localboot'),
    method: Type.Union(BootFromDiskMethods.map((m) => Type.Literal(m))),
    ...common,
  },
  { additionalProperties: false },
);
export type LocalbootBootPlan = Static<typeof LocalbootBootPlanSchema>;

/** Do not boot anything: show the reason and wait for an operator. */
export const HoldBootPlanSchema = Type.Object(
  {
    kind: Type.Literal('hold'),
    ...common,
  },
  { additionalProperties: false },
);
export type HoldBootPlan = Static<typeof HoldBootPlanSchema>;

/** Every plan except `chain`: what iPXE (or the Pi firmware, or an HTTP client) is given. */
export const DirectBootPlanSchema = Type.Union([
  RegistrationBootPlanSchema,
  KernelBootPlanSchema,
  ScriptBootPlanSchema,
  LocalbootBootPlanSchema,
  HoldBootPlanSchema,
]);
export type DirectBootPlan = Static<typeof DirectBootPlanSchema>;

/**
 * PXE firmware first gets iPXE; `next` is the plan iPXE will get when it asks again, so the
 * whole path can be explained before anything boots.
 */
export const ChainBootPlanSchema = Type.Object(
  {
    kind: Type.Literal('chain'),
    target: Type.Literal('ipxe'),
    firmware: Type.Union(BootArchs.map((a) => Type.Literal(a))),
    next: DirectBootPlanSchema,
    ...common,
  },
  { additionalProperties: false },
);
export type ChainBootPlan = Static<typeof ChainBootPlanSchema>;

/** The outcome of the boot decision: a discriminated union on `kind`. */
export const BootPlanSchema = Type.Union([
  RegistrationBootPlanSchema,
  ChainBootPlanSchema,
  KernelBootPlanSchema,
  ScriptBootPlanSchema,
  LocalbootBootPlanSchema,
  HoldBootPlanSchema,
]);
export type BootPlan = Static<typeof BootPlanSchema>;
