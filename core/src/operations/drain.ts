import type { EventBus } from '../events/event-bus.js';
import type { DrainResult, OsProvider } from '../extension-points/os.js';
import { transition } from '../lifecycle/transition.js';
import { setCondition } from '../model/conditions.js';
import type { Machine } from '../model/machine.js';
import { firstNonNull } from '../plugins/service-ref.js';
import type { Store } from '../store/store.js';

export interface DrainRequest {
  readonly actor: string;
  readonly reason?: string | null;
  readonly signal?: AbortSignal;
}

export interface DrainOutcome {
  readonly machine: Machine;
  readonly result: DrainResult;
}

/**
 * `maintenance -> draining`, then asks the OS extension point to move workloads off the
 * machine. The outcome is recorded as the `Drained` condition. A successful drain (or no
 * OS plugin managing the machine: nothing to drain) continues to `offline`; a failed one
 * leaves the machine `draining` for the operator to look at or retry.
 */
export async function drainMachine(
  store: Store,
  events: EventBus,
  osProviders: readonly OsProvider[],
  machineId: string,
  request: DrainRequest,
): Promise<DrainOutcome> {
  const signal = request.signal ?? new AbortController().signal;
  let machine = await transition(store, events, machineId, { transition: 'drain', actor: request.actor, reason: request.reason ?? null });
  let result: DrainResult;
  try {
    result = (await firstNonNull(osProviders, (p) => p.drain(machine, signal))) ?? {
      drained: true,
      detail: 'no OS plugin manages this machine: nothing to drain',
    };
  } catch (error) {
    result = { drained: false, detail: error instanceof Error ? error.message : String(error) };
  }
  const current = await store.machines.require(machine.id);
  machine = await store.machines.update(
    machine.id,
    {
      conditions: setCondition(current.conditions, {
        type: 'Drained',
        status: result.drained ? 'True' : 'False',
        reason: result.drained ? 'Drained' : 'DrainFailed',
        ...(result.detail ? { message: result.detail } : {}),
      }),
    },
    current.resourceVersion,
  );
  if (result.drained) {
    machine = await transition(store, events, machine.id, { transition: 'take-offline', actor: request.actor, reason: result.detail ?? 'drained' });
  }
  return { machine, result };
}
