// UDP (RFC 768) view and repr. The checksum covers an IPv4 pseudo-header, so every checksum
// operation takes the IP source and destination as u32 numbers.

import { CodecError } from '../errors.js';
import { toU32 } from './addr.js';
import { fold, onesSum } from './checksum.js';
import { copyUnlessInPlace, IPPROTO_UDP } from './ipv4.js';

export const UDP_HEADER_LEN = 8;
export const UDP_MAX_PAYLOAD_LEN = 0xffff - UDP_HEADER_LEN;

export interface UdpPseudoHeader {
  src: number;
  dst: number;
}

/** Sum of the RFC 768 pseudo-header (src, dst, zero, protocol, UDP length), unfolded words. */
function pseudoSum(srcU32: number, dstU32: number, udpLength: number): number {
  return (
    (srcU32 >>> 16) + (srcU32 & 0xffff) + (dstU32 >>> 16) + (dstU32 & 0xffff) + IPPROTO_UDP + udpLength
  );
}

/**
 * Checksum field value for the UDP datagram buf[offset..offset+udpLength) whose checksum field
 * holds zero. A computed 0 goes out as 0xffff: on the wire 0 means "no checksum" (RFC 768).
 */
export function udpChecksum(buf: Buffer, offset: number, udpLength: number, srcU32: number, dstU32: number): number {
  const c = ~onesSum(buf, offset, offset + udpLength, fold(pseudoSum(srcU32, dstU32, udpLength))) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/**
 * Validates the UDP datagram at buf[offset..end): header present, length field within bounds,
 * and the checksum when one was sent. Never throws.
 */
export function udpCheck(
  buf: Buffer,
  srcU32: number,
  dstU32: number,
  offset = 0,
  end = buf.length,
): 'malformed' | null {
  if ((offset | 0) !== offset || offset < 0 || end > buf.length || end - offset < UDP_HEADER_LEN) {
    return 'malformed';
  }
  const len = buf.readUInt16BE(offset + 4);
  if (len < UDP_HEADER_LEN || len > end - offset) return 'malformed';
  if (buf.readUInt16BE(offset + 6) === 0) return null;
  const sum = onesSum(buf, offset, offset + len, fold(pseudoSum(srcU32 >>> 0, dstU32 >>> 0, len)));
  return sum === 0xffff ? null : 'malformed';
}

export class UdpDatagram {
  buffer: Buffer;
  offset: number;

  /** Unchecked: run udpCheck first on untrusted bytes. */
  constructor(buffer: Buffer, offset = 0) {
    this.buffer = buffer;
    this.offset = offset;
  }

  reset(buffer: Buffer, offset = 0): this {
    this.buffer = buffer;
    this.offset = offset;
    return this;
  }

  get srcPort(): number {
    return this.buffer.readUInt16BE(this.offset);
  }
  get dstPort(): number {
    return this.buffer.readUInt16BE(this.offset + 2);
  }
  /** Header plus payload, per the length field. */
  get length(): number {
    return this.buffer.readUInt16BE(this.offset + 4);
  }
  get checksum(): number {
    return this.buffer.readUInt16BE(this.offset + 6);
  }
  /** A view trimmed to the length field. */
  get payload(): Buffer {
    return this.buffer.subarray(this.offset + UDP_HEADER_LEN, this.offset + this.length);
  }

  /** True when the checksum is absent (0) or correct. */
  verifyChecksum(srcU32: number, dstU32: number): boolean {
    if (this.checksum === 0) return true;
    const sum = onesSum(this.buffer, this.offset, this.offset + this.length, fold(pseudoSum(srcU32 >>> 0, dstU32 >>> 0, this.length)));
    return sum === 0xffff;
  }

  fillChecksum(srcU32: number, dstU32: number): void {
    const o = this.offset;
    this.buffer.writeUInt16BE(0, o + 6);
    this.buffer.writeUInt16BE(udpChecksum(this.buffer, o, this.length, srcU32 >>> 0, dstU32 >>> 0), o + 6);
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  /**
   * IP addresses the checksum covers. Absent: the datagram goes out with checksum 0, which
   * IPv4 allows (RFC 768) and which skips a pass over the payload.
   */
  pseudoHeader?: UdpPseudoHeader;
}

function checkPort(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new CodecError(`udp ${name} out of range: ${v}`);
}

function encodingLength(repr: UdpRepr): number {
  const n = UDP_HEADER_LEN + repr.payload.length;
  if (n > 0xffff) throw new CodecError(`udp datagram too long: ${n}`);
  return n;
}

function encode(repr: UdpRepr, buf?: Buffer, offset = 0): Buffer {
  checkPort(repr.srcPort, 'srcPort');
  checkPort(repr.dstPort, 'dstPort');
  const len = encodingLength(repr);
  const ph = repr.pseudoHeader;
  const src = ph === undefined ? 0 : toU32(ph.src);
  const dst = ph === undefined ? 0 : toU32(ph.dst);
  if (buf === undefined) {
    buf = Buffer.allocUnsafe(offset + len);
  } else if (!Number.isInteger(offset) || offset < 0 || offset + len > buf.length) {
    throw new CodecError(`udp encode needs ${len} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
  buf.writeUInt16BE(repr.srcPort, offset);
  buf.writeUInt16BE(repr.dstPort, offset + 2);
  buf.writeUInt16BE(len, offset + 4);
  buf.writeUInt16BE(0, offset + 6);
  copyUnlessInPlace(repr.payload, buf, offset + UDP_HEADER_LEN);
  if (ph !== undefined) buf.writeUInt16BE(udpChecksum(buf, offset, len, src, dst), offset + 6);
  return buf;
}

/**
 * Throws CodecError when the header is missing or the length field overruns the buffer; does
 * not verify the checksum (that needs the IP addresses: use udpCheck). Payload is a view.
 */
function decode(buf: Buffer, offset = 0): UdpRepr {
  if (!Number.isInteger(offset) || offset < 0 || buf.length - offset < UDP_HEADER_LEN) {
    throw new CodecError('udp decode: shorter than a header');
  }
  const d = new UdpDatagram(buf, offset);
  if (d.length < UDP_HEADER_LEN || d.length > buf.length - offset) {
    throw new CodecError('udp decode: length field out of bounds');
  }
  return { srcPort: d.srcPort, dstPort: d.dstPort, payload: d.payload };
}

export const Udp = { encode, decode, encodingLength } as const;
