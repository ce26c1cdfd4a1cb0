/** Every phase a machine can be in. The transition table is the only way between them. */
export const MachinePhases = [
  'discovered',
  'enrolled',
  'configured',
  'building',
  'ready',
  'provisioning',
  'deployed',
  'maintenance',
  'draining',
  'offline',
  'failed',
  'retired',
] as const;
export type MachinePhase = (typeof MachinePhases)[number];

/** Phases of a machine on its way to (or in) service; maintenance can be entered from these. */
export const ActivePhases = [
  'enrolled',
  'configured',
  'building',
  'ready',
  'provisioning',
  'deployed',
] as const satisfies readonly MachinePhase[];
