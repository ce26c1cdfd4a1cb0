import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RPI_VENDOR_OPTIONS } from '../src/dhcp/boot.js';
import { MessageType, optionIp, optionText, optionU8, type DhcpPacket } from '../src/dhcp/codec.js';
import { clientPacket, probe, startServer, type RunningServer } from './dhcp-harness.js';
import { createNetnsPair, netnsUnavailable, type NetnsPair } from './netns.js';

const unavailable = netnsUnavailable();
if (unavailable) console.warn(`skipping the DHCP network namespace tests: ${unavailable}`);

const HTTP = 'http://10.99.0.1:8080';
const u32 = (p: DhcpPacket, code: number) => p.options.get(code)?.readUInt32BE(0);
const hex = (bytes: number) => Buffer.alloc(bytes, 0xab);
const pxeGuid = Buffer.from('00' + '00112233445566778899aabbccddeeff', 'hex');

/** The environment a client's hook script saw, as key=value lines written to a file. */
function envScript(dir: string): { path: string; read(): Record<string, string>[] } {
  const out = join(dir, 'env.out');
  const path = join(dir, 'hook.sh');
  writeFileSync(path, `#!/bin/sh\n{ echo "--- $1 $reason"; env; } >> ${out}\n`);
  chmodSync(path, 0o755);
  return {
    path,
    read() {
      let text = '';
      try {
        text = readFileSync(out, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('--- ')
        .filter(Boolean)
        .map((block) => {
          const [head, ...lines] = block.split('\n');
          const env: Record<string, string> = { __event: head ?? '' };
          for (const line of lines) {
            const eq = line.indexOf('=');
            if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
          }
          return env;
        });
    },
  };
}

describe.skipIf(unavailable)('DHCP service with real clients in network namespaces', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-dhcp-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  describe('full mode', () => {
    let pair: NetnsPair;
    let server: RunningServer;
    let leaseFile: string;
    beforeAll(async () => {
      pair = createNetnsPair();
      leaseFile = join(tmp(), 'leases.json');
      server = await startServer(pair, {
        mode: 'full',
        port: 67,
        proxyPort: 4011,
        httpBaseUrl: HTTP,
        leaseFile,
        declineSeconds: 600,
        ipxeNoProxyWait: true,
        subnets: [{ cidr: '10.99.0.0/24', serverAddress: '10.99.0.1', range: { start: '10.99.0.100', end: '10.99.0.150' }, gateway: '10.99.0.1', dnsServers: ['10.99.0.53'], leaseSeconds: 600 }],
      });
    });
    afterAll(async () => {
      await server?.stop();
      pair?.dispose();
    });

    it('busybox udhcpc gets a dynamic lease with mask, router, DNS and lease time', () => {
      const hook = envScript(tmp());
      const run = pair.exec(pair.client, 'busybox', ['udhcpc', '-i', pair.clientIf, '-n', '-q', '-t', '3', '-T', '1', '-s', hook.path], { timeoutMs: 15_000 });
      expect(run.status, run.stderr).toBe(0);
      const bound = hook.read().find((e) => e.__event?.startsWith('bound'));
      expect(bound, JSON.stringify(hook.read())).toBeDefined();
      expect(bound!.ip).toMatch(/^10\.99\.0\.(1[0-4]\d|150)$/);
      expect(bound!.subnet).toBe('255.255.255.0');
      expect(bound!.router).toBe('10.99.0.1');
      expect(bound!.dns).toBe('10.99.0.53');
      expect(bound!.lease).toBe('600');
      expect(bound!.serverid).toBe('10.99.0.1');
    });

    it('ISC dhclient gets the same kind of lease, with T1 < T2 < lease', () => {
      const dir = tmp();
      const hook = envScript(dir);
      const run = pair.exec(pair.client, 'dhclient', ['-1', '-v', '-sf', hook.path, '-lf', join(dir, 'lease'), '-pf', join(dir, 'pid'), pair.clientIf], { timeoutMs: 20_000 });
      killPidFile(join(dir, 'pid'));
      expect(run.status, run.stderr).toBe(0);
      const bound = hook.read().find((e) => e.reason === 'BOUND');
      expect(bound, JSON.stringify(hook.read())).toBeDefined();
      expectLease(bound!, { range: /^10\.99\.0\.(1[0-4]\d|150)$/, mask: '255.255.255.0', router: '10.99.0.1', dns: '10.99.0.53', lease: 600 });
    });

    it('dhcpcd gets the lease', () => {
      const dir = tmp();
      const run = dhcpcdTest(pair, dir);
      expect(run.env, run.output).toBeDefined();
      expectLease(run.env!, { range: /^10\.99\.0\.(1[0-4]\d|150)$/, mask: '255.255.255.0', router: '10.99.0.1', dns: '10.99.0.53', lease: 600 });
    });

    it('kept the bound lease in the lease file', () => {
      const data = JSON.parse(readFileSync(leaseFile, 'utf8')) as { leases: { mac: string; address: string }[] };
      expect(data.leases.map((l) => l.mac)).toContain(pair.clientMac);
    });
  });
});

function killPidFile(path: string): void {
  try {
    process.kill(Number(readFileSync(path, 'utf8').trim()), 'SIGKILL');
  } catch {
    // not running
  }
}

/** dhclient and dhcpcd name the variables the same way (new_…). */
function expectLease(env: Record<string, string>, want: { range: RegExp; mask: string; router: string; dns: string; lease: number }): void {
  expect(env.new_ip_address).toMatch(want.range);
  expect(env.new_subnet_mask).toBe(want.mask);
  expect(env.new_routers).toBe(want.router);
  expect(env.new_domain_name_servers).toBe(want.dns);
  expect(Number(env.new_dhcp_lease_time)).toBe(want.lease);
  const t1 = Number(env.new_dhcp_renewal_time);
  const t2 = Number(env.new_dhcp_rebinding_time);
  expect(t1).toBeGreaterThan(0);
  expect(t1).toBeLessThan(t2);
  expect(t2).toBeLessThan(want.lease);
}

/**
 * dhcpcd, one shot in the foreground without ARP probing (-1 -B -A), with an empty config and our
 * hook, so it configures only the client namespace's interface. `ip netns exec` gives it a private
 * mount namespace; tmpfs over its state directories keeps its DUID and lease files off the host.
 */
function dhcpcdTest(pair: NetnsPair, dir: string): { env?: Record<string, string>; output: string } {
  const out = join(dir, 'env.out');
  const hook = join(dir, 'hook.sh');
  writeFileSync(hook, `#!/bin/sh\n{ echo "--- $reason"; env; } >> ${out}\n`);
  chmodSync(hook, 0o755);
  const script = `for d in /var/lib/dhcpcd /run/dhcpcd /var/run/dhcpcd; do [ -d $d ] && mount -t tmpfs tmpfs $d; done; exec dhcpcd -f /dev/null -c ${hook} -1 -4 -B -A -t 10 ${pair.clientIf}`;
  const run = pair.exec(pair.client, 'sh', ['-c', script], { timeoutMs: 20_000 });
  let text = '';
  try {
    text = readFileSync(out, 'utf8');
  } catch {
    // no hook run
  }
  const block = text.split('--- ').find((b) => b.startsWith('BOUND'));
  const output = `status ${run.status}\n${run.stdout}\n${run.stderr}\n${text}`;
  if (!block) return { output };
  const env: Record<string, string> = {};
  for (const line of block.split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1).replace(/^'|'$/g, '');
  }
  return { env, output };
}
