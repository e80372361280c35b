// BOOTP/DHCPv4 message (RFC 951, RFC 2131 §2): a view over the bytes and a plain repr with
// encode/decode/encodingLength.
//
//   op hops htype hlen | xid | secs flags | ciaddr | yiaddr | siaddr | giaddr | chaddr(16)
//   | sname(64) | file(128) | magic cookie 99.130.83.99 | options ... END | (padding)
//
// Addresses are u32 numbers, as everywhere in the data plane. decode never throws: it returns a
// DhcpRepr or a DhcpMalformed naming the reason.

import { CodecError } from '../../errors.js';
import { toU32 } from '../addr.js';
import {
  BOOTREPLY, BOOTREQUEST, CHADDR_FIELD_LEN, DHCP_MIN_LEN, FILE_LEN, MAGIC_COOKIE, OFF_CHADDR, OFF_COOKIE, OFF_FILE,
  OFF_OPTIONS, OFF_SNAME, Opt, SNAME_LEN,
} from './constants.js';
import { decodeOptions, encodeOptions, optionsLength, type DhcpOption } from './options.js';
import { DhcpMalformed } from './reason.js';
import { hex32 } from '../hex.js';

/** Checked-free accessors over a buffer that `dhcpCheck` (or decode) accepted. */
export class DhcpView {
  constructor(
    readonly buffer: Buffer,
    readonly offset = 0,
  ) {}
  get op(): number { return this.buffer[this.offset]!; }
  get htype(): number { return this.buffer[this.offset + 1]!; }
  get hlen(): number { return this.buffer[this.offset + 2]!; }
  get hops(): number { return this.buffer[this.offset + 3]!; }
  get xid(): number { return this.buffer.readUInt32BE(this.offset + 4); }
  get secs(): number { return this.buffer.readUInt16BE(this.offset + 8); }
  get flags(): number { return this.buffer.readUInt16BE(this.offset + 10); }
  get ciaddr(): number { return this.buffer.readUInt32BE(this.offset + 12); }
  get yiaddr(): number { return this.buffer.readUInt32BE(this.offset + 16); }
  get siaddr(): number { return this.buffer.readUInt32BE(this.offset + 20); }
  get giaddr(): number { return this.buffer.readUInt32BE(this.offset + 24); }
  /** The hlen significant bytes of chaddr (hlen is at most 16 once checked). */
  get chaddr(): Buffer { return this.buffer.subarray(this.offset + OFF_CHADDR, this.offset + OFF_CHADDR + Math.min(this.hlen, CHADDR_FIELD_LEN)); }
  get sname(): Buffer { return this.buffer.subarray(this.offset + OFF_SNAME, this.offset + OFF_SNAME + SNAME_LEN); }
  get file(): Buffer { return this.buffer.subarray(this.offset + OFF_FILE, this.offset + OFF_FILE + FILE_LEN); }
  get cookie(): number { return this.buffer.readUInt32BE(this.offset + OFF_COOKIE); }
}

/** The fixed-header checks, without walking the options. Never throws. */
export function dhcpCheck(buf: Buffer, offset = 0): DhcpMalformed | null {
  if (!Number.isInteger(offset) || offset < 0 || buf.length - offset < DHCP_MIN_LEN) {
    return new DhcpMalformed('truncated', `${Math.max(0, buf.length - offset)} bytes, a DHCP message needs ${DHCP_MIN_LEN}`);
  }
  const v = new DhcpView(buf, offset);
  if (v.op !== BOOTREQUEST && v.op !== BOOTREPLY) return new DhcpMalformed('bad-op', `op ${v.op}`);
  if (v.hlen > CHADDR_FIELD_LEN) return new DhcpMalformed('bad-hlen', `hlen ${v.hlen} > ${CHADDR_FIELD_LEN}`);
  if (v.cookie !== MAGIC_COOKIE) return new DhcpMalformed('bad-cookie', `cookie 0x${hex32(v.cookie)}`);
  return null;
}

export interface DhcpRepr {
  op: number;
  htype: number;
  /** Defaults to chaddr.length. */
  hlen?: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** The significant bytes (hlen of them); the rest of the 16-byte field is written as zeros. */
  chaddr: Buffer;
  /** Raw 64 bytes (shorter: zero-filled). Absent: zeros. */
  sname?: Buffer;
  /** Raw 128 bytes (shorter: zero-filled). Absent: zeros. */
  file?: Buffer;
  /** Main options field in wire order, PADs kept, END implicit. */
  options: DhcpOption[];
  /**
   * Decode only: options carried in file and/or sname when option 52 says so (RFC 2131 §4.1,
   * file first). Encode ignores it: the raw sname/file bytes already hold them.
   */
  overloadOptions?: DhcpOption[];
  /** Bytes after END (padding to 300 and the like), kept so a round trip is exact. */
  trailer?: Buffer;
}

function fixedField(b: Buffer | undefined, len: number, name: string): Buffer | undefined {
  if (b !== undefined && b.length > len) throw new CodecError(`dhcp ${name} is ${b.length} bytes, the field holds ${len}`);
  return b;
}

function encodingLength(r: DhcpRepr): number {
  return OFF_OPTIONS + optionsLength(r.options) + (r.trailer?.length ?? 0);
}

function u8(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new CodecError(`dhcp ${name} out of range: ${v}`);
  return v;
}
function u16(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new CodecError(`dhcp ${name} out of range: ${v}`);
  return v;
}

function encode(r: DhcpRepr, buf?: Buffer, offset = 0): Buffer {
  const len = encodingLength(r);
  const hlen = r.hlen ?? r.chaddr.length;
  if (r.chaddr.length > CHADDR_FIELD_LEN) throw new CodecError(`dhcp chaddr is ${r.chaddr.length} bytes, at most ${CHADDR_FIELD_LEN}`);
  if (!Number.isInteger(hlen) || hlen < 0 || hlen > CHADDR_FIELD_LEN) throw new CodecError(`dhcp hlen out of range: ${hlen}`);
  if (r.op !== BOOTREQUEST && r.op !== BOOTREPLY) throw new CodecError(`dhcp op must be 1 or 2: ${r.op}`);
  const sname = fixedField(r.sname, SNAME_LEN, 'sname');
  const file = fixedField(r.file, FILE_LEN, 'file');
  if (buf === undefined) {
    buf = Buffer.alloc(offset + len);
  } else {
    if (!Number.isInteger(offset) || offset < 0 || offset + len > buf.length) {
      throw new CodecError(`dhcp encode needs ${len} bytes at offset ${offset}, buffer has ${buf.length}`);
    }
    buf.fill(0, offset, offset + OFF_OPTIONS);
  }
  const o = offset;
  buf[o] = r.op;
  buf[o + 1] = u8(r.htype, 'htype');
  buf[o + 2] = hlen;
  buf[o + 3] = u8(r.hops, 'hops');
  buf.writeUInt32BE(toU32(r.xid) >>> 0, o + 4);
  buf.writeUInt16BE(u16(r.secs, 'secs'), o + 8);
  buf.writeUInt16BE(u16(r.flags, 'flags'), o + 10);
  buf.writeUInt32BE(toU32(r.ciaddr) >>> 0, o + 12);
  buf.writeUInt32BE(toU32(r.yiaddr) >>> 0, o + 16);
  buf.writeUInt32BE(toU32(r.siaddr) >>> 0, o + 20);
  buf.writeUInt32BE(toU32(r.giaddr) >>> 0, o + 24);
  r.chaddr.copy(buf, o + OFF_CHADDR);
  sname?.copy(buf, o + OFF_SNAME);
  file?.copy(buf, o + OFF_FILE);
  buf.writeUInt32BE(MAGIC_COOKIE, o + OFF_COOKIE);
  const end = encodeOptions(r.options, buf, o + OFF_OPTIONS);
  if (r.trailer !== undefined) r.trailer.copy(buf, end);
  return buf;
}

/** Parses buf[offset..end). Fields that are Buffers are views into buf. Never throws. */
function decode(buf: Buffer, offset = 0, end = buf.length): DhcpRepr | DhcpMalformed {
  if (!Number.isInteger(end) || end > buf.length || end < offset) return new DhcpMalformed('truncated', `end ${end} outside the buffer`);
  const bad = dhcpCheck(buf.subarray(0, end), offset);
  if (bad !== null) return bad;
  const v = new DhcpView(buf, offset);
  const main = decodeOptions(buf, offset + OFF_OPTIONS, end, true);
  if (main instanceof DhcpMalformed) return main;
  const r: DhcpRepr = {
    op: v.op, htype: v.htype, hlen: v.hlen, hops: v.hops, xid: v.xid, secs: v.secs, flags: v.flags,
    ciaddr: v.ciaddr, yiaddr: v.yiaddr, siaddr: v.siaddr, giaddr: v.giaddr, chaddr: v.chaddr,
    sname: v.sname, file: v.file, options: main.options,
  };
  if (main.endAt < end) r.trailer = buf.subarray(main.endAt, end);
  const ov = main.options.find((x) => x.code === Opt.OVERLOAD);
  if (ov !== undefined) {
    const which = ov.data[0]!;
    if (which < 1 || which > 3) return new DhcpMalformed('bad-overload', `option 52 value ${which}`);
    const extra: DhcpOption[] = [];
    for (const [bit, start, len, name] of [[1, OFF_FILE, FILE_LEN, 'file'], [2, OFF_SNAME, SNAME_LEN, 'sname']] as const) {
      if ((which & bit) === 0) continue;
      const part = decodeOptions(buf, offset + start, offset + start + len, false);
      if (part instanceof DhcpMalformed) return new DhcpMalformed('bad-overload', `options in ${name}: ${part.error}: ${part.detail}`);
      extra.push(...part.options.filter((x) => x.code !== Opt.PAD));
    }
    r.overloadOptions = extra;
  }
  return r;
}

export const Dhcp = { encode, decode, encodingLength } as const;
