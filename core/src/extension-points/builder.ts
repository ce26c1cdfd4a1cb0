import type { Build, BuildArtifacts } from '../model/build.js';
import type { Machine } from '../model/machine.js';
import { createServiceRef } from '../plugins/service-ref.js';

export interface BuildJob {
  readonly build: Build;
  readonly machine: Machine;
  /** Appends a line to the build's log. */
  log(line: string): void;
}

/**
 * Builds a machine's netboot image (e.g. NixOS).
 *
 * Dispatch: `single` — at most one builder; without one, builds stay `pending`. Core
 * calls `build` once per leased job; a crashed worker's job is leased again, so a build
 * must be safe to run twice. Aborting `signal` cancels the build: reject promptly with
 * the signal's reason and leave no half-written artifact behind.
 */
export interface ImageBuilder {
  build(job: BuildJob, signal: AbortSignal): Promise<BuildArtifacts>;
}

export const builderExtensionPoint = createServiceRef<ImageBuilder>()({
  id: 'metalplane.builder',
  dispatch: 'single',
  description: 'per-machine image builds',
});
