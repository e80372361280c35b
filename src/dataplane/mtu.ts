// The vlink MTU is derived, not guessed: the largest inner packet whose full outer packet
// (IPv4 + [UDP] + ESP header + IV + inner + padding + trailer + ICV) fits the underlay MTU.
// Both ends compute the same figure, which matters because OSPF refuses adjacencies across
// an MTU mismatch (see shared/interop/routing.md).

import { maxPayloadForMtu } from '../wire/esp.js';

export const OUTER_IPV4_LEN = 20;
export const UDP_HEADER_LEN = 8;

export function outerHeadersLen(encap: 'udp' | 'esp'): number {
  return OUTER_IPV4_LEN + (encap === 'udp' ? UDP_HEADER_LEN : 0);
}

/** Largest inner packet that fits; every suite we support has the same 8/16-byte IV/ICV. */
export function vlinkMtu(underlayMtu: number, encap: 'udp' | 'esp'): number {
  return maxPayloadForMtu(underlayMtu - outerHeadersLen(encap));
}

