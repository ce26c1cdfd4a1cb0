import type { DhcpClientInfo } from './detect.js';

/**
 * First-stage file names; Debian's `ipxe` package has `ipxe.efi` and `snponly.efi` for x64.
 * UEFI gets `snponly.efi`: it drives only the card the firmware booted from, through the
 * firmware's own network driver, and when a script ends in `exit` it returns to the firmware
 * instead of trying every other card first (as `ipxe.efi` does).
 */
export interface IpxeFileNames {
  /** TFTP, legacy BIOS PXE ROMs. */
  bios: string;
  /** TFTP, UEFI x64 PXE. */
  uefiX64: string;
  /** TFTP, UEFI arm64 PXE (e.g. a Raspberry Pi running the pftf UEFI). */
  arm64: string;
  /** Served at `${httpBaseUrl}/boot/<name>` to UEFI HTTP boot clients. */
  httpX64: string;
  httpArm64: string;
}

export const DEFAULT_IPXE_FILES: IpxeFileNames = {
  bios: 'undionly.kpxe',
  uefiX64: 'snponly.efi',
  arm64: 'snp-arm64.efi',
  httpX64: 'snponly.efi',
  httpArm64: 'snp-arm64.efi',
};

/** What a boot-capable client is told to load first. */
export interface FirstStage {
  kind: 'tftp' | 'http' | 'ipxe-script' | 'rpi';
  /** The BOOTP `file` field and option 67; empty for the Raspberry Pi (it asks for its own files). */
  file: string;
  /** Echoed in option 60: firmware ignores boot offers without it. */
  vendorClass: 'PXEClient' | 'HTTPClient';
  /** Option 43 (PXE vendor options), or undefined to send none. */
  vendorOptions?: Buffer;
}

/** PXE discovery control (sub-option 6) = 8: boot `file` from `siaddr` without boot-server discovery. */
export const PXE_BOOT_FILE_DIRECTLY = Buffer.from([6, 1, 8, 255]);

/**
 * The Raspberry Pi bootloader takes an offer as a netboot offer only when option 43 carries the
 * boot menu entry "Raspberry Pi Boot". These are the bytes of the official trace (dnsmasq
 * `pxe-service=0,"Raspberry Pi Boot"`, PROTOCOLS §5.3).
 */
export const RPI_VENDOR_OPTIONS = Buffer.concat([
  Buffer.from([6, 1, 3]),
  Buffer.from([10, 4, 0, ...Buffer.from('PXE', 'latin1')]),
  Buffer.from([9, 20, 0, 0, 17, ...Buffer.from('Raspberry Pi Boot', 'latin1')]),
  Buffer.from([255]),
]);

/**
 * The iPXE script URL. The `${…}` are iPXE settings, sent literally: iPXE expands settings in
 * the DHCP filename before fetching it.
 */
/**
 * The script URL iPXE is given, with iPXE's own settings for it to expand: `netX` is the card
 * it booted from (`net0` is wrong on machines with several), `serial:uristring` because serials
 * contain spaces, and `platform` (`pcbios` or `efi`) because `buildarch` alone does not tell
 * BIOS from UEFI. `GET /boot/ipxe` reads exactly these.
 */
export function ipxeScriptUrl(httpBaseUrl: string): string {
  return `${httpBaseUrl}/boot/ipxe?mac=\${netX/mac}&uuid=\${uuid}&serial=\${serial:uristring}&arch=\${buildarch}&platform=\${platform}`;
}

/**
 * Pure: the first stage for a client, or undefined when it is not one we boot (a plain DHCP
 * client, or firmware of an architecture we have no binary for). iPXE always gets the script,
 * never a binary again — that is the chain-loading loop guard.
 */
export function firstStage(client: DhcpClientInfo, httpBaseUrl: string, files: IpxeFileNames): FirstStage | undefined {
  if (client.client === 'ipxe') return { kind: 'ipxe-script', file: ipxeScriptUrl(httpBaseUrl), vendorClass: 'PXEClient', vendorOptions: PXE_BOOT_FILE_DIRECTLY };
  if (client.client === 'rpi-firmware') return { kind: 'rpi', file: '', vendorClass: 'PXEClient', vendorOptions: RPI_VENDOR_OPTIONS };
  if (client.client !== 'pxe-firmware') return undefined;
  const tftp = (file: string): FirstStage => ({ kind: 'tftp', file, vendorClass: 'PXEClient', vendorOptions: PXE_BOOT_FILE_DIRECTLY });
  switch (client.arch) {
    case 'bios':
      return tftp(files.bios);
    case 'uefi-x64':
      return tftp(files.uefiX64);
    case 'uefi-arm64':
      return tftp(files.arm64);
    case 'uefi-http': {
      const name = client.archCode === 19 ? files.httpArm64 : files.httpX64;
      return { kind: 'http', file: `${httpBaseUrl}/boot/${name}`, vendorClass: 'HTTPClient' };
    }
    default:
      return undefined;
  }
}
