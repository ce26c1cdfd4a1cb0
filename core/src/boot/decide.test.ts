import { describe, it, expect } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Build } from '../model/build.js';
import type { Machine } from '../model/machine.js';
import type { BootIntent, BootIntentSpec, BootProfile, BootProfileSpec } from './model.js';
import type { BootArch, BootPlan, BootRequest, DirectBootPlan } from './plan.js';
import { BootPlanSchema } from './plan.js';
import type { BootDecisionInput } from './decide.js';
import { decideBoot } from './decide.js';

// ---------------------------------------------------------------------------------------
// Fixtures

const NOW = new Date('2026-03-01T12:00:00.000Z');
const MAC = 'aa:bb:cc:00:00:01';
const MAC_2 = 'aa:bb:cc:00:00:02';
const OTHER_MAC = 'de:ad:be:ef:00:99';
const VANILLA = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba';
const RPI = 'ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9';
const SHA = 'artifact:' + 'ab'.repeat(32);
const FACTORY = 'https://factory.talos.dev/image';
const TALOS_BASE_ARGS =
  'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on';
const TALOS_CONFIG_ARG = 'talos.config=http://10.0.0.1:8080/talos/config?mac=${mac}';
const TALOS_AMD64_CMDLINE = `talos.platform=metal console=tty0 ${TALOS_BASE_ARGS} ${TALOS_CONFIG_ARG}`;
const TALOS_ARM64_CMDLINE = `talos.platform=metal console=ttyAMA0 console=tty0 ${TALOS_BASE_ARGS} ${TALOS_CONFIG_ARG}`;

const REGISTRATION = {
  kernel: 'http://10.0.0.1:8080/boot/registration/vmlinuz',
  initrd: ['http://10.0.0.1:8080/boot/registration/initrd.img'],
  cmdline: 'console=tty0 metalplane.api=http://10.0.0.1:8080',
} as const;

function machine(overrides: Partial<Machine> = {}): Machine {
  return {
    id: 'm-1',
    hostname: 'node-1',
    phase: 'ready',
    identity: [
      { kind: 'mac', value: MAC },
      { kind: 'mac', value: MAC_2 },
      { kind: 'smbios-uuid', value: '4c4c4544-0037-3010-8052-b4c04f4e3732' },
    ],
    labels: { rack: 'r1', role: 'worker' },
    roles: ['compute'],
    taints: [],
    conditions: [],
    hardware: {},
    bootFromDisk: 'exit',
    netboot: { attemptsSinceProgress: 0 },
    resourceVersion: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-02T00:00:00.000Z',
    lastSeenAt: '2026-02-28T00:00:00.000Z',
    inventoryReportedAt: null,
    addresses: [],
    ...overrides,
  };
}

function request(overrides: Partial<BootRequest> = {}): BootRequest {
  return { mac: MAC, arch: 'uefi-x64', client: 'ipxe', ...overrides };
}

function intent(
  id: string,
  spec: Partial<BootIntentSpec> = {},
  extra: Partial<Omit<BootIntent, 'id' | 'spec'>> = {},
): BootIntent {
  return {
    id,
    spec: { selector: { machineId: 'm-1' }, profile: 'talos', mode: 'once', ...spec },
    attempts: 0,
    consumedAt: null,
    resourceVersion: 1,
    createdAt: '2026-02-01T00:00:00.000Z',
    updatedAt: '2026-02-01T00:00:00.000Z',
    ...extra,
  };
}

function profile(name: string, spec: BootProfileSpec): BootProfile {
  return {
    name,
    spec,
    resourceVersion: 1,
    createdAt: '2026-01-15T00:00:00.000Z',
    updatedAt: '2026-01-15T00:00:00.000Z',
  };
}

function build(overrides: Partial<Build> = {}): Build {
  return {
    id: 'b-7',
    machineId: 'm-1',
    status: 'succeeded',
    spec: {},
    artifacts: {
      kernel: SHA,
      initrd: ['artifact:' + 'cd'.repeat(32)],
      cmdline: 'init=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-node-1-25.05/init initrd=initrd',
    },
    error: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    createdAt: '2026-02-20T00:00:00.000Z',
    updatedAt: '2026-02-20T00:10:00.000Z',
    finishedAt: '2026-02-20T00:10:00.000Z',
    ...overrides,
  };
}

const PROFILES: readonly BootProfile[] = [
  profile('talos', { kind: 'talos', schematic: VANILLA, version: 'v1.10.3', extraKernelArgs: [TALOS_CONFIG_ARG] }),
  profile('talos-rpi', {
    kind: 'talos',
    schematic: RPI,
    version: 'v1.10.3',
    arch: 'arm64',
    factoryUrl: 'https://factory.example.com/',
  }),
  profile('nixos', { kind: 'nixos', extraKernelArgs: ['console=ttyS0,115200'] }),
  profile('rescue', { kind: 'kernel', kernel: SHA, initrd: ['https://boot.example.com/rescue.img'], cmdline: 'rescue=1' }),
  profile('bare-kernel', { kind: 'kernel', kernel: 'https://boot.example.com/vmlinuz' }),
  profile('shell', { kind: 'ipxe', script: '#!ipxe\nshell\n' }),
  profile('disk', { kind: 'localboot' }),
];

function input(overrides: Partial<BootDecisionInput> = {}): BootDecisionInput {
  return {
    machine: machine(),
    request: request(),
    intents: [],
    profiles: PROFILES,
    latestBuild: null,
    settings: { loopGuardLimit: 5, registration: REGISTRATION },
    now: NOW,
    ...overrides,
  };
}

// Expected-plan helpers (reasons are part of the contract: next-boot shows them verbatim).

const why = (intentId: string, mode: string, profileName: string) =>
  `intent ${intentId} (${mode}) selects profile ${profileName}`;

function talosAmd64(intentId: string, mode = 'once'): DirectBootPlan {
  return {
    kind: 'kernel',
    kernel: `${FACTORY}/${VANILLA}/v1.10.3/kernel-amd64`,
    initrd: [`${FACTORY}/${VANILLA}/v1.10.3/initramfs-amd64.xz`],
    cmdline: TALOS_AMD64_CMDLINE,
    reason: `${why(intentId, mode, 'talos')}: Talos v1.10.3 (amd64) from the Image Factory`,
    intentId,
    profileName: 'talos',
  };
}

function talosArm64(intentId: string): DirectBootPlan {
  return {
    kind: 'kernel',
    kernel: `${FACTORY}/${VANILLA}/v1.10.3/kernel-arm64`,
    initrd: [`${FACTORY}/${VANILLA}/v1.10.3/initramfs-arm64.xz`],
    cmdline: TALOS_ARM64_CMDLINE,
    reason: `${why(intentId, 'once', 'talos')}: Talos v1.10.3 (arm64) from the Image Factory`,
    intentId,
    profileName: 'talos',
  };
}

function chain(firmware: BootArch, next: DirectBootPlan): BootPlan {
  return {
    kind: 'chain',
    target: 'ipxe',
    firmware,
    next,
    reason: `${firmware} PXE firmware loads iPXE first; then: ${next.reason}`,
    ...(next.intentId !== undefined ? { intentId: next.intentId } : {}),
    ...(next.profileName !== undefined ? { profileName: next.profileName } : {}),
  };
}

const registration = (reason: string): DirectBootPlan => ({
  kind: 'registration',
  kernel: REGISTRATION.kernel,
  initrd: [...REGISTRATION.initrd],
  cmdline: REGISTRATION.cmdline,
  reason,
});

const NO_INTENT: DirectBootPlan = { kind: 'localboot', method: 'exit', reason: 'no boot intent: booting from disk' };

const installIntent = intent('i-install', { profile: 'talos', mode: 'once' });

// ---------------------------------------------------------------------------------------
// Cases

interface Case {
  readonly name: string;
  readonly input: BootDecisionInput;
  readonly expected: BootPlan;
}

const registrationCases: Case[] = [
  {
    name: 'unknown machine gets the registration image',
    input: input({ machine: null, intents: [installIntent] }),
    expected: registration(`unknown machine (MAC ${MAC}): serving the registration image`),
  },
  {
    name: 'discovered machine gets the registration image, whatever intents say',
    input: input({ machine: machine({ phase: 'discovered' }), intents: [installIntent] }),
    expected: registration('machine m-1 is discovered but not enrolled: serving the registration image'),
  },
  {
    name: 'a discovered machine whose registration never gets through is held by the loop guard',
    input: input({ machine: machine({ phase: 'discovered', netboot: { attemptsSinceProgress: 5 } }) }),
    expected: { kind: 'hold', reason: 'netbooted 5 times without progress; re-arm to retry' },
  },
];

const profileCases: Case[] = [
  {
    name: 'talos, amd64 from a uefi-x64 request',
    input: input({ intents: [installIntent] }),
    expected: talosAmd64('i-install'),
  },
  {
    name: 'talos, amd64 from a bios request',
    input: input({ intents: [installIntent], request: request({ arch: 'bios' }) }),
    expected: talosAmd64('i-install'),
  },
  {
    name: 'talos, arm64 from a uefi-arm64 request',
    input: input({ intents: [installIntent], request: request({ arch: 'uefi-arm64' }) }),
    expected: talosArm64('i-install'),
  },
  {
    name: 'talos, spec arch and factoryUrl win over the request arch',
    input: input({ intents: [intent('i-rpi', { profile: 'talos-rpi' })], request: request({ arch: 'uefi-x64' }) }),
    expected: {
      kind: 'kernel',
      kernel: `https://factory.example.com/image/${RPI}/v1.10.3/kernel-arm64`,
      initrd: [`https://factory.example.com/image/${RPI}/v1.10.3/initramfs-arm64.xz`],
      cmdline: `talos.platform=metal console=ttyAMA0 console=tty0 ${TALOS_BASE_ARGS}`,
      reason: `${why('i-rpi', 'once', 'talos-rpi')}: Talos v1.10.3 (arm64) from the Image Factory`,
      intentId: 'i-rpi',
      profileName: 'talos-rpi',
    },
  },
  {
    name: 'nixos with a succeeded build: its artifacts plus extraKernelArgs',
    input: input({ intents: [intent('i-nix', { profile: 'nixos' })], latestBuild: build() }),
    expected: {
      kind: 'kernel',
      kernel: SHA,
      initrd: ['artifact:' + 'cd'.repeat(32)],
      cmdline:
        'init=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-node-1-25.05/init initrd=initrd console=ttyS0,115200',
      reason: `${why('i-nix', 'once', 'nixos')}: NixOS build b-7`,
      intentId: 'i-nix',
      profileName: 'nixos',
    },
  },
  {
    name: 'nixos without a build: hold',
    input: input({ intents: [intent('i-nix', { profile: 'nixos' })], latestBuild: null }),
    expected: {
      kind: 'hold',
      reason: `${why('i-nix', 'once', 'nixos')}: no successful NixOS build for this machine yet`,
      intentId: 'i-nix',
      profileName: 'nixos',
    },
  },
  {
    name: 'nixos with a failed build (no artifacts): hold',
    input: input({
      intents: [intent('i-nix', { profile: 'nixos' })],
      latestBuild: build({ status: 'failed', artifacts: null, error: 'nix build failed' }),
    }),
    expected: {
      kind: 'hold',
      reason: `${why('i-nix', 'once', 'nixos')}: no successful NixOS build for this machine yet`,
      intentId: 'i-nix',
      profileName: 'nixos',
    },
  },
  {
    name: 'kernel profile: kernel, initrd and cmdline as given',
    input: input({ intents: [intent('i-k', { profile: 'rescue', mode: 'always' })] }),
    expected: {
      kind: 'kernel',
      kernel: SHA,
      initrd: ['https://boot.example.com/rescue.img'],
      cmdline: 'rescue=1',
      reason: `${why('i-k', 'always', 'rescue')}: kernel ${SHA}`,
      intentId: 'i-k',
      profileName: 'rescue',
    },
  },
  {
    name: 'kernel profile without initrd and cmdline',
    input: input({ intents: [intent('i-k', { profile: 'bare-kernel' })] }),
    expected: {
      kind: 'kernel',
      kernel: 'https://boot.example.com/vmlinuz',
      initrd: [],
      cmdline: '',
      reason: `${why('i-k', 'once', 'bare-kernel')}: kernel https://boot.example.com/vmlinuz`,
      intentId: 'i-k',
      profileName: 'bare-kernel',
    },
  },
  {
    name: 'ipxe profile: the script',
    input: input({ intents: [intent('i-s', { profile: 'shell' })] }),
    expected: {
      kind: 'script',
      script: '#!ipxe\nshell\n',
      reason: `${why('i-s', 'once', 'shell')}: iPXE script`,
      intentId: 'i-s',
      profileName: 'shell',
    },
  },
  ...(['exit', 'sanboot', 'http-404'] as const).map(
    (method): Case => ({
      name: `localboot profile with bootFromDisk=${method}`,
      input: input({ machine: machine({ bootFromDisk: method }), intents: [intent('i-d', { profile: 'disk', mode: 'always' })] }),
      expected: {
        kind: 'localboot',
        method,
        reason: `${why('i-d', 'always', 'disk')}: boot from disk (${method})`,
        intentId: 'i-d',
        profileName: 'disk',
      },
    }),
  ),
];

const lifecycleCases: Case[] = [
  {
    name: 'no intents at all: boot from disk',
    input: input(),
    expected: NO_INTENT,
  },
  {
    name: 'once intent not yet consumed applies',
    input: input({ intents: [intent('i-1', { mode: 'once' }, { attempts: 2 })] }),
    expected: talosAmd64('i-1', 'once'),
  },
  {
    name: 'consumed once intent: boot from disk, and say why',
    input: input({ intents: [intent('i-1', { mode: 'once' }, { consumedAt: '2026-02-02T08:00:00.000Z' })] }),
    expected: {
      kind: 'localboot',
      method: 'exit',
      reason: 'intent i-1 was consumed at 2026-02-02T08:00:00.000Z; booting from disk',
      intentId: 'i-1',
      profileName: 'talos',
    },
  },
  {
    name: 'consumed always intent still applies',
    input: input({ intents: [intent('i-1', { mode: 'always' }, { consumedAt: '2026-02-02T08:00:00.000Z' })] }),
    expected: talosAmd64('i-1', 'always'),
  },
  {
    name: 'consumed machineId intent does not hide a less specific always intent',
    input: input({
      intents: [
        intent('i-1', { mode: 'once' }, { consumedAt: '2026-02-02T08:00:00.000Z' }),
        intent('i-2', { selector: { labels: { rack: 'r1' } }, profile: 'disk', mode: 'always' }),
      ],
    }),
    expected: {
      kind: 'localboot',
      method: 'exit',
      reason: `${why('i-2', 'always', 'disk')}: boot from disk (exit)`,
      intentId: 'i-2',
      profileName: 'disk',
    },
  },
  {
    name: 'expired intent: boot from disk, and say why',
    input: input({ intents: [intent('i-1', { expiresAt: '2026-03-01T11:59:59.000Z' })] }),
    expected: {
      kind: 'localboot',
      method: 'exit',
      reason: 'intent i-1 expired at 2026-03-01T11:59:59.000Z; booting from disk',
      intentId: 'i-1',
      profileName: 'talos',
    },
  },
  {
    name: 'intent expiring exactly now is expired',
    input: input({ intents: [intent('i-1', { expiresAt: NOW.toISOString() })] }),
    expected: {
      kind: 'localboot',
      method: 'exit',
      reason: `intent i-1 expired at ${NOW.toISOString()}; booting from disk`,
      intentId: 'i-1',
      profileName: 'talos',
    },
  },
  {
    name: 'intent expiring later applies',
    input: input({ intents: [intent('i-1', { expiresAt: '2026-03-01T12:00:01.000Z' })] }),
    expected: talosAmd64('i-1'),
  },
  {
    name: 'attempts exhausted: hold',
    input: input({ intents: [intent('i-1', { maxAttempts: 3 }, { attempts: 3 })] }),
    expected: {
      kind: 'hold',
      reason: 'intent i-1 served 3 times without success (maxAttempts 3)',
      intentId: 'i-1',
      profileName: 'talos',
    },
  },
  {
    name: 'attempts below maxAttempts: the intent applies',
    input: input({ intents: [intent('i-1', { maxAttempts: 3 }, { attempts: 2 })] }),
    expected: talosAmd64('i-1'),
  },
  {
    name: 'loop guard: hold after loopGuardLimit netboots without progress',
    input: input({ machine: machine({ netboot: { attemptsSinceProgress: 5 } }), intents: [installIntent] }),
    expected: { kind: 'hold', reason: 'netbooted 5 times without progress; re-arm to retry' },
  },
  {
    name: 'loop guard: one below the limit still boots',
    input: input({ machine: machine({ netboot: { attemptsSinceProgress: 4 } }), intents: [installIntent] }),
    expected: talosAmd64('i-install'),
  },
  {
    name: 'operator hold: hold with the operator reason',
    input: input({
      machine: machine({
        netboot: { attemptsSinceProgress: 0, hold: { reason: 'bad DIMM, do not boot', since: '2026-02-27T10:00:00.000Z' } },
      }),
      intents: [installIntent],
    }),
    expected: { kind: 'hold', reason: 'bad DIMM, do not boot' },
  },
  {
    name: 'hold wins over the maintenance phase',
    input: input({
      machine: machine({
        phase: 'maintenance',
        netboot: { attemptsSinceProgress: 0, hold: { reason: 'held by ops', since: '2026-02-27T10:00:00.000Z' } },
      }),
    }),
    expected: { kind: 'hold', reason: 'held by ops' },
  },
  ...(['maintenance', 'draining', 'offline', 'failed', 'retired'] as const).map(
    (phase): Case => ({
      name: `${phase} machine with an active install intent boots from disk`,
      input: input({
        machine: machine({ phase, bootFromDisk: 'sanboot' }),
        intents: [intent('i-reinstall', { mode: 'always' })],
      }),
      expected: {
        kind: 'localboot',
        method: 'sanboot',
        reason: `machine is in phase ${phase}: booting from disk (sanboot); boot intents are not applied in this phase`,
      },
    }),
  ),
];

const selectorCases: Case[] = [
  {
    name: 'machineId beats mac beats labels, even when they are newer',
    input: input({
      intents: [
        intent('i-labels', { selector: { labels: { rack: 'r1' } }, profile: 'disk' }, { createdAt: '2026-02-10T00:00:00.000Z' }),
        intent('i-mac', { selector: { mac: MAC }, profile: 'shell' }, { createdAt: '2026-02-09T00:00:00.000Z' }),
        intent('i-id', { selector: { machineId: 'm-1' }, profile: 'talos' }, { createdAt: '2026-02-01T00:00:00.000Z' }),
      ],
    }),
    expected: talosAmd64('i-id'),
  },
  {
    name: 'mac beats labels',
    input: input({
      intents: [
        intent('i-labels', { selector: { labels: { rack: 'r1' } }, profile: 'disk' }, { createdAt: '2026-02-10T00:00:00.000Z' }),
        intent('i-mac', { selector: { mac: MAC }, profile: 'shell' }, { createdAt: '2026-02-09T00:00:00.000Z' }),
      ],
    }),
    expected: {
      kind: 'script',
      script: '#!ipxe\nshell\n',
      reason: `${why('i-mac', 'once', 'shell')}: iPXE script`,
      intentId: 'i-mac',
      profileName: 'shell',
    },
  },
  {
    name: 'newest wins a tie of equal specificity',
    input: input({
      intents: [
        intent('i-new', { profile: 'talos' }, { createdAt: '2026-02-05T00:00:00.000Z' }),
        intent('i-old', { profile: 'disk' }, { createdAt: '2026-02-04T00:00:00.000Z' }),
      ],
    }),
    expected: talosAmd64('i-new'),
  },
  {
    name: 'same createdAt: the greater (later) id wins',
    input: input({
      intents: [
        intent('0190a000-0000-7000-8000-000000000002', { profile: 'talos' }),
        intent('0190a000-0000-7000-8000-000000000001', { profile: 'disk' }),
      ],
    }),
    expected: talosAmd64('0190a000-0000-7000-8000-000000000002'),
  },
  {
    name: "mac selector matches one of the machine's MACs other than the request MAC",
    input: input({ intents: [intent('i-mac', { selector: { mac: MAC_2 } })] }),
    expected: talosAmd64('i-mac'),
  },
  {
    name: 'mac selector matches the request MAC even when the machine does not list it yet',
    input: input({ request: request({ mac: OTHER_MAC }), intents: [intent('i-mac', { selector: { mac: OTHER_MAC } })] }),
    expected: talosAmd64('i-mac'),
  },
  {
    name: "mac selector of another machine's MAC does not match",
    input: input({ intents: [intent('i-mac', { selector: { mac: OTHER_MAC } })] }),
    expected: NO_INTENT,
  },
  {
    name: 'machineId selector of another machine does not match',
    input: input({ intents: [intent('i-id', { selector: { machineId: 'm-2' } })] }),
    expected: NO_INTENT,
  },
  {
    name: 'label selector that is a subset of the machine labels matches',
    input: input({ intents: [intent('i-l', { selector: { labels: { rack: 'r1', role: 'worker' } } })] }),
    expected: talosAmd64('i-l'),
  },
  {
    name: 'label selector with a different value does not match',
    input: input({ intents: [intent('i-l', { selector: { labels: { rack: 'r2' } } })] }),
    expected: NO_INTENT,
  },
  {
    name: 'label selector with a label the machine lacks does not match',
    input: input({ intents: [intent('i-l', { selector: { labels: { rack: 'r1', zone: 'a' } } })] }),
    expected: NO_INTENT,
  },
  {
    name: 'missing profile: hold naming it',
    input: input({ intents: [intent('i-1', { profile: 'talos-v2' })] }),
    expected: {
      kind: 'hold',
      reason: 'intent i-1 names boot profile "talos-v2", which does not exist',
      intentId: 'i-1',
      profileName: 'talos-v2',
    },
  },
];

const clientCases: Case[] = [
  {
    name: 'pxe-firmware: unknown machine is chained to iPXE, registration next',
    input: input({ machine: null, request: request({ client: 'pxe-firmware', arch: 'bios' }) }),
    expected: {
      kind: 'chain',
      target: 'ipxe',
      firmware: 'bios',
      next: registration(`unknown machine (MAC ${MAC}): serving the registration image`),
      reason: `bios PXE firmware loads iPXE first; then: unknown machine (MAC ${MAC}): serving the registration image`,
    },
  },
  {
    name: 'pxe-firmware: kernel plan is wrapped in a chain',
    input: input({ intents: [installIntent], request: request({ client: 'pxe-firmware', arch: 'uefi-x64' }) }),
    expected: chain('uefi-x64', talosAmd64('i-install')),
  },
  {
    name: 'pxe-firmware: arm64 UEFI gets a chain whose next plan is arm64',
    input: input({ intents: [installIntent], request: request({ client: 'pxe-firmware', arch: 'uefi-arm64' }) }),
    expected: chain('uefi-arm64', talosArm64('i-install')),
  },
  {
    name: 'pxe-firmware: script plan is wrapped in a chain',
    input: input({ intents: [intent('i-s', { profile: 'shell' })], request: request({ client: 'pxe-firmware' }) }),
    expected: chain('uefi-x64', {
      kind: 'script',
      script: '#!ipxe\nshell\n',
      reason: `${why('i-s', 'once', 'shell')}: iPXE script`,
      intentId: 'i-s',
      profileName: 'shell',
    }),
  },
  {
    name: 'pxe-firmware: hold is wrapped in a chain (iPXE shows the hold)',
    input: input({
      machine: machine({ netboot: { attemptsSinceProgress: 9 } }),
      request: request({ client: 'pxe-firmware', arch: 'uefi-http' }),
    }),
    expected: chain('uefi-http', { kind: 'hold', reason: 'netbooted 9 times without progress; re-arm to retry' }),
  },
  {
    name: 'pxe-firmware: localboot is not wrapped',
    input: input({ machine: machine({ bootFromDisk: 'http-404' }), request: request({ client: 'pxe-firmware' }) }),
    expected: { kind: 'localboot', method: 'http-404', reason: 'no boot intent: booting from disk' },
  },
  {
    name: 'ipxe client gets the kernel plan itself, never a chain',
    input: input({ intents: [installIntent], request: request({ client: 'ipxe', arch: 'bios' }) }),
    expected: talosAmd64('i-install'),
  },
  {
    name: 'http client gets the plan itself',
    input: input({ intents: [installIntent], request: request({ client: 'http', arch: 'uefi-http' }) }),
    expected: talosAmd64('i-install'),
  },
  {
    name: 'rpi-firmware client gets the arm64 kernel plan directly',
    input: input({ intents: [installIntent], request: request({ client: 'rpi-firmware', arch: 'rpi' }) }),
    expected: talosArm64('i-install'),
  },
  {
    name: 'rpi-firmware: unknown Pi gets the registration plan directly',
    input: input({ machine: null, request: request({ client: 'rpi-firmware', arch: 'rpi' }) }),
    expected: registration(`unknown machine (MAC ${MAC}): serving the registration image`),
  },
];

// ---------------------------------------------------------------------------------------

describe('decideBoot', () => {
  describe.each([
    ['registration', registrationCases],
    ['profile kinds', profileCases],
    ['intent lifecycle, guards and phases', lifecycleCases],
    ['selectors and profiles', selectorCases],
    ['client wrapping', clientCases],
  ] as const)('%s', (_group, cases) => {
    it.each(cases)('$name', ({ input: given, expected }) => {
      const plan = decideBoot(given);
      expect(plan).toEqual(expected);
      expect(Value.Check(BootPlanSchema, plan)).toBe(true);
    });
  });

  it('is pure: same input, same plan, input untouched', () => {
    const given = input({
      intents: [intent('i-b', { profile: 'disk' }), intent('i-a', { selector: { mac: MAC } })],
      request: request({ client: 'pxe-firmware' }),
    });
    const snapshot = structuredClone(given);
    const first = decideBoot(given);
    expect(decideBoot(given)).toEqual(first);
    expect(given).toEqual(snapshot);
    expect(given.intents.map((i) => i.id)).toEqual(['i-b', 'i-a']);
  });
});
