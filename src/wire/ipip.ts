// IPv4-in-IPv4 (RFC 2003) with RFC 6040 ECN handling: normal mode on encapsulation, the full
// decapsulation table on the way out. Both run per packet and work in place.

import { CodecError } from '../errors.js';
import { toU32 } from './addr.js';
import { checksumUpdate16, internetChecksum } from './checksum.js';
import {
  ECN_CE,
  ECN_ECT0,
  ECN_ECT1,
  ECN_NOT_ECT,
  IPPROTO_IPIP,
  IPV4_MAX_PACKET_LEN,
  IPV4_MIN_HEADER_LEN,
  ipv4Check,
} from './ipv4.js';

export const IPIP_HEADER_LEN = IPV4_MIN_HEADER_LEN;
/** RFC 2003 §3.1 asks for a TTL fit to reach the tunnel exit; 64 is the usual host default. */
export const IPIP_OUTER_TTL = 64;

export type IpipDecapError = 'malformed' | 'ecn-ce-not-ect';

/**
 * Writes the 20-byte outer header at out[offset..]; the caller puts `inner` right after it.
 * TOS is copied whole: DSCP as RFC 2003 §3.1 allows, ECN per RFC 6040 §4.1 normal mode (CE
 * included). DF follows the inner header (RFC 2003 §3.1). Throws CodecError when the inner
 * bytes cannot be an IPv4 packet or the result would not fit: run ipv4Check on untrusted input.
 */
export function ipipEncap(
  inner: Buffer,
  outerSrcU32: number,
  outerDstU32: number,
  ident: number,
  out: Buffer,
  offset: number,
): number {
  if (inner.length < IPV4_MIN_HEADER_LEN || inner[0]! >> 4 !== 4) {
    throw new CodecError('ipip encap: inner is not an IPv4 packet');
  }
  const total = IPIP_HEADER_LEN + inner.length;
  if (total > IPV4_MAX_PACKET_LEN) throw new CodecError(`ipip encap: outer packet too long: ${total}`);
  if (!Number.isInteger(ident) || ident < 0 || ident > 0xffff) {
    throw new CodecError(`ipip encap: identification out of range: ${ident}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + IPIP_HEADER_LEN > out.length) {
    throw new CodecError(`ipip encap needs ${IPIP_HEADER_LEN} bytes at offset ${offset}, buffer has ${out.length}`);
  }
  const src = toU32(outerSrcU32);
  const dst = toU32(outerDstU32);
  const o = offset;
  out[o] = 0x45;
  out[o + 1] = inner[1]!;
  out.writeUInt16BE(total, o + 2);
  out.writeUInt16BE(ident, o + 4);
  // Only DF is inherited: the outer packet is a fresh datagram, never a fragment itself.
  out.writeUInt16BE(inner.readUInt16BE(6) & 0x4000, o + 6);
  out[o + 8] = IPIP_OUTER_TTL;
  out[o + 9] = IPPROTO_IPIP;
  out.writeUInt16BE(0, o + 10);
  out.writeUInt32BE(src, o + 12);
  out.writeUInt32BE(dst, o + 16);
  out.writeUInt16BE(internetChecksum(out, o, o + IPIP_HEADER_LEN), o + 10);
  return IPIP_HEADER_LEN;
}

/**
 * RFC 6040 §4.2 Figure 4 as [outer][inner] → resulting inner ECN, -1 = drop. The cells the RFC
 * marks "(!!!)" (ECT or CE outer over a Not-ECT inner, CE inner under ECT(1) outer) can only
 * come from a broken or attacked path; the codec applies the table and leaves any alarm to
 * the caller, since codecs do not log.
 */
const DECAP_ECN: readonly (readonly number[])[] = [
  /* outer Not-ECT */ [ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_CE],
  /* outer ECT(1)  */ [ECN_NOT_ECT, ECN_ECT1, ECN_ECT1, ECN_CE],
  /* outer ECT(0)  */ [ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_CE],
  /* outer CE      */ [-1, ECN_CE, ECN_CE, ECN_CE],
];

/** Resulting inner ECN for an outer/inner pair, or -1 when RFC 6040 says drop. */
export function ecnDecapsulate(outerEcn: number, innerEcn: number): number {
  return DECAP_ECN[outerEcn & 3]![innerEcn & 3]!;
}

/**
 * Validates outer (protocol 4, unfragmented) and inner headers, applies the RFC 6040 ECN table
 * to the inner header IN PLACE (checksum patched incrementally) and returns a view of the inner
 * packet trimmed to its totalLength. Never throws.
 */
export function ipipDecap(outer: Buffer): { inner: Buffer } | IpipDecapError {
  if (ipv4Check(outer) !== null) return 'malformed';
  if (outer[9] !== IPPROTO_IPIP) return 'malformed';
  // A fragment would need reassembly first; the inner header may not even be complete.
  if ((outer.readUInt16BE(6) & 0x3fff) !== 0) return 'malformed';
  const hl = (outer[0]! & 0x0f) << 2;
  const end = outer.readUInt16BE(2);
  if (ipv4Check(outer, hl, end) !== null) return 'malformed';

  const outerEcn = outer[1]! & 3;
  const tos = outer[hl + 1]!;
  const innerEcn = tos & 3;
  const ecn = DECAP_ECN[outerEcn]![innerEcn]!;
  if (ecn < 0) return 'ecn-ce-not-ect';
  if (ecn !== innerEcn) {
    const oldWord = outer.readUInt16BE(hl);
    const newWord = (oldWord & ~3) | ecn;
    outer.writeUInt16BE(newWord, hl);
    outer.writeUInt16BE(checksumUpdate16(outer.readUInt16BE(hl + 10), oldWord, newWord), hl + 10);
  }
  return { inner: outer.subarray(hl, hl + outer.readUInt16BE(hl + 2)) };
}
