import { ConflictError, InputError, InvalidTransitionError, staleVersionError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';
import type { MachinePhase } from './phases.js';
import { findTransition, transitionBetween, transitionsFrom, type TransitionDefinition } from './transitions.js';

export interface TransitionRequest {
  /** A transition by name (`maintain`), or the phase to reach (`to: 'maintenance'`); exactly one. */
  readonly transition?: string;
  readonly to?: MachinePhase;
  readonly actor: string;
  readonly reason?: string | null;
  /**
   * The resource version the caller based its decision on. When given, a newer stored
   * version is a ConflictError; when omitted, a concurrent change is retried on fresh data.
   */
  readonly expectedResourceVersion?: number;
}

const RETRIES_WITHOUT_EXPECTED_VERSION = 3;

/**
 * Moves a machine along the lifecycle: checks the transition table and the guard, writes
 * the new phase and the audit row in one transaction, then publishes
 * `machine.transitioned`. A transition counts as progress, so the loop guard's netboot
 * count starts over.
 *
 * @throws InvalidTransitionError when the table or a guard forbids it.
 * @throws ConflictError when `expectedResourceVersion` is stale.
 * @throws NotFoundError when there is no such machine.
 */
export async function transition(
  store: Store,
  events: EventBus,
  machineId: string,
  request: TransitionRequest,
): Promise<Machine> {
  if ((request.transition === undefined) === (request.to === undefined)) {
    throw new InputError('give exactly one of `transition` and `to`', [
      { path: '/transition', message: 'exactly one of transition and to is required' },
    ]);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptTransition(store, events, machineId, request);
    } catch (error) {
      const retry =
        error instanceof ConflictError &&
        request.expectedResourceVersion === undefined &&
        attempt < RETRIES_WITHOUT_EXPECTED_VERSION;
      if (!retry) throw error;
    }
  }
}

async function attemptTransition(
  store: Store,
  events: EventBus,
  machineId: string,
  request: TransitionRequest,
): Promise<Machine> {
  const reason = request.reason ?? null;
  const { machine, definition, from } = await store.transaction(async (tx) => {
    const current = await tx.machines.require(machineId);
    if (request.expectedResourceVersion !== undefined && request.expectedResourceVersion !== current.resourceVersion) {
      throw staleVersionError('machine', machineId, request.expectedResourceVersion, current.resourceVersion);
    }
    const definition = resolve(current, request);
    const refusal = definition.guard?.({ machine: current, reason, actor: request.actor });
    if (refusal) {
      throw new InvalidTransitionError(`${definition.name} of machine ${machineId} refused: ${refusal}`, {
        transition: definition.name,
        from: current.phase,
        to: definition.to,
      });
    }
    await tx.machines.writePhase(machineId, definition.to, current.resourceVersion, {
      ...current.netboot,
      attemptsSinceProgress: 0,
    });
    await tx.machineEvents.append({
      machineId,
      transition: definition.name,
      from: current.phase,
      to: definition.to,
      actor: request.actor,
      reason,
    });
    return { machine: await tx.machines.require(machineId), definition, from: current.phase };
  });
  events.emit('machine.transitioned', {
    machineId,
    transition: definition.name,
    from,
    to: definition.to,
    actor: request.actor,
    reason,
    resourceVersion: machine.resourceVersion,
    at: machine.updatedAt,
  });
  return machine;
}

function resolve(machine: Machine, request: TransitionRequest): TransitionDefinition {
  const allowed = transitionsFrom(machine.phase);
  if (request.transition !== undefined) {
    const definition = findTransition(request.transition);
    if (!definition) {
      throw new InputError(`unknown transition ${request.transition}`, [
        { path: '/transition', message: `unknown transition; from ${machine.phase} the table allows: ${allowed.join(', ') || 'none'}` },
      ]);
    }
    if (!definition.from.includes(machine.phase)) {
      throw new InvalidTransitionError(
        `machine ${machine.id} cannot ${definition.name} from ${machine.phase} (allowed: ${allowed.join(', ') || 'none'})`,
        { transition: definition.name, from: machine.phase, to: definition.to, allowed },
      );
    }
    return definition;
  }
  const to = request.to!;
  const definition = transitionBetween(machine.phase, to);
  if (!definition) {
    throw new InvalidTransitionError(
      `machine ${machine.id} cannot go from ${machine.phase} to ${to} (allowed: ${allowed.join(', ') || 'none'})`,
      { from: machine.phase, to, allowed },
    );
  }
  return definition;
}
