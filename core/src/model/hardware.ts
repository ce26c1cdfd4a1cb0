import { Type, type Static } from '@sinclair/typebox';

/**
 * The typed hardware inventory of a machine. Every field is optional: an inventory is
 * whatever could be learned, and a partial one is still useful.
 */
export const NumaNodeSchema = Type.Object(
  {
    id: Type.Integer({ minimum: 0 }),
    cpus: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
    memoryBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const CpuSchema = Type.Object(
  {
    model: Type.Optional(Type.String()),
    architecture: Type.Optional(Type.String({ description: 'x86_64, aarch64, ...' })),
    sockets: Type.Optional(Type.Integer({ minimum: 0 })),
    cores: Type.Optional(Type.Integer({ minimum: 0 })),
    threads: Type.Optional(Type.Integer({ minimum: 0 })),
    maxFrequencyMhz: Type.Optional(Type.Number({ minimum: 0 })),
    flags: Type.Optional(Type.Array(Type.String(), { description: 'flags of interest: vmx, svm, aes, ...' })),
    numaNodes: Type.Optional(Type.Array(NumaNodeSchema)),
  },
  { additionalProperties: false },
);

export const MemoryModuleSchema = Type.Object(
  {
    slot: Type.Optional(Type.String()),
    sizeBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    type: Type.Optional(Type.String()),
    speedMhz: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const MemorySchema = Type.Object(
  {
    totalBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    hugepages: Type.Optional(
      Type.Object(
        { total: Type.Integer({ minimum: 0 }), sizeBytes: Type.Integer({ minimum: 0 }) },
        { additionalProperties: false },
      ),
    ),
    modules: Type.Optional(Type.Array(MemoryModuleSchema)),
  },
  { additionalProperties: false },
);

export const DiskTypes = ['hdd', 'ssd', 'nvme', 'unknown'] as const;
export const DiskSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'kernel name, e.g. sda, nvme0n1' })),
    type: Type.Optional(Type.Union(DiskTypes.map((t) => Type.Literal(t)))),
    sizeBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    model: Type.Optional(Type.String()),
    serial: Type.Optional(Type.String()),
    wwn: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const NicSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    mac: Type.String({ pattern: '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' }),
    driver: Type.Optional(Type.String()),
    speedMbps: Type.Optional(Type.Integer({ minimum: 0 })),
    link: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('unknown')])),
    pciAddress: Type.Optional(Type.String()),
    numaNode: Type.Optional(Type.Integer()),
    sriov: Type.Optional(
      Type.Object({ totalVfs: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

export const GpuSchema = Type.Object(
  {
    vendor: Type.Optional(Type.String()),
    model: Type.Optional(Type.String()),
    pciId: Type.Optional(Type.String({ description: 'vendor:device, e.g. 10de:2330' })),
    pciAddress: Type.Optional(Type.String()),
    memoryBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const SystemSchema = Type.Object(
  {
    manufacturer: Type.Optional(Type.String()),
    product: Type.Optional(Type.String()),
    serial: Type.Optional(Type.String({ description: 'system serial / service tag (SMBIOS type 1)' })),
    chassisSerial: Type.Optional(Type.String({ description: 'SMBIOS type 3; the service tag on some vendors' })),
    boardSerial: Type.Optional(Type.String({ description: 'SMBIOS type 2' })),
    uuid: Type.Optional(Type.String({ description: 'SMBIOS UUID, lower case' })),
    biosVersion: Type.Optional(Type.String()),
    raspberryPi: Type.Optional(
      Type.Object(
        { model: Type.Optional(Type.String()), serial: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const HardwareInventorySchema = Type.Object(
  {
    system: Type.Optional(SystemSchema),
    cpu: Type.Optional(CpuSchema),
    memory: Type.Optional(MemorySchema),
    disks: Type.Optional(Type.Array(DiskSchema)),
    nics: Type.Optional(Type.Array(NicSchema)),
    gpus: Type.Optional(Type.Array(GpuSchema)),
  },
  { additionalProperties: false },
);

export type HardwareInventory = Static<typeof HardwareInventorySchema>;
export type DiskType = (typeof DiskTypes)[number];
