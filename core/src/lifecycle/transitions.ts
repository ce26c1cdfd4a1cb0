import type { Machine } from '../model/machine.js';
import { ActivePhases, MachinePhases, type MachinePhase } from './phases.js';

/** What a guard sees: the machine as stored and the request to move it. */
export interface TransitionContext {
  readonly machine: Machine;
  readonly reason: string | null;
  readonly actor: string;
}

/** A guard returns null to allow, or the reason it refuses. */
export type TransitionGuard = (context: TransitionContext) => string | null;

export interface TransitionDefinition {
  readonly name: string;
  readonly from: readonly MachinePhase[];
  readonly to: MachinePhase;
  readonly description: string;
  readonly guard?: TransitionGuard;
}

const requireReason: TransitionGuard = ({ reason }) =>
  reason && reason.trim().length > 0 ? null : 'a reason is required';

const everyPhaseBut = (...excluded: MachinePhase[]): MachinePhase[] =>
  MachinePhases.filter((p) => !excluded.includes(p));

/**
 * The machine lifecycle: the only way a phase changes. Each row is a named transition
 * with the phases it leaves from, the phase it enters, and an optional guard.
 *
 * ```
 * discovered -> enrolled -> configured -> building -> ready -> provisioning -> deployed
 *                                   \-> provisioning (no image build needed, e.g. Talos)
 * any active phase -> maintenance -> draining -> offline ; offline|maintenance -> enrolled
 * any -> failed (with reason) ; failed -> enrolled (retry) ; any -> retired
 * ```
 */
export const transitionTable = [
  { name: 'enroll', from: ['discovered'], to: 'enrolled', description: 'the machine reported its inventory' },
  { name: 'configure', from: ['enrolled'], to: 'configured', description: 'the machine has an OS and settings assigned' },
  { name: 'build', from: ['configured'], to: 'building', description: 'an image build for the machine started' },
  { name: 'build-succeeded', from: ['building'], to: 'ready', description: 'the image build produced artifacts' },
  {
    name: 'provision',
    from: ['ready', 'configured'],
    to: 'provisioning',
    description: 'the machine is installing its OS (from configured when no image build is needed)',
  },
  { name: 'deploy', from: ['provisioning'], to: 'deployed', description: 'the installed OS reported healthy' },
  {
    name: 'maintain',
    from: ActivePhases,
    to: 'maintenance',
    description: 'taken out of service by an operator',
    guard: requireReason,
  },
  { name: 'drain', from: ['maintenance'], to: 'draining', description: 'workloads are being moved off the machine' },
  { name: 'take-offline', from: ['draining'], to: 'offline', description: 'drained and out of service' },
  {
    name: 'return-to-service',
    from: ['maintenance', 'offline'],
    to: 'enrolled',
    description: 'back in service, to be configured again',
  },
  {
    name: 'fail',
    from: everyPhaseBut('failed', 'retired'),
    to: 'failed',
    description: 'something went wrong; the reason says what',
    guard: requireReason,
  },
  { name: 'retry', from: ['failed'], to: 'enrolled', description: 'an operator retries after a failure' },
  { name: 'retire', from: everyPhaseBut('retired'), to: 'retired', description: 'permanently out of the fleet' },
] as const satisfies readonly TransitionDefinition[];

export type TransitionName = (typeof transitionTable)[number]['name'];

const byName = new Map<string, TransitionDefinition>(transitionTable.map((t) => [t.name, t]));

export function findTransition(name: string): TransitionDefinition | undefined {
  return byName.get(name);
}

/** The transition that leads from `from` to `to`, if the table has one. */
export function transitionBetween(from: MachinePhase, to: MachinePhase): TransitionDefinition | undefined {
  return transitionTable.find((t) => t.to === to && (t.from as readonly MachinePhase[]).includes(from));
}

/** Names of the transitions that may leave `phase` (guards not evaluated). */
export function transitionsFrom(phase: MachinePhase): TransitionName[] {
  return transitionTable.filter((t) => (t.from as readonly MachinePhase[]).includes(phase)).map((t) => t.name);
}
