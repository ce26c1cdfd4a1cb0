import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetnsPair } from './netns.js';

/** Firmware a test VM boots with: SeaBIOS + Debian's iPXE NIC ROM, or OVMF (UEFI). */
export type VmFirmware = 'bios' | 'uefi';

const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
// Debian's 2019 iPXE as the NIC's PXE ROM: it asks DHCP as iPXE (user class), so it gets the script URL.
const PXE_ROM = '/usr/lib/ipxe/qemu/pxe-e1000.rom';

/** Why QEMU tests cannot run here, or undefined when they can. */
export function qemuUnavailable(firmware: VmFirmware): string | undefined {
  const needed = ['/usr/bin/qemu-system-x86_64', ...(firmware === 'bios' ? [PXE_ROM] : [OVMF_CODE, OVMF_VARS])];
  const missing = needed.filter((f) => !existsSync(f));
  return missing.length > 0 ? `missing ${missing.join(', ')} (npm test installs qemu-system-x86, ipxe-qemu and ovmf)` : undefined;
}

/**
 * Puts a bridge into the client namespace with the veth end and a tap device on it, so a VM
 * on the tap is on the server's network. Returns the tap's name.
 */
export function addTap(pair: NetnsPair, tap = 'tap0'): string {
  const ip = (...args: string[]) => {
    const result = pair.exec(pair.client, 'ip', args);
    if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
  };
  ip('link', 'add', 'br0', 'type', 'bridge');
  ip('link', 'set', pair.clientIf, 'master', 'br0');
  ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
  ip('link', 'set', tap, 'master', 'br0');
  ip('link', 'set', tap, 'up');
  ip('link', 'set', 'br0', 'up');
  return tap;
}

export interface Vm {
  readonly mac: string;
  readonly child: ChildProcess;
  /** Everything the VM printed on its serial console so far. */
  output(): string;
  /** Resolves with the match once the console shows `pattern`; rejects after `timeoutMs` or when QEMU exits. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<number | null>;
  kill(): void;
}

/**
 * Boots a diskless VM (TCG: KVM does not work on these machines) from the network, in the
 * client namespace, on `tap`. The serial console is the VM's only output we read.
 */
export function bootVm(pair: NetnsPair, options: { firmware: VmFirmware; tap: string; mac: string; memoryMiB?: number }): Vm {
  const dir = mkdtempSync(join(tmpdir(), 'mp-vm-'));
  const args = [
    '-accel', 'tcg',
    '-m', String(options.memoryMiB ?? 768),
    '-smp', '1',
    '-nographic',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-no-reboot',
    '-netdev', `tap,id=n0,ifname=${options.tap},script=no,downscript=no`,
  ];
  if (options.firmware === 'bios') {
    args.push('-machine', 'pc', '-device', `e1000,netdev=n0,mac=${options.mac},romfile=${PXE_ROM},bootindex=1`);
  } else {
    const vars = join(dir, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    args.push(
      '-machine', 'q35',
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
      // No option ROM: OVMF's own virtio-net driver and PXE/HTTP boot stack, as on real UEFI machines.
      '-device', `virtio-net-pci,netdev=n0,mac=${options.mac},romfile=,bootindex=1`,
    );
  }
  const child = pair.spawn(pair.client, 'qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('latin1');
    for (const check of waiters) check();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      for (const check of waiters) check();
      resolve(code);
    }),
  );
  let done = false;
  void exited.then(() => (done = true));

  return {
    mac: options.mac,
    child,
    output: () => output,
    exited,
    kill: () => child.kill('SIGKILL'),
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`VM console did not show ${pattern} within ${timeoutMs} ms; it shows:\n${tail(output)}`)), timeoutMs);
        const check = () => {
          const match = output.match(pattern);
          if (match) finish(undefined, match);
          else if (done) finish(new Error(`QEMU exited before the console showed ${pattern}; it shows:\n${tail(output)}`));
        };
        const finish = (error?: Error, match?: RegExpMatchArray) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(match!);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

function tail(text: string): string {
  return text.slice(-3000);
}
