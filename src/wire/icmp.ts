// ICMPv4 (RFC 792) view and repr for the messages an overlay router deals in: echo, and
// destination unreachable, notably fragmentation-needed with the RFC 1191 next-hop MTU.

import { CodecError } from '../errors.js';
import { isUnicastU32, toU32 } from './addr.js';
import { checksumOk, internetChecksum } from './checksum.js';
import { copyUnlessInPlace, IPPROTO_ICMP, IPV4_MIN_HEADER_LEN } from './ipv4.js';

export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;

export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_FRAG_NEEDED = 4;

/** RFC 792 quotes the offending header and the first 64 bits of its data. */
export const ICMP_QUOTE_DATA_LEN = 8;
/** Largest buildFragNeeded output: 20 + 8 + a 60-byte quoted header + 8 quoted data bytes. */
export const FRAG_NEEDED_MAX_LEN = IPV4_MIN_HEADER_LEN + ICMP_HEADER_LEN + 60 + ICMP_QUOTE_DATA_LEN;

/**
 * Types that are queries or replies rather than errors (RFC 792, 950, 1256). Anything else,
 * unknown types included, is treated as an error we must not answer, as Linux does.
 */
const QUERY_TYPES: ReadonlySet<number> = new Set([0, 8, 9, 10, 13, 14, 15, 16, 17, 18]);

export function isIcmpError(type: number): boolean {
  return !QUERY_TYPES.has(type);
}

/** Validates the ICMP message at buf[offset..end): header present, checksum right. Never throws. */
export function icmpCheck(buf: Buffer, offset = 0, end = buf.length): 'malformed' | null {
  if ((offset | 0) !== offset || offset < 0 || end > buf.length || end - offset < ICMP_HEADER_LEN) {
    return 'malformed';
  }
  return checksumOk(buf, offset, end) ? null : 'malformed';
}

export class IcmpPacket {
  buffer: Buffer;
  offset: number;
  /** ICMP has no length field: the message runs to the end of its IP payload. */
  end: number;

  /** Unchecked: run icmpCheck first on untrusted bytes. */
  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  reset(buffer: Buffer, offset = 0, end = buffer.length): this {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
    return this;
  }

  get type(): number {
    return this.buffer[this.offset]!;
  }
  get code(): number {
    return this.buffer[this.offset + 1]!;
  }
  get checksum(): number {
    return this.buffer.readUInt16BE(this.offset + 2);
  }
  /** Echo identifier (bytes 4-5). */
  get identifier(): number {
    return this.buffer.readUInt16BE(this.offset + 4);
  }
  /** Echo sequence number (bytes 6-7). */
  get sequence(): number {
    return this.buffer.readUInt16BE(this.offset + 6);
  }
  /** RFC 1191 next-hop MTU of a fragmentation-needed message (bytes 6-7; 4-5 are unused). */
  get nextHopMtu(): number {
    return this.buffer.readUInt16BE(this.offset + 6);
  }
  /** Bytes 4-7, whose meaning depends on the type. */
  get rest(): number {
    return this.buffer.readUInt32BE(this.offset + 4);
  }
  /** Everything after the 8-byte header: echo data, or the quoted datagram of an error. */
  get data(): Buffer {
    return this.buffer.subarray(this.offset + ICMP_HEADER_LEN, this.end);
  }
  get isError(): boolean {
    return isIcmpError(this.type);
  }

  verifyChecksum(): boolean {
    return checksumOk(this.buffer, this.offset, this.end);
  }

  fillChecksum(): void {
    this.buffer.writeUInt16BE(0, this.offset + 2);
    this.buffer.writeUInt16BE(internetChecksum(this.buffer, this.offset, this.end), this.offset + 2);
  }
}

export type IcmpRepr =
  | { kind: 'echo-request' | 'echo-reply'; identifier: number; sequence: number; data: Buffer }
  | {
      kind: 'dest-unreachable';
      code: number;
      /** Only meaningful with code 4; written as 0 otherwise. Default 0. */
      nextHopMtu?: number;
      /** The quoted datagram: original IP header + at least 8 bytes of its data. */
      data: Buffer;
    }
  /** Any other type, kept raw so decode → encode round-trips every message. */
  | { kind: 'other'; type: number; code: number; rest: number; data: Buffer };

function checkUint(v: number, max: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError(`icmp ${name} out of range 0..${max}: ${v}`);
}

function encodingLength(repr: IcmpRepr): number {
  return ICMP_HEADER_LEN + repr.data.length;
}

function encode(repr: IcmpRepr, buf?: Buffer, offset = 0): Buffer {
  let type: number;
  let code: number;
  let rest: number;
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      checkUint(repr.identifier, 0xffff, 'identifier');
      checkUint(repr.sequence, 0xffff, 'sequence');
      type = repr.kind === 'echo-request' ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY;
      code = 0;
      rest = repr.identifier * 0x10000 + repr.sequence;
      break;
    case 'dest-unreachable': {
      checkUint(repr.code, 0xff, 'code');
      const mtu = repr.nextHopMtu ?? 0;
      checkUint(mtu, 0xffff, 'nextHopMtu');
      type = ICMP_DEST_UNREACHABLE;
      code = repr.code;
      rest = repr.code === ICMP_UNREACH_FRAG_NEEDED ? mtu : 0;
      break;
    }
    case 'other':
      checkUint(repr.type, 0xff, 'type');
      checkUint(repr.code, 0xff, 'code');
      checkUint(repr.rest, 0xffffffff, 'rest');
      ({ type, code, rest } = repr);
      break;
  }
  const len = encodingLength(repr);
  if (buf === undefined) {
    buf = Buffer.allocUnsafe(offset + len);
  } else if (!Number.isInteger(offset) || offset < 0 || offset + len > buf.length) {
    throw new CodecError(`icmp encode needs ${len} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
  buf[offset] = type;
  buf[offset + 1] = code;
  buf.writeUInt16BE(0, offset + 2);
  buf.writeUInt32BE(rest, offset + 4);
  copyUnlessInPlace(repr.data, buf, offset + ICMP_HEADER_LEN);
  buf.writeUInt16BE(internetChecksum(buf, offset, offset + len), offset + 2);
  return buf;
}

/**
 * The message runs to `end` (its IP payload's end). Throws CodecError when shorter than the
 * header; the checksum is not verified (icmpCheck does that). Data is a view.
 */
function decode(buf: Buffer, offset = 0, end = buf.length): IcmpRepr {
  if (!Number.isInteger(offset) || offset < 0 || end > buf.length || end - offset < ICMP_HEADER_LEN) {
    throw new CodecError('icmp decode: shorter than a header');
  }
  const p = new IcmpPacket(buf, offset, end);
  const type = p.type;
  if ((type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY) && p.code === 0) {
    return {
      kind: type === ICMP_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
      identifier: p.identifier,
      sequence: p.sequence,
      data: p.data,
    };
  }
  // Only a canonical rest field maps onto the dest-unreachable repr; anything else stays
  // 'other' so re-encoding cannot silently change bytes.
  if (type === ICMP_DEST_UNREACHABLE) {
    const rest = p.rest;
    if (p.code === ICMP_UNREACH_FRAG_NEEDED && rest <= 0xffff) {
      return { kind: 'dest-unreachable', code: p.code, nextHopMtu: rest, data: p.data };
    }
    if (p.code !== ICMP_UNREACH_FRAG_NEEDED && rest === 0) {
      return { kind: 'dest-unreachable', code: p.code, data: p.data };
    }
  }
  return { kind: 'other', type, code: p.code, rest: p.rest, data: p.data };
}

export const Icmp = { encode, decode, encodingLength } as const;

/**
 * A complete IPv4 + ICMP fragmentation-needed (type 3 code 4, RFC 1191) for `original`, to its
 * source, from `fromAddrU32`. Returns null where RFC 1122 §3.2.2 forbids an error: the original
 * is itself an ICMP error, a non-first fragment, or from/to an address that is not a single
 * host. Malformed originals also give null: their bytes came from outside. Without `out` a new
 * Buffer is returned; with it, a view of out[0..length) (FRAG_NEEDED_MAX_LEN always suffices).
 */
export function buildFragNeeded(
  original: Buffer,
  nextHopMtu: number,
  fromAddrU32: number,
  out?: Buffer,
): Buffer | null {
  // 68 is the smallest MTU an IPv4 link may have (RFC 791): anything less is a caller bug.
  if (!Number.isInteger(nextHopMtu) || nextHopMtu < 68 || nextHopMtu > 0xffff) {
    throw new CodecError(`next-hop MTU out of range 68..65535: ${nextHopMtu}`);
  }
  const from = toU32(fromAddrU32);

  if (original.length < IPV4_MIN_HEADER_LEN || original[0]! >> 4 !== 4) return null;
  const hl = (original[0]! & 0x0f) << 2;
  const total = original.readUInt16BE(2);
  if (hl < IPV4_MIN_HEADER_LEN || total < hl || original.length < hl) return null;
  if ((original.readUInt16BE(6) & 0x1fff) !== 0) return null;
  const src = original.readUInt32BE(12);
  const dst = original.readUInt32BE(16);
  if (!isUnicastU32(src) || dst >>> 28 === 0xe || dst === 0xffffffff) return null;
  const avail = Math.min(total, original.length) - hl;
  if (original[9] === IPPROTO_ICMP) {
    // Without the type byte we cannot rule out answering an error with an error.
    if (avail < 1 || isIcmpError(original[hl]!)) return null;
  }

  const quoteLen = hl + Math.min(ICMP_QUOTE_DATA_LEN, avail);
  const len = IPV4_MIN_HEADER_LEN + ICMP_HEADER_LEN + quoteLen;
  let buf: Buffer;
  if (out === undefined) {
    buf = Buffer.allocUnsafe(len);
  } else if (out.length < len) {
    throw new CodecError(`buildFragNeeded needs ${len} bytes, out has ${out.length}`);
  } else {
    buf = out.length === len ? out : out.subarray(0, len);
  }

  // Header written by hand rather than through Ipv4.encode: this runs for every too-big DF
  // packet, and the repr path would allocate a repr and validate constants.
  buf[0] = 0x45;
  // DSCP CS6, ECN Not-ECT: RFC 1812 §4.3.2.5 wants precedence 6 on ICMP errors.
  buf[1] = 0xc0;
  buf.writeUInt16BE(len, 2);
  // Sent as an atomic datagram (DF, unfragmented) so the ID may be constant (RFC 6864 §4.1)
  // and the builder stays stateless; at most 96 bytes it cannot meet a smaller real MTU.
  buf.writeUInt16BE(0, 4);
  buf.writeUInt16BE(0x4000, 6);
  buf[8] = 64;
  buf[9] = IPPROTO_ICMP;
  buf.writeUInt16BE(0, 10);
  buf.writeUInt32BE(from, 12);
  buf.writeUInt32BE(src, 16);
  buf.writeUInt16BE(internetChecksum(buf, 0, IPV4_MIN_HEADER_LEN), 10);

  const o = IPV4_MIN_HEADER_LEN;
  buf[o] = ICMP_DEST_UNREACHABLE;
  buf[o + 1] = ICMP_UNREACH_FRAG_NEEDED;
  buf.writeUInt16BE(0, o + 2);
  buf.writeUInt16BE(0, o + 4);
  buf.writeUInt16BE(nextHopMtu, o + 6);
  original.copy(buf, o + ICMP_HEADER_LEN, 0, quoteLen);
  buf.writeUInt16BE(internetChecksum(buf, o, len), o + 2);
  return buf;
}
