import type { IdentityKey } from '../model/machine.js';

/**
 * Serials and UUIDs that firmware vendors ship unset: many machines share them, so using
 * one as an identity key would merge unrelated machines into one record.
 */
const PLACEHOLDER_SERIALS = new Set(
  [
    'to be filled by o.e.m.',
    'to be filled by oem',
    'default string',
    'system serial number',
    'not specified',
    'not applicable',
    'none',
    'n/a',
    'na',
    'unknown',
    '0',
    '0123456789',
    '123456789',
    'chassis serial number',
    'serial number',
    'oem',
    '..',
  ].map((s) => s.toLowerCase()),
);

const PLACEHOLDER_UUIDS = new Set([
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '03000200-0400-0500-0006-000700080009',
]);

export function isPlaceholderSerial(serial: string): boolean {
  const s = serial.trim().toLowerCase();
  return s.length === 0 || PLACEHOLDER_SERIALS.has(s) || /^0+$/.test(s) || /^(.)\1+$/.test(s);
}

export function isPlaceholderUuid(uuid: string): boolean {
  return PLACEHOLDER_UUIDS.has(uuid.trim().toLowerCase());
}

/** Identity keys from what a machine reported, leaving out placeholders; lists what it left out. */
export function identityKeysFrom(reported: {
  readonly macs?: readonly string[];
  /** System serial / service tag, and the chassis serial where a vendor keeps the tag there. */
  readonly serial?: string;
  readonly chassisSerial?: string;
  readonly smbiosUuid?: string;
  readonly rpiSerial?: string;
  readonly diskSerials?: readonly string[];
}): { keys: IdentityKey[]; ignored: string[] } {
  const keys: IdentityKey[] = [];
  const ignored: string[] = [];
  const add = (key: IdentityKey) => {
    if (!keys.some((k) => k.kind === key.kind && k.value === key.value)) keys.push(key);
  };
  for (const mac of reported.macs ?? []) add({ kind: 'mac', value: mac });
  for (const serial of [reported.serial, reported.chassisSerial]) {
    if (serial === undefined) continue;
    if (isPlaceholderSerial(serial)) ignored.push(`serial "${serial}" is a firmware placeholder`);
    else add({ kind: 'serial', value: serial.trim() });
  }
  if (reported.smbiosUuid !== undefined) {
    if (isPlaceholderUuid(reported.smbiosUuid)) ignored.push(`SMBIOS UUID ${reported.smbiosUuid} is a firmware placeholder`);
    else add({ kind: 'smbios-uuid', value: reported.smbiosUuid.trim().toLowerCase() });
  }
  if (reported.rpiSerial !== undefined && !isPlaceholderSerial(reported.rpiSerial)) {
    add({ kind: 'rpi-serial', value: reported.rpiSerial.trim().toLowerCase() });
  }
  for (const disk of reported.diskSerials ?? []) {
    if (!isPlaceholderSerial(disk)) add({ kind: 'disk-serial', value: disk.trim() });
  }
  return { keys, ignored };
}
