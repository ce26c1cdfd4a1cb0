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
      let text: string;
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
        ...baseConfig('full'),
        leaseFile,
        subnets: [{ cidr: '10.99.0.0/24', serverAddress: '10.99.0.1', range: { start: '10.99.0.100', end: '10.99.0.150' }, gateway: '10.99.0.1', dnsServers: ['10.99.0.53'], leaseSeconds: 600 }],
      });
    });
    afterAll(async () => {
      await server?.stop();
      pair?.dispose();
    });

    it('busybox udhcpc gets a dynamic lease with mask, router, DNS and lease time', () => {
      const bound = udhcpcLease(pair, tmp());
      expect(bound.ip).toMatch(/^10\.99\.0\.(1[0-4]\d|150)$/);
      expect(bound.subnet).toBe('255.255.255.0');
      expect(bound.router).toBe('10.99.0.1');
      expect(bound.dns).toBe('10.99.0.53');
      expect(bound.lease).toBe('600');
      expect(bound.serverid).toBe('10.99.0.1');
    });

    it('ISC dhclient gets the same kind of lease, with T1 < T2 < lease', () => {
      const bound = dhclientLease(pair, tmp());
      expectLease(bound, { range: /^10\.99\.0\.(1[0-4]\d|150)$/, mask: '255.255.255.0', router: '10.99.0.1', dns: '10.99.0.53', lease: 600 });
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

  describe('reservation mode', () => {
    let pair: NetnsPair;
    let server: RunningServer;
    const reserved = { address: '10.99.0.42', prefixLength: 24, gateway: '10.99.0.254', dnsServers: ['10.99.0.9', '10.99.0.10'], hostname: 'node-42', leaseSeconds: 900 };
    const want = { range: /^10\.99\.0\.42$/, mask: '255.255.255.0', router: '10.99.0.254', dns: '10.99.0.9 10.99.0.10', lease: 900 };
    beforeAll(async () => {
      pair = createNetnsPair();
      server = await startServer(pair, { ...baseConfig('reservation'), subnets: [{ cidr: '10.99.0.0/24', serverAddress: '10.99.0.1', leaseSeconds: 3600 }] }, { [pair.clientMac]: reserved });
    });
    afterAll(async () => {
      await server?.stop();
      pair?.dispose();
    });

    it('busybox udhcpc gets the reserved address with its router, DNS, hostname and lease time', () => {
      const bound = udhcpcLease(pair, tmp());
      expect(bound).toMatchObject({ ip: '10.99.0.42', subnet: '255.255.255.0', router: '10.99.0.254', dns: '10.99.0.9 10.99.0.10', lease: '900', hostname: 'node-42' });
    });

    it('ISC dhclient gets the reserved address', () => {
      const bound = dhclientLease(pair, tmp());
      expectLease(bound, want);
    });

    it('dhcpcd gets the reserved address', () => {
      const run = dhcpcdTest(pair, tmp());
      expect(run.env, run.output).toBeDefined();
      expectLease(run.env!, want);
    });

    it('gives iPXE the script URL with the lease and tells it not to wait for ProxyDHCP; ignores unknown machines; NAKs a wrong address', async () => {
      pair.exec(pair.client, 'ip', ['addr', 'flush', 'dev', pair.clientIf]);
      pair.exec(pair.client, 'ip', ['addr', 'add', '10.99.0.60/24', 'dev', pair.clientIf]);
      pair.exec(pair.client, 'ip', ['route', 'add', 'default', 'dev', pair.clientIf]);
      const [offer] = probe(pair, pair.client, { sends: [{ to: '255.255.255.255', port: 67, data: clientPacket(pair.clientMac, [[53, [1]], [60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [77, 'iPXE'], [175, [0xeb, 3, 1, 21, 1]]]) }] });
      expect(offer).toBeDefined();
      expect(optionU8(offer!.packet, 53)).toBe(MessageType.Offer);
      expect(offer!.packet.yiaddr).toBe('10.99.0.42');
      expect(offer!.packet.file).toBe(`${HTTP}/boot/ipxe?mac=\${netX/mac}&uuid=\${uuid}&serial=\${serial:uristring}&arch=\${buildarch}&platform=\${platform}`);
      expect(offer!.packet.options.get(175)).toEqual(Buffer.from([176, 1, 1]));
      expect([u32(offer!.packet, 51), u32(offer!.packet, 58), u32(offer!.packet, 59)]).toEqual([900, 450, 787]);

      const unknown = probe(pair, pair.client, { sends: [{ to: '255.255.255.255', port: 67, data: clientPacket('02:00:00:00:00:99', [[53, [1]]]) }], waitMs: 800 });
      expect(unknown).toEqual([]);
      await server.stats(); // the fixture prints events before it answers, so they have all been read
      expect(server.events).toContainEqual(expect.objectContaining({ step: 'ignored', reason: 'no-reservation', client: expect.objectContaining({ mac: '02:00:00:00:00:99' }) }));

      const [nak] = probe(pair, pair.client, { sends: [{ to: '255.255.255.255', port: 67, data: clientPacket(pair.clientMac, [[53, [3]], [50, [10, 99, 0, 77]], [54, [10, 99, 0, 1]]]) }] });
      expect(nak && optionU8(nak.packet, 53)).toBe(MessageType.Nak);
    });
  });

  describe('proxy mode', () => {
    let pair: NetnsPair;
    let server: RunningServer;
    beforeAll(async () => {
      pair = createNetnsPair({ clientCidr: '10.99.0.50/24' });
      // The probe sends limited broadcasts from an unbound socket, which needs a route.
      pair.exec(pair.client, 'ip', ['route', 'add', 'default', 'dev', pair.clientIf]);
      server = await startServer(pair, { ...baseConfig('proxy'), subnets: [{ cidr: '10.99.0.0/24', serverAddress: '10.99.0.1', leaseSeconds: 3600 }] });
    });
    afterAll(async () => {
      await server?.stop();
      pair?.dispose();
    });
    const broadcast = (data: Buffer, waitMs?: number) => probe(pair, pair.client, { sends: [{ to: '255.255.255.255', port: 67, data }], ...(waitMs ? { waitMs } : {}) });

    it('listens on 67 (any address and the server address) and on 4011', () => {
      expect(server.status.map((s) => [s.protocol, s.listen, s.mode, s.healthy])).toEqual([
        ['dhcp', '0.0.0.0:67', 'proxy', true],
        ['dhcp', '10.99.0.1:67', 'proxy', true],
        ['proxydhcp', '0.0.0.0:4011', 'proxy', true],
      ]);
    });

    it('answers a PXE DISCOVER with an address-less offer: siaddr, 60, 43, 54, 97 echoed and the boot file', () => {
      const [reply] = broadcast(clientPacket('02:11:22:33:44:55', [[53, [1]], [55, [1, 3, 43, 60, 66, 67]], [60, 'PXEClient:Arch:00007:UNDI:003016'], [93, [0, 7]], [94, [1, 3, 16]], [97, pxeGuid]]));
      expect(reply, 'no ProxyDHCP offer').toBeDefined();
      const p = reply!.packet;
      expect(reply!.port).toBe(67);
      expect(optionU8(p, 53)).toBe(MessageType.Offer);
      expect(p.yiaddr).toBe('0.0.0.0');
      expect(p.siaddr).toBe('10.99.0.1');
      expect(optionIp(p, 54)).toBe('10.99.0.1');
      expect(optionText(p, 60)).toBe('PXEClient');
      expect(p.options.get(43)).toEqual(Buffer.from([6, 1, 8, 255]));
      expect(p.options.get(97)).toEqual(pxeGuid);
      expect(p.file).toBe('snponly.efi');
      expect(p.options.has(51)).toBe(false);
    });

    it('answers the boot server REQUEST on 4011 with an ACK to the client', () => {
      const data = clientPacket('02:11:22:33:44:55', [[53, [3]], [60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [97, pxeGuid]], { ciaddr: '10.99.0.50', flags: 0 });
      const [reply] = probe(pair, pair.client, { sends: [{ to: '10.99.0.1', port: 4011, data }] });
      expect(reply, 'no ACK from 4011').toBeDefined();
      expect(reply!.port).toBe(4011);
      expect(optionU8(reply!.packet, 53)).toBe(MessageType.Ack);
      expect(reply!.packet.file).toBe('undionly.kpxe');
      expect(reply!.packet.siaddr).toBe('10.99.0.1');
      expect(reply!.packet.options.get(97)).toEqual(pxeGuid);
    });

    it('gives iPXE the script URL, never a binary, and no no-pxedhcp option', () => {
      const [reply] = broadcast(clientPacket('02:11:22:33:44:56', [[53, [1]], [60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [77, 'iPXE'], [175, [0x13, 1, 1]]]));
      expect(reply?.packet.file).toBe(`${HTTP}/boot/ipxe?mac=\${netX/mac}&uuid=\${uuid}&serial=\${serial:uristring}&arch=\${buildarch}&platform=\${platform}`);
      expect(reply!.packet.options.has(175)).toBe(false);
      expect(reply!.packet.siaddr).toBe('10.99.0.1');
    });

    it('gives a UEFI HTTP boot client an http URL and echoes HTTPClient', () => {
      const [reply] = broadcast(clientPacket('02:11:22:33:44:57', [[53, [1]], [60, 'HTTPClient:Arch:00016:UNDI:003000'], [93, [0, 16]]]));
      expect(reply?.packet.file).toBe(`${HTTP}/boot/snponly.efi`);
      expect(optionText(reply!.packet, 60)).toBe('HTTPClient');
      expect(optionText(reply!.packet, 67)).toBe(`${HTTP}/boot/snponly.efi`);
    });

    it('answers the Raspberry Pi 4 bootloader with "Raspberry Pi Boot" in option 43 and option 66', async () => {
      const guid = Buffer.concat([Buffer.from([0]), Buffer.from('RPi4', 'latin1'), Buffer.from([0x11, 0x31, 0xc0, 0x00]), Buffer.from([0x32, 0x01, 0x36, 0xc2]), Buffer.from([0xef, 0xfd, 0xfe, 0x9f])]);
      const request = clientPacket('dc:a6:32:01:36:c2', [[53, [1]], [55, [1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]], [60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [94, [1, 2, 1]], [97, guid]]);
      const [reply] = broadcast(request);
      expect(reply, 'no offer for the Pi').toBeDefined();
      const p = reply!.packet;
      // PROTOCOLS §5.3, byte for byte.
      expect(p.options.get(43)!.toString('hex')).toBe('060103' + '0a0400505845' + '0914000011' + Buffer.from('Raspberry Pi Boot').toString('hex') + 'ff');
      expect(p.options.get(43)).toEqual(RPI_VENDOR_OPTIONS);
      expect(optionText(p, 66)).toBe('10.99.0.1');
      expect(p.siaddr).toBe('10.99.0.1');
      expect(optionText(p, 60)).toBe('PXEClient');
      expect(p.options.get(97)).toEqual(guid);
      await server.stats();
      expect(server.events).toContainEqual(expect.objectContaining({ step: 'offer', client: expect.objectContaining({ client: 'rpi-firmware', arch: 'rpi', rpiSerial: '9ffefdef', mac: 'dc:a6:32:01:36:c2' }) }));
    });

    it('ignores plain DHCP clients (the site DHCP server answers them)', async () => {
      expect(broadcast(clientPacket('02:11:22:33:44:58', [[53, [1]], [55, [1, 3, 6]]]), 800)).toEqual([]);
      expect((await server.stats()).counters['ignored.not-a-boot-client']).toBeGreaterThanOrEqual(1);
    });

    it('drops and counts malformed datagrams on every port and keeps answering', async () => {
      const good = clientPacket('02:11:22:33:44:59', [[53, [1]], [60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]]]);
      const badCookie = Buffer.from(good);
      badCookie.writeUInt32BE(0xdeadbeef, 236);
      const reply = Buffer.from(good);
      reply[0] = 2;
      const bigHlen = Buffer.from(good);
      bigHlen[2] = 17;
      const truncated = Buffer.concat([good.subarray(0, 240), Buffer.from([53, 1, 1, 60, 40, 0x50])]);
      const badLength = Buffer.concat([good.subarray(0, 240), Buffer.from([53, 2, 1, 1, 255])]);
      const garbage = Buffer.alloc(600, 0x5a);
      const malformed = [Buffer.from([1]), good.subarray(0, 239), badCookie, reply, bigHlen, truncated, badLength, garbage];
      const sends = [67, 4011].flatMap((port) => malformed.map((data) => ({ to: '10.99.0.1', port, data })));
      expect(probe(pair, pair.client, { sends, waitMs: 800 })).toEqual([]);
      const { counters } = await server.stats();
      expect(counters['dropped.short']).toBeGreaterThanOrEqual(4);
      expect(counters['dropped.magic-cookie']).toBeGreaterThanOrEqual(4);
      expect(counters['dropped.not-a-request']).toBeGreaterThanOrEqual(2);
      expect(counters['dropped.hlen']).toBeGreaterThanOrEqual(2);
      expect(counters['dropped.truncated-option']).toBeGreaterThanOrEqual(2);
      expect(counters['dropped.bad-option-length']).toBeGreaterThanOrEqual(2);
      expect(broadcast(good)[0]?.packet.file).toBe('undionly.kpxe');
      expect(server.logs.filter((l) => (l as { log?: string }).log === 'error')).toEqual([]);
    });
  });

  describe('full mode: pool exhaustion, release, decline and relays', () => {
    let pair: NetnsPair;
    let server: RunningServer;
    beforeAll(async () => {
      pair = createNetnsPair({ clientCidr: '10.99.0.50/24' });
      pair.exec(pair.client, 'ip', ['route', 'add', 'default', 'dev', pair.clientIf]);
      // A relay agent on the client side, for the remote network 10.98.0.0/24.
      pair.exec(pair.client, 'ip', ['addr', 'add', '10.98.0.1/24', 'dev', pair.clientIf]);
      pair.exec(pair.server, 'ip', ['route', 'add', '10.98.0.0/24', 'via', '10.99.0.50']);
      server = await startServer(pair, {
        ...baseConfig('full'),
        subnets: [
          { cidr: '10.99.0.0/24', serverAddress: '10.99.0.1', range: { start: '10.99.0.100', end: '10.99.0.101' }, leaseSeconds: 600 },
          { cidr: '10.98.0.0/24', serverAddress: '10.99.0.1', range: { start: '10.98.0.10', end: '10.98.0.20' }, gateway: '10.98.0.1', leaseSeconds: 600 },
        ],
      });
    });
    afterAll(async () => {
      await server?.stop();
      pair?.dispose();
    });
    const send = (data: Buffer, waitMs = 1_000) => probe(pair, pair.client, { sends: [{ to: '255.255.255.255', port: 67, data }], waitMs });
    const dora = (mac: string) => {
      const [offer] = send(clientPacket(mac, [[53, [1]]]));
      if (!offer) return undefined;
      const address = offer.packet.yiaddr.split('.').map(Number);
      const [ack] = send(clientPacket(mac, [[53, [3]], [50, address], [54, [10, 99, 0, 1]]]));
      return ack && optionU8(ack.packet, 53) === MessageType.Ack ? ack.packet.yiaddr : undefined;
    };

    it('leases both addresses of a 2-address pool, then answers nothing, without spinning', async () => {
      expect([dora('02:00:00:00:01:01'), dora('02:00:00:00:01:02')].sort()).toEqual(['10.99.0.100', '10.99.0.101']);
      expect(send(clientPacket('02:00:00:00:01:03', [[53, [1]]]), 800)).toEqual([]);
      const before = await server.stats();
      expect(before.counters['pool-exhausted']).toBe(1);
      const flood = Array.from({ length: 200 }, (_, k) => ({ to: '255.255.255.255', port: 67, data: clientPacket(`02:00:00:00:02:${(k % 256).toString(16).padStart(2, '0')}`, [[53, [1]]]) }));
      expect(probe(pair, pair.client, { sends: flood, waitMs: 1_000 })).toEqual([]);
      const after = await server.stats();
      expect(after.counters['pool-exhausted']! - before.counters['pool-exhausted']!).toBeGreaterThanOrEqual(100);
      const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
      expect(cpuMs, `server CPU time for 200 DISCOVERs on an exhausted pool: ${cpuMs} ms`).toBeLessThan(1_000);
      if (process.env.DHCP_TEST_VERBOSE) console.info(`server CPU for 200 DISCOVERs on an exhausted pool: ${cpuMs.toFixed(1)} ms; counted ${after.counters['pool-exhausted']! - before.counters['pool-exhausted']!}`);
    });

    it('NAKs a request for an address that is not the client\'s', () => {
      const [nak] = send(clientPacket('02:00:00:00:01:03', [[53, [3]], [50, [10, 99, 0, 100]], [54, [10, 99, 0, 1]]]));
      expect(nak && optionU8(nak.packet, 53)).toBe(MessageType.Nak);
      const [offNet] = send(clientPacket('02:00:00:00:01:03', [[53, [3]], [50, [192, 168, 7, 7]]]));
      expect(offNet && optionU8(offNet.packet, 53)).toBe(MessageType.Nak);
    });

    it('honours DHCPRELEASE and DHCPDECLINE', () => {
      send(clientPacket('02:00:00:00:01:01', [[53, [7]], [54, [10, 99, 0, 1]]], { ciaddr: '10.99.0.100', flags: 0 }), 300);
      expect(dora('02:00:00:00:01:03')).toBe('10.99.0.100');
      send(clientPacket('02:00:00:00:01:03', [[53, [4]], [50, [10, 99, 0, 100]], [54, [10, 99, 0, 1]]]), 300);
      // .100 is declined and .101 is taken: nothing left.
      expect(send(clientPacket('02:00:00:00:01:04', [[53, [1]]]), 800)).toEqual([]);
    });

    it('answers a relayed request unicast to giaddr:67 from the relay\'s subnet', () => {
      const data = clientPacket('02:00:00:00:03:01', [[53, [1]]], { giaddr: '10.98.0.1', hops: 1 });
      const [reply] = probe(pair, pair.client, { bind: { address: '10.98.0.1', port: 67 }, sends: [{ to: '10.99.0.1', port: 67, data }] });
      expect(reply, 'no reply at the relay').toBeDefined();
      expect(reply!.from).toBe('10.99.0.1');
      expect(reply!.packet.giaddr).toBe('10.98.0.1');
      expect(reply!.packet.yiaddr).toMatch(/^10\.98\.0\.(1\d|20)$/);
      expect(optionIp(reply!.packet, 3)).toBe('10.98.0.1');
      const foreign = clientPacket('02:00:00:00:03:02', [[53, [1]]], { giaddr: '172.16.0.1', hops: 1 });
      expect(probe(pair, pair.client, { bind: { address: '10.98.0.1', port: 67 }, sends: [{ to: '10.99.0.1', port: 67, data: foreign }], waitMs: 800 })).toEqual([]);
    });
  });
});

/** Runs busybox udhcpc once in the client namespace; the environment of its `bound` event (asserted present). */
function udhcpcLease(pair: NetnsPair, dir: string): Record<string, string> {
  const hook = envScript(dir);
  const run = pair.exec(pair.client, 'busybox', ['udhcpc', '-i', pair.clientIf, '-n', '-q', '-t', '3', '-T', '1', '-s', hook.path], { timeoutMs: 15_000 });
  expect(run.status, run.stderr).toBe(0);
  const bound = hook.read().find((e) => e.__event?.startsWith('bound'));
  expect(bound, JSON.stringify(hook.read())).toBeDefined();
  return bound!;
}

/** Runs ISC dhclient once in the client namespace; the environment of its BOUND event (asserted present). */
function dhclientLease(pair: NetnsPair, dir: string): Record<string, string> {
  const hook = envScript(dir);
  const run = pair.exec(pair.client, 'dhclient', ['-1', '-v', '-sf', hook.path, '-lf', join(dir, 'lease'), '-pf', join(dir, 'pid'), pair.clientIf], { timeoutMs: 20_000 });
  killPidFile(join(dir, 'pid'));
  expect(run.status, run.stderr).toBe(0);
  const bound = hook.read().find((e) => e.reason === 'BOUND');
  expect(bound, JSON.stringify(hook.read())).toBeDefined();
  return bound!;
}

function baseConfig(mode: string) {
  return { mode, port: 67, proxyPort: 4011, httpBaseUrl: HTTP, declineSeconds: 600, ipxeNoProxyWait: true };
}

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
