// The CHILD_SA of a vlink (RFC 3884 §3 over RFC 7296 §1.3.1/§2.9): transport mode, and traffic
// selectors naming exactly the two underlay addresses with protocol 4 (IPIP) and 41 (IPv6 inner
// packets), because the outer header is all an IIPtran SA protects. A peer may narrow away 41;
// without 4, or wider or narrower than the two hosts, it is TS_UNACCEPTABLE.
// child_mode tunnel-any (tunnel-any.ts) replaces these selectors with 0.0.0.0/0 for route-based peers.

import { PayloadType, TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE, type Ipv4Selector, type Ipv6Selector, type TrafficSelector, type TsPayload } from '../wire/ike/index.js';
import { addrBytes } from './addr-bytes.js';
import type { PrfId } from './crypto/prf.js';
import { childSaKeys } from './crypto/keys.js';
import type { IkeRole } from './protect.js';
import type { EspChoice } from './negotiate.js';
import type { ChildSaInstall } from './types.js';

const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
/**
 * What a vlink's CHILD_SA asks to cover: 4 for IPv4 inner packets and 41 for IPv6 ones (RFC 4213
 * §3.5), both over the one outer address pair. Always both: a peer that only knows IPIP narrows
 * to 4 (RFC 7296 §2.9), and then IPv6 inner packets are not ours to send.
 */
export const VLINK_PROTOCOLS: readonly number[] = [IPPROTO_IPIP, IPPROTO_IPV6];

/** (addr/32 or /128, protocol): TS_IPV6_ADDR_RANGE over an IPv6 underlay. */
function hostSelector(addr: string, proto: number): Ipv4Selector | Ipv6Selector {
  const b = addrBytes(addr);
  if (b.length === 16) return { tsType: TS_IPV6_ADDR_RANGE, ipProtocol: proto, startPort: 0, endPort: 65535, startAddress: b, endAddress: Buffer.from(b) };
  const a = b.readUInt32BE(0);
  return { tsType: TS_IPV4_ADDR_RANGE, ipProtocol: proto, startPort: 0, endPort: 65535, startAddress: a, endAddress: a };
}

/** One selector per protocol, all for the one host address. */
export function tsPayload(type: typeof PayloadType.TSi | typeof PayloadType.TSr, addr: string, protocols: readonly number[] = VLINK_PROTOCOLS): TsPayload {
  return { type, selectors: protocols.map((p) => hostSelector(addr, p)) };
}

/** Where the selector's address range puts `a` (4 or 16 bytes): -1 outside or another family, 0 inside, 1 exactly it. */
function rangeHas(s: TrafficSelector, a: Buffer): -1 | 0 | 1 {
  if (s.tsType === TS_IPV4_ADDR_RANGE && a.length === 4) {
    const v = s as Ipv4Selector;
    const n = a.readUInt32BE(0);
    if (v.startAddress > n || n > v.endAddress) return -1;
    return v.startAddress === n && v.endAddress === n ? 1 : 0;
  }
  if (s.tsType === TS_IPV6_ADDR_RANGE && a.length === 16) {
    const w = s as Ipv6Selector;
    if (Buffer.compare(w.startAddress, a) > 0 || Buffer.compare(a, w.endAddress) > 0) return -1;
    return w.startAddress.equals(a) && w.endAddress.equals(a) ? 1 : 0;
  }
  return -1;
}

/**
 * Responder: which of the vlink protocols the initiator's TS payload covers for `addr`, in
 * VLINK_PROTOCOLS order (protocol 0 covers all). Ports are meaningless for IPIP, so any range passes.
 */
export function coveredProtocols(ts: TsPayload, addr: string): number[] {
  const a = addrBytes(addr);
  return VLINK_PROTOCOLS.filter((p) => ts.selectors.some((s) => (s.ipProtocol === 0 || s.ipProtocol === p) && rangeHas(s, a) >= 0));
}

/** Responder: does the initiator's TS payload include (addr, IPIP)? */
export function coversHost(ts: TsPayload, addr: string): boolean {
  return coveredProtocols(ts, addr).includes(IPPROTO_IPIP);
}

/**
 * Initiator: the protocols a narrowed answer names, when every selector is exactly (addr, p) for
 * a p we offered; null when any selector is wider, another host, or another protocol.
 */
export function exactProtocols(ts: TsPayload, addr: string): number[] | null {
  const a = addrBytes(addr);
  if (ts.selectors.length === 0) return null;
  if (!ts.selectors.every((s) => VLINK_PROTOCOLS.includes(s.ipProtocol) && rangeHas(s, a) === 1)) return null;
  return VLINK_PROTOCOLS.filter((p) => ts.selectors.some((s) => s.ipProtocol === p));
}

/** Initiator: the responder must have narrowed to exactly (addr, IPIP), optionally with (addr, 41). */
export function isExactlyHost(ts: TsPayload, addr: string): boolean {
  return exactProtocols(ts, addr)?.includes(IPPROTO_IPIP) === true;
}

/**
 * The protocols both sides' selectors agree on (a kernel policy needs the protocol on both):
 * the CHILD_SA carries IPv6 inner packets only when 41 is in it. Null when IPIP is not.
 */
export function agreedProtocols(a: readonly number[] | null, b: readonly number[] | null): number[] | null {
  if (a === null || b === null) return null;
  const both = a.filter((p) => b.includes(p));
  return both.includes(IPPROTO_IPIP) ? both : null;
}

/**
 * The data-plane view of a negotiated CHILD_SA. KEYMAT's first half protects traffic from the
 * exchange's initiator to its responder (RFC 7296 §2.17), so which half is "in" depends on role.
 */
export function childInstall(prfId: PrfId, skD: Buffer, ni: Buffer, nr: Buffer, choice: EspChoice, spiIn: number, role: IkeRole, protocols: readonly number[] = [IPPROTO_IPIP]): ChildSaInstall {
  const k = childSaKeys(prfId, skD, choice.suite, ni, nr);
  const [inn, out] = role === 'initiator' ? [k.responderToInitiator, k.initiatorToResponder] : [k.initiatorToResponder, k.responderToInitiator];
  return { spiIn, spiOut: choice.peerSpi, suite: choice.suite, keyIn: inn.key, saltIn: inn.salt, keyOut: out.key, saltOut: out.salt, esn: choice.esn, protocols: [...protocols] };
}
