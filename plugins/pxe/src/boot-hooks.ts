import { machineMacs, type BootPlan, type BootPlanner, type BootRecorder, type BootStep, type DirectBootPlan, type Logger, type Store } from '@metalplane/core';
import type { DhcpObservation, DhcpReservation } from './dhcp/index.js';
import type { BootHttpEvent, BootPlanRequest } from './http/index.js';
import type { RpiBootFiles } from './rpi/index.js';
import type { TftpEvent } from './tftp/index.js';

/** How long an address is remembered as a machine's after it last asked for something. */
const ADDRESS_TTL_MS = 30 * 60 * 1000;
/** Addresses remembered at most (a boot storm of a few thousand machines fits). */
const ADDRESS_LIMIT = 8192;

/**
 * TFTP and HTTP file requests carry only the client's IP address; DHCP answers and iPXE script
 * requests tell which MAC was at that address. Remembered for a while, bounded, so a file
 * served can be put on the right machine's timeline.
 */
export class ClientAddresses {
  readonly #byAddress = new Map<string, { mac: string; at: number }>();

  remember(address: string, mac: string, now = Date.now()): void {
    if (!address || address === '0.0.0.0') return;
    this.#byAddress.delete(address);
    this.#byAddress.set(address, { mac, at: now });
    // Insertion order is age order: the first entries are the oldest.
    for (const [oldest] of this.#byAddress) {
      if (this.#byAddress.size <= ADDRESS_LIMIT) break;
      this.#byAddress.delete(oldest);
    }
  }

  macAt(address: string, now = Date.now()): string | undefined {
    const entry = this.#byAddress.get(normalizeAddress(address));
    if (!entry || now - entry.at > ADDRESS_TTL_MS) return undefined;
    return entry.mac;
  }
}

/** `::ffff:10.0.0.5` (a dual-stack socket's view) and `10.0.0.5` are one client. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export interface BootHooksDeps {
  readonly store: Store;
  readonly planner: BootPlanner;
  readonly recorder: BootRecorder;
  readonly logger: Logger;
  /** What machines reach the host at; the registration agent is told it. */
  readonly httpBaseUrl: string;
}

/**
 * What the plugin's services ask core, in one place: the plan (core decides), the machine's
 * bound address (IP claims), and every step for the timeline (the boot recorder). Each
 * recording is fire-and-forget for the services: a failing store is logged, never thrown
 * into a socket handler.
 */
export class BootHooks {
  readonly addresses = new ClientAddresses();
  readonly #deps: BootHooksDeps;

  constructor(deps: BootHooksDeps) {
    this.#deps = deps;
  }

  /** The iPXE script's plan. Records the request (an unknown MAC becomes a discovered machine) and counts the netboot. */
  async plan(request: BootPlanRequest): Promise<{ machineId: string | null; plan: DirectBootPlan }> {
    const { planner, recorder } = this.#deps;
    const { remoteAddress, ...boot } = request;
    const { plan } = await planner.planFor(boot);
    const direct = this.#forAgent(asDirect(plan));
    const machine = await recorder.observe({
      step: 'ipxe.script',
      mac: request.mac,
      ...(request.uuid ? { uuid: request.uuid } : {}),
      ...(request.serial ? { serial: request.serial } : {}),
      discover: true,
      detail: { arch: request.arch, planKind: direct.kind, reason: direct.reason, ...(remoteAddress ? { remoteAddress } : {}) },
    });
    if (remoteAddress) this.addresses.remember(normalizeAddress(remoteAddress), request.mac);
    if (machine) await recorder.countNetboot(machine.id, direct);
    return { machineId: machine?.id ?? null, plan: direct };
  }

  /** The bound IP claim on this MAC, for `reservation`/`full` DHCP answers. */
  async reservation(mac: string): Promise<DhcpReservation | null> {
    const { store } = this.#deps;
    const [machine] = await store.machines.findByIdentity([{ kind: 'mac', value: mac }]);
    const bound = machine?.addresses.find((a) => a.phase === 'bound' && a.address && (a.mac === undefined || a.mac === mac));
    if (!machine || !bound) return null;
    const claim = await store.ipClaims.get(bound.claimId);
    const status = claim?.status;
    if (!status || status.phase !== 'bound' || !status.address || status.prefixLength === undefined) return null;
    return {
      address: status.address,
      prefixLength: status.prefixLength,
      ...(status.gateway ? { gateway: status.gateway } : {}),
      ...(status.dnsServers ? { dnsServers: [...status.dnsServers] } : {}),
      ...(machine.hostname ? { hostname: machine.hostname.split('.')[0]! } : {}),
    };
  }

  dhcp(event: DhcpObservation): void {
    const { client } = event;
    if (event.address && (event.step === 'offer' || event.step === 'ack')) this.addresses.remember(event.address, client.mac);
    this.#record({
      step: `dhcp.${event.step}` as BootStep,
      mac: client.mac,
      ...(client.rpiSerial ? { rpiSerial: client.rpiSerial } : {}),
      // Network-boot clients become machines; a laptop asking the same server does not.
      discover: client.client !== 'other' && event.step === 'discover',
      detail: {
        mode: event.mode,
        port: event.port,
        client: client.client,
        arch: client.arch,
        ...(client.archCode !== undefined ? { archCode: client.archCode } : {}),
        ...(client.vendorClass ? { vendorClass: client.vendorClass } : {}),
        // Option 97 byte order differs between firmwares (iPXE vs EDK2): shown, never matched on.
        ...(client.uuid ? { uuid: client.uuid } : {}),
        ...(event.address ? { address: event.address } : {}),
        ...(event.bootFile ? { bootFile: event.bootFile } : {}),
        ...(event.reason ? { reason: event.reason } : {}),
        ...(event.relay ? { relay: event.relay } : {}),
      },
    });
  }

  tftp(event: TftpEvent): void {
    const rpiSerial = event.meta?.rpiSerial;
    const mac = this.addresses.macAt(event.client.address);
    if (!rpiSerial && !mac) return;
    this.#record({
      step: event.step,
      ...(mac ? { mac } : {}),
      ...(rpiSerial ? { rpiSerial } : {}),
      discover: rpiSerial !== undefined,
      detail: {
        file: event.path,
        client: `${event.client.address}:${event.client.port}`,
        ...(event.bytes !== undefined ? { bytes: event.bytes } : {}),
        ...(event.durationMs !== undefined ? { durationMs: event.durationMs } : {}),
        ...(event.error ? { error: event.error } : {}),
      },
    });
  }

  /** Files served over HTTP (the script request itself is recorded by `plan`). */
  http(event: BootHttpEvent): void {
    if (event.step === 'ipxe.script') {
      if (event.error) this.#deps.logger.warn({ mac: event.mac, error: event.error }, 'boot plan could not be served as it is');
      return;
    }
    const mac = event.mac ?? (event.remoteAddress ? this.addresses.macAt(event.remoteAddress) : undefined);
    if (!mac) return;
    this.#record({
      step: 'http.file',
      mac,
      detail: {
        path: event.path,
        status: event.status,
        ...(event.bytes !== undefined && event.bytes !== null ? { bytes: event.bytes } : {}),
        ...(event.durationMs !== undefined ? { durationMs: event.durationMs } : {}),
      },
    });
  }

  /** Per-board `cmdline.txt` for a known Raspberry Pi whose plan has a command line. */
  async rpiBoot(serial: string): Promise<RpiBootFiles | null> {
    const { store, planner } = this.#deps;
    const [machine] = await store.machines.findByIdentity([{ kind: 'rpi-serial', value: serial }]);
    const mac = machine ? machineMacs(machine)[0] : undefined;
    if (!machine || !mac) return null;
    const plan = this.#forAgent(asDirect((await planner.planFor({ mac, arch: 'rpi', client: 'rpi-firmware', serial })).plan));
    return plan.kind === 'kernel' || plan.kind === 'registration' ? { cmdlineTxt: `${plan.cmdline}\n` } : null;
  }

  /** The registration agent needs to know where to enroll. */
  #forAgent(plan: DirectBootPlan): DirectBootPlan {
    if (plan.kind !== 'registration' || /(^|\s)metalplane\.url=/.test(plan.cmdline)) return plan;
    return { ...plan, cmdline: `${plan.cmdline} metalplane.url=${this.#deps.httpBaseUrl}`.trim() };
  }

  #record(observation: Parameters<BootRecorder['observe']>[0]): void {
    this.#deps.recorder.observe(observation).catch((error: unknown) => {
      this.#deps.logger.warn({ err: error, step: observation.step }, 'could not record a boot step');
    });
  }
}

/** iPXE and the Pi firmware are never handed a chain (core wraps only for PXE firmware). */
function asDirect(plan: BootPlan): DirectBootPlan {
  return plan.kind === 'chain' ? plan.next : plan;
}
