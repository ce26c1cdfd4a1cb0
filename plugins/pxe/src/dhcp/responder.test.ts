import { silentLogger } from '@metalplane/core';
import { describe, expect, it } from 'vitest';
import type { DhcpSubnet } from '../config.js';
import { DEFAULT_IPXE_FILES } from './boot.js';
import { BROADCAST_FLAG, MessageType, optionU8, type DhcpPacket } from './codec.js';
import { LeaseStore } from './leases.js';
import { DhcpResponder, servedSubnet, type DhcpHooks, type DhcpObservation, type DhcpReservation, type ResponderOptions } from './responder.js';

const LAN: DhcpSubnet = { cidr: '10.0.0.0/24', serverAddress: '10.0.0.1', leaseSeconds: 3600, range: { start: '10.0.0.100', end: '10.0.0.110' } };
const LAB: DhcpSubnet = { cidr: '10.0.1.0/24', serverAddress: '10.0.1.1', leaseSeconds: 3600 };

function request(type: number, options: [number, Buffer | number[] | string][] = [], fields: Partial<DhcpPacket> = {}, mac = '02:00:00:00:00:01'): DhcpPacket {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.replaceAll(':', ''), 'hex').copy(chaddr);
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '',
    options: new Map([[53, Buffer.from([type])], ...options.map(([code, value]) => [code, typeof value === 'string' ? Buffer.from(value) : Buffer.from(value)] as [number, Buffer])]),
    ...fields,
  };
}

function responder(mode: ResponderOptions['mode'], overrides: { subnets?: DhcpSubnet[]; local?: string[]; reservation?: DhcpHooks['reservation']; observe?: DhcpHooks['observe'] } = {}) {
  const counters: Record<string, number> = {};
  const events: DhcpObservation[] = [];
  const local = new Set(overrides.local ?? ['10.0.0.1']);
  const r = new DhcpResponder({
    mode,
    subnets: (overrides.subnets ?? [LAN]).map((s) => servedSubnet(s, local)),
    httpBaseUrl: 'http://10.0.0.1:8080',
    files: DEFAULT_IPXE_FILES,
    declineSeconds: 600,
    ipxeNoProxyWait: true,
    hooks: { reservation: overrides.reservation ?? (async () => null), observe: overrides.observe ?? ((e) => events.push(e)) },
    leases: new LeaseStore({ logger: silentLogger }),
    logger: silentLogger,
    count: (name) => (counters[name] = (counters[name] ?? 0) + 1),
    hookTimeoutMs: 50,
  });
  const handle = (packet: DhcpPacket, service: 'dhcp' | 'proxy' = 'dhcp') => r.handle({ packet, service, port: service === 'dhcp' ? 67 : 4011, source: { address: '0.0.0.0', port: 68 } }, new AbortController().signal);
  return { handle, counters, events };
}

const claim: DhcpReservation = { address: '10.0.0.42', prefixLength: 24, gateway: '10.0.0.254', leaseSeconds: 1000 };

describe('DhcpResponder', () => {
  it('sets T1 < T2 < lease', async () => {
    const { handle } = responder('reservation', { reservation: async () => claim });
    const out = await handle(request(MessageType.Discover));
    const [lease, t1, t2] = [51, 58, 59].map((c) => out!.packet.options.get(c)!.readUInt32BE(0));
    expect([lease, t1, t2]).toEqual([1000, 500, 875]);
  });

  it('never ACKs a client that chose another server', async () => {
    const { handle, counters } = responder('reservation', { reservation: async () => claim });
    expect(await handle(request(MessageType.Request, [[50, [10, 0, 0, 42]], [54, [10, 0, 0, 9]]]))).toBeUndefined();
    expect(counters['ignored.client-chose-another-server']).toBe(1);
  });

  it('reservation mode stays silent about unknown machines rebooting (no server id), but NAKs those asking us', async () => {
    const { handle } = responder('reservation');
    expect(await handle(request(MessageType.Request, [[50, [10, 0, 0, 77]]]))).toBeUndefined();
    const nak = await handle(request(MessageType.Request, [[50, [10, 0, 0, 77]], [54, [10, 0, 0, 1]]]));
    expect(optionU8(nak!.packet, 53)).toBe(MessageType.Nak);
    expect(nak!.address).toBe('255.255.255.255');
  });

  it('answers relayed requests to giaddr:67 and sets the broadcast bit on a relayed NAK', async () => {
    const { handle } = responder('full', { subnets: [LAN, { ...LAB, range: { start: '10.0.1.10', end: '10.0.1.20' } }] });
    const offer = await handle(request(MessageType.Discover, [], { giaddr: '10.0.1.1' }));
    expect([offer!.address, offer!.port, offer!.packet.yiaddr]).toEqual(['10.0.1.1', 67, '10.0.1.10']);
    const nak = await handle(request(MessageType.Request, [[50, [10, 0, 1, 99]], [54, [10, 0, 1, 1]]], { giaddr: '10.0.1.1' }));
    expect(optionU8(nak!.packet, 53)).toBe(MessageType.Nak);
    expect(nak!.packet.flags & BROADCAST_FLAG).toBe(BROADCAST_FLAG);
  });

  it('ignores relays and clients from networks it does not serve', async () => {
    const { handle, counters } = responder('full');
    expect(await handle(request(MessageType.Discover, [], { giaddr: '192.168.1.1' }))).toBeUndefined();
    expect(await handle(request(MessageType.Request, [], { ciaddr: '192.168.1.5' }))).toBeUndefined();
    expect(counters['ignored.relay-from-foreign-network']).toBe(1);
    expect(counters['ignored.foreign-network']).toBe(1);
  });

  it('drops direct requests when several served subnets are local and nothing tells them apart', async () => {
    const { handle, counters } = responder('full', { subnets: [LAN, LAB], local: ['10.0.0.1', '10.0.1.1'] });
    expect(await handle(request(MessageType.Discover))).toBeUndefined();
    expect(counters['dropped.ambiguous-ingress']).toBe(1);
    const picked = responder('reservation', { subnets: [LAN, LAB], local: ['10.0.0.1', '10.0.1.1'], reservation: async () => ({ ...claim, address: '10.0.1.42' }) });
    expect((await picked.handle(request(MessageType.Discover)))?.packet.yiaddr).toBe('10.0.1.42');
  });

  it('survives a failing or hanging reservation hook and a throwing observe hook', async () => {
    const failing = responder('reservation', { reservation: async () => Promise.reject(new Error('IPAM down')), observe: () => { throw new Error('boom'); } });
    expect(await failing.handle(request(MessageType.Discover))).toBeUndefined();
    expect(failing.counters['hook-errors']).toBe(1);
    const hanging = responder('reservation', { reservation: (_mac, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))) });
    expect(await hanging.handle(request(MessageType.Discover))).toBeUndefined();
    expect(hanging.counters['hook-errors']).toBe(1);
  });

  it('ignores a reservation outside the subnet', async () => {
    const { handle, counters } = responder('reservation', { reservation: async () => ({ ...claim, address: '172.16.0.5' }) });
    expect(await handle(request(MessageType.Discover))).toBeUndefined();
    expect(counters['ignored.reservation-outside-subnet']).toBe(1);
  });

  it('proxy mode leaves REQUESTs on 67 to the site server and answers 4011 requests to their source', async () => {
    const { handle } = responder('proxy');
    const pxe: [number, string][] = [[60, 'PXEClient:Arch:00007:UNDI:003016']];
    expect(await handle(request(MessageType.Request, pxe))).toBeUndefined();
    const ack = await handle(request(MessageType.Request, pxe, { ciaddr: '10.0.0.50' }), 'proxy');
    expect(optionU8(ack!.packet, 53)).toBe(MessageType.Ack);
    expect(ack!.packet.file).toBe('snponly.efi');
    expect(ack!.packet.options.has(175)).toBe(false);
  });

  it('answers DHCPINFORM with configuration but no lease', async () => {
    const { handle } = responder('full', { subnets: [{ ...LAN, gateway: '10.0.0.254', dnsServers: ['10.0.0.53'] }] });
    const ack = await handle(request(MessageType.Inform, [], { ciaddr: '10.0.0.7' }));
    expect(ack!.packet.yiaddr).toBe('0.0.0.0');
    expect(ack!.packet.options.has(51)).toBe(false);
    expect(ack!.packet.options.get(3)).toEqual(Buffer.from([10, 0, 0, 254]));
    expect([ack!.address, ack!.port]).toEqual(['10.0.0.7', 68]);
  });

  it('drops replies and requests that are not DHCP requests, counting why', async () => {
    const { handle, counters } = responder('full');
    expect(await handle({ ...request(MessageType.Discover), op: 2 })).toBeUndefined();
    const bootp = request(MessageType.Discover);
    bootp.options.delete(53);
    expect(await handle(bootp)).toBeUndefined();
    expect(counters).toMatchObject({ 'dropped.not-a-request': 1, 'dropped.no-message-type': 1 });
  });

  it('uses option 57 to allow larger replies, within one Ethernet frame', async () => {
    const { handle } = responder('full');
    expect((await handle(request(MessageType.Discover, [[57, [0x05, 0xdc]]])))!.maxLength).toBe(1472);
    expect((await handle(request(MessageType.Discover)))!.maxLength).toBe(548);
  });
});
