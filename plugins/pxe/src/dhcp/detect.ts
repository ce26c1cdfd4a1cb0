import type { DhcpPacket } from './codec.js';
import { optionText, optionU16 } from './codec.js';

/** What client detection found in a request. */
export interface DhcpClientInfo {
  /** aa:bb:cc:dd:ee:ff, lower case (for hlen ≠ 6, the `hlen` bytes joined the same way). */
  mac: string;
  arch: 'bios' | 'uefi-x64' | 'uefi-arm64' | 'uefi-http' | 'rpi' | 'unknown';
  /** `other` = a plain DHCP client (udhcpc, dhclient, an installed OS). */
  client: 'pxe-firmware' | 'ipxe' | 'rpi-firmware' | 'other';
  /** Option 97 (type 0), as a lower-case UUID string in wire byte order. */
  uuid?: string;
  /** The Raspberry Pi board serial (8 hex, lower case) from option 97 in the Pi 4 "RPi4" format. */
  rpiSerial?: string;
  vendorClass?: string;
  userClass?: string;
  archCode?: number;
}

/** Option 60 of the Raspberry Pi 4/5 EEPROM bootloader (PROTOCOLS §5.2). */
export const RPI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';
/** "RPi4" as the bootloader writes the little-endian FourCC 0x34695052. */
const RPI_FOURCC = Buffer.from('RPi4', 'latin1');
const RPI_OUIS = new Set(['b8:27:eb', 'dc:a6:32', 'e4:5f:01', '28:cd:c1', 'd8:3a:dd']);

export function macOf(packet: DhcpPacket): string {
  const length = Math.min(packet.hlen, 16);
  return [...packet.chaddr.subarray(0, length)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Pure: classifies a request by options 60, 77, 93, 97 and 175 and the MAC's OUI. */
export function detectClient(packet: DhcpPacket): DhcpClientInfo {
  const mac = macOf(packet);
  const vendorClass = optionText(packet, 60);
  const userClass = userClassOf(packet.options.get(77));
  let archCode = optionU16(packet, 93);
  if (archCode === undefined && vendorClass) {
    // Some clients send the architecture only inside option 60 (`PXEClient:Arch:00007:…`).
    const match = /^(?:PXE|HTTP)Client:Arch:(\d{5})/.exec(vendorClass);
    if (match) archCode = Number(match[1]);
  }
  const guid = packet.options.get(97);
  const uuid = guid?.length === 17 && guid[0] === 0 ? formatUuid(guid.subarray(1)) : undefined;
  const rpiGuid = guid?.length === 17 && guid[0] === 0 && guid.subarray(1, 5).equals(RPI_FOURCC);
  // Layout after the FourCC: board revision, low 4 bytes of the MAC, serial — each a little-endian
  // u32 like the FourCC itself (inferred from the FourCC's byte order).
  const rpiSerial = rpiGuid ? guid.readUInt32LE(13).toString(16).padStart(8, '0') : undefined;
  const rpi = vendorClass === RPI_VENDOR_CLASS && (archCode ?? 0) === 0 && (rpiGuid || RPI_OUIS.has(mac.slice(0, 8)));
  const ipxe = userClass === 'iPXE' || packet.options.has(175);

  const info: DhcpClientInfo = {
    mac,
    arch: rpi ? 'rpi' : archOf(archCode),
    client: ipxe ? 'ipxe' : rpi ? 'rpi-firmware' : vendorClass?.startsWith('PXEClient') || vendorClass?.startsWith('HTTPClient') ? 'pxe-firmware' : 'other',
  };
  if (uuid) info.uuid = uuid;
  if (rpiSerial) info.rpiSerial = rpiSerial;
  if (vendorClass !== undefined) info.vendorClass = vendorClass;
  if (userClass !== undefined) info.userClass = userClass;
  if (archCode !== undefined) info.archCode = archCode;
  return info;
}

/** RFC 4578 / IANA processor architecture types; real x64 firmware sends 7 or 9. */
export function archOf(code: number | undefined): DhcpClientInfo['arch'] {
  switch (code) {
    case 0:
      return 'bios';
    case 6:
    case 7:
    case 9:
      return 'uefi-x64';
    case 11:
      return 'uefi-arm64';
    case 15:
    case 16:
    case 19:
      return 'uefi-http';
    default:
      return 'unknown';
  }
}

/**
 * iPXE sends the plain string `iPXE`; RFC 3004 clients send length-prefixed items. A printable
 * first byte means a plain string; otherwise the items are joined with commas.
 */
function userClassOf(value: Buffer | undefined): string | undefined {
  if (!value) return undefined;
  if (value.length === 0 || value[0]! >= 0x20) return value.toString('latin1');
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    const length = value[i]!;
    if (length === 0 || i + 1 + length > value.length) return value.toString('latin1');
    items.push(value.toString('latin1', i + 1, i + 1 + length));
    i += 1 + length;
  }
  return items.join(',');
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
