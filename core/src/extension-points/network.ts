import type { Machine } from '../model/machine.js';
import { createServiceRef } from '../plugins/service-ref.js';

/** What the network should hold for a machine to netboot and be reachable. */
export interface MachineNetworkIntent {
  readonly machine: Machine;
  /** Bound address of the boot NIC, when the machine has one. */
  readonly address?: string;
  /** Where the machine's firmware should find its first boot file. */
  readonly nextServer?: string;
  readonly bootFile?: string;
  readonly vlan?: number;
}

export interface NetworkDrift {
  readonly machineId: string;
  readonly field: string;
  readonly expected: string | null;
  readonly actual: string | null;
}

/**
 * The network a rack sits on (e.g. a RouterOS router): DHCP reservations, PXE
 * next-server/boot file, relays, VLANs.
 *
 * Dispatch: `all` — every provider is told; a failure of one does not stop the others.
 * Called from a reconcile loop, so every method must be idempotent.
 */
export interface NetworkProvider {
  /** Makes the network match the intent; resolves when it does (or already did). */
  ensureMachine(intent: MachineNetworkIntent, signal: AbortSignal): Promise<void>;
  /** Removes what `ensureMachine` created for the machine; only what carries our ownership mark. */
  forgetMachine(machineId: string, signal: AbortSignal): Promise<void>;
  /** Differences between the network and the intents, without changing anything. */
  drift(intents: readonly MachineNetworkIntent[], signal: AbortSignal): Promise<readonly NetworkDrift[]>;
}

export const networkExtensionPoint = createServiceRef<NetworkProvider>()({
  id: 'metalplane.network',
  dispatch: 'all',
  description: 'network configuration for provisioning',
});
