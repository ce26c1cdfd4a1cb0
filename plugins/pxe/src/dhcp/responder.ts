import type { Logger } from '@metalplane/core';
import type { DhcpMode, DhcpSubnet } from '../config.js';
import type { FirstStage, IpxeFileNames } from './boot.js';
import { firstStage } from './boot.js';
import type { DhcpPacket } from './codec.js';
import { BROADCAST_FLAG, DEFAULT_MAX_REPLY, MessageType, ips, optionIp, optionU16, optionU8, text, u32, u8 } from './codec.js';
import type { DhcpClientInfo } from './detect.js';
import { detectClient } from './detect.js';
import type { LeaseStore, Pool } from './leases.js';
import { BROADCAST, ZERO, contains, intToIp, ipToInt, maskOf, parseCidr, type Ipv4Net } from './net.js';

export interface DhcpReservation {
  address: string;
  prefixLength: number;
  gateway?: string;
  dnsServers?: string[];
  hostname?: string;
  leaseSeconds?: number;
}

export interface DhcpObservation {
  step: 'discover' | 'offer' | 'request' | 'ack' | 'nak' | 'release' | 'decline' | 'inform' | 'ignored';
  mode: string;
  /** The UDP port the request came in on (67, or 4011 for the PXE boot server). */
  port: number;
  client: DhcpClientInfo;
  address?: string;
  bootFile?: string;
  reason?: string;
  /** giaddr, when the request came through a relay. */
  relay?: string;
}

export interface DhcpHooks {
  /** The bound IP claim for this MAC (reservation and full modes), or null. */
  reservation(mac: string, signal: AbortSignal): Promise<DhcpReservation | null>;
  /** Every step, for the machine's boot timeline. Must not throw into the server; errors are logged. */
  observe(event: DhcpObservation): void;
}

/** A configured subnet with its parsed prefix and pool. */
export interface ServedSubnet {
  readonly config: DhcpSubnet;
  readonly net: Ipv4Net;
  /** One of our interfaces has an address inside it: direct (unrelayed) broadcasts can come from it. */
  readonly local: boolean;
  readonly pool?: Pool;
}

export interface Incoming {
  packet: DhcpPacket;
  /** `dhcp` = the DHCP port (67), `proxy` = the PXE boot server port (4011). */
  service: 'dhcp' | 'proxy';
  port: number;
  source: { address: string; port: number };
  /** The local address of the socket it arrived on, when that socket is bound to one (a unicast to us). */
  localAddress?: string;
}

export interface Outgoing {
  packet: DhcpPacket;
  address: string;
  port: number;
  /** The subnet whose server address the reply should be sent from (and broadcast out of). */
  subnet: ServedSubnet;
  maxLength: number;
}

export interface ResponderOptions {
  mode: Exclude<DhcpMode, 'off'>;
  subnets: readonly ServedSubnet[];
  httpBaseUrl: string;
  files: IpxeFileNames;
  declineSeconds: number;
  ipxeNoProxyWait: boolean;
  hooks: DhcpHooks;
  leases?: LeaseStore;
  logger: Logger;
  count(name: string): void;
  /** How long the reservation hook may take per packet. */
  hookTimeoutMs?: number;
}

const CLIENT_PORT = 68;
const RELAY_PORT = 67;

/** What the server will hand a client: a bound claim or a pool address, with the options that go with it. */
interface Binding {
  address: string;
  prefixLength: number;
  gateway?: string;
  dnsServers?: readonly string[];
  hostname?: string;
  leaseSeconds: number;
  source: 'reservation' | 'pool';
}

/**
 * The DHCP state machine: one request in, at most one reply out. It picks the subnet, classifies
 * the client, applies the mode, and reports every step to `hooks.observe`. No sockets here, so it
 * is tested directly; the service does the I/O.
 */
export class DhcpResponder {
  readonly #o: ResponderOptions;

  constructor(options: ResponderOptions) {
    this.#o = options;
  }

  async handle(incoming: Incoming, signal: AbortSignal): Promise<Outgoing | undefined> {
    const { packet } = incoming;
    if (packet.op !== 1) return this.#drop('not-a-request');
    if (packet.hlen === 0) return this.#drop('no-hardware-address');
    const type = optionU8(packet, 53);
    // Plain BOOTP (no option 53) is not served: no machine we boot needs it.
    if (type === undefined || type < MessageType.Discover || type > MessageType.Inform) return this.#drop('no-message-type');
    const client = detectClient(packet);
    const relay = packet.giaddr !== ZERO ? packet.giaddr : undefined;
    const base = { mode: this.#o.mode, port: incoming.port, client, ...(relay ? { relay } : {}) };
    const observe = (event: Omit<DhcpObservation, 'mode' | 'port' | 'client' | 'relay'>) => this.#observe({ ...base, ...event });
    const ignore = (reason: string) => {
      this.#o.count(`ignored.${reason}`);
      observe({ step: 'ignored', reason });
      return undefined;
    };

    let reservation: Promise<DhcpReservation | null> | undefined;
    const lookUp = () => (reservation ??= this.#reservation(client.mac, signal));

    const subnet = await this.#subnetFor(incoming, lookUp);
    if (typeof subnet === 'string') return ignore(subnet);

    if (this.#o.mode === 'proxy') return this.#proxy(incoming, type, client, subnet, observe, ignore);
    if (incoming.service === 'proxy') return ignore('boot-server-port-in-full-mode');

    const stepOf = { [MessageType.Discover]: 'discover', [MessageType.Request]: 'request', [MessageType.Release]: 'release', [MessageType.Decline]: 'decline', [MessageType.Inform]: 'inform' } as const;
    const step = stepOf[type as keyof typeof stepOf];
    if (!step) return ignore('server-message-type');
    const requested = optionIp(packet, 50) ?? (packet.ciaddr !== ZERO ? packet.ciaddr : undefined);
    observe({ step, ...(requested ? { address: requested } : {}) });

    const claim = await lookUp();
    if (claim && !contains(subnet.net, safeIp(claim.address))) return ignore('reservation-outside-subnet');
    const leases = this.#o.mode === 'full' ? this.#o.leases : undefined;
    const stage = firstStage(client, this.#o.httpBaseUrl, this.#o.files);
    const serverId = optionIp(packet, 54);

    switch (type) {
      case MessageType.Discover: {
        let binding: Binding | undefined;
        if (claim) binding = this.#fromClaim(claim, subnet);
        else if (leases && subnet.pool) {
          const address = leases.offer(client.mac, subnet.pool, optionIp(packet, 50));
          if (!address) {
            this.#o.count('pool-exhausted');
            return ignore('pool-exhausted');
          }
          binding = this.#fromPool(address, subnet);
        }
        if (!binding) return ignore(this.#o.mode === 'full' ? 'no-pool' : 'no-reservation');
        return this.#reply(incoming, MessageType.Offer, subnet, client, binding, stage, observe);
      }
      case MessageType.Request: {
        if (serverId && serverId !== subnet.config.serverAddress) {
          leases?.forgetOffer(client.mac);
          return ignore('client-chose-another-server');
        }
        if (!requested) return this.#drop('request-without-address');
        const authoritative = this.#o.mode === 'full' || serverId !== undefined || claim !== null;
        const nak = (reason: string) => (authoritative ? this.#nak(incoming, subnet, observe, reason) : ignore(reason));
        if (!contains(subnet.net, ipToInt(requested))) return nak('address-not-on-this-network');
        if (claim) {
          if (requested !== claim.address) return nak('not-the-reserved-address');
          return this.#reply(incoming, MessageType.Ack, subnet, client, this.#fromClaim(claim, subnet), stage, observe);
        }
        if (!leases || !subnet.pool) return nak('no-reservation');
        const binding = this.#fromPool(requested, subnet);
        if (!(await leases.bind(client.mac, requested, subnet.pool, binding.leaseSeconds))) return nak('address-not-yours');
        return this.#reply(incoming, MessageType.Ack, subnet, client, binding, stage, observe);
      }
      case MessageType.Release:
        if (leases && packet.ciaddr !== ZERO) await leases.release(client.mac, packet.ciaddr);
        return undefined;
      case MessageType.Decline: {
        const address = optionIp(packet, 50);
        if (leases && address && (await leases.decline(client.mac, address, this.#o.declineSeconds))) this.#o.count('declined');
        return undefined;
      }
      case MessageType.Inform: {
        if (packet.ciaddr === ZERO) return this.#drop('inform-without-ciaddr');
        const binding = claim ? this.#fromClaim(claim, subnet) : this.#fromPool(packet.ciaddr, subnet);
        return this.#reply(incoming, MessageType.Ack, subnet, client, binding, stage, observe, true);
      }
      default:
        return undefined;
    }
  }

  /** ProxyDHCP (PXE spec §2.5): address-less boot answers for boot clients only. */
  #proxy(
    incoming: Incoming,
    type: number,
    client: DhcpClientInfo,
    subnet: ServedSubnet,
    observe: (event: Omit<DhcpObservation, 'mode' | 'port' | 'client' | 'relay'>) => void,
    ignore: (reason: string) => undefined,
  ): Outgoing | undefined {
    const { packet } = incoming;
    const stage = firstStage(client, this.#o.httpBaseUrl, this.#o.files);
    if (!stage) return ignore(client.client === 'other' ? 'not-a-boot-client' : 'no-first-stage-for-arch');
    const expected = incoming.service === 'dhcp' ? MessageType.Discover : MessageType.Request;
    if (type !== expected && !(incoming.service === 'proxy' && type === MessageType.Inform)) {
      // On 67 the site's DHCP server answers REQUESTs; on 4011 only REQUEST/INFORM make sense.
      return ignore(incoming.service === 'dhcp' ? 'proxy-leaves-requests-to-the-dhcp-server' : 'boot-server-expects-request');
    }
    observe({ step: incoming.service === 'dhcp' ? 'discover' : 'request' });
    const reply = this.#skeleton(packet, incoming.service === 'dhcp' ? MessageType.Offer : MessageType.Ack, subnet);
    this.#addBoot(reply, packet, subnet, stage);
    const to = incoming.service === 'proxy' ? this.#proxyDestination(incoming) : this.#destination(packet, reply);
    observe({ step: incoming.service === 'dhcp' ? 'offer' : 'ack', bootFile: stage.file });
    this.#o.count(incoming.service === 'dhcp' ? 'sent.proxy-offer' : 'sent.proxy-ack');
    return { packet: reply, ...to, subnet, maxLength: maxReply(packet) };
  }

  #reply(
    incoming: Incoming,
    type: number,
    subnet: ServedSubnet,
    client: DhcpClientInfo,
    binding: Binding,
    stage: FirstStage | undefined,
    observe: (event: Omit<DhcpObservation, 'mode' | 'port' | 'client' | 'relay'>) => void,
    inform = false,
  ): Outgoing {
    const { packet } = incoming;
    const reply = this.#skeleton(packet, type, subnet);
    if (!inform) {
      reply.yiaddr = binding.address;
      const lease = binding.leaseSeconds;
      // RFC 2131 §4.4.5 defaults: T1 = 0.5, T2 = 0.875 of the lease, so T1 < T2 < lease.
      reply.options.set(51, u32(lease));
      reply.options.set(58, u32(Math.floor(lease / 2)));
      reply.options.set(59, u32(Math.floor((lease * 7) / 8)));
    } else {
      reply.ciaddr = packet.ciaddr;
    }
    reply.options.set(1, ips(intToIp(maskOf(binding.prefixLength))));
    if (binding.gateway) reply.options.set(3, ips(binding.gateway));
    if (binding.dnsServers?.length) reply.options.set(6, ips(...binding.dnsServers));
    if (binding.hostname) reply.options.set(12, text(binding.hostname));
    if (subnet.config.domainName) reply.options.set(15, text(subnet.config.domainName));
    if (stage) {
      this.#addBoot(reply, packet, subnet, stage);
      // iPXE waits for ProxyDHCP offers unless told there are none; we are its boot server here.
      if (client.client === 'ipxe' && this.#o.ipxeNoProxyWait) reply.options.set(175, Buffer.from([176, 1, 1]));
    }
    const step = type === MessageType.Offer ? 'offer' : 'ack';
    observe({ step, address: inform ? packet.ciaddr : binding.address, ...(stage ? { bootFile: stage.file } : {}) });
    this.#o.count(`sent.${step}`);
    return { packet: reply, ...this.#destination(packet, reply), subnet, maxLength: maxReply(packet) };
  }

  #nak(incoming: Incoming, subnet: ServedSubnet, observe: (event: Omit<DhcpObservation, 'mode' | 'port' | 'client' | 'relay'>) => void, reason: string): Outgoing {
    const reply = this.#skeleton(incoming.packet, MessageType.Nak, subnet);
    reply.options.set(56, text(reason));
    // RFC 2131 §4.3.2: a relayed NAK asks the relay to broadcast it.
    if (reply.giaddr !== ZERO) reply.flags |= BROADCAST_FLAG;
    observe({ step: 'nak', reason });
    this.#o.count('sent.nak');
    return { packet: reply, ...this.#destination(incoming.packet, reply), subnet, maxLength: DEFAULT_MAX_REPLY };
  }

  #skeleton(request: DhcpPacket, type: number, subnet: ServedSubnet): DhcpPacket {
    const options = new Map<number, Buffer>([
      [53, u8(type)],
      [54, ips(subnet.config.serverAddress)],
    ]);
    return {
      op: 2,
      htype: request.htype,
      hlen: request.hlen,
      hops: 0,
      xid: request.xid,
      secs: 0,
      flags: request.flags,
      ciaddr: ZERO,
      yiaddr: ZERO,
      siaddr: ZERO,
      giaddr: request.giaddr,
      chaddr: request.chaddr,
      sname: '',
      file: '',
      options,
    };
  }

  #addBoot(reply: DhcpPacket, request: DhcpPacket, subnet: ServedSubnet, stage: FirstStage): void {
    // iPXE ignores a ProxyDHCP offer whose siaddr is 0 ("Nothing to boot").
    reply.siaddr = subnet.config.serverAddress;
    if (stage.file) {
      // The header field holds 127 bytes; option 67 carries longer URLs (iPXE and UEFI read it).
      if (Buffer.byteLength(stage.file, 'latin1') < 128) reply.file = stage.file;
      reply.options.set(67, text(stage.file));
    }
    reply.options.set(60, text(stage.vendorClass));
    if (stage.vendorOptions) reply.options.set(43, stage.vendorOptions);
    if (stage.kind === 'rpi') reply.options.set(66, text(subnet.config.serverAddress));
    const guid = request.options.get(97);
    if (guid) reply.options.set(97, guid);
  }

  /** RFC 2131 §4.1: relay → giaddr:67; NAK → broadcast; ciaddr → unicast; else broadcast. */
  #destination(request: DhcpPacket, reply: DhcpPacket): { address: string; port: number } {
    if (request.giaddr !== ZERO) return { address: request.giaddr, port: RELAY_PORT };
    if (optionU8(reply, 53) === MessageType.Nak) return { address: BROADCAST, port: CLIENT_PORT };
    if (request.ciaddr !== ZERO) return { address: request.ciaddr, port: CLIENT_PORT };
    // Unicast to yiaddr before the client has it needs an ARP entry we cannot add from Node, so a
    // client without the broadcast flag is answered by broadcast too (allowed by §4.1).
    return { address: BROADCAST, port: CLIENT_PORT };
  }

  /** The PXE boot server answers the source of the request (the client has an address by now). */
  #proxyDestination(incoming: Incoming): { address: string; port: number } {
    const { packet, source } = incoming;
    if (packet.giaddr !== ZERO) return { address: packet.giaddr, port: RELAY_PORT };
    if (source.address !== ZERO) return { address: source.address, port: source.port };
    return { address: BROADCAST, port: CLIENT_PORT };
  }

  /**
   * Which of our subnets a request belongs to, or why none: relayed → by giaddr; with ciaddr → by
   * ciaddr; direct broadcasts → the one local subnet, else by the client's reservation. Without
   * IP_PKTINFO (not in Node's dgram) the ingress interface is unknown, so with several local subnets
   * and nothing else to go by the request is dropped ("ambiguous-ingress").
   */
  async #subnetFor(incoming: Incoming, lookUp: () => Promise<DhcpReservation | null>): Promise<ServedSubnet | string> {
    const { packet } = incoming;
    const served = this.#o.subnets;
    const holding = (address: string, candidates: readonly ServedSubnet[]) => candidates.find((s) => contains(s.net, safeIp(address)));
    if (packet.giaddr !== ZERO) return holding(packet.giaddr, served) ?? 'relay-from-foreign-network';
    if (packet.ciaddr !== ZERO) return holding(packet.ciaddr, served) ?? 'foreign-network';
    const local = served.filter((s) => s.local);
    if (local.length === 0) return 'no-local-subnet';
    if (local.length === 1) return local[0]!;
    if (incoming.localAddress) {
      const byServer = local.filter((s) => s.config.serverAddress === incoming.localAddress);
      if (byServer.length === 1) return byServer[0]!;
    }
    if (this.#o.mode !== 'proxy') {
      const claim = await lookUp();
      const bySubnet = claim ? holding(claim.address, local) : undefined;
      if (bySubnet) return bySubnet;
    }
    this.#o.count('dropped.ambiguous-ingress');
    return 'ambiguous-ingress';
  }

  async #reservation(mac: string, signal: AbortSignal): Promise<DhcpReservation | null> {
    if (this.#o.mode === 'proxy') return null;
    try {
      const timeout = AbortSignal.timeout(this.#o.hookTimeoutMs ?? 2_000);
      return await this.#o.hooks.reservation(mac, AbortSignal.any([signal, timeout]));
    } catch (error) {
      this.#o.count('hook-errors');
      this.#o.logger.warn({ err: error, mac }, 'the reservation hook failed; treating the machine as unknown');
      return null;
    }
  }

  #fromClaim(claim: DhcpReservation, subnet: ServedSubnet): Binding {
    const binding: Binding = {
      address: claim.address,
      prefixLength: claim.prefixLength,
      leaseSeconds: claim.leaseSeconds ?? subnet.config.leaseSeconds,
      source: 'reservation',
    };
    const gateway = claim.gateway ?? subnet.config.gateway;
    const dns = claim.dnsServers ?? subnet.config.dnsServers;
    if (gateway) binding.gateway = gateway;
    if (dns) binding.dnsServers = dns;
    if (claim.hostname) binding.hostname = claim.hostname;
    return binding;
  }

  #fromPool(address: string, subnet: ServedSubnet): Binding {
    const binding: Binding = { address, prefixLength: subnet.net.prefixLength, leaseSeconds: subnet.config.leaseSeconds, source: 'pool' };
    if (subnet.config.gateway) binding.gateway = subnet.config.gateway;
    if (subnet.config.dnsServers) binding.dnsServers = subnet.config.dnsServers;
    return binding;
  }

  #drop(reason: string): undefined {
    this.#o.count(`dropped.${reason}`);
    return undefined;
  }

  #observe(event: DhcpObservation): void {
    try {
      this.#o.hooks.observe(event);
    } catch (error) {
      this.#o.logger.error({ err: error }, 'the DHCP observe hook threw');
    }
  }
}

/** Option 57, clamped to what every path carries (576-byte datagrams) and one Ethernet frame. */
function maxReply(request: DhcpPacket): number {
  const asked = optionU16(request, 57);
  return asked === undefined ? DEFAULT_MAX_REPLY : Math.min(Math.max(asked - 28, DEFAULT_MAX_REPLY), 1472);
}

function safeIp(address: string): number {
  try {
    return ipToInt(address);
  } catch {
    return -1;
  }
}

export function servedSubnet(config: DhcpSubnet, localAddresses: ReadonlySet<string>): ServedSubnet {
  const net = parseCidr(config.cidr);
  const local = [...localAddresses].some((address) => contains(net, ipToInt(address)));
  let pool: Pool | undefined;
  if (config.range) {
    const start = ipToInt(config.range.start);
    const end = ipToInt(config.range.end);
    if (end < start || !contains(net, start) || !contains(net, end)) throw new Error(`DHCP range ${config.range.start}–${config.range.end} is not inside ${config.cidr}`);
    if (end - start + 1 > 65_536) throw new Error(`DHCP range ${config.range.start}–${config.range.end} is larger than 65,536 addresses`);
    pool = { start, end, exclude: new Set([ipToInt(config.serverAddress), net.network, (net.network | ~net.mask) >>> 0]) };
  }
  return { config, net, local, ...(pool ? { pool } : {}) };
}
