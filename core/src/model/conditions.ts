import type { Condition } from './machine.js';

export const ConditionTypes = ['Ready', 'NetworkUnavailable', 'InventoryStale', 'IdentityAmbiguous', 'Drained'] as const;

/**
 * Returns `conditions` with `update` set. The transition time moves only when the status
 * changes, so it says since when a condition holds, not when it was last checked.
 */
export function setCondition(
  conditions: readonly Condition[],
  update: Omit<Condition, 'lastTransitionTime'>,
  now: Date = new Date(),
): Condition[] {
  const existing = conditions.find((c) => c.type === update.type);
  const lastTransitionTime =
    existing && existing.status === update.status ? existing.lastTransitionTime : now.toISOString();
  const next: Condition = { ...update, lastTransitionTime };
  return existing ? conditions.map((c) => (c === existing ? next : c)) : [...conditions, next];
}

export function conditionOf(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}
