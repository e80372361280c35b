// EDNS(0) (RFC 6891): the OPT pseudo-RR in the additional section. Its CLASS is the requester's
// UDP payload size and its TTL holds the extended RCODE, version and flags (DO, RFC 3225).

import type { DnsMessage } from './message.js';
import type { DnsRR } from './rr.js';
import { RRType } from './types.js';

export const EDNS_DO = 0x8000;
/** The DNS Flag Day 2020 default: fits every path MTU we meet without fragments. */
export const EDNS_UDP_SIZE = 1232;
export const EDE_OPTION = 15; // RFC 8914 Extended DNS Error

export interface Edns {
  udpSize: number;
  /** The upper 8 bits of the 12-bit RCODE. */
  extendedRcode: number;
  version: number;
  do: boolean;
  /** The flags word as sent, DO included. */
  flags: number;
  options: { code: number; data: Buffer }[];
}

export function optRR(e: { udpSize?: number; do?: boolean; options?: { code: number; data: Buffer }[] } = {}): DnsRR {
  return { name: [], type: RRType.OPT, class: e.udpSize ?? EDNS_UDP_SIZE, ttl: e.do ? EDNS_DO : 0, data: { kind: 'OPT', options: e.options ?? [] } };
}

/** The message's OPT, or null without one, or 'multiple' when there is more than one (RFC 6891 §6.1.1: FORMERR). */
export function ednsOf(m: DnsMessage): Edns | null | 'multiple' {
  const opts = m.additional.filter((r) => r.type === RRType.OPT);
  if (opts.length === 0) return null;
  if (opts.length > 1) return 'multiple';
  const o = opts[0]!;
  return {
    udpSize: o.class,
    extendedRcode: o.ttl >>> 24,
    version: (o.ttl >>> 16) & 0xff,
    do: (o.ttl & EDNS_DO) !== 0,
    flags: o.ttl & 0xffff,
    options: o.data.kind === 'OPT' ? o.data.options : [],
  };
}

/** The full 12-bit RCODE. */
export function fullRcode(m: DnsMessage): number {
  const e = ednsOf(m);
  return (e !== null && e !== 'multiple' ? e.extendedRcode << 4 : 0) | m.rcode;
}
