// TUN offloads in the data plane's terms: the virtio_net_hdr a TUN opened with IFF_VNET_HDR
// puts before each packet, and the JS reference of what the addon does with it (esp_seal.c
// segments while it seals; tun_write.c coalesces): split a TCP or UDP super-packet into
// segments with their own IPv4 ID, lengths and checksums, or complete a partial checksum. The
// rules, and what counts as malformed metadata, are the same on both sides; tests hold the two
// to the same bytes. This copy allocates per segment: it is the reference, not the hot path.

import { fold, internetChecksum, onesSum } from '../wire/checksum.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';

export const VNET_HDR_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP_L4 = 5;

/** The header's fields (little-endian on the wire: legacy virtio in a little-endian host's order). */
export interface VnetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function readVnetHdr(buf: Buffer, off: number): VnetHdr {
  return {
    flags: buf[off]!,
    gsoType: buf[off + 1]!,
    hdrLen: buf.readUInt16LE(off + 2),
    gsoSize: buf.readUInt16LE(off + 4),
    csumStart: buf.readUInt16LE(off + 6),
    csumOffset: buf.readUInt16LE(off + 8),
  };
}

export function writeVnetHdr(h: VnetHdr, buf: Buffer, off: number): void {
  buf[off] = h.flags;
  buf[off + 1] = h.gsoType;
  buf.writeUInt16LE(h.hdrLen, off + 2);
  buf.writeUInt16LE(h.gsoSize, off + 4);
  buf.writeUInt16LE(h.csumStart, off + 6);
  buf.writeUInt16LE(h.csumOffset, off + 8);
}

/** How a packet is to be sent, once its header was checked against it. */
export interface OffloadPlan {
  /** 0: one packet as is (after any checksum completion); IPPROTO_TCP/UDP: segment. */
  gso: number;
  /** IPv4 + transport header bytes each segment repeats. */
  hl: number;
  /** Payload bytes per segment. */
  mss: number;
  nseg: number;
  /** Where to store a completed partial checksum (-1: none), summed from csumFrom to the end. */
  csumAt: number;
  csumFrom: number;
}

/**
 * Checks `h` against the IPv4 packet `pkt` (its exact length). 'bad-offload' for anything the
 * kernel would not legitimately hand us with the offloads we enable: unknown flags, UFO/IPv6/ECN
 * GSO types, a GSO packet that is not unfragmented TCP/UDP with its checksum left to us, a
 * checksum start or field outside the packet.
 */
export function planOffload(pkt: Buffer, h: VnetHdr): OffloadPlan | 'bad-offload' {
  const len = pkt.length;
  if ((h.flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) !== 0) return 'bad-offload';
  // IPv6 comes too: TUN_F_CSUM covers it, and USO4 is only granted together with USO6.
  const v6 = len >= 40 && pkt[0]! >> 4 === 6;
  let iphl = 40;
  if (v6) {
    if (pkt.readUInt16BE(4) + 40 !== len) return 'bad-offload';
  } else {
    if (len < 20 || pkt[0]! >> 4 !== 4) return 'bad-offload';
    iphl = (pkt[0]! & 0x0f) * 4;
    if (iphl < 20 || iphl > len || pkt.readUInt16BE(2) !== len) return 'bad-offload';
  }
  const needsCsum = (h.flags & VNET_F_NEEDS_CSUM) !== 0;
  const plan: OffloadPlan = { gso: 0, hl: 0, mss: 0, nseg: 1, csumAt: -1, csumFrom: 0 };
  if (h.gsoType === GSO_NONE) {
    if (!needsCsum) return plan;
    if (h.csumStart < iphl || h.csumStart >= len || h.csumStart + h.csumOffset + 2 > len) return 'bad-offload';
    plan.csumFrom = h.csumStart;
    plan.csumAt = h.csumStart + h.csumOffset;
    return plan;
  }
  // IPv6: only a UDP header right after the fixed header is segmented (TSO6 is never enabled).
  const proto = v6 ? pkt[6]! : pkt[9]!;
  let l4hl: number;
  if (h.gsoType === GSO_TCPV4) {
    if (v6 || proto !== IPPROTO_TCP || h.csumOffset !== 16 || iphl + 20 > len) return 'bad-offload';
    l4hl = (pkt[iphl + 12]! >> 4) * 4;
    if (l4hl < 20) return 'bad-offload';
  } else if (h.gsoType === GSO_UDP_L4) {
    if (proto !== IPPROTO_UDP || h.csumOffset !== 6 || iphl + 8 > len || pkt.readUInt16BE(iphl + 4) !== len - iphl) {
      return 'bad-offload';
    }
    l4hl = 8;
  } else {
    return 'bad-offload';
  }
  if (!needsCsum || h.csumStart !== iphl || (!v6 && (pkt.readUInt16BE(6) & 0x3fff) !== 0)) return 'bad-offload';
  if (iphl + l4hl > len || h.gsoSize === 0 || iphl + l4hl + h.gsoSize > 65535) return 'bad-offload';
  const payload = len - iphl - l4hl;
  plan.gso = proto;
  plan.hl = iphl + l4hl;
  plan.mss = h.gsoSize;
  plan.nseg = payload <= h.gsoSize ? 1 : Math.ceil(payload / h.gsoSize);
  return plan;
}

/** Pseudo-header sum (RFC 793/768, RFC 8200 §8.1) for an IPv4 or IPv6 packet's transport part of `l4len` bytes. */
export function pseudoSum(pkt: Buffer, proto: number, l4len: number): number {
  if (pkt[0]! >> 4 === 6) return onesSum(pkt, 8, 40, proto + (l4len >>> 16) + (l4len & 0xffff));
  return onesSum(pkt, 12, 20, proto + l4len);
}

/**
 * The packets `pkt` stands for under `plan`: segments with fixed-up headers and checksums,
 * or `pkt` itself with its partial checksum completed (in place). Fresh buffers per segment.
 */
export function applyOffload(pkt: Buffer, plan: OffloadPlan): Buffer[] {
  if (plan.gso === 0) {
    if (plan.csumAt >= 0) {
      const c = internetChecksum(pkt, plan.csumFrom, pkt.length);
      // The field held the pseudo-header sum and is part of the range; 0 goes out as 0xffff,
      // as the kernel's skb_checksum_help does (UDP's "no checksum" must not appear).
      pkt.writeUInt16BE(c === 0 ? 0xffff : c, plan.csumAt);
    }
    return [pkt];
  }
  const v6 = pkt[0]! >> 4 === 6;
  const iphl = v6 ? 40 : (pkt[0]! & 0x0f) * 4;
  const total = pkt.length - plan.hl;
  const id0 = v6 ? 0 : pkt.readUInt16BE(4);
  const seq0 = plan.gso === IPPROTO_TCP ? pkt.readUInt32BE(iphl + 4) : 0;
  const out: Buffer[] = [];
  for (let k = 0; k < plan.nseg; k++) {
    const segLen = Math.min(plan.mss, total - k * plan.mss);
    const last = k === plan.nseg - 1;
    const s = Buffer.alloc(plan.hl + segLen);
    pkt.copy(s, 0, 0, plan.hl);
    pkt.copy(s, plan.hl, plan.hl + k * plan.mss, plan.hl + k * plan.mss + segLen);
    const l4len = plan.hl - iphl + segLen;
    if (v6) {
      s.writeUInt16BE(l4len, 4);
    } else {
      s.writeUInt16BE(plan.hl + segLen, 2);
      s.writeUInt16BE((id0 + k) & 0xffff, 4);
      s.writeUInt16BE(0, 10);
      s.writeUInt16BE(internetChecksum(s, 0, iphl), 10);
    }
    if (plan.gso === IPPROTO_TCP) {
      s.writeUInt32BE((seq0 + k * plan.mss) >>> 0, iphl + 4);
      // FIN and PSH only on the last segment, CWR only on the first (the kernel's TSO rules).
      if (!last) s[iphl + 13] = s[iphl + 13]! & ~0x09;
      if (k > 0) s[iphl + 13] = s[iphl + 13]! & ~0x80;
      s.writeUInt16BE(0, iphl + 16);
      s.writeUInt16BE(internetChecksum(s, iphl, s.length, pseudoSum(s, IPPROTO_TCP, l4len)), iphl + 16);
    } else {
      s.writeUInt16BE(8 + segLen, iphl + 4);
      s.writeUInt16BE(0, iphl + 6);
      const c = internetChecksum(s, iphl, s.length, pseudoSum(s, IPPROTO_UDP, l4len));
      s.writeUInt16BE(c === 0 ? 0xffff : c, iphl + 6);
    }
    out.push(s);
  }
  return out;
}

/** Folded, uncomplemented pseudo-header sum: what a CHECKSUM_PARTIAL TCP packet carries in its field. */
export function partialTcpChecksum(pkt: Buffer, l4len: number): number {
  return fold(pseudoSum(pkt, IPPROTO_TCP, l4len));
}
