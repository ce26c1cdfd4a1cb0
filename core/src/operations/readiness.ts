import { ConflictError } from '../errors.js';
import { conditionOf, setCondition } from '../model/conditions.js';
import type { Machine } from '../model/machine.js';
import type { Store } from '../store/store.js';

/** The Ready condition a machine should have at `now`, from when it was last heard from. */
export function readinessOf(machine: Machine, now: Date, staleAfterMs: number): { status: 'True' | 'False'; reason: string; message: string } {
  if (!machine.lastSeenAt) return { status: 'False', reason: 'NeverSeen', message: 'no contact recorded yet' };
  const age = now.getTime() - Date.parse(machine.lastSeenAt);
  return age <= staleAfterMs
    ? { status: 'True', reason: 'Seen', message: `last contact ${machine.lastSeenAt}` }
    : { status: 'False', reason: 'NotSeen', message: `no contact since ${machine.lastSeenAt}` };
}

/**
 * Sets `Ready` on every machine whose status changed (a machine is Ready while some
 * contact — DHCP, TFTP, HTTP, the agent, an OS plugin — is more recent than
 * `staleAfterMs`). Retired machines are left alone. Returns the ids it changed.
 */
export async function refreshReadiness(store: Store, now: Date, staleAfterMs: number): Promise<string[]> {
  const changed: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.machines.list({ limit: 500, ...(after ? { after } : {}) });
    for (const machine of page.items) {
      if (machine.phase === 'retired') continue;
      const ready = readinessOf(machine, now, staleAfterMs);
      if (conditionOf(machine.conditions, 'Ready')?.status === ready.status) continue;
      try {
        // Based on what was read: a concurrent change to the conditions wins, and the next round retries.
        await store.machines.update(
          machine.id,
          { conditions: setCondition(machine.conditions, { type: 'Ready', ...ready }, now) },
          machine.resourceVersion,
        );
        changed.push(machine.id);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    if (!page.next) return changed;
    after = page.next;
  }
}
