/**
 * The DHCP/BOOTP packet codec (RFC 2131, RFC 2132, RFC 3396).
 *
 * We first meant to wrap the npm `dhcp` package's codec (`lib/protocol.js` + `lib/seqbuffer.js`),
 * but its faults are in the option loop and the writer, which is nearly all of it: a PAD byte
 * swallows the byte after it; option lengths are not checked against the type (a 2-byte option 50
 * reads 4 bytes and desynchronises the rest); a length running past the end yields a silently
 * short value; options it does not know (93, 94, 97, 77, 175, 82, …) are dropped with a
 * `console.error` each; option 61 is decoded as text and cut at the first zero byte; repeated
 * options overwrite each other instead of being concatenated (RFC 3396); option 52 overload is
 * ignored; the writer throws on a value over 255 bytes, on an option code it has no type for,
 * and past a fixed 1,500-byte buffer, and never pads to the 300-byte BOOTP minimum. Patching
 * that would replace `getOptions`, `addOptions` and `format`, keeping only the fixed header
 * reads — so this module is a small codec of its own, and `codec.test.ts` shows each of those
 * faults in the package next to this module handling the same bytes.
 *
 * Options are kept as raw bytes keyed by code (unknown ones included); typed readers below check
 * lengths. Decoding never reads past the datagram and does work linear in its size; every fault
 * is a {@link DhcpDecodeError} whose `reason` the service counts.
 */

export const MAGIC_COOKIE = 0x63825363;
/** BOOTP header (236) + magic cookie. */
export const HEADER_LENGTH = 240;
/** RFC 1542 §3.2.1: some relays and old clients drop BOOTP messages shorter than 300 bytes. */
export const MIN_PACKET_LENGTH = 300;
/** RFC 2131 §2: every client accepts 576-byte IP datagrams, i.e. 548 bytes of DHCP. */
export const DEFAULT_MAX_REPLY = 548;
/** Larger datagrams are not DHCP we want to spend time on (Ethernet jumbo frames at most). */
export const MAX_PACKET_LENGTH = 9000;

export const MessageType = { Discover: 1, Offer: 2, Request: 3, Decline: 4, Ack: 5, Nak: 6, Release: 7, Inform: 8 } as const;

export type DecodeFault = 'short' | 'too-long' | 'magic-cookie' | 'hlen' | 'truncated-option' | 'bad-option-length';

export class DhcpDecodeError extends Error {
  constructor(
    readonly reason: DecodeFault,
    message: string,
  ) {
    super(message);
    this.name = 'DhcpDecodeError';
  }
}

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** All 16 bytes of the field; the first `hlen` are the hardware address. */
  chaddr: Buffer;
  sname: string;
  file: string;
  /** Option code → value, concatenated over repeated instances (RFC 3396), in first-seen order. */
  options: Map<number, Buffer>;
}

export const BROADCAST_FLAG = 0x8000;

/**
 * Lengths the server relies on; a packet breaking one is dropped rather than half-understood.
 * Anything not listed is only carried as bytes.
 */
const LENGTH_RULES: Readonly<Record<number, (length: number) => boolean>> = {
  50: (n) => n === 4,
  51: (n) => n === 4,
  52: (n) => n === 1,
  53: (n) => n === 1,
  54: (n) => n === 4,
  55: (n) => n >= 1,
  57: (n) => n === 2,
  61: (n) => n >= 2,
  93: (n) => n >= 2 && n % 2 === 0,
  94: (n) => n === 3,
  97: (n) => n >= 1,
};

export function decode(data: Buffer): DhcpPacket {
  if (data.length < HEADER_LENGTH) throw new DhcpDecodeError('short', `${data.length} bytes, shorter than the BOOTP header and cookie`);
  if (data.length > MAX_PACKET_LENGTH) throw new DhcpDecodeError('too-long', `${data.length} bytes`);
  if (data.readUInt32BE(236) !== MAGIC_COOKIE) throw new DhcpDecodeError('magic-cookie', 'no DHCP magic cookie');
  const hlen = data[2]!;
  if (hlen > 16) throw new DhcpDecodeError('hlen', `hlen ${hlen} > 16`);

  const options = new Map<number, Buffer>();
  readOptionArea(data, HEADER_LENGTH, data.length, options, true);
  let sname = cString(data, 44, 64);
  let file = cString(data, 108, 128);
  const overload = options.get(52);
  if (overload && overload.length === 1) {
    // RFC 2131 §4.1: options continue in `file`, then in `sname`.
    if (overload[0]! & 1) {
      readOptionArea(data, 108, 236, options, false);
      file = '';
    }
    if (overload[0]! & 2) {
      readOptionArea(data, 44, 108, options, false);
      sname = '';
    }
  }
  for (const [code, value] of options) {
    const rule = LENGTH_RULES[code];
    if (rule && !rule(value.length)) throw new DhcpDecodeError('bad-option-length', `option ${code} has length ${value.length}`);
  }

  return {
    op: data[0]!,
    htype: data[1]!,
    hlen,
    hops: data[3]!,
    xid: data.readUInt32BE(4),
    secs: data.readUInt16BE(8),
    flags: data.readUInt16BE(10),
    ciaddr: ipAt(data, 12),
    yiaddr: ipAt(data, 16),
    siaddr: ipAt(data, 20),
    giaddr: ipAt(data, 24),
    chaddr: Buffer.from(data.subarray(28, 44)),
    sname,
    file,
    options,
  };
}

/**
 * Reads `code len value` triples. PAD (0) is one byte; END (255) stops. The main area may end
 * without END (many clients rely on the datagram length); a value running past the area may not.
 */
function readOptionArea(data: Buffer, start: number, end: number, into: Map<number, Buffer>, mainArea: boolean): void {
  let i = start;
  while (i < end) {
    const code = data[i]!;
    if (code === 0) {
      i += 1;
      continue;
    }
    if (code === 255) return;
    if (i + 1 >= end) throw new DhcpDecodeError('truncated-option', `option ${code} has no length byte`);
    const length = data[i + 1]!;
    if (i + 2 + length > end) throw new DhcpDecodeError('truncated-option', `option ${code} (${length} bytes) runs past the ${mainArea ? 'packet' : 'overloaded field'}`);
    const value = data.subarray(i + 2, i + 2 + length);
    const previous = into.get(code);
    into.set(code, previous ? Buffer.concat([previous, value]) : Buffer.from(value));
    i += 2 + length;
  }
}

export class DhcpEncodeError extends Error {
  override name = 'DhcpEncodeError';
}

/**
 * Encodes a packet: options in map order, each longer than 255 bytes split into consecutive
 * instances (RFC 3396), END, then zero padding up to 300 bytes. Throws {@link DhcpEncodeError}
 * when the result would exceed `maxLength` (the client's option 57, at least 548) or a header
 * field does not fit; the caller counts it instead of sending a truncated reply.
 */
export function encode(packet: DhcpPacket, maxLength = DEFAULT_MAX_REPLY): Buffer {
  let optionsLength = 1; // END
  for (const value of packet.options.values()) optionsLength += value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / 255);
  const length = Math.max(MIN_PACKET_LENGTH, HEADER_LENGTH + optionsLength);
  if (length > maxLength) throw new DhcpEncodeError(`reply of ${length} bytes exceeds the ${maxLength}-byte limit`);
  const out = Buffer.alloc(length);
  out[0] = packet.op;
  out[1] = packet.htype;
  out[2] = packet.hlen;
  out[3] = packet.hops;
  out.writeUInt32BE(packet.xid >>> 0, 4);
  out.writeUInt16BE(packet.secs, 8);
  out.writeUInt16BE(packet.flags, 10);
  writeIp(out, 12, packet.ciaddr);
  writeIp(out, 16, packet.yiaddr);
  writeIp(out, 20, packet.siaddr);
  writeIp(out, 24, packet.giaddr);
  packet.chaddr.copy(out, 28, 0, 16);
  writeField(out, 44, 64, packet.sname, 'sname');
  writeField(out, 108, 128, packet.file, 'file');
  out.writeUInt32BE(MAGIC_COOKIE, 236);
  let i = HEADER_LENGTH;
  for (const [code, value] of packet.options) {
    if (!Number.isInteger(code) || code <= 0 || code >= 255) throw new DhcpEncodeError(`option code ${code}`);
    let offset = 0;
    do {
      const chunk = value.subarray(offset, offset + 255);
      out[i] = code;
      out[i + 1] = chunk.length;
      chunk.copy(out, i + 2);
      i += 2 + chunk.length;
      offset += 255;
    } while (offset < value.length);
  }
  out[i] = 255;
  return out;
}

function writeField(out: Buffer, offset: number, size: number, text: string, name: string): void {
  const bytes = Buffer.from(text, 'latin1');
  // One byte stays zero: readers treat these fields as C strings.
  if (bytes.length >= size) throw new DhcpEncodeError(`${name} of ${bytes.length} bytes does not fit in ${size}`);
  bytes.copy(out, offset);
}

function ipAt(data: Buffer, offset: number): string {
  return `${data[offset]}.${data[offset + 1]}.${data[offset + 2]}.${data[offset + 3]}`;
}

function writeIp(out: Buffer, offset: number, address: string): void {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new DhcpEncodeError(`not an IPv4 address: ${address}`);
  for (let k = 0; k < 4; k++) out[offset + k] = parts[k]!;
}

function cString(data: Buffer, offset: number, size: number): string {
  const field = data.subarray(offset, offset + size);
  const end = field.indexOf(0);
  return field.toString('latin1', 0, end === -1 ? size : end);
}

// Typed option readers and writers. Readers return undefined for an absent or wrongly sized option.

export function optionU8(packet: DhcpPacket, code: number): number | undefined {
  const value = packet.options.get(code);
  return value?.length === 1 ? value[0] : undefined;
}

export function optionU16(packet: DhcpPacket, code: number): number | undefined {
  const value = packet.options.get(code);
  return value && value.length >= 2 ? value.readUInt16BE(0) : undefined;
}

export function optionIp(packet: DhcpPacket, code: number): string | undefined {
  const value = packet.options.get(code);
  return value?.length === 4 ? ipAt(value, 0) : undefined;
}

export function optionText(packet: DhcpPacket, code: number): string | undefined {
  return packet.options.get(code)?.toString('latin1');
}

export function u8(value: number): Buffer {
  return Buffer.from([value]);
}

export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

export function ips(...addresses: readonly string[]): Buffer {
  const out = Buffer.alloc(4 * addresses.length);
  addresses.forEach((address, k) => writeIp(out, 4 * k, address));
  return out;
}

export function text(value: string): Buffer {
  return Buffer.from(value, 'latin1');
}
