import { Type, type Static } from '@sinclair/typebox';
import { ConflictError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { OsState } from '../extension-points/os.js';
import type { Logger } from '../logger.js';
import { machineMacs, type IdentityKey, type Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';
import { applicableIntent } from './decide.js';
import type { BootPlan } from './plan.js';

/**
 * What a boot service saw a machine do: the steps of its boot timeline. `dhcp.*` are DHCP
 * messages (received or sent), `tftp.*` TFTP transfers, `ipxe.script` an iPXE script served,
 * `http.file` a kernel, initrd or other file served over HTTP, `os.report` the installed OS
 * (or the registration agent) reporting in.
 */
export const BootSteps = [
  'dhcp.discover',
  'dhcp.offer',
  'dhcp.request',
  'dhcp.ack',
  'dhcp.nak',
  'dhcp.release',
  'dhcp.decline',
  'dhcp.inform',
  'dhcp.ignored',
  'tftp.read',
  'tftp.error',
  'tftp.refused',
  'ipxe.script',
  'http.file',
  'os.report',
] as const;
export type BootStep = (typeof BootSteps)[number];

export const BootEventSchema = Type.Object(
  {
    id: Type.String(),
    machineId: Type.String(),
    step: Type.Union(BootSteps.map((s) => Type.Literal(s))),
    /** Step-specific facts: mode and server, file and bytes, plan kind, duration, error. */
    detail: Type.Record(Type.String(), Type.Unknown()),
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type BootEvent = Static<typeof BootEventSchema>;

/** One thing a boot service saw, with the keys it can tell the machine by. */
export interface BootObservation {
  readonly step: BootStep;
  /** Lower case, colon separated. */
  readonly mac?: string;
  /** SMBIOS UUID (DHCP option 97, iPXE `${uuid}`). */
  readonly uuid?: string;
  /** System serial (iPXE `${serial}`). */
  readonly serial?: string;
  /** Raspberry Pi board serial (8 hex digits, from option 97 or the TFTP path prefix). */
  readonly rpiSerial?: string;
  /**
   * Create a `discovered` machine when no machine holds these keys. Boot services set it for
   * network-boot clients (PXE, iPXE, the Pi bootloader), not for every DHCP client on the wire.
   */
  readonly discover?: boolean;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** What the installed OS says about itself (see `OsHealth` of the OS extension point). */
export interface OsReport {
  readonly state: OsState;
  readonly detail?: string;
  /** Who reports: `agent`, `api`, a plugin id. */
  readonly actor: string;
}

export interface BootRecorderSettings {
  /** Netboots without progress before the loop guard holds a machine. */
  readonly loopGuardLimit: number;
  /** Boot events kept per machine; older ones are pruned. */
  readonly timelineLimit: number;
}

/** Plans whose serving is a netboot of something (not a hold, not the local disk). */
const NETBOOT_KINDS: ReadonlySet<BootPlan['kind']> = new Set(['registration', 'kernel', 'script']);

/**
 * Where boot services report what machines do. Records each step on the machine's boot
 * timeline and as its last-seen time, creates a `discovered` machine for an unknown
 * network-boot client, and counts netboots for the loop guard. The boot decision itself is
 * `BootPlanner`'s; this only writes what happened.
 */
export class BootRecorder {
  readonly #store: Store;
  readonly #events: EventBus;
  readonly #settings: BootRecorderSettings;
  readonly #logger: Logger;
  #appends = 0;

  constructor(store: Store, events: EventBus, settings: BootRecorderSettings, logger: Logger) {
    this.#store = store;
    this.#events = events;
    this.#settings = settings;
    this.#logger = logger;
  }

  /**
   * Records one step. Returns the machine it was recorded on, or null when no machine holds
   * the keys and `discover` was not asked (nothing is written then).
   */
  async observe(observation: BootObservation, at: Date = new Date()): Promise<Machine | null> {
    const keys = identityKeys(observation);
    if (keys.length === 0) return null;
    const machine = await this.#findOrDiscover(keys, observation, at);
    if (!machine) return null;
    const detail = { ...observation.detail };
    const event = await this.#store.bootEvents.append(machine.id, observation.step, detail, at);
    await this.#store.machines.touch(machine.id, at);
    // Pruning costs a query; once in a while is enough to keep every timeline bounded.
    if (++this.#appends % 64 === 0) await this.#store.bootEvents.prune(machine.id, this.#settings.timelineLimit);
    this.#events.emit('boot.step', { machineId: machine.id, step: event.step, detail, at: event.at });
    return machine;
  }

  /**
   * Counts a netboot served to the machine under `plan` (a registration image, a kernel or a
   * script handed to iPXE or the Pi firmware): the loop guard's count since the last progress,
   * and the intent's attempts. At the limit the machine is put on hold until an operator
   * re-arms it. Chains, holds and boots from disk are not netboots and are not counted.
   */
  async countNetboot(machineId: string, plan: BootPlan, at: Date = new Date()): Promise<void> {
    if (!NETBOOT_KINDS.has(plan.kind)) return;
    const limit = this.#settings.loopGuardLimit;
    const { attempts, held } = await this.#store.transaction(async (tx) => {
      const machine = await tx.machines.require(machineId);
      const attempts = machine.netboot.attemptsSinceProgress + 1;
      const held = attempts >= limit && !machine.netboot.hold;
      await tx.machines.update(machineId, {
        netboot: {
          ...machine.netboot,
          attemptsSinceProgress: attempts,
          lastNetbootAt: at.toISOString(),
          ...(held ? { hold: { reason: `netbooted ${attempts} times without progress; re-arm to retry`, since: at.toISOString() } } : {}),
        },
      });
      if (plan.intentId) await tx.bootIntents.recordAttempt(plan.intentId);
      return { attempts, held };
    });
    this.#events.emit('machine.netbooted', { machineId, planKind: plan.kind, attempts, ...(plan.intentId ? { intentId: plan.intentId } : {}) });
    if (held) {
      this.#logger.warn({ machineId, attempts }, `machine ${machineId} netbooted ${attempts} times without progress: on hold`);
      this.#events.emit('machine.held', { machineId, reason: `netbooted ${attempts} times without progress` });
    }
  }

  /**
   * The installed OS (or the agent, or an OS plugin's health check) says how the machine is.
   * `installed` is progress: the netboot count starts over and the `once` intent the machine
   * was netbooted under is consumed, so its next boot is from disk. This — never serving a
   * script or a kernel — is what ends a `once` install.
   */
  async reportOs(machineId: string, report: OsReport, at: Date = new Date()): Promise<{ machine: Machine; consumedIntentId: string | null }> {
    const result = await this.#store.transaction(async (tx) => {
      const machine = await tx.machines.require(machineId);
      let consumedIntentId: string | null = null;
      if (report.state === 'installed') {
        const mac = machineMacs(machine)[0] ?? '00:00:00:00:00:00';
        const { chosen } = applicableIntent(await tx.bootIntents.list(), machine, { mac, arch: 'unknown', client: 'http' }, at);
        // Only an intent that was actually served: an OS that was already there consumes nothing.
        if (chosen && chosen.spec.mode === 'once' && chosen.attempts > 0) {
          await tx.bootIntents.consume(chosen.id, at);
          consumedIntentId = chosen.id;
        }
        await tx.machines.update(machineId, { netboot: { ...machine.netboot, attemptsSinceProgress: 0 } });
      }
      await tx.bootEvents.append(machineId, 'os.report', { state: report.state, actor: report.actor, ...(report.detail ? { detail: report.detail } : {}), ...(consumedIntentId ? { consumedIntentId } : {}) }, at);
      await tx.machines.touch(machineId, at);
      return { machine: await tx.machines.require(machineId), consumedIntentId };
    });
    this.#events.emit('machine.os-reported', { machineId, state: report.state, consumedIntentId: result.consumedIntentId });
    return result;
  }

  /** Clears the hold and the netboot count, so the machine netboots again. Idempotent. */
  async rearm(machineId: string, actor: string): Promise<Machine> {
    const machine = await this.#store.transaction(async (tx) => {
      const current = await tx.machines.require(machineId);
      const { hold: _hold, ...rest } = current.netboot;
      return tx.machines.update(machineId, { netboot: { ...rest, attemptsSinceProgress: 0 } });
    });
    this.#events.emit('machine.rearmed', { machineId, actor });
    return machine;
  }

  async #findOrDiscover(keys: IdentityKey[], observation: BootObservation, at: Date): Promise<Machine | null> {
    const [found] = await this.#store.machines.findByIdentity(keys);
    if (found || !observation.discover || !observation.mac) return found ?? null;
    try {
      const created = await this.#store.machines.create({ identity: keys, lastSeenAt: at.toISOString() });
      this.#events.emit('machine.created', { machineId: created.id, phase: created.phase, actor: `boot:${observation.step}` });
      return created;
    } catch (error) {
      // Another request of the same boot created it a moment ago.
      if (!(error instanceof ConflictError)) throw error;
      const [raced] = await this.#store.machines.findByIdentity(keys);
      return raced ?? null;
    }
  }
}

function identityKeys(observation: BootObservation): IdentityKey[] {
  const keys: IdentityKey[] = [];
  if (observation.mac) keys.push({ kind: 'mac', value: observation.mac.toLowerCase() });
  if (observation.uuid) keys.push({ kind: 'smbios-uuid', value: observation.uuid.toLowerCase() });
  if (observation.serial) keys.push({ kind: 'serial', value: observation.serial });
  if (observation.rpiSerial) keys.push({ kind: 'rpi-serial', value: observation.rpiSerial.toLowerCase() });
  return keys;
}
