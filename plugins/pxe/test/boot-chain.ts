import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BootEvent } from '@metalplane/core';
import { expect } from 'vitest';
import { REGISTRATION_IMAGE, startBootEnvironment } from './boot-env.js';
import { netnsUnavailable } from './netns.js';
import { addTap, bootVm, qemuUnavailable, type VmFirmware } from './qemu.js';

/** Why the end-to-end chain cannot run here, or undefined. */
export function chainUnavailable(firmware: VmFirmware): string | undefined {
  if (!existsSync(join(REGISTRATION_IMAGE, 'vmlinuz'))) return `the registration image is not built (${REGISTRATION_IMAGE})`;
  return netnsUnavailable() ?? qemuUnavailable(firmware);
}

const steps = (events: readonly BootEvent[]) => events.map((e) => `${e.step}${e.detail.planKind ? `:${String(e.detail.planKind)}` : ''}${e.detail.path ? `:${String(e.detail.path)}` : ''}${e.detail.file ? `:${String(e.detail.file)}` : ''}`);

/**
 * The whole chain with real firmware against the real host and this plugin: an unknown machine
 * netboots the registration image and enrolls; with a `once` intent it netboots the profile's
 * kernel; after the OS reports itself installed it boots from disk. Returns the timings.
 */
export async function runBootChain(firmware: VmFirmware, mac: string): Promise<Record<string, number>> {
  const env = await startBootEnvironment();
  const timings: Record<string, number> = {};
  try {
    const tap = addTap(env.pair);

    // 1. Unknown machine: DHCP, (TFTP iPXE,) iPXE script, registration kernel and initrd over HTTP, enrollment.
    let started = Date.now();
    const first = bootVm(env.pair, { firmware, tap, mac });
    await first.waitFor(/metalplane: enrolled/, 240_000).catch((error: Error) => {
      throw new Error(`${error.message}\n--- host log ---\n${env.log().slice(-4000)}`);
    });
    timings.registration = Date.now() - started;
    await Promise.race([first.exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    first.kill();
    const machine = env.machineByMac(mac);
    expect(machine?.phase).toBe('enrolled');
    const afterRegistration = steps(env.timeline(machine!.id));
    expect(afterRegistration).toEqual(
      expect.arrayContaining(['dhcp.discover', 'dhcp.offer', 'ipxe.script:registration', 'http.file:/boot/registration/vmlinuz', 'http.file:/boot/registration/initrd.img']),
    );
    if (firmware === 'uefi') expect(afterRegistration).toContain('tftp.read:snponly.efi');

    // 2. A once intent: the profile's kernel (the same image, told apart by its command line).
    env.api('POST', '/boot-profiles', {
      name: 'e2e-kernel',
      spec: {
        kind: 'kernel',
        kernel: `${env.baseUrl}/boot/registration/vmlinuz`,
        initrd: [`${env.baseUrl}/boot/registration/initrd.img`],
        cmdline: `console=ttyS0 mp.e2e=profile-kernel metalplane.url=${env.baseUrl} metalplane.action=poweroff`,
      },
    });
    env.api('POST', '/boot-intents', { selector: { machineId: machine!.id }, profile: 'e2e-kernel', mode: 'once' });
    started = Date.now();
    const second = bootVm(env.pair, { firmware, tap, mac });
    await second.waitFor(/Kernel command line:[^\n]*mp\.e2e=profile-kernel/, 240_000);
    timings.profileKernel = Date.now() - started;
    second.kill();
    await second.exited;
    expect(steps(env.timeline(machine!.id))).toContain('ipxe.script:kernel');

    // 3. The installed OS reports: the once intent is consumed, the next boot is from disk.
    const report = env.api<{ consumedIntentId: string | null }>('POST', `/machines/${machine!.id}/os-report`, { state: 'installed' });
    expect(report.consumedIntentId).not.toBeNull();
    started = Date.now();
    const third = bootVm(env.pair, { firmware, tap, mac });
    const deadline = Date.now() + 180_000;
    while (!steps(env.timeline(machine!.id)).includes('ipxe.script:localboot')) {
      if (Date.now() > deadline) throw new Error(`no localboot script within 180 s; timeline: ${steps(env.timeline(machine!.id)).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    timings.localboot = Date.now() - started;
    // iPXE left for the firmware's next boot device: SeaBIOS has none here, OVMF goes on to its other options.
    if (firmware === 'bios') await third.waitFor(/No bootable device/, 60_000);
    third.kill();
    await third.exited;
    const last = env.timeline(machine!.id).filter((e) => e.step === 'ipxe.script').at(-1);
    expect(last?.detail).toMatchObject({ planKind: 'localboot' });
    return timings;
  } finally {
    env.dispose();
  }
}
