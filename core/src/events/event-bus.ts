import { EventEmitter } from 'eventemitter3';
import type { MachinePhase } from '../lifecycle/phases.js';
import type { Logger } from '../logger.js';

/**
 * Every event core and plugins publish, by name (noun.pastTense) with a serialisable
 * payload. Plugins add theirs by declaration merging:
 *
 * @example
 * declare module '@metalplane/core' {
 *   interface MetalplaneEvents { 'claim.allocated': { claimId: string; address: string } }
 * }
 */
export interface MetalplaneEvents {
  'machine.created': { machineId: string; phase: MachinePhase; actor: string };
  'machine.transitioned': {
    machineId: string;
    transition: string;
    from: MachinePhase;
    to: MachinePhase;
    actor: string;
    reason: string | null;
    resourceVersion: number;
    at: string;
  };
  'machine.enrolled': { machineId: string; created: boolean };
  'machine.updated': { machineId: string; resourceVersion: number };
  'claim.allocated': { claimId: string; pool: string; address: string };
  'claim.released': { claimId: string; pool: string; address: string | null };
  /** A step on a machine's boot timeline (DHCP, TFTP, iPXE script, HTTP file, OS report). */
  'boot.step': { machineId: string; step: string; detail: Record<string, unknown>; at: string };
  /** A netboot was served: the loop guard's count since the last progress. */
  'machine.netbooted': { machineId: string; planKind: string; attempts: number; intentId?: string };
  /** The loop guard (or an operator) put the machine on hold. */
  'machine.held': { machineId: string; reason: string };
  'machine.rearmed': { machineId: string; actor: string };
  /**
   * A boot file the host itself served (the registration image), for boot plugins to put on
   * the timeline of the machine they know at `remoteAddress`.
   */
  'boot.file-served': { path: string; remoteAddress: string; status: number; bytes: number | null; durationMs: number };
  'machine.os-reported': { machineId: string; state: string; consumedIntentId: string | null };
}

export type EventName = keyof MetalplaneEvents;
export type EventListener<K extends EventName> = (payload: MetalplaneEvents[K]) => void | Promise<void>;

/**
 * A typed publish/subscribe bus. Events are notifications: a listener that throws (or
 * rejects) is logged and never affects the publisher or the other listeners.
 */
export class EventBus {
  readonly #emitter = new EventEmitter();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  emit<K extends EventName>(name: K, payload: MetalplaneEvents[K]): void {
    this.#emitter.emit(name, payload);
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends EventName>(name: K, listener: EventListener<K>): () => void {
    const guarded = (payload: MetalplaneEvents[K]): void => {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.#report(name, error));
      } catch (error) {
        this.#report(name, error);
      }
    };
    this.#emitter.on(name, guarded);
    return () => {
      this.#emitter.off(name, guarded);
    };
  }

  removeAllListeners(): void {
    this.#emitter.removeAllListeners();
  }

  #report(name: string, error: unknown): void {
    this.#logger.error({ err: error, event: name }, `listener of ${name} failed`);
  }
}
