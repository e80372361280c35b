// ICMPv6 (RFC 4443): the checksum over the IPv6 pseudo-header, and Packet Too Big, the one error
// an overlay router originates for IPv6 (IPv6 routers never fragment, RFC 8200 §5).

import { CodecError } from '../errors.js';
import { internetChecksum, onesSum } from './checksum.js';
import {
  IPPROTO_ICMPV6,
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
  Ipv6Chain,
  ipv6Check,
  ipv6Walk,
  isIpv6UnicastBytes,
} from './ipv6.js';

export const ICMPV6_HEADER_LEN = 8;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_REDIRECT = 137;
/** RFC 4443 §2.4(c): an error message must not exceed the minimum IPv6 MTU. */
export const PTB_MAX_LEN = IPV6_MIN_MTU;

/** Types 0..127 are errors (RFC 4443 §2.1). */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/** Ones' sum of the pseudo-header (RFC 8200 §8.1) for an upper layer of `len` bytes, protocol `nh`. */
export function pseudoHeaderSum(buf: Buffer, ipOffset: number, len: number, nh: number): number {
  // Source and destination sit contiguously at bytes 8..40 of the IPv6 header.
  let s = onesSum(buf, ipOffset + 8, ipOffset + 40);
  s += Math.floor(len / 0x10000) + (len & 0xffff) + nh;
  return s;
}

/** Checksum of the ICMPv6 message at buf[at..at+len) inside the IPv6 packet at ipOffset (field zeroed by the caller). */
export function icmpv6Checksum(buf: Buffer, ipOffset: number, at: number, len: number): number {
  return internetChecksum(buf, at, at + len, pseudoHeaderSum(buf, ipOffset, len, IPPROTO_ICMPV6));
}

/** True when the ICMPv6 message at buf[at..at+len) of the IPv6 packet at ipOffset has a correct checksum. */
export function icmpv6ChecksumOk(buf: Buffer, ipOffset: number, at: number, len: number): boolean {
  return onesSum(buf, at, at + len, pseudoHeaderSum(buf, ipOffset, len, IPPROTO_ICMPV6)) === 0xffff;
}

const chain = new Ipv6Chain();

/**
 * A complete IPv6 + ICMPv6 Packet Too Big (type 2 code 0, RFC 4443 §3.2) for `original`, to its
 * source, from `from` (16 bytes), quoting as much of the original as fits in 1280 bytes. Null
 * where RFC 4443 §2.4(e) forbids an error: the original is an ICMPv6 error or a redirect, or its
 * source does not name one node (unspecified, multicast). A multicast destination does get one
 * (§2.4(e.3) makes Packet Too Big the exception). Malformed originals give null as well: their
 * bytes came from outside.
 */
export function buildPacketTooBig(original: Buffer, mtu: number, from: Uint8Array, out?: Buffer): Buffer | null {
  if (!Number.isInteger(mtu) || mtu < IPV6_MIN_MTU || mtu > 0xffffffff) {
    throw new CodecError(`Packet Too Big MTU out of range ${IPV6_MIN_MTU}..4294967295: ${mtu}`);
  }
  if (from.length !== 16) throw new CodecError('Packet Too Big: the source address is 16 bytes');
  const total = ipv6Check(original);
  if (typeof total !== 'number') return null;
  if (!isIpv6UnicastBytes(original, 8)) return null;
  if (ipv6Walk(original, 0, total, chain) !== null) return null;
  if (chain.upper === IPPROTO_ICMPV6 && !chain.laterFragment) {
    // Without the type byte we cannot rule out answering an error with an error.
    if (chain.upperOffset >= total) return null;
    const type = original[chain.upperOffset]!;
    if (isIcmpv6Error(type) || type === ICMPV6_REDIRECT) return null;
  }
  const quote = Math.min(total, PTB_MAX_LEN - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN);
  const len = IPV6_HEADER_LEN + ICMPV6_HEADER_LEN + quote;
  let buf: Buffer;
  if (out === undefined) buf = Buffer.allocUnsafe(len);
  else if (out.length < len) throw new CodecError(`buildPacketTooBig needs ${len} bytes, out has ${out.length}`);
  else buf = out.subarray(0, len);

  buf.writeUInt32BE(0x60000000, 0);
  buf.writeUInt16BE(ICMPV6_HEADER_LEN + quote, 4);
  buf[6] = IPPROTO_ICMPV6;
  buf[7] = 64;
  buf.set(from, 8);
  original.copy(buf, 24, 8, 24);
  const o = IPV6_HEADER_LEN;
  buf[o] = ICMPV6_PACKET_TOO_BIG;
  buf[o + 1] = 0;
  buf.writeUInt16BE(0, o + 2);
  buf.writeUInt32BE(mtu, o + 4);
  original.copy(buf, o + ICMPV6_HEADER_LEN, 0, quote);
  buf.writeUInt16BE(icmpv6Checksum(buf, 0, o, ICMPV6_HEADER_LEN + quote), o + 2);
  return buf;
}
