import { Type, type Static } from '@sinclair/typebox';

export const RAW_FACTS_FORMAT = 'metalplane-raw-facts/v1';

/**
 * What the registration agent sends: the machine's own files and command outputs, as
 * they are. The agent interprets nothing (it is a shell script with busybox), so the
 * server-side parser can be fixed and re-run without touching the image.
 *
 * - `files`: absolute path -> content, e.g. `/proc/cpuinfo`, `/sys/class/net/eth0/address`.
 *   Only regular files the agent could read; binary ones (e.g. `/proc/device-tree/serial-number`,
 *   NUL-terminated) with NUL bytes removed.
 * - `links`: absolute path of a symlink -> what `readlink` says, e.g.
 *   `/sys/class/net/eth0/device` -> `../../../0000:03:00.0`,
 *   `/sys/class/net/eth0/device/driver` -> `../../../../bus/pci/drivers/ixgbe`.
 * - `commands`: a command line as run -> its stdout, e.g. `lspci -nn`, `dmidecode -t system`,
 *   `lsblk -b -d -n -o NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN`. Missing commands are absent.
 * - `errors`: what the agent tried and could not do, for the operator to read.
 */
export const RawFactsSchema = Type.Object(
  {
    format: Type.Literal(RAW_FACTS_FORMAT),
    agent: Type.Optional(
      Type.Object(
        { version: Type.String({ maxLength: 64 }), hostname: Type.Optional(Type.String({ maxLength: 253 })) },
        { additionalProperties: false },
      ),
    ),
    files: Type.Record(Type.String({ pattern: '^/', maxLength: 512 }), Type.String({ maxLength: 4 * 1024 * 1024 }), {
      additionalProperties: false,
    }),
    links: Type.Optional(
      Type.Record(Type.String({ pattern: '^/', maxLength: 512 }), Type.String({ maxLength: 4096 }), { additionalProperties: false }),
    ),
    commands: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 4 * 1024 * 1024 }))),
    errors: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
export type RawFacts = Static<typeof RawFactsSchema>;
