import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectBootPlan } from '@metalplane/core';
import { bootRoutes, type BootHttpEvent, type BootPlanRequest } from '../src/http/index.js';

const IPXE_LKRN = '/usr/lib/ipxe/ipxe.lkrn';
const available = existsSync(IPXE_LKRN);

/**
 * Real iPXE (Debian's build, as a Linux kernel image so QEMU's own BIOS runs it) against the
 * routes over QEMU user networking, where the guest's 10.0.2.2 is the host's loopback. This
 * is the syntax check iPXE has no offline tool for. Bounded: QEMU is killed after 60 s.
 */
function bootIpxe(port: number, timeoutMs = 60_000): Promise<string> {
  const url = `http://10.0.2.2:${port}/boot/ipxe?mac=\${netX/mac}&uuid=\${uuid}&serial=\${serial:uristring}&arch=\${buildarch}&platform=\${platform}`;
  const qemu = spawn(
    'qemu-system-x86_64',
    ['-nographic', '-no-reboot', '-m', '256', '-kernel', IPXE_LKRN, '-append', `dhcp && chain ${url}`, '-netdev', 'user,id=n0', '-device', 'e1000,netdev=n0,mac=52:54:00:12:34:56', '-serial', 'stdio', '-monitor', 'none', '-uuid', '4c4c4544-0042-3510-8052-b7c04f4e3732', '-smbios', 'type=1,serial=AB 123'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  qemu.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('latin1')));
  qemu.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('latin1')));
  return new Promise((resolve) => {
    const timer = setTimeout(() => qemu.kill('SIGKILL'), timeoutMs);
    qemu.on('close', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

describe.skipIf(!available)('real iPXE in QEMU', () => {
  let app: FastifyInstance;
  let port: number;
  const asked: BootPlanRequest[] = [];
  const events: BootHttpEvent[] = [];
  let plan: DirectBootPlan;

  beforeAll(async () => {
    app = Fastify();
    await app.register(bootRoutes, {
      prefix: '/boot',
      baseUrl: 'http://10.0.2.2:1',
      ipxeDirectory: '/nonexistent',
      script: { attempts: 2, retryDelaySeconds: 1 },
      plan: async (request) => {
        asked.push(request);
        return { machineId: null, plan };
      },
      observe: (event) => events.push(event),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
    // The plan's URLs must reach this server from the guest.
    plan = {
      kind: 'kernel',
      kernel: `http://10.0.2.2:${port}/boot/artifacts/${'ab'.repeat(32)}`,
      initrd: [],
      cmdline: 'console=ttyS0 talos.config=http://x/${uuid}',
      reason: 'kernel from missing artifacts',
    };
  });

  afterAll(async () => {
    await app?.close();
  });

  it('runs the kernel script: asks with the URL the DHCP side gives, retries a missing kernel twice, then reboots', async () => {
    const output = await bootIpxe(port);
    expect(output).toContain('metalplane: kernel from missing artifacts');
    expect(output).toContain('metalplane: attempt 1 of 2 failed (the reason is printed above)');
    expect(output).toContain('metalplane: attempt 2 of 2 failed (the reason is printed above)');
    expect(output).toContain('metalplane: giving up after 2 attempts; rebooting in 1 seconds');
    expect(asked).toEqual([{ mac: '52:54:00:12:34:56', arch: 'bios', client: 'ipxe', remoteAddress: '127.0.0.1', uuid: '4c4c4544-0042-3510-8052-b7c04f4e3732', serial: 'AB 123' }]);
    expect(events.filter((e) => e.step === 'http.file').map((e) => e.status)).toEqual([404, 404]);
  }, 90_000);
});
