import type { Build } from '../model/build.js';
import type { Machine } from '../model/machine.js';
import { machineMacs } from '../model/machine.js';
import type { MachinePhase } from '../lifecycle/phases.js';
import type { BootIntent, BootProfile, BootSelector } from './model.js';
import type { BootArch, BootPlan, BootRequest, DirectBootPlan } from './plan.js';

export interface BootDecisionSettings {
  /** Netboots without progress before the machine is put on hold. */
  readonly loopGuardLimit: number;
  /** The image unknown and not yet enrolled machines boot to register themselves. */
  readonly registration: {
    readonly kernel: string;
    readonly initrd: readonly string[];
    readonly cmdline: string;
  };
}

export interface BootDecisionInput {
  /** The machine the request was matched to, or null when it is unknown. */
  readonly machine: Machine | null;
  readonly request: BootRequest;
  readonly intents: readonly BootIntent[];
  readonly profiles: readonly BootProfile[];
  /** The machine's latest succeeded build (for `nixos` profiles), or null. */
  readonly latestBuild: Build | null;
  readonly settings: BootDecisionSettings;
  readonly now: Date;
}

/** Phases in which a machine always boots from disk, whatever the intents say. */
export const DiskOnlyPhases = [
  'maintenance',
  'draining',
  'offline',
  'retired',
  'failed',
] as const satisfies readonly MachinePhase[];

export const TALOS_FACTORY_URL = 'https://factory.talos.dev';

/**
 * The kernel arguments the Image Factory `cmdline-metal-<arch>` asset carries (PROTOCOLS §3.5,
 * §3.6): `talos.platform=metal`, the metal platform's console arguments, then the defaults
 * (KSPP `slab_nomerge` and `pti=on` are enforced by Talos on every architecture).
 */
const TALOS_PLATFORM_ARGS = ['talos.platform=metal'] as const;
const TALOS_CONSOLE_ARGS = {
  amd64: ['console=tty0'],
  arm64: ['console=ttyAMA0', 'console=tty0'],
} as const satisfies Record<TalosArch, readonly string[]>;
const TALOS_DEFAULT_ARGS = [
  'init_on_alloc=1',
  'slab_nomerge',
  'pti=on',
  'consoleblank=0',
  'nvme_core.io_timeout=4294967295',
  'printk.devkmsg=on',
] as const;

type TalosArch = 'amd64' | 'arm64';

/**
 * The boot decision: what a machine gets when it netboots, and why. Pure: everything it
 * depends on (including the time) is in the input.
 */
export function decideBoot(input: BootDecisionInput): BootPlan {
  return wrapForClient(decideDirect(input), input.request);
}

/** Rules a–f: the plan for the asker, before firmware wrapping. */
function decideDirect(input: BootDecisionInput): DirectBootPlan {
  const { machine, request, settings } = input;

  // a. Unknown machines register themselves.
  if (machine === null) {
    return registrationPlan(settings, `unknown machine (MAC ${request.mac}): serving the registration image`);
  }

  // b. Operator hold and loop guard: also for a machine whose registration never gets through.
  if (machine.netboot.hold) {
    return { kind: 'hold', reason: machine.netboot.hold.reason };
  }
  const attempts = machine.netboot.attemptsSinceProgress;
  if (attempts >= settings.loopGuardLimit) {
    return { kind: 'hold', reason: `netbooted ${attempts} times without progress; re-arm to retry` };
  }

  // Machines not enrolled yet register, whatever intents say.
  if (machine.phase === 'discovered') {
    return registrationPlan(
      settings,
      `machine ${machine.id} is discovered but not enrolled: serving the registration image`,
    );
  }

  // c. Phases in which nothing is ever (re)installed.
  if (isDiskOnlyPhase(machine.phase)) {
    return {
      kind: 'localboot',
      method: machine.bootFromDisk,
      reason:
        `machine is in phase ${machine.phase}: booting from disk (${machine.bootFromDisk}); ` +
        'boot intents are not applied in this phase',
    };
  }

  // d./e. The intent that applies, if any.
  const { chosen, skipped } = applicableIntent(input.intents, machine, request, input.now);
  if (chosen === null) {
    const first = skipped[0];
    return {
      kind: 'localboot',
      method: machine.bootFromDisk,
      reason: first ? `${first.note}; booting from disk` : 'no boot intent: booting from disk',
      ...(first ? { intentId: first.intent.id, profileName: first.intent.spec.profile } : {}),
    };
  }

  const ids = { intentId: chosen.id, profileName: chosen.spec.profile };
  const max = chosen.spec.maxAttempts;
  if (max !== undefined && chosen.attempts >= max) {
    return {
      kind: 'hold',
      reason: `intent ${chosen.id} served ${chosen.attempts} times without success (maxAttempts ${max})`,
      ...ids,
    };
  }

  const profile = input.profiles.find((p) => p.name === chosen.spec.profile);
  if (!profile) {
    return {
      kind: 'hold',
      reason: `intent ${chosen.id} names boot profile "${chosen.spec.profile}", which does not exist`,
      ...ids,
    };
  }

  // f. The profile's plan.
  return planForProfile(profile, chosen, machine, request, input.latestBuild);
}

function registrationPlan(settings: BootDecisionSettings, reason: string): DirectBootPlan {
  const { kernel, initrd, cmdline } = settings.registration;
  return { kind: 'registration', kernel, initrd: [...initrd], cmdline, reason };
}

function isDiskOnlyPhase(phase: MachinePhase): boolean {
  return (DiskOnlyPhases as readonly MachinePhase[]).includes(phase);
}

/** An intent that matched the machine but was not used, and why. */
export interface SkippedIntent {
  readonly intent: BootIntent;
  readonly note: string;
}

/**
 * The intent that applies to this machine: selector matches, not expired, not a consumed
 * `once` intent; the most specific wins (machineId > mac > labels), then the newest.
 * `skipped` lists the intents that matched but were expired or consumed, best first.
 */
export function applicableIntent(
  intents: readonly BootIntent[],
  machine: Machine,
  request: BootRequest,
  now: Date,
): { chosen: BootIntent | null; skipped: SkippedIntent[] } {
  const candidates: BootIntent[] = [];
  const skipped: SkippedIntent[] = [];
  for (const intent of intents) {
    if (!matchesSelector(intent.spec.selector, machine, request)) continue;
    const { expiresAt } = intent.spec;
    if (expiresAt !== undefined && Date.parse(expiresAt) <= now.getTime()) {
      skipped.push({ intent, note: `intent ${intent.id} expired at ${expiresAt}` });
    } else if (intent.spec.mode === 'once' && intent.consumedAt !== null) {
      skipped.push({ intent, note: `intent ${intent.id} was consumed at ${intent.consumedAt}` });
    } else {
      candidates.push(intent);
    }
  }
  candidates.sort(byPrecedence);
  skipped.sort((a, b) => byPrecedence(a.intent, b.intent));
  return { chosen: candidates[0] ?? null, skipped };
}

/** Whether a selector picks this machine (MACs compare against the machine's and the request's). */
export function matchesSelector(selector: BootSelector, machine: Machine, request: BootRequest): boolean {
  if ('machineId' in selector) return selector.machineId === machine.id;
  if ('mac' in selector) {
    const mac = selector.mac.toLowerCase();
    return mac === request.mac.toLowerCase() || machineMacs(machine).some((m) => m.toLowerCase() === mac);
  }
  const wanted = Object.entries(selector.labels);
  // An empty selector would reinstall the whole fleet; the schema refuses it, and so do we.
  return wanted.length > 0 && wanted.every(([key, value]) => machine.labels[key] === value);
}

function specificity(selector: BootSelector): number {
  if ('machineId' in selector) return 3;
  if ('mac' in selector) return 2;
  return 1;
}

/** Most specific first, then newest `createdAt`, then the greater (later, UUIDv7) id. */
function byPrecedence(a: BootIntent, b: BootIntent): number {
  const bySpecificity = specificity(b.spec.selector) - specificity(a.spec.selector);
  if (bySpecificity !== 0) return bySpecificity;
  const byCreated = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (byCreated !== 0 && !Number.isNaN(byCreated)) return byCreated;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Rule f: the plan a profile produces for this machine. */
export function planForProfile(
  profile: BootProfile,
  intent: BootIntent,
  machine: Machine,
  request: BootRequest,
  latestBuild: Build | null,
): DirectBootPlan {
  const ids = { intentId: intent.id, profileName: profile.name };
  const why = `intent ${intent.id} (${intent.spec.mode}) selects profile ${profile.name}`;
  const spec = profile.spec;
  switch (spec.kind) {
    case 'localboot':
      return {
        kind: 'localboot',
        method: machine.bootFromDisk,
        reason: `${why}: boot from disk (${machine.bootFromDisk})`,
        ...ids,
      };
    case 'ipxe':
      return { kind: 'script', script: spec.script, reason: `${why}: iPXE script`, ...ids };
    case 'kernel':
      return {
        kind: 'kernel',
        kernel: spec.kernel,
        initrd: [...(spec.initrd ?? [])],
        cmdline: spec.cmdline ?? '',
        reason: `${why}: kernel ${spec.kernel}`,
        ...ids,
      };
    case 'talos': {
      const arch = spec.arch ?? talosArchFor(request.arch);
      const factory = trimTrailingSlashes(spec.factoryUrl ?? TALOS_FACTORY_URL);
      const base = `${factory}/image/${spec.schematic}/${spec.version}`;
      return {
        kind: 'kernel',
        kernel: `${base}/kernel-${arch}`,
        initrd: [`${base}/initramfs-${arch}.xz`],
        cmdline: talosCmdline(arch, spec.extraKernelArgs ?? []),
        reason: `${why}: Talos ${spec.version} (${arch}) from the Image Factory`,
        ...ids,
      };
    }
    case 'nixos': {
      const build = latestBuild;
      if (!build || build.status !== 'succeeded' || build.artifacts === null || build.machineId !== machine.id) {
        return { kind: 'hold', reason: `${why}: no successful NixOS build for this machine yet`, ...ids };
      }
      const { kernel, initrd, cmdline } = build.artifacts;
      return {
        kind: 'kernel',
        kernel,
        initrd: [...initrd],
        cmdline: joinArgs([cmdline, ...(spec.extraKernelArgs ?? [])]),
        reason: `${why}: NixOS build ${build.id}`,
        ...ids,
      };
    }
    default:
      return assertNever(spec);
  }
}

/** Image Factory arch for a request: arm64 for arm64 UEFI and the Raspberry Pi, amd64 otherwise. */
export function talosArchFor(arch: BootArch): TalosArch {
  return arch === 'uefi-arm64' || arch === 'rpi' ? 'arm64' : 'amd64';
}

/** The kernel command line Talos needs to netboot on metal, plus the profile's extra args. */
export function talosCmdline(arch: TalosArch, extraKernelArgs: readonly string[]): string {
  return joinArgs([...TALOS_PLATFORM_ARGS, ...TALOS_CONSOLE_ARGS[arch], ...TALOS_DEFAULT_ARGS, ...extraKernelArgs]);
}

/**
 * Rule g: PXE firmware can only load a binary, so plans that need iPXE are wrapped in a
 * chain to iPXE. Boot from disk is not: the PXE service declines or exits instead. iPXE,
 * the Pi firmware and HTTP clients get the plan itself (iPXE is never chain-loaded again).
 */
function wrapForClient(plan: DirectBootPlan, request: BootRequest): BootPlan {
  if (request.client !== 'pxe-firmware' || plan.kind === 'localboot') return plan;
  return {
    kind: 'chain',
    target: 'ipxe',
    firmware: request.arch,
    next: plan,
    reason: `${request.arch} PXE firmware loads iPXE first; then: ${plan.reason}`,
    ...(plan.intentId !== undefined ? { intentId: plan.intentId } : {}),
    ...(plan.profileName !== undefined ? { profileName: plan.profileName } : {}),
  };
}

function joinArgs(args: readonly string[]): string {
  return args
    .map((a) => a.trim())
    .filter((a) => a.length > 0)
    .join(' ');
}

function trimTrailingSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}

function assertNever(value: never): never {
  throw new Error(`unexpected boot profile kind: ${JSON.stringify(value)}`);
}
