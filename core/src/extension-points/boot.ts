import { createServiceRef } from '../plugins/service-ref.js';

/** One network service a boot plugin runs, for health checks and the dashboard. */
export interface BootServiceStatus {
  /** e.g. `dhcp`, `proxydhcp`, `tftp`, `http`. */
  readonly protocol: string;
  /** Where it listens, e.g. `0.0.0.0:67` or `udp/69`. */
  readonly listen: string;
  /** A mode where the protocol has one, e.g. `proxy`, `reservation`, `full`. */
  readonly mode?: string;
  readonly healthy: boolean;
  readonly detail?: string;
}

/**
 * Boot services (DHCP, TFTP, HTTP boot). A boot plugin opens its sockets in `start` and
 * closes them in `stop`; for every request it asks core's boot planner
 * (`coreServices.bootPlanner`) for a plan and serves exactly that plan — the decision is
 * never made here. A malformed packet is logged at debug level, counted, and dropped:
 * no client input may stop a service.
 *
 * Dispatch: `all` — each loaded boot plugin runs its services; `status` is asked of each.
 */
export interface BootServiceProvider {
  /**
   * What the plugin is serving right now. Called by `/readyz` and the dashboard, at most
   * every few seconds; must answer from memory, without network I/O.
   */
  status(signal: AbortSignal): Promise<readonly BootServiceStatus[]>;
}

export const bootExtensionPoint = createServiceRef<BootServiceProvider>()({
  id: 'metalplane.boot',
  dispatch: 'all',
  description: 'network boot services',
});
