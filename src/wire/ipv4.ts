// IPv4 header (RFC 791) as a view over a Buffer plus a plain repr, smoltcp style. The view
// never copies: it reads and patches the caller's bytes in place. Validation is ipv4Check,
// which returns a drop reason instead of throwing, because its input comes off the network.

import { CodecError } from '../errors.js';
import { checksumOk, checksumUpdate16, internetChecksum } from './checksum.js';
import { toU32, u32ToIpv4 } from './addr.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ESP = 50;
/** "No next header": ESP dummy packets (RFC 4303 §2.6), our liveness probes. */
export const IPPROTO_NONE = 59;

/** ECN codepoints (RFC 3168 §5). ECT(1) is numerically 1, ECT(0) is 2. */
export const ECN_NOT_ECT = 0;
export const ECN_ECT1 = 1;
export const ECN_ECT0 = 2;
export const ECN_CE = 3;

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV4_MAX_PACKET_LEN = 65535;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/**
 * Structural and checksum validation of the IPv4 packet starting at buf[offset], considering
 * bytes only up to `end` (an enclosing packet's end, or the buffer's). Never throws.
 */
export function ipv4Check(buf: Buffer, offset = 0, end = buf.length): 'malformed' | null {
  if ((offset | 0) !== offset || offset < 0 || end > buf.length || end - offset < IPV4_MIN_HEADER_LEN) {
    return 'malformed';
  }
  const vihl = buf[offset]!;
  if (vihl >> 4 !== 4) return 'malformed';
  const hl = (vihl & 0x0f) << 2;
  if (hl < IPV4_MIN_HEADER_LEN) return 'malformed';
  const total = buf.readUInt16BE(offset + 2);
  if (total < hl || total > end - offset) return 'malformed';
  if (!checksumOk(buf, offset, offset + hl)) return 'malformed';
  return null;
}

export class Ipv4Packet {
  buffer: Buffer;
  offset: number;

  /**
   * Unchecked: run ipv4Check first on untrusted bytes, or use Ipv4Packet.parse. Getters past
   * the header throw RangeError on a buffer shorter than the header says.
   */
  constructor(buffer: Buffer, offset = 0) {
    this.buffer = buffer;
    this.offset = offset;
  }

  static parse(buffer: Buffer, offset = 0): Ipv4Packet | 'malformed' {
    const r = ipv4Check(buffer, offset);
    return r === null ? new Ipv4Packet(buffer, offset) : r;
  }

  /** Re-points the view so a hot loop can keep one view object instead of allocating per packet. */
  reset(buffer: Buffer, offset = 0): this {
    this.buffer = buffer;
    this.offset = offset;
    return this;
  }

  get version(): number {
    return this.buffer[this.offset]! >> 4;
  }
  /** IHL in 32-bit words, as on the wire. */
  get ihl(): number {
    return this.buffer[this.offset]! & 0x0f;
  }
  /** IHL in bytes. */
  get headerLength(): number {
    return (this.buffer[this.offset]! & 0x0f) << 2;
  }
  get dscp(): number {
    return this.buffer[this.offset + 1]! >> 2;
  }
  get ecn(): number {
    return this.buffer[this.offset + 1]! & 0x03;
  }
  get totalLength(): number {
    return this.buffer.readUInt16BE(this.offset + 2);
  }
  get identification(): number {
    return this.buffer.readUInt16BE(this.offset + 4);
  }
  get dontFragment(): boolean {
    return (this.buffer.readUInt16BE(this.offset + 6) & FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (this.buffer.readUInt16BE(this.offset + 6) & FLAG_MF) !== 0;
  }
  /** In BYTES (the wire field counts 8-byte units; tshark shows the units). */
  get fragmentOffset(): number {
    return (this.buffer.readUInt16BE(this.offset + 6) & FRAG_OFFSET_MASK) << 3;
  }
  /** Part of a fragmented datagram: MF set or a non-zero offset. */
  get isFragment(): boolean {
    return (this.buffer.readUInt16BE(this.offset + 6) & (FLAG_MF | FRAG_OFFSET_MASK)) !== 0;
  }
  get ttl(): number {
    return this.buffer[this.offset + 8]!;
  }
  get protocol(): number {
    return this.buffer[this.offset + 9]!;
  }
  get checksum(): number {
    return this.buffer.readUInt16BE(this.offset + 10);
  }
  get srcU32(): number {
    return this.buffer.readUInt32BE(this.offset + 12);
  }
  get dstU32(): number {
    return this.buffer.readUInt32BE(this.offset + 16);
  }
  get src(): string {
    return u32ToIpv4(this.srcU32);
  }
  get dst(): string {
    return u32ToIpv4(this.dstU32);
  }
  /** Options bytes (a view; empty when IHL is 5). */
  get options(): Buffer {
    return this.buffer.subarray(this.offset + IPV4_MIN_HEADER_LEN, this.offset + this.headerLength);
  }
  /** Payload as a view, trimmed to totalLength: link layers may pad past it. */
  get payload(): Buffer {
    return this.buffer.subarray(this.offset + this.headerLength, this.offset + this.totalLength);
  }
  /** Whole packet as a view, trimmed to totalLength. */
  get packet(): Buffer {
    return this.buffer.subarray(this.offset, this.offset + this.totalLength);
  }

  verifyChecksum(): boolean {
    return checksumOk(this.buffer, this.offset, this.offset + this.headerLength);
  }

  fillChecksum(): void {
    const o = this.offset;
    this.buffer.writeUInt16BE(0, o + 10);
    this.buffer.writeUInt16BE(internetChecksum(this.buffer, o, o + this.headerLength), o + 10);
  }

  /** Keeps the header checksum valid incrementally (RFC 1624) instead of re-summing the header. */
  setTtl(ttl: number): void {
    checkUint(ttl, 0xff, 'ttl');
    const o = this.offset + 8;
    const old = this.buffer.readUInt16BE(o);
    this.patchWord(o, old, (ttl << 8) | (old & 0xff));
  }

  /** Keeps the header checksum valid incrementally (RFC 1624). */
  setEcn(ecn: number): void {
    checkUint(ecn, 3, 'ecn');
    const o = this.offset;
    const old = this.buffer.readUInt16BE(o);
    this.patchWord(o, old, (old & ~0x03) | ecn);
  }

  /** Keeps the header checksum valid incrementally (RFC 1624). */
  setDscp(dscp: number): void {
    checkUint(dscp, 63, 'dscp');
    const o = this.offset;
    const old = this.buffer.readUInt16BE(o);
    this.patchWord(o, old, (old & ~0xfc) | (dscp << 2));
  }

  private patchWord(at: number, oldWord: number, newWord: number): void {
    const c = this.offset + 10;
    this.buffer.writeUInt16BE(newWord, at);
    this.buffer.writeUInt16BE(checksumUpdate16(this.buffer.readUInt16BE(c), oldWord, newWord), c);
  }
}

export interface Ipv4Repr {
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  /** Default 0. */
  dscp?: number;
  /** Default 0 (Not-ECT). */
  ecn?: number;
  /** Default 0. */
  identification?: number;
  /** Default false. */
  dontFragment?: boolean;
  /** Default false. */
  moreFragments?: boolean;
  /** In bytes, a multiple of 8. Default 0. */
  fragmentOffset?: number;
  /** Raw option bytes, a multiple of 4, at most 40. Default none. */
  options?: Buffer;
  payload: Buffer;
}

function checkUint(v: number, max: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new CodecError(`ipv4 ${name} out of range 0..${max}: ${v}`);
  }
}

function headerLen(repr: Ipv4Repr): number {
  const optLen = repr.options?.length ?? 0;
  if (optLen % 4 !== 0 || optLen > IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN) {
    throw new CodecError(`ipv4 options must be a multiple of 4 bytes, at most 40: ${optLen}`);
  }
  return IPV4_MIN_HEADER_LEN + optLen;
}

function encodingLength(repr: Ipv4Repr): number {
  const n = headerLen(repr) + repr.payload.length;
  if (n > IPV4_MAX_PACKET_LEN) throw new CodecError(`ipv4 packet too long: ${n}`);
  return n;
}

function encode(repr: Ipv4Repr, buf?: Buffer, offset = 0): Buffer {
  const hl = headerLen(repr);
  const total = encodingLength(repr);
  const ttl = repr.ttl;
  const dscp = repr.dscp ?? 0;
  const ecn = repr.ecn ?? 0;
  const ident = repr.identification ?? 0;
  const fragOff = repr.fragmentOffset ?? 0;
  checkUint(ttl, 0xff, 'ttl');
  checkUint(repr.protocol, 0xff, 'protocol');
  checkUint(dscp, 63, 'dscp');
  checkUint(ecn, 3, 'ecn');
  checkUint(ident, 0xffff, 'identification');
  checkUint(fragOff, FRAG_OFFSET_MASK << 3, 'fragmentOffset');
  if (fragOff % 8 !== 0) throw new CodecError(`ipv4 fragmentOffset not a multiple of 8: ${fragOff}`);
  const src = toU32(repr.src);
  const dst = toU32(repr.dst);
  if (buf === undefined) {
    buf = Buffer.allocUnsafe(offset + total);
  } else if (!Number.isInteger(offset) || offset < 0 || offset + total > buf.length) {
    throw new CodecError(`ipv4 encode needs ${total} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
  const o = offset;
  buf[o] = 0x40 | (hl >> 2);
  buf[o + 1] = (dscp << 2) | ecn;
  buf.writeUInt16BE(total, o + 2);
  buf.writeUInt16BE(ident, o + 4);
  buf.writeUInt16BE(
    (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0) | (fragOff >> 3),
    o + 6,
  );
  buf[o + 8] = ttl;
  buf[o + 9] = repr.protocol;
  buf.writeUInt16BE(0, o + 10);
  buf.writeUInt32BE(src, o + 12);
  buf.writeUInt32BE(dst, o + 16);
  if (repr.options !== undefined) repr.options.copy(buf, o + IPV4_MIN_HEADER_LEN);
  buf.writeUInt16BE(internetChecksum(buf, o, o + hl), o + 10);
  copyUnlessInPlace(repr.payload, buf, o + hl);
  return buf;
}

/**
 * Buffer.copy is memmove-safe, but skipping it when the payload already sits where it belongs
 * (decode → tweak → encode in place) saves a pass over the packet.
 */
export function copyUnlessInPlace(src: Buffer, dst: Buffer, at: number): void {
  if (src.buffer === dst.buffer && src.byteOffset === dst.byteOffset + at) return;
  src.copy(dst, at);
}

/**
 * Structurally checked (not checksum-checked, so a bad header can still be inspected); throws
 * CodecError on structural errors. Use ipv4Check on the hot path. The payload is a view.
 */
function decode(buf: Buffer, offset = 0): Ipv4Repr {
  if (!Number.isInteger(offset) || offset < 0 || buf.length - offset < IPV4_MIN_HEADER_LEN) {
    throw new CodecError('ipv4 decode: shorter than a minimal header');
  }
  const p = new Ipv4Packet(buf, offset);
  const hl = p.headerLength;
  if (p.version !== 4 || hl < IPV4_MIN_HEADER_LEN || p.totalLength < hl || p.totalLength > buf.length - offset) {
    throw new CodecError('ipv4 decode: malformed header');
  }
  const repr: Ipv4Repr = {
    src: p.srcU32,
    dst: p.dstU32,
    protocol: p.protocol,
    ttl: p.ttl,
    dscp: p.dscp,
    ecn: p.ecn,
    identification: p.identification,
    dontFragment: p.dontFragment,
    moreFragments: p.moreFragments,
    fragmentOffset: p.fragmentOffset,
    payload: p.payload,
  };
  if (hl > IPV4_MIN_HEADER_LEN) repr.options = p.options;
  return repr;
}

export const Ipv4 = { encode, decode, encodingLength } as const;
