import { ConflictError } from '../errors.js';
import { conditionOf, setCondition } from '../model/conditions.js';
import type { Condition, Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';

type Derived = Omit<Condition, 'lastTransitionTime'>;

export interface ConditionAges {
  /** No contact for longer than this: `Ready=False`. */
  readonly staleAfterMs: number;
  /** No inventory report for longer than this: `InventoryStale=True`. */
  readonly inventoryMaxAgeMs: number;
}

/** The Ready condition a machine should have at `now`, from when it was last heard from. */
export function readinessOf(machine: Machine, now: Date, staleAfterMs: number): Derived {
  if (!machine.lastSeenAt) return { type: 'Ready', status: 'False', reason: 'NeverSeen', message: 'no contact recorded yet' };
  const age = now.getTime() - Date.parse(machine.lastSeenAt);
  return age <= staleAfterMs
    ? { type: 'Ready', status: 'True', reason: 'Seen', message: `last contact ${machine.lastSeenAt}` }
    : { type: 'Ready', status: 'False', reason: 'NotSeen', message: `no contact since ${machine.lastSeenAt}` };
}

/** Whether the hardware inventory is too old to trust (or was never reported). */
export function inventoryStalenessOf(machine: Machine, now: Date, maxAgeMs: number): Derived {
  if (!machine.inventoryReportedAt) {
    return { type: 'InventoryStale', status: 'True', reason: 'NeverReported', message: 'no inventory reported yet (boot the registration image)' };
  }
  const age = now.getTime() - Date.parse(machine.inventoryReportedAt);
  return age <= maxAgeMs
    ? { type: 'InventoryStale', status: 'False', reason: 'Reported', message: `inventory reported ${machine.inventoryReportedAt}` }
    : { type: 'InventoryStale', status: 'True', reason: 'Old', message: `inventory last reported ${machine.inventoryReportedAt}` };
}

/**
 * Sets `Ready` (some contact — DHCP, TFTP, HTTP, the agent, an OS plugin — more recent than
 * `staleAfterMs`) and `InventoryStale` (inventory older than `inventoryMaxAgeMs`) on every
 * machine whose status for either changed. Retired machines are left alone. Returns the
 * ids it changed.
 */
export async function refreshMachineConditions(store: Store, now: Date, ages: ConditionAges): Promise<string[]> {
  const changed: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.machines.list({ limit: 500, ...(after ? { after } : {}) });
    for (const machine of page.items) {
      if (machine.phase === 'retired') continue;
      const derived = [readinessOf(machine, now, ages.staleAfterMs), inventoryStalenessOf(machine, now, ages.inventoryMaxAgeMs)];
      const differing = derived.filter((d) => conditionOf(machine.conditions, d.type)?.status !== d.status);
      if (differing.length === 0) continue;
      try {
        // Based on what was read: a concurrent change to the conditions wins, and the next round retries.
        const conditions = differing.reduce<Condition[]>((all, d) => setCondition(all, d, now), [...machine.conditions]);
        await store.machines.update(machine.id, { conditions }, machine.resourceVersion);
        changed.push(machine.id);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    if (!page.next) return changed;
    after = page.next;
  }
}
