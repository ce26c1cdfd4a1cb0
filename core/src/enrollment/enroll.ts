import { ConflictError, InputError, InvalidTransitionError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { transition } from '../lifecycle/transition.js';
import type { HardwareInventory } from '../model/hardware.js';
import { identityKeyString, normalizeMac, type IdentityKey, type Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';
import { parseRawFacts } from '../inventory/parse-raw-facts.js';
import type { RawFacts } from '../inventory/raw-facts.js';
import { identityKeysFrom } from './identity-keys.js';
import { matchIdentity } from './identity-match.js';
import { setCondition } from '../model/conditions.js';
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
 * Which stored machine the keys mean is `matchIdentity`'s decision. An ambiguous report
 * is enrolled as a machine of its own with the `IdentityAmbiguous` condition, never merged.
 *
 * @throws ConflictError when the report is ambiguous and every key it carries belongs to
 *   another machine, so that no record could hold it.
 */
export async function enrollMachine(store: Store, events: EventBus, input: EnrollmentInput): Promise<EnrollmentResult> {
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

async function enrollOnce(store: Store, events: EventBus, input: EnrollmentInput): Promise<Omit<EnrollmentResult, 'warnings'> & { warnings: string[] }> {
  const candidates = await store.machines.findByIdentity(input.identity);
  const decision = matchIdentity(input.identity, candidates);
  const now = new Date();
  const warnings: string[] = [];
  let machine: Machine;
  let created = false;

  if (decision.kind === 'match') {
    warnings.push(...decision.warnings);
    // A key another machine holds stays with it (a clone's copied UUID): only an operator moves it.
    const heldElsewhere = keysHeldBy(candidates.filter((c) => c !== decision.machine && !decision.absorb.includes(c)));
    const addIdentity = input.identity.filter((k) => !heldElsewhere.has(identityKeyString(k)));
    machine = await store.transaction(async (tx) => {
      await tx.machines.absorb(decision.machine.id, decision.absorb.map((m) => m.id));
      await tx.machines.removeIdentity(decision.machine.id, decision.replace);
      return tx.machines.update(decision.machine.id, { ...(input.hardware ? { hardware: input.hardware } : {}), addIdentity });
    });
    await store.machines.touch(machine.id, now);
  } else {
    // New, or ambiguous: a record of its own, holding only keys no other machine holds.
    // Records DHCP made from this machine's NICs become that record.
    const [own, ...rest] = decision.absorb;
    const taken = keysHeldBy(candidates.filter((c) => !decision.absorb.includes(c)));
    const free = input.identity.filter((k) => !taken.has(identityKeyString(k)));
    if (decision.kind === 'ambiguous') {
      if (free.length === 0) {
        throw new ConflictError(`${decision.reason}; every reported key belongs to another machine`, {
          ambiguous: true,
          machineIds: decision.candidates.map((m) => m.id),
        });
      }
      warnings.push(`identity is ambiguous, enrolled as a separate machine for an operator to resolve: ${decision.reason}`);
    }
    const ambiguity = decision.kind === 'ambiguous' ? decision.reason : null;
    machine = await store.transaction(async (tx) => {
      let record: Machine;
      if (own) {
        await tx.machines.absorb(own.id, rest.map((m) => m.id));
        record = await tx.machines.update(own.id, { ...(input.hardware ? { hardware: input.hardware } : {}), addIdentity: free });
      } else {
        record = await tx.machines.create({ identity: free, ...(input.hardware ? { hardware: input.hardware } : {}) });
      }
      await tx.machines.touch(record.id, now);
      if (ambiguity === null) return tx.machines.require(record.id);
      return tx.machines.update(record.id, {
        conditions: setCondition(
          record.conditions,
          { type: 'IdentityAmbiguous', status: 'True', reason: 'KeysMatchOtherMachines', message: ambiguity },
          now,
        ),
      });
    });
    created = !own;
    if (created) events.emit('machine.created', { machineId: machine.id, phase: machine.phase, actor: input.actor });
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
  return { machine, created, warnings };
}

function keysHeldBy(machines: readonly Machine[]): Set<string> {
  return new Set(machines.flatMap((m) => m.identity.map(identityKeyString)));
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
  return { ...result, warnings: [...ignored, ...result.warnings] };
}

/**
 * Enrolls from the registration agent's raw facts: parses them into the inventory (a
 * garbled file costs a field and a warning, never the enrollment) and the identity keys.
 */
export async function enrollFromRawFacts(store: Store, events: EventBus, facts: RawFacts, actor: string): Promise<EnrollmentResult> {
  const parsed = parseRawFacts(facts);
  const { keys, ignored } = identityKeysFrom(parsed.identity);
  const result = await enrollMachine(store, events, { identity: keys, hardware: parsed.inventory, actor });
  return { ...result, warnings: [...parsed.warnings, ...ignored, ...result.warnings] };
}
