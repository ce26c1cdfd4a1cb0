import type { HardwareInventory } from '../model/hardware.js';

/** The columns machines are filtered by, derived from the inventory on every write of it. */
export interface InventoryIndex {
  readonly arch: string | null;
  readonly memoryBytes: number | null;
  readonly cpuThreads: number | null;
  /** `,nvme,ssd,`: every disk type present, comma-delimited on both sides for a LIKE match. */
  readonly diskTypes: string;
  readonly gpuCount: number;
}

const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  armv7l: 'arm',
  arm: 'arm',
};

/** `x86_64` and `amd64` are one architecture; so are `aarch64` and `arm64`. */
export function normalizeArch(arch: string): string {
  const lower = arch.trim().toLowerCase();
  return ARCH_ALIASES[lower] ?? lower;
}

export function inventoryIndex(hardware: HardwareInventory): InventoryIndex {
  const types = [...new Set((hardware.disks ?? []).map((d) => d.type).filter((t) => t && t !== 'unknown'))].sort();
  return {
    arch: hardware.cpu?.architecture ? normalizeArch(hardware.cpu.architecture) : null,
    memoryBytes: hardware.memory?.totalBytes ?? null,
    cpuThreads: hardware.cpu?.threads ?? null,
    diskTypes: types.length > 0 ? `,${types.join(',')},` : '',
    gpuCount: hardware.gpus?.length ?? 0,
  };
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
};

/** Kubernetes-style byte quantities: `8Gi`, `512Mi`, `16G`, `1073741824`. Null when not one. */
export function parseByteQuantity(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?)?[bB]?$/.exec(text.trim());
  if (!match) return null;
  const unit = UNITS[(match[2] ?? '').toLowerCase()];
  return unit === undefined ? null : Math.round(Number(match[1]) * unit);
}
