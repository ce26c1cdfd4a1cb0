import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BootArchs, normalizeMac, type BootArch, type FieldError } from '@metalplane/core';

const Text = (maxLength: number) => Type.String({ maxLength });

/**
 * The query iPXE sends for its script. The DHCP side gives iPXE clients this filename (iPXE
 * expands the settings itself):
 *
 * ```text
 * ${baseUrl}/boot/ipxe?mac=${netX/mac}&uuid=${uuid}&serial=${serial:uristring}&arch=${buildarch}&platform=${platform}
 * ```
 *
 * - `netX` is the interface that just did DHCP; `net0` is only right on single-NIC machines.
 * - `platform` (`pcbios` or `efi`) is what tells BIOS from UEFI on x86: `buildarch` is
 *   `i386` for undionly.kpxe even on 64-bit machines, and `x86_64` for both ipxe.efi and
 *   a 64-bit BIOS build. Without it, x86 requests are `unknown` (which boots on both).
 * - `serial` must be `:uristring`: SMBIOS serials contain spaces.
 * - `arch` may also be a BootArch name (`uefi-http`, ...) when the DHCP side knows better.
 *
 * Other parameters are ignored, so older URLs keep working.
 */
export const BootScriptQuerySchema = Type.Object(
  {
    mac: Type.String({ minLength: 1, maxLength: 64, description: 'MAC address, `:` or `-` separated, any case' }),
    uuid: Type.Optional(Text(64)),
    serial: Type.Optional(Text(128)),
    arch: Type.Optional(Text(32)),
    platform: Type.Optional(Text(32)),
  },
  { additionalProperties: true },
);
export type BootScriptQuery = Static<typeof BootScriptQuerySchema>;

export interface BootScriptParams {
  /** Lower case, colon separated. */
  readonly mac: string;
  readonly arch: BootArch;
  readonly uuid?: string;
  readonly serial?: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly FieldError[] };

/**
 * Checks and normalises the script query. Every problem is reported with its JSON pointer
 * (`/querystring/mac`), all at once; an unknown `arch` or `platform` is not a problem.
 */
export function parseBootScriptQuery(query: unknown): Parsed<BootScriptParams> {
  const errors: FieldError[] = [];
  if (!Value.Check(BootScriptQuerySchema, query)) {
    for (const error of Value.Errors(BootScriptQuerySchema, query)) {
      const path = `/querystring${error.path}`;
      // A repeated parameter arrives as an array; say so rather than "expected string".
      const message = Array.isArray(error.value) ? 'must be given once' : error.message.toLowerCase();
      if (!errors.some((e) => e.path === path)) errors.push({ path, message });
    }
    return { ok: false, errors };
  }
  const mac = normalizeMac(query.mac);
  if (mac === null) errors.push({ path: '/querystring/mac', message: 'must be a MAC address (six hex octets separated by ":" or "-")' });
  const uuid = parseUuid(query.uuid);
  if (uuid === false) errors.push({ path: '/querystring/uuid', message: 'must be a UUID (8-4-4-4-12 hex digits) or empty' });
  const serial = parseSerial(query.serial);
  if (serial === false) errors.push({ path: '/querystring/serial', message: 'must not contain control characters' });
  if (errors.length > 0 || mac === null || uuid === false || serial === false) return { ok: false, errors };
  return {
    ok: true,
    value: {
      mac,
      arch: bootArchFor(query.arch, query.platform),
      ...(uuid !== undefined ? { uuid } : {}),
      ...(serial !== undefined ? { serial } : {}),
    },
  };
}

/**
 * The firmware iPXE runs on, from its `${buildarch}` and `${platform}`: `pcbios` is BIOS;
 * `efi` with `x86_64`/`arm64` is 64-bit UEFI; `arm64` iPXE only exists for UEFI. Anything
 * else, including 32-bit UEFI, is `unknown`. A BootArch name is taken as it is.
 */
export function bootArchFor(arch: string | undefined, platform: string | undefined): BootArch {
  const a = arch?.trim().toLowerCase() ?? '';
  const p = platform?.trim().toLowerCase() ?? '';
  if ((BootArchs as readonly string[]).includes(a)) return a as BootArch;
  if (p === 'pcbios') return 'bios';
  if (a === 'arm64' && (p === 'efi' || p === '')) return 'uefi-arm64';
  if (a === 'x86_64' && p === 'efi') return 'uefi-x64';
  return 'unknown';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * UUIDs firmware reports when it has none; matching on them would mix up machines, so
 * they count as absent.
 */
const PLACEHOLDER_UUIDS = new Set(['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '03000200-0400-0500-0006-000700080009']);

/** `undefined` when absent or a placeholder, `false` when malformed. */
function parseUuid(raw: string | undefined): string | undefined | false {
  const value = raw?.trim().toLowerCase() ?? '';
  if (value === '') return undefined;
  if (!UUID.test(value)) return false;
  return PLACEHOLDER_UUIDS.has(value) ? undefined : value;
}

/** Serials vendors ship unset boards with; like placeholder UUIDs, they identify nothing. */
const PLACEHOLDER_SERIALS = new Set([
  'to be filled by o.e.m.',
  'default string',
  'system serial number',
  'not specified',
  'not applicable',
  'none',
  '0',
  '0123456789',
  '123456789',
]);

function parseSerial(raw: string | undefined): string | undefined | false {
  const value = raw?.trim() ?? '';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return false;
  if (value === '' || PLACEHOLDER_SERIALS.has(value.toLowerCase())) return undefined;
  return value;
}
