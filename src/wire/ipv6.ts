// IPv6 (RFC 8200): a view over the bytes, a plain repr, and the checks an overlay router makes
// on an inner packet before it enters or leaves a vlink. No I/O and no logging. Validation
// returns a drop reason instead of throwing, because its input comes off the network.
// Addresses are 16 network-order bytes (addr.ts's IpAddr v6), never strings.

import { CodecError } from '../errors.js';
import { copyUnlessInPlace } from './ipv4.js';

/** The fixed IPv6 header; extension headers follow it. */
export const IPV6_HEADER_LEN = 40;
/** Protocol / next-header number of an IPv6 packet carried inside IPv4 or ESP (RFC 2473/4213). */
export const IPPROTO_IPV6 = 41;
/** The minimum link MTU every IPv6 link must carry (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** Largest packet without a jumbo payload option: 40 + a 16-bit payload length. */
export const IPV6_MAX_PACKET_LEN = IPV6_HEADER_LEN + 0xffff;

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP6 = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE6 = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_MOBILITY = 135;
export const IPPROTO_HIP = 139;
export const IPPROTO_SHIM6 = 140;

/**
 * Longest extension-header chain we pass. RFC 8200 sets no limit, but a chain this long has no
 * legitimate use (each header type should occur at most once, Destination Options twice) and
 * walking an unbounded one is work an attacker chooses (RFC 9098).
 */
export const IPV6_MAX_EXT_HEADERS = 12;

/** Why an inner IPv6 packet is refused: the drop reasons of drop-reasons.ts it maps to. */
export type Ipv6CheckError = 'ipv6-truncated' | 'ipv6-ext-chain' | 'malformed';

/**
 * Extension headers RFC 8200 §4 and the IANA registry list, which share the generic
 * (next header, length) layout except Fragment (fixed 8 bytes) and AH (length in 4-byte units).
 * ESP ends the walk: what follows is encrypted.
 */
export function isIpv6ExtHeader(nh: number): boolean {
  return nh === IPPROTO_HOPOPTS || nh === IPPROTO_ROUTING || nh === IPPROTO_FRAGMENT || nh === IPPROTO_DSTOPTS ||
    nh === IPPROTO_AH || nh === IPPROTO_MOBILITY || nh === IPPROTO_HIP || nh === IPPROTO_SHIM6 || nh === 253 || nh === 254;
}

/**
 * Where the upper layer starts, found by ipv6Walk. Kept in one reused object so the per-packet
 * walk allocates nothing.
 */
export class Ipv6Chain {
  /** Upper-layer protocol (or 59, or 50 for ESP, or the next header after a non-first fragment). */
  upper = 0;
  /** Offset of the upper-layer header from the start of the IPv6 header. */
  upperOffset = IPV6_HEADER_LEN;
  /** Extension headers walked. */
  count = 0;
  /** A Fragment header with a non-zero offset: no upper-layer header in this packet. */
  laterFragment = false;
}

/**
 * Structural check of the IPv6 packet at buf[offset..end): version 6, a whole fixed header, a
 * payload length that fits (trailing bytes past it are allowed: a TUN may pad), no jumbogram.
 * Returns the packet's length (40 + payload length) or why it is refused. Never throws.
 */
export function ipv6Check(buf: Buffer, offset = 0, end = buf.length): number | Ipv6CheckError {
  if ((offset | 0) !== offset || offset < 0 || end > buf.length || end - offset < 1) return 'ipv6-truncated';
  if (buf[offset]! >> 4 !== 6) return 'malformed';
  if (end - offset < IPV6_HEADER_LEN) return 'ipv6-truncated';
  const plen = buf.readUInt16BE(offset + 4);
  // Payload length 0 with a Hop-by-Hop header is a jumbogram (RFC 2675): no link here carries one.
  if (plen === 0 && buf[offset + 6] === IPPROTO_HOPOPTS) return 'malformed';
  const total = IPV6_HEADER_LEN + plen;
  if (total > end - offset) return 'ipv6-truncated';
  return total;
}

/**
 * Walks the extension-header chain of a packet ipv6Check accepted (total = its length), filling
 * `out`. Refused ('ipv6-ext-chain'): a header that runs past the packet, a Hop-by-Hop header
 * anywhere but first (RFC 8200 §4.1), a first fragment whose chain does not end inside it
 * (RFC 8200 §4.5, RFC 7112), or more than IPV6_MAX_EXT_HEADERS headers. Never throws.
 */
export function ipv6Walk(buf: Buffer, offset: number, total: number, out: Ipv6Chain): null | 'ipv6-ext-chain' {
  let nh = buf[offset + 6]!;
  let at = IPV6_HEADER_LEN;
  out.count = 0;
  out.laterFragment = false;
  while (isIpv6ExtHeader(nh)) {
    if (nh === IPPROTO_HOPOPTS && out.count > 0) return 'ipv6-ext-chain';
    if (++out.count > IPV6_MAX_EXT_HEADERS) return 'ipv6-ext-chain';
    if (at + 8 > total) return 'ipv6-ext-chain';
    const p = offset + at;
    const next = buf[p]!;
    let len: number;
    if (nh === IPPROTO_FRAGMENT) {
      len = 8;
      if ((buf.readUInt16BE(p + 2) & 0xfff8) !== 0) {
        // A later fragment carries no upper-layer header to find; the chain ends here.
        out.laterFragment = true;
        out.upper = next;
        out.upperOffset = at + len;
        return null;
      }
    } else if (nh === IPPROTO_AH) {
      len = (buf[p + 1]! + 2) * 4;
    } else {
      len = (buf[p + 1]! + 1) * 8;
    }
    if (at + len > total) return 'ipv6-ext-chain';
    at += len;
    nh = next;
  }
  out.upper = nh;
  out.upperOffset = at;
  return null;
}

/** Traffic class (DSCP << 2 | ECN): the high nibble of byte 0 and of byte 1 joined. */
export function ipv6TrafficClass(buf: Buffer, offset = 0): number {
  return ((buf[offset]! & 0x0f) << 4) | (buf[offset + 1]! >> 4);
}

/** ECN bits of the traffic class (RFC 3168 §5): bits 4-5 of byte 1. IPv6 has no header checksum to patch. */
export function ipv6Ecn(buf: Buffer, offset = 0): number {
  return (buf[offset + 1]! >> 4) & 3;
}

export function setIpv6Ecn(buf: Buffer, offset: number, ecn: number): void {
  buf[offset + 1] = (buf[offset + 1]! & 0xcf) | ((ecn & 3) << 4);
}

/** Zero-copy view, unchecked: run ipv6Check first on untrusted bytes. */
export class Ipv6Packet {
  buffer: Buffer;
  offset: number;

  constructor(buffer: Buffer, offset = 0) {
    this.buffer = buffer;
    this.offset = offset;
  }

  reset(buffer: Buffer, offset = 0): this {
    this.buffer = buffer;
    this.offset = offset;
    return this;
  }

  get version(): number {
    return this.buffer[this.offset]! >> 4;
  }
  get trafficClass(): number {
    return ipv6TrafficClass(this.buffer, this.offset);
  }
  get dscp(): number {
    return this.trafficClass >> 2;
  }
  get ecn(): number {
    return ipv6Ecn(this.buffer, this.offset);
  }
  set ecn(v: number) {
    setIpv6Ecn(this.buffer, this.offset, v);
  }
  get flowLabel(): number {
    return this.buffer.readUInt32BE(this.offset) & 0xfffff;
  }
  get payloadLength(): number {
    return this.buffer.readUInt16BE(this.offset + 4);
  }
  get nextHeader(): number {
    return this.buffer[this.offset + 6]!;
  }
  get hopLimit(): number {
    return this.buffer[this.offset + 7]!;
  }
  /** 16 bytes, a view. */
  get src(): Buffer {
    return this.buffer.subarray(this.offset + 8, this.offset + 24);
  }
  get dst(): Buffer {
    return this.buffer.subarray(this.offset + 24, this.offset + 40);
  }
  /** Everything after the fixed header up to the payload length: extension headers included. */
  get payload(): Buffer {
    return this.buffer.subarray(this.offset + IPV6_HEADER_LEN, this.offset + IPV6_HEADER_LEN + this.payloadLength);
  }
}

export interface Ipv6Repr {
  /** 16 bytes each. */
  src: Uint8Array;
  dst: Uint8Array;
  nextHeader: number;
  hopLimit: number;
  /** Default 0. */
  trafficClass?: number;
  /** Default 0. */
  flowLabel?: number;
  /** Extension headers included, if any: the codec does not build chains. */
  payload: Buffer;
}

function checkUint(v: number, max: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError(`ipv6 ${name} out of range 0..${max}: ${v}`);
}

function encodingLength(repr: Ipv6Repr): number {
  if (repr.payload.length > 0xffff) throw new CodecError(`ipv6 payload too long (jumbograms are not supported): ${repr.payload.length}`);
  return IPV6_HEADER_LEN + repr.payload.length;
}

function encode(repr: Ipv6Repr, buf?: Buffer, offset = 0): Buffer {
  const total = encodingLength(repr);
  const tc = repr.trafficClass ?? 0;
  const fl = repr.flowLabel ?? 0;
  checkUint(tc, 0xff, 'trafficClass');
  checkUint(fl, 0xfffff, 'flowLabel');
  checkUint(repr.nextHeader, 0xff, 'nextHeader');
  checkUint(repr.hopLimit, 0xff, 'hopLimit');
  if (repr.src.length !== 16 || repr.dst.length !== 16) throw new CodecError('ipv6 addresses are 16 bytes');
  if (buf === undefined) buf = Buffer.allocUnsafe(offset + total);
  else if (!Number.isInteger(offset) || offset < 0 || offset + total > buf.length) {
    throw new CodecError(`ipv6 encode needs ${total} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
  buf.writeUInt32BE(((6 << 28) | (tc << 20) | fl) >>> 0, offset);
  buf.writeUInt16BE(repr.payload.length, offset + 4);
  buf[offset + 6] = repr.nextHeader;
  buf[offset + 7] = repr.hopLimit;
  buf.set(repr.src, offset + 8);
  buf.set(repr.dst, offset + 24);
  copyUnlessInPlace(repr.payload, buf, offset + IPV6_HEADER_LEN);
  return buf;
}

/** Throws CodecError on anything ipv6Check refuses; the payload is a view. */
function decode(buf: Buffer, offset = 0): Ipv6Repr {
  const r = ipv6Check(buf, offset);
  if (typeof r !== 'number') throw new CodecError(`ipv6 decode: ${r}`);
  const p = new Ipv6Packet(buf, offset);
  return {
    src: Uint8Array.from(p.src), dst: Uint8Array.from(p.dst), nextHeader: p.nextHeader, hopLimit: p.hopLimit,
    trafficClass: p.trafficClass, flowLabel: p.flowLabel, payload: p.payload,
  };
}

export const Ipv6 = { encode, decode, encodingLength } as const;

/** True for an address that names one node: not unspecified (::), not multicast (ff00::/8). */
export function isIpv6UnicastBytes(b: Uint8Array, offset = 0): boolean {
  if (b[offset] === 0xff) return false;
  for (let i = 0; i < 16; i++) if (b[offset + i] !== 0) return true;
  return false;
}
