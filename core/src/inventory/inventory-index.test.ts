import { describe, expect, it } from 'vitest';
import { inventoryIndex, normalizeArch, parseByteQuantity } from './inventory-index.js';

describe('parseByteQuantity', () => {
  it.each([
    ['8Gi', 8 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['16G', 16e9],
    ['1.5Ti', 1.5 * 2 ** 40],
    ['1073741824', 2 ** 30],
    ['64GiB', 64 * 2 ** 30],
    ['4k', 4000],
  ])('%s is %d bytes', (text, bytes) => expect(parseByteQuantity(text)).toBe(bytes));

  it.each(['', 'eight', '8Xi', '-1Gi', '8 Gi extra'])('%j is not a quantity', (text) => expect(parseByteQuantity(text)).toBeNull());
});

describe('inventoryIndex', () => {
  it('derives the filter columns', () => {
    expect(
      inventoryIndex({
        cpu: { architecture: 'x86_64', threads: 128 },
        memory: { totalBytes: 512 * 2 ** 30 },
        disks: [{ type: 'nvme' }, { type: 'ssd' }, { type: 'nvme' }, { type: 'unknown' }],
        gpus: [{ vendor: 'NVIDIA Corporation' }],
      }),
    ).toEqual({ arch: 'amd64', memoryBytes: 512 * 2 ** 30, cpuThreads: 128, diskTypes: ',nvme,ssd,', gpuCount: 1 });
  });

  it('is empty for an empty inventory', () => {
    expect(inventoryIndex({})).toEqual({ arch: null, memoryBytes: null, cpuThreads: null, diskTypes: '', gpuCount: 0 });
  });

  it.each([
    ['aarch64', 'arm64'],
    ['ARM64', 'arm64'],
    ['x86_64', 'amd64'],
    ['riscv64', 'riscv64'],
  ])('normalizes %s to %s', (arch, expected) => expect(normalizeArch(arch)).toBe(expected));
});
