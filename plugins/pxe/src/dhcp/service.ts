import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { BootServiceStatus, Logger } from '@metalplane/core';
import type { PxeConfig } from '../config.js';
import { DEFAULT_IPXE_FILES, type IpxeFileNames } from './boot.js';
import { DhcpDecodeError, DhcpEncodeError, decode, encode } from './codec.js';
import { LeaseStore } from './leases.js';
import { BROADCAST } from './net.js';
import { DhcpResponder, servedSubnet, type DhcpHooks, type Incoming, type ServedSubnet } from './responder.js';

/** The plugin's `dhcp` config, plus what the DHCP answers point at. */
export type DhcpServiceConfig = PxeConfig['dhcp'] & {
  /** scheme://host:port of the HTTP server machines boot from. */
  httpBaseUrl: string;
  /** First-stage file names; defaults to {@link DEFAULT_IPXE_FILES}. */
  ipxeFiles?: Partial<IpxeFileNames>;
};

export interface DhcpServiceOptions {
  config: DhcpServiceConfig;
  hooks: DhcpHooks;
  logger: Logger;
}

/** Requests being answered at once; more are dropped ("overload") rather than queued without bound. */
const MAX_IN_FLIGHT = 256;

interface Listener {
  socket: Socket;
  service: 'dhcp' | 'proxy';
  address: string;
  port: number;
  error?: string;
}

/**
 * The DHCP service of the PXE plugin: `proxy`, `reservation`, `full` or `off` (see DESIGN "Boot").
 *
 * Sockets: Node's dgram cannot receive broadcasts on a socket bound to one address, so the
 * service binds 0.0.0.0:67 (and 0.0.0.0:4011 in proxy mode) — it hears every interface of its
 * network namespace, and only the configured subnets limit what it answers. For each of our
 * addresses that is a subnet's server address it also binds serverAddress:67 (SO_REUSEADDR):
 * Linux sends a limited broadcast (255.255.255.255) out of the interface that owns the socket's
 * source address, so replies to a subnet leave by that subnet's interface and carry the server
 * identifier as source. Unicasts to that address arrive on it too.
 *
 * Robustness: a datagram that does not decode is counted under `dropped.<reason>` and logged at
 * debug level; nothing a client sends can throw out of the socket handler.
 */
export class DhcpService {
  readonly counters: Record<string, number> = {};
  readonly #config: DhcpServiceConfig;
  readonly #hooks: DhcpHooks;
  readonly #logger: Logger;
  readonly #listeners: Listener[] = [];
  #replySockets = new Map<string, Socket>();
  #responder: DhcpResponder | undefined;
  #subnets: ServedSubnet[] = [];
  #stopping = new AbortController();
  #inFlight = 0;
  #running = false;

  constructor(options: DhcpServiceOptions) {
    this.#config = options.config;
    this.#hooks = options.hooks;
    this.#logger = options.logger.child({ service: 'dhcp' });
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (this.#running) return;
    const config = this.#config;
    if (config.mode === 'off') return;
    this.#stopping = new AbortController();
    const localAddresses = localIpv4Addresses();
    this.#subnets = config.subnets.map((subnet) => servedSubnet(subnet, localAddresses));
    let leases: LeaseStore | undefined;
    if (config.mode === 'full') {
      leases = new LeaseStore({ logger: this.#logger, ...(config.leaseFile ? { file: config.leaseFile } : {}) });
      await leases.load();
    }
    this.#responder = new DhcpResponder({
      mode: config.mode,
      subnets: this.#subnets,
      httpBaseUrl: config.httpBaseUrl,
      files: { ...DEFAULT_IPXE_FILES, ...config.ipxeFiles },
      declineSeconds: config.declineSeconds ?? 600,
      ipxeNoProxyWait: config.ipxeNoProxyWait ?? true,
      hooks: this.#hooks,
      ...(leases ? { leases } : {}),
      logger: this.#logger,
      count: (name) => this.#count(name),
    });
    try {
      await this.#listen('dhcp', '0.0.0.0', config.port);
      const serverAddresses = new Set(this.#subnets.map((s) => s.config.serverAddress).filter((a) => localAddresses.has(a)));
      for (const address of serverAddresses) this.#replySockets.set(address, await this.#listen('dhcp', address, config.port));
      if (config.mode === 'proxy') await this.#listen('proxy', '0.0.0.0', config.proxyPort);
      for (const subnet of this.#subnets) {
        if (subnet.local && !serverAddresses.has(subnet.config.serverAddress)) {
          this.#logger.warn({ subnet: subnet.config.cidr, serverAddress: subnet.config.serverAddress }, 'the server address of a local subnet is not ours; broadcast replies leave by the default route');
        }
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.#running = true;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.#logger.info({ mode: config.mode, subnets: this.#subnets.map((s) => ({ cidr: s.config.cidr, local: s.local })) }, 'DHCP service started');
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#running = false;
    const closing = this.#listeners.splice(0).map((l) => new Promise<void>((resolve) => {
      try {
        l.socket.close(() => resolve());
      } catch {
        resolve(); // never bound, or already closed
      }
    }));
    this.#replySockets = new Map();
    await Promise.all(closing);
  }

  status(): BootServiceStatus[] {
    const mode = this.#config.mode;
    if (mode === 'off') return [{ protocol: 'dhcp', listen: '-', mode, healthy: true, detail: 'DHCP is off' }];
    if (this.#listeners.length === 0) return [{ protocol: 'dhcp', listen: `0.0.0.0:${this.#config.port}`, mode, healthy: false, detail: 'not running' }];
    return this.#listeners.map((l) => ({
      protocol: l.service === 'proxy' ? 'proxydhcp' : 'dhcp',
      listen: `${l.address}:${l.port}`,
      mode,
      healthy: l.error === undefined,
      ...(l.error ? { detail: l.error } : {}),
    }));
  }

  #listen(service: Listener['service'], address: string, port: number): Promise<Socket> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const listener: Listener = { socket, service, address, port };
    this.#listeners.push(listener);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port }, () => {
        socket.off('error', reject);
        socket.setBroadcast(true);
        socket.on('error', (error) => {
          listener.error = error.message;
          this.#logger.error({ err: error, address, port }, 'DHCP socket error');
        });
        socket.on('message', (message, remote) => this.#receive(listener, message, remote));
        resolve(socket);
      });
    });
  }

  #receive(listener: Listener, message: Buffer, remote: RemoteInfo): void {
    this.#count('received');
    if (this.#inFlight >= MAX_IN_FLIGHT) return this.#count('dropped.overload');
    let packet;
    try {
      packet = decode(message);
    } catch (error) {
      const reason = error instanceof DhcpDecodeError ? error.reason : 'undecodable';
      this.#count(`dropped.${reason}`);
      this.#logger.debug({ from: `${remote.address}:${remote.port}`, bytes: message.length, reason, detail: (error as Error).message }, 'dropped a malformed DHCP packet');
      return;
    }
    const responder = this.#responder;
    if (!responder) return;
    const incoming: Incoming = {
      packet,
      service: listener.service,
      port: listener.port,
      source: { address: remote.address, port: remote.port },
      ...(listener.address !== '0.0.0.0' ? { localAddress: listener.address } : {}),
    };
    this.#inFlight++;
    responder
      .handle(incoming, this.#stopping.signal)
      .then((outgoing) => {
        if (!outgoing || this.#stopping.signal.aborted) return;
        let data: Buffer;
        try {
          data = encode(outgoing.packet, outgoing.maxLength);
        } catch (error) {
          if (!(error instanceof DhcpEncodeError)) throw error;
          this.#count('dropped.reply-too-large');
          this.#logger.warn({ err: error, mac: packet.chaddr.subarray(0, packet.hlen).toString('hex') }, 'cannot encode a DHCP reply');
          return;
        }
        const socket = this.#socketFor(listener, outgoing.subnet, outgoing.address);
        socket.send(data, outgoing.port, outgoing.address, (error) => {
          if (!error) return;
          this.#count('send-errors');
          this.#logger.warn({ err: error, to: `${outgoing.address}:${outgoing.port}` }, 'cannot send a DHCP reply');
        });
      })
      .catch((error: unknown) => {
        this.#count('dropped.internal-error');
        this.#logger.error({ err: error }, 'DHCP request handling failed');
      })
      .finally(() => this.#inFlight--);
  }

  /** The reply leaves from the subnet's server address when that is ours (required for broadcasts). */
  #socketFor(listener: Listener, subnet: ServedSubnet, address: string): Socket {
    if (listener.service === 'proxy' && address !== BROADCAST) return listener.socket;
    return this.#replySockets.get(subnet.config.serverAddress) ?? this.#listeners[0]!.socket;
  }

  #count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }
}

function localIpv4Addresses(): Set<string> {
  const found = new Set<string>();
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) found.add(a.address);
  }
  return found;
}
