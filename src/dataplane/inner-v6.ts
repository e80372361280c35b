// IPv6 inner packets on a vlink (issue #10): IPv6-in-IPv4, ESP next header 41 (RFC 4213 §3.5,
// RFC 3884 §3), carried by the vlink's one pair of SAs and its one SPD entry. Kept beside the
// pipelines rather than inside them: send.ts and receive.ts each make one call, marked [ipv6].
//
// Outbound: the packet must be a sane IPv6 packet (fixed header, payload length within what the
// TUN handed us, a well-formed extension-header chain); too big for the vlink MTU, it is dropped
// and its sender gets ICMPv6 Packet Too Big, since IPv6 routers never fragment (RFC 8200 §5).
// Inbound: next header 41 must carry IPv6 and 4 must carry IPv4, anything else is a named drop;
// then the same checks, and RFC 6040 §4.2 on the traffic class's ECN bits.

import type { DropCounters } from './drop-reasons.js';
import type { Vlink } from './vlink.js';
import { ecnDecapsulate } from '../wire/ipip.js';
import { buildPacketTooBig } from '../wire/icmpv6.js';
import { Ipv6Chain, ipv6Check, ipv6Ecn, ipv6Walk, setIpv6Ecn } from '../wire/ipv6.js';

export { IPPROTO_IPV6 } from '../wire/ipv6.js';
export { ipv6TrafficClass } from '../wire/ipv6.js';

const chain = new Ipv6Chain();

/**
 * Outbound check of the IPv6 packet at buf[o..o+l) from vlink `v`'s TUN. Returns the length to
 * seal (trailing bytes past the payload length cut off), or -1 when the packet was dropped and
 * counted; a Packet Too Big for an oversize packet is pushed onto `errors` (to be written back
 * into the TUN, towards its sender). `limit` replaces the MTU for a TUN super-packet (USO),
 * whose segments the caller found to fit.
 */
export function outboundV6(v: Vlink, buf: Buffer, o: number, l: number, errors: Buffer[], limit = v.mtu): number {
  const drops = v.drops;
  const total = ipv6Check(buf, o, o + l);
  if (typeof total !== 'number') {
    drops[total]++;
    return -1;
  }
  if (ipv6Walk(buf, o, total, chain) !== null) {
    drops['ipv6-ext-chain']++;
    return -1;
  }
  if (total > limit) {
    drops.mtu++;
    const from = v.icmp6Src;
    if (from !== null) {
      const err = buildPacketTooBig(o === 0 && total === buf.length ? buf : buf.subarray(o, o + total), v.mtu, from);
      if (err !== null) {
        errors.push(err);
        v.stats.icmp6PacketTooBig++;
      }
    }
    return -1;
  }
  return total;
}

/**
 * Inbound check of the payload ESP delivered with next header 41, at buf[o..end). Returns the
 * inner packet's length, or -1 when it was dropped and counted. `outerTos` is the outer header's
 * TOS / traffic class when the socket reported it (undefined or negative: unknown); its ECN is
 * combined with the inner one per RFC 6040 §4.2, in place.
 */
export function inboundV6(v: Vlink, buf: Buffer, o: number, end: number, outerTos: number | undefined): number {
  const drops: DropCounters = v.drops;
  if (end - o >= 1 && buf[o]! >> 4 !== 6) {
    drops['inner-version-mismatch']++;
    return -1;
  }
  const total = ipv6Check(buf, o, end);
  if (typeof total !== 'number') {
    drops[total]++;
    return -1;
  }
  if (ipv6Walk(buf, o, total, chain) !== null) {
    drops['ipv6-ext-chain']++;
    return -1;
  }
  if (outerTos !== undefined && outerTos >= 0) {
    const innerEcn = ipv6Ecn(buf, o);
    const ecn = ecnDecapsulate(outerTos & 3, innerEcn);
    if (ecn < 0) {
      drops['ecn-ce-not-ect']++;
      return -1;
    }
    if (ecn !== innerEcn) setIpv6Ecn(buf, o, ecn);
  }
  return total;
}

/** Next header 4 must carry IPv4: true (and counted) when the payload's version says otherwise. */
export function ipipVersionMismatch(v: Vlink, buf: Buffer, o: number, end: number): boolean {
  if (end - o < 1 || buf[o]! >> 4 === 4) return false;
  v.drops['inner-version-mismatch']++;
  return true;
}
