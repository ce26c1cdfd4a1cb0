import type { BootProfile } from '../boot/model.js';
import type { BootPlan } from '../boot/plan.js';
import type { Machine } from '../model/machine.js';
import { createServiceRef } from '../plugins/service-ref.js';

export interface DrainResult {
  readonly drained: boolean;
  readonly detail?: string;
}

/** How an installed OS can be: `installed` means it answered in its normal mode (this is what consumes a `once` intent). */
export const OsStates = ['unreachable', 'maintenance', 'installed'] as const;
export type OsState = (typeof OsStates)[number];

export interface OsHealth {
  readonly state: OsState;
  readonly detail?: string;
}

/**
 * An operating system that metalplane installs and manages (e.g. Talos).
 *
 * Dispatch: `first-non-null` — providers are asked in plugin order; the first that does
 * not answer null handles the machine. Null means "not mine" (another OS, or a profile
 * kind this provider does not know). Every method honours `signal`.
 */
export interface OsProvider {
  /**
   * Refines the plan core chose for a profile of this OS (e.g. adds a machine-specific
   * config URL). Called on every netboot of a machine with such a profile; must be fast
   * and side-effect free. Null keeps core's plan.
   */
  resolveBootPlan(machine: Machine, profile: BootProfile, plan: BootPlan, signal: AbortSignal): Promise<BootPlan | null>;
  /**
   * Moves workloads off the machine before maintenance. Idempotent. Null: this provider
   * does not manage the machine.
   */
  drain(machine: Machine, signal: AbortSignal): Promise<DrainResult | null>;
  /** Asks the installed OS how it is. Null: not managed by this provider. */
  health(machine: Machine, signal: AbortSignal): Promise<OsHealth | null>;
}

export const osExtensionPoint = createServiceRef<OsProvider>()({
  id: 'metalplane.os',
  dispatch: 'first-non-null',
  description: 'operating system install and management',
});
