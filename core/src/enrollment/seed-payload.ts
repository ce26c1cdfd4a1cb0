import { Type, type Static } from '@sinclair/typebox';
import type { DiskType, HardwareInventory } from '../model/hardware.js';

const Str = Type.Optional(Type.String({ maxLength: 1024 }));
const Int = Type.Optional(Type.Integer({ minimum: 0 }));
const Num = Type.Optional(Type.Number({ minimum: 0 }));

/**
 * The enrollment payload of the seed project (metal-enrollment's `EnrollmentRequest`),
 * accepted as is so its registration images work unchanged. Field names are theirs.
 */
export const SeedHardwareSchema = Type.Object(
  {
    manufacturer: Str,
    model: Str,
    serial_number: Str,
    bios_version: Str,
    cpu: Type.Optional(
      Type.Object(
        { model: Str, cores: Int, threads: Int, sockets: Int, max_freq_mhz: Int, architecture: Str },
        { additionalProperties: false },
      ),
    ),
    memory: Type.Optional(
      Type.Object(
        {
          total_bytes: Int,
          total_gb: Num,
          modules: Type.Optional(
            Type.Union([
              Type.Null(),
              Type.Array(
                Type.Object({ slot: Str, size_bytes: Int, type: Str, speed: Int }, { additionalProperties: false }),
                { maxItems: 256 },
              ),
            ]),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    disks: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Array(
          Type.Object(
            { device: Str, model: Str, size_bytes: Int, size_gb: Num, type: Str, serial: Str, wwn: Str, rotational: Type.Optional(Type.Boolean()) },
            { additionalProperties: false },
          ),
          { maxItems: 256 },
        ),
      ]),
    ),
    nics: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Array(
          Type.Object(
            { name: Str, mac_address: Str, driver: Str, speed: Str, pci_address: Str, link_status: Str },
            { additionalProperties: false },
          ),
          { maxItems: 256 },
        ),
      ]),
    ),
    gpus: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Array(
          Type.Object({ model: Str, vendor: Str, pci_address: Str, memory_bytes: Int }, { additionalProperties: false }),
          { maxItems: 64 },
        ),
      ]),
    ),
    raw_data: Type.Optional(Type.Union([Type.Null(), Type.Record(Type.String(), Type.Unknown())])),
  },
  { additionalProperties: false },
);

export const SeedEnrollmentSchema = Type.Object(
  {
    service_tag: Type.Optional(Type.String({ maxLength: 256 })),
    mac_address: Type.String({ minLength: 1, maxLength: 64 }),
    hardware: Type.Optional(SeedHardwareSchema),
  },
  { additionalProperties: false },
);
export type SeedEnrollment = Static<typeof SeedEnrollmentSchema>;
export type SeedHardware = Static<typeof SeedHardwareSchema>;

/** "1Gbps", "10 Gb/s", "1000Mb/s", "100Mbps" -> Mbit/s. */
export function parseLinkSpeed(text: string | undefined): number | undefined {
  const match = text?.trim().match(/^(\d+(?:\.\d+)?)\s*([GM])b(?:ps|\/s|it\/s)?$/i);
  if (!match) return undefined;
  const value = Number(match[1]) * (match[2]!.toUpperCase() === 'G' ? 1000 : 1);
  return Math.round(value);
}

function diskType(type: string | undefined, rotational: boolean | undefined, device: string | undefined): DiskType {
  const t = type?.toLowerCase();
  if (t === 'nvme' || device?.startsWith('nvme')) return 'nvme';
  if (t === 'ssd') return 'ssd';
  if (t === 'hdd') return 'hdd';
  if (rotational === true) return 'hdd';
  if (rotational === false) return 'ssd';
  return 'unknown';
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== '')) as T;
}

/** Maps the seed's hardware document to our typed inventory; `normalizeMac` decides which NICs survive. */
export function inventoryFromSeed(hardware: SeedHardware, normalizeMac: (mac: string) => string | null): HardwareInventory {
  const inventory: HardwareInventory = {};
  const system = definedOnly({
    manufacturer: hardware.manufacturer,
    product: hardware.model,
    serial: hardware.serial_number,
    biosVersion: hardware.bios_version,
  });
  if (Object.keys(system).length > 0) inventory.system = system;
  if (hardware.cpu) {
    inventory.cpu = definedOnly({
      model: hardware.cpu.model,
      architecture: hardware.cpu.architecture,
      sockets: hardware.cpu.sockets,
      cores: hardware.cpu.cores,
      threads: hardware.cpu.threads,
      maxFrequencyMhz: hardware.cpu.max_freq_mhz,
    });
  }
  if (hardware.memory) {
    inventory.memory = definedOnly({
      totalBytes: hardware.memory.total_bytes,
      modules: hardware.memory.modules?.map((m) => definedOnly({ slot: m.slot, sizeBytes: m.size_bytes, type: m.type, speedMhz: m.speed })),
    });
  }
  if (hardware.disks) {
    inventory.disks = hardware.disks.map((d) =>
      definedOnly({
        name: d.device?.replace(/^\/dev\//, ''),
        type: diskType(d.type, d.rotational, d.device?.replace(/^\/dev\//, '')),
        sizeBytes: d.size_bytes,
        model: d.model,
        serial: d.serial,
        wwn: d.wwn,
      }),
    );
  }
  if (hardware.nics) {
    inventory.nics = hardware.nics.flatMap((n) => {
      const mac = n.mac_address ? normalizeMac(n.mac_address) : null;
      if (!mac) return [];
      const link = n.link_status === 'up' || n.link_status === 'down' ? n.link_status : undefined;
      return [definedOnly({ name: n.name, mac, driver: n.driver, speedMbps: parseLinkSpeed(n.speed), link, pciAddress: n.pci_address })];
    });
  }
  if (hardware.gpus) {
    inventory.gpus = hardware.gpus.map((g) =>
      definedOnly({ vendor: g.vendor, model: g.model, pciAddress: g.pci_address, memoryBytes: g.memory_bytes }),
    );
  }
  return inventory;
}
