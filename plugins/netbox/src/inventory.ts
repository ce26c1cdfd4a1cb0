import {
  ConflictError,
  machineMacs,
  normalizeMac,
  setCondition,
  silentLogger,
  type Logger,
  type Machine,
  type MachineRepository,
} from '@metalplane/core';
import type { NetboxClient } from './client.js';
import { NetboxNotFoundError } from './errors.js';
import type { NetboxInterface, NetboxMacAddress } from './netbox-types.js';

/** Where a MAC lives in NetBox: an interface of a device. */
export interface NetboxInterfaceMatch {
  /** Lower-case, colon separated. */
  readonly mac: string;
  readonly interfaceId: number;
  readonly interfaceName: string;
  readonly deviceId: number;
  readonly deviceName: string;
}

/** What NetBox knows about a machine, by its MACs. */
export interface NetboxMachineReport {
  readonly machineId: string;
  /** True when at least one MAC is on a NetBox device interface and they all point at one device. */
  readonly known: boolean;
  /** The device's name when `known`. */
  readonly device: string | null;
  readonly matches: readonly NetboxInterfaceMatch[];
  /** MACs NetBox has no interface for. */
  readonly unknownMacs: readonly string[];
  /** Several devices claim this machine's MACs: NetBox needs fixing. */
  readonly ambiguous: boolean;
  readonly checkedAt: string;
}

/** The condition type and label this plugin writes on a machine. */
export const NETBOX_CONDITION = 'NetboxKnown';
export const NETBOX_DEVICE_LABEL = 'netbox.device';

/**
 * MAC lookups: `dcim/mac-addresses` on NetBox 4.2+, `dcim/interfaces?mac_address=` on older
 * versions (chosen once, when the first endpoint answers 404).
 */
export class NetboxInterfaces {
  readonly #client: NetboxClient;
  #legacy: boolean | undefined;

  constructor(client: NetboxClient) {
    this.#client = client;
  }

  /** The device interface that has this MAC, or null when NetBox has none (or only on a VM). */
  async byMac(mac: string, signal?: AbortSignal): Promise<NetboxInterfaceMatch | null> {
    const canonical = normalizeMac(mac);
    if (!canonical) return null;
    const query = { mac_address: canonical.toUpperCase() };
    const opts = { query, ...(signal ? { signal } : {}), maxPages: 2 };
    if (this.#legacy !== true) {
      try {
        const found = await this.#client.list<NetboxMacAddress>('/api/dcim/mac-addresses/', opts);
        this.#legacy = false;
        for (const entry of found) {
          if (entry.assigned_object_type !== 'dcim.interface' || entry.assigned_object_id === null) continue;
          if (normalizeMac(entry.mac_address) !== canonical) continue;
          const device = entry.assigned_object?.device;
          if (device && entry.assigned_object?.name !== undefined) {
            return { mac: canonical, interfaceId: entry.assigned_object_id, interfaceName: entry.assigned_object.name, deviceId: device.id, deviceName: device.name };
          }
          const iface = await this.#client.get<NetboxInterface>(`/api/dcim/interfaces/${entry.assigned_object_id}/`, signal ? { signal } : {});
          return { mac: canonical, interfaceId: iface.id, interfaceName: iface.name, deviceId: iface.device.id, deviceName: iface.device.name };
        }
        return null;
      } catch (error) {
        // NetBox before 4.2 has no MAC address model: the endpoint itself is missing.
        if (!(error instanceof NetboxNotFoundError) || this.#legacy === false) throw error;
        this.#legacy = true;
      }
    }
    const interfaces = await this.#client.list<NetboxInterface>('/api/dcim/interfaces/', opts);
    const iface = interfaces.find((i) => i.mac_address && normalizeMac(i.mac_address) === canonical);
    return iface ? { mac: canonical, interfaceId: iface.id, interfaceName: iface.name, deviceId: iface.device.id, deviceName: iface.device.name } : null;
  }
}

/**
 * Inventory validation: looks a machine's MACs up in NetBox, reports whether the machine is
 * known and as which device, and can record that on the machine as the condition
 * `NetboxKnown` (True/False with the reason) and the label `netbox.device=<name>`.
 */
export class NetboxInventory {
  readonly #interfaces: NetboxInterfaces;
  readonly #logger: Logger;

  constructor(interfaces: NetboxInterfaces, logger: Logger = silentLogger) {
    this.#interfaces = interfaces;
    this.#logger = logger;
  }

  async check(machine: Pick<Machine, 'id' | 'identity'>, signal?: AbortSignal): Promise<NetboxMachineReport> {
    const macs = machineMacs(machine).slice(0, 32);
    const matches: NetboxInterfaceMatch[] = [];
    const unknownMacs: string[] = [];
    for (const mac of macs) {
      const match = await this.#interfaces.byMac(mac, signal);
      if (match) matches.push(match);
      else unknownMacs.push(mac);
    }
    const devices = [...new Set(matches.map((m) => m.deviceName))];
    return {
      machineId: machine.id,
      known: devices.length === 1,
      device: devices.length === 1 ? devices[0]! : null,
      matches,
      unknownMacs,
      ambiguous: devices.length > 1,
      checkedAt: new Date().toISOString(),
    };
  }

  /** Checks the machine and writes the result on it (bounded retries on a concurrent update). */
  async record(machines: MachineRepository, machineId: string, signal?: AbortSignal): Promise<{ report: NetboxMachineReport; machine: Machine }> {
    for (let attempt = 1; ; attempt++) {
      const machine = await machines.require(machineId);
      const report = await this.check(machine, signal);
      const labels: Record<string, string> = { ...machine.labels };
      if (report.device) labels[NETBOX_DEVICE_LABEL] = report.device.slice(0, 253);
      else delete labels[NETBOX_DEVICE_LABEL];
      const conditions = setCondition(machine.conditions, conditionFor(report));
      try {
        const updated = await machines.update(machineId, { labels, conditions }, machine.resourceVersion);
        this.#logger.info({ machineId, known: report.known, device: report.device }, 'recorded NetBox inventory check');
        return { report, machine: updated };
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= 5) throw error;
      }
    }
  }
}

function conditionFor(report: NetboxMachineReport): { type: string; status: 'True' | 'False'; reason: string; message: string } {
  if (report.ambiguous) {
    const devices = [...new Set(report.matches.map((m) => m.deviceName))].join(', ');
    return { type: NETBOX_CONDITION, status: 'False', reason: 'AmbiguousDevice', message: `the machine's MACs belong to several NetBox devices: ${devices}` };
  }
  if (report.known) {
    const where = report.matches.map((m) => `${m.interfaceName} (${m.mac})`).join(', ');
    return { type: NETBOX_CONDITION, status: 'True', reason: 'MacFound', message: `NetBox device ${report.device}: ${where}` };
  }
  const macs = report.unknownMacs.join(', ') || 'none known';
  return { type: NETBOX_CONDITION, status: 'False', reason: 'MacNotFound', message: `no NetBox device interface has the machine's MACs (${macs})` };
}

/**
 * Checks machines in the background, one at a time, as they enrol: `add` queues a machine
 * (at most `limit` waiting; more are dropped with a warning, and an operator can check them
 * through the route), `stop` ends the work in flight and waits for it.
 */
export class InventoryQueue {
  readonly #inventory: NetboxInventory;
  readonly #machines: MachineRepository;
  readonly #logger: Logger;
  readonly #limit: number;
  readonly #waiting = new Set<string>();
  readonly #stopped = new AbortController();
  #running: Promise<void> | undefined;

  constructor(inventory: NetboxInventory, machines: MachineRepository, logger: Logger = silentLogger, limit = 1000) {
    this.#inventory = inventory;
    this.#machines = machines;
    this.#logger = logger;
    this.#limit = limit;
  }

  add(machineId: string): void {
    if (this.#stopped.signal.aborted) return;
    if (this.#waiting.size >= this.#limit) {
      this.#logger.warn({ machineId }, 'too many NetBox inventory checks waiting; this one is skipped');
      return;
    }
    this.#waiting.add(machineId);
    this.#kick();
  }

  /** Resolves when nothing is queued or running (for tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped.abort(new Error('the NetBox plugin is stopping'));
    this.#waiting.clear();
    await this.#running;
  }

  #kick(): void {
    if (this.#running || this.#waiting.size === 0 || this.#stopped.signal.aborted) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      this.#kick();
    });
  }

  async #drain(): Promise<void> {
    for (const machineId of this.#waiting) {
      this.#waiting.delete(machineId);
      if (this.#stopped.signal.aborted) return;
      try {
        await this.#inventory.record(this.#machines, machineId, this.#stopped.signal);
      } catch (error) {
        if (this.#stopped.signal.aborted) return;
        this.#logger.warn({ machineId, err: error instanceof Error ? error.message : String(error) }, 'NetBox inventory check failed');
      }
    }
  }
}
