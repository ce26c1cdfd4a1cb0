import { Type, type Static } from '@sinclair/typebox';
import { NotFoundError } from '../errors.js';
import { machineMacs, type IdentityKey, type Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';
import { decideBoot } from './decide.js';
import type { BootPlan, BootRequest } from './plan.js';

export const BootSettingsSchema = Type.Object(
  {
    /** Netboots without progress before the loop guard puts a machine on hold. */
    loopGuardLimit: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
    /** Boot timeline events kept per machine (DHCP, TFTP, HTTP steps); older ones are pruned. */
    timelineLimit: Type.Integer({ minimum: 10, maximum: 100_000, default: 500 }),
    /** The registration image unknown machines boot; paths are relative to the host's boot URL. */
    registration: Type.Object(
      {
        kernel: Type.String({ minLength: 1, default: 'registration/vmlinuz' }),
        initrd: Type.Array(Type.String({ minLength: 1 }), { default: ['registration/initrd.img'] }),
        cmdline: Type.String({ default: 'console=tty0 console=ttyS0,115200' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type BootSettings = Static<typeof BootSettingsSchema>;

/** The settings when the config gives none (the schema's defaults). */
export const defaultBootSettings: BootSettings = {
  loopGuardLimit: 5,
  timelineLimit: 500,
  registration: { kernel: 'registration/vmlinuz', initrd: ['registration/initrd.img'], cmdline: 'console=tty0 console=ttyS0,115200' },
};

export interface PlannedBoot {
  readonly machine: Machine | null;
  readonly plan: BootPlan;
}

/**
 * Gathers what the boot decision needs from the store and asks the pure `decideBoot`.
 * Reads only: serving a plan, counting attempts and consuming intents are the callers'.
 */
export class BootPlanner {
  readonly #store: Store;
  readonly #settings: BootSettings;

  constructor(store: Store, settings: BootSettings = defaultBootSettings) {
    this.#store = store;
    this.#settings = settings;
  }

  /** The plan for a machine that is asking now, found by any key the request carries. */
  async planFor(request: BootRequest, now: Date = new Date()): Promise<PlannedBoot> {
    const keys: IdentityKey[] = [{ kind: 'mac', value: request.mac }];
    if (request.uuid) keys.push({ kind: 'smbios-uuid', value: request.uuid.toLowerCase() });
    if (request.serial) keys.push({ kind: 'serial', value: request.serial });
    const [machine = null] = await this.#store.machines.findByIdentity(keys);
    return { machine, plan: await this.#decide(machine, request, now) };
  }

  /**
   * What would happen if the machine netbooted now, and why ("next-boot"). Without a
   * request, it assumes PXE firmware on the machine's first MAC, so the answer shows the
   * whole path (chain to iPXE, then the plan).
   */
  async planForMachine(machineId: string, request: Partial<Omit<BootRequest, 'mac'>> = {}, now: Date = new Date()): Promise<PlannedBoot> {
    const machine = await this.#store.machines.require(machineId);
    const mac = machineMacs(machine)[0];
    if (!mac) throw new NotFoundError('MAC address of machine', machineId, { reason: 'the machine has no MAC address to boot from' });
    const full: BootRequest = { mac, arch: request.arch ?? 'unknown', client: request.client ?? 'pxe-firmware' };
    return { machine, plan: await this.#decide(machine, full, now) };
  }

  async #decide(machine: Machine | null, request: BootRequest, now: Date): Promise<BootPlan> {
    const [intents, profiles, latestBuild] = await Promise.all([
      this.#store.bootIntents.list(),
      this.#store.bootProfiles.list(),
      machine ? this.#store.builds.latestSucceeded(machine.id) : Promise.resolve(null),
    ]);
    return decideBoot({ machine, request, intents, profiles, latestBuild, settings: this.#settings, now });
  }
}
