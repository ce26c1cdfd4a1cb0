import { describe, expect, it } from 'vitest';
import { DEFAULT_IPXE_FILES, RPI_VENDOR_OPTIONS, firstStage } from './boot.js';
import type { DhcpPacket } from './codec.js';
import { detectClient } from './detect.js';

function request(mac: string, options: [number, Buffer | number[] | string][]): DhcpPacket {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.replaceAll(':', ''), 'hex').copy(chaddr);
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 1, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '',
    options: new Map(options.map(([code, value]) => [code, typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value)])),
  };
}

const HTTP = 'http://10.0.0.1:8080';
const arch = (code: number) => [93, [code >> 8, code & 255]] as [number, number[]];
const pxe = (code: number) => [60, `PXEClient:Arch:${String(code).padStart(5, '0')}:UNDI:003000`] as [number, string];
const rpiGuid = Buffer.concat([Buffer.from([0]), Buffer.from('RPi4'), Buffer.from([0x11, 0x31, 0xc0, 0, 0x32, 0x01, 0x36, 0xc2, 0xef, 0xfd, 0xfe, 0x9f])]);

describe('detectClient', () => {
  it.each([
    [0, 'bios'],
    [6, 'uefi-x64'],
    [7, 'uefi-x64'],
    [9, 'uefi-x64'],
    [11, 'uefi-arm64'],
    [15, 'uefi-http'],
    [16, 'uefi-http'],
    [19, 'uefi-http'],
    [12, 'unknown'],
  ] as const)('option 93 = %i is %s', (code, expected) => {
    const info = detectClient(request('02:00:00:00:00:01', [pxe(code), arch(code)]));
    expect(info).toMatchObject({ arch: expected, archCode: code, client: 'pxe-firmware' });
  });

  it('takes the architecture from option 60 when option 93 is missing', () => {
    expect(detectClient(request('02:00:00:00:00:01', [pxe(7)]))).toMatchObject({ arch: 'uefi-x64', archCode: 7 });
  });

  it('recognises iPXE by user class "iPXE", RFC 3004 form, or option 175', () => {
    expect(detectClient(request('02:00:00:00:00:01', [pxe(0), arch(0), [77, 'iPXE']])).client).toBe('ipxe');
    expect(detectClient(request('02:00:00:00:00:01', [pxe(0), arch(0), [77, [4, ...Buffer.from('iPXE')]]])).userClass).toBe('iPXE');
    expect(detectClient(request('02:00:00:00:00:01', [pxe(7), arch(7), [175, [0x13, 1, 1]]])).client).toBe('ipxe');
    expect(detectClient(request('02:00:00:00:00:01', [pxe(7), arch(7), [77, 'Tinkerbell']])).client).toBe('pxe-firmware');
  });

  it('reads option 97 as a lower-case UUID', () => {
    const guid = Buffer.from('00' + '4C4C4544005A3510804BB4C04F4E3332', 'hex');
    expect(detectClient(request('02:00:00:00:00:01', [pxe(7), [97, guid]])).uuid).toBe('4c4c4544-005a-3510-804b-b4c04f4e3332');
  });

  it('a plain client is "other", with a lower-case MAC', () => {
    expect(detectClient(request('AA:BB:CC:DD:EE:FF', [[53, [1]]]))).toEqual({ mac: 'aa:bb:cc:dd:ee:ff', arch: 'unknown', client: 'other' });
  });

  it('recognises the Raspberry Pi bootloader by its RPi4 GUID and reads the serial', () => {
    const info = detectClient(request('02:00:00:00:00:01', [[60, 'PXEClient:Arch:00000:UNDI:002001'], arch(0), [97, rpiGuid]]));
    expect(info).toMatchObject({ client: 'rpi-firmware', arch: 'rpi', rpiSerial: '9ffefdef' });
  });

  it('recognises a Raspberry Pi by OUI with the old GUID format, without a serial', () => {
    for (const oui of ['b8:27:eb', 'dc:a6:32', 'e4:5f:01', '28:cd:c1', 'd8:3a:dd']) {
      const info = detectClient(request(`${oui}:01:02:03`, [[60, 'PXEClient:Arch:00000:UNDI:002001'], arch(0), [97, Buffer.alloc(17, 0x11)]]));
      expect(info).toMatchObject({ client: 'rpi-firmware', arch: 'rpi' });
      expect(info.rpiSerial).toBeUndefined();
    }
  });

  it('a BIOS PXE ROM with the same UNDI 2.1 vendor class is not a Pi', () => {
    expect(detectClient(request('02:00:00:00:00:01', [[60, 'PXEClient:Arch:00000:UNDI:002001'], arch(0)]))).toMatchObject({ client: 'pxe-firmware', arch: 'bios' });
  });

  it('a Pi running UEFI (arch 11) is an arm64 UEFI client, not the bootloader', () => {
    expect(detectClient(request('dc:a6:32:01:02:03', [pxe(11), arch(11)]))).toMatchObject({ client: 'pxe-firmware', arch: 'uefi-arm64' });
  });
});

describe('firstStage', () => {
  const stage = (options: [number, Buffer | number[] | string][], mac = '02:00:00:00:00:01') => firstStage(detectClient(request(mac, options)), HTTP, DEFAULT_IPXE_FILES);

  it('BIOS → undionly.kpxe, UEFI x64 → snponly.efi, arm64 → snp-arm64.efi, over TFTP with PXEClient', () => {
    expect(stage([pxe(0), arch(0)])).toMatchObject({ kind: 'tftp', file: 'undionly.kpxe', vendorClass: 'PXEClient' });
    expect(stage([pxe(7), arch(7)])?.file).toBe('snponly.efi');
    expect(stage([pxe(9), arch(9)])?.file).toBe('snponly.efi');
    expect(stage([pxe(11), arch(11)])?.file).toBe('snp-arm64.efi');
  });

  it('uses configured names', () => {
    const info = detectClient(request('02:00:00:00:00:01', [pxe(7), arch(7)]));
    expect(firstStage(info, HTTP, { ...DEFAULT_IPXE_FILES, uefiX64: 'ipxe.efi' })?.file).toBe('ipxe.efi');
  });

  it('UEFI HTTP boot → an absolute URL and HTTPClient', () => {
    expect(stage([[60, 'HTTPClient:Arch:00016:UNDI:003000'], arch(16)])).toEqual({ kind: 'http', file: `${HTTP}/boot/snponly.efi`, vendorClass: 'HTTPClient' });
    expect(stage([[60, 'HTTPClient:Arch:00019:UNDI:003000'], arch(19)])?.file).toBe(`${HTTP}/boot/snp-arm64.efi`);
  });

  it('iPXE → the script URL with iPXE settings left for iPXE to expand, whatever its arch', () => {
    for (const code of [0, 7, 11]) {
      expect(stage([pxe(code), arch(code), [77, 'iPXE']])?.file).toBe(`${HTTP}/boot/ipxe?mac=\${netX/mac}&uuid=\${uuid}&serial=\${serial:uristring}&arch=\${buildarch}&platform=\${platform}`);
    }
  });

  it('Raspberry Pi → option 43 "Raspberry Pi Boot" and no file', () => {
    expect(stage([[60, 'PXEClient:Arch:00000:UNDI:002001'], arch(0), [97, rpiGuid]])).toEqual({ kind: 'rpi', file: '', vendorClass: 'PXEClient', vendorOptions: RPI_VENDOR_OPTIONS });
    expect(RPI_VENDOR_OPTIONS.length).toBe(32);
  });

  it('nothing for plain clients or architectures without a binary', () => {
    expect(stage([[53, [1]]])).toBeUndefined();
    expect(stage([pxe(12), arch(12)])).toBeUndefined();
  });
});
