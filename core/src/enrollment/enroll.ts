import { ConflictError, InputError, InvalidTransitionError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { transition } from '../lifecycle/transition.js';
import type { HardwareInventory } from '../model/hardware.js';
import { normalizeMac, type IdentityKey, type Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';
import { identityKeysFrom } from './identity-keys.js';
import { inventoryFromSeed, type SeedEnrollment } from './seed-payload.js';

export interface EnrollmentInput {
  readonly identity: readonly IdentityKey[];
  /** Omitted: keep what is stored. */
  readonly hardware?: HardwareInventory;
  readonly actor: string;
}

export interface EnrollmentResult {
  readonly machine: Machine;
  readonly created: boolean;
  /** Reported keys that were not used, and why (e.g. a placeholder serial). */
  readonly warnings: readonly string[];
}

const ATTEMPTS = 3;

/**
 * Records what a machine reported about itself: finds it by any identity key (creating
 * it when none matches), stores its inventory and new keys, and moves a `discovered`
 * machine to `enrolled`. Enrolling again updates the same record, never a second one.
 *
 * @throws ConflictError when the keys belong to two different machines: that is for an
 *   operator to resolve, never merged silently.
 */
export async function enrollMachine(store: Store, events: EventBus, input: EnrollmentInput): Promise<Omit<EnrollmentResult, 'warnings'>> {
  if (input.identity.length === 0) {
    throw new InputError('no usable identity key (MAC, serial, SMBIOS UUID, Raspberry Pi serial) was reported', [
      { path: '/', message: 'at least one identity key is required' },
    ]);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await enrollOnce(store, events, input);
    } catch (error) {
      // Two first enrollments of one new machine race to create it; the loser finds it next time.
      if (!(error instanceof ConflictError) || error.details['ambiguous'] === true || attempt >= ATTEMPTS) throw error;
    }
  }
}

async function enrollOnce(store: Store, events: EventBus, input: EnrollmentInput): Promise<Omit<EnrollmentResult, 'warnings'>> {
  const matches = await store.machines.findByIdentity(input.identity);
  if (matches.length > 1) {
    throw new ConflictError(`the reported identity matches ${matches.length} machines: ${matches.map((m) => m.id).join(', ')}`, {
      ambiguous: true,
      machineIds: matches.map((m) => m.id),
    });
  }
  const now = new Date().toISOString();
  let machine: Machine;
  let created = false;
  if (matches.length === 0) {
    machine = await store.machines.create({ identity: input.identity, hardware: input.hardware, lastSeenAt: now });
    created = true;
    events.emit('machine.created', { machineId: machine.id, phase: machine.phase, actor: input.actor });
  } else {
    const existing = matches[0]!;
    machine = await store.machines.update(existing.id, {
      ...(input.hardware ? { hardware: input.hardware } : {}),
      addIdentity: input.identity,
    });
    await store.machines.touch(existing.id);
  }
  if (machine.phase === 'discovered') {
    try {
      machine = await transition(store, events, machine.id, { transition: 'enroll', actor: input.actor, reason: 'inventory reported' });
    } catch (error) {
      // A concurrent enrollment of the same machine may have moved it first; that is fine.
      if (!(error instanceof InvalidTransitionError)) throw error;
      machine = await store.machines.require(machine.id);
      if (machine.phase === 'discovered') throw error;
    }
  }
  events.emit('machine.enrolled', { machineId: machine.id, created });
  return { machine, created };
}

/** Enrolls from the seed project's payload (`{ service_tag, mac_address, hardware }`). */
export async function enrollFromSeedPayload(
  store: Store,
  events: EventBus,
  payload: SeedEnrollment,
  actor: string,
): Promise<EnrollmentResult> {
  const mac = normalizeMac(payload.mac_address);
  if (!mac) {
    throw new InputError(`mac_address "${payload.mac_address}" is not a MAC address`, [
      { path: '/mac_address', message: 'must be a MAC address such as 52:54:00:12:34:56' },
    ]);
  }
  const hardware = payload.hardware ? inventoryFromSeed(payload.hardware, normalizeMac) : undefined;
  const macs = [mac, ...(hardware?.nics ?? []).map((n) => n.mac).filter((m) => m !== mac)];
  const { keys, ignored } = identityKeysFrom({
    macs,
    serial: payload.service_tag ?? payload.hardware?.serial_number,
  });
  const result = await enrollMachine(store, events, { identity: keys, ...(hardware ? { hardware } : {}), actor });
  return { ...result, warnings: ignored };
}
