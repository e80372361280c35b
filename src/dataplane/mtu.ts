// The vlink MTU is derived, not guessed: the largest inner packet whose full outer packet
// (IPv4 or IPv6 + [UDP] + ESP header + IV + inner + padding + trailer + ICV) fits the underlay
// MTU. Both ends compute the same figure, which matters because OSPF refuses adjacencies across
// an MTU mismatch (see shared/interop/routing.md).

import { maxPayloadForMtu } from '../wire/esp.js';
import type { IpFamily } from '../wire/addr.js';

export const OUTER_IPV4_LEN = 20;
/** The fixed IPv6 header; the underlay sockets add no extension headers. */
export const OUTER_IPV6_LEN = 40;
export const UDP_HEADER_LEN = 8;

/** `family`: the underlay's (outer header's) address family, 4 unless it is IPv6. */
export function outerHeadersLen(encap: 'udp' | 'esp', family: IpFamily = 4): number {
  return (family === 6 ? OUTER_IPV6_LEN : OUTER_IPV4_LEN) + (encap === 'udp' ? UDP_HEADER_LEN : 0);
}

/** Largest inner packet that fits; every suite we support has the same 8/16-byte IV/ICV. */
export function vlinkMtu(underlayMtu: number, encap: 'udp' | 'esp', family: IpFamily = 4): number {
  return maxPayloadForMtu(underlayMtu - outerHeadersLen(encap, family));
}
