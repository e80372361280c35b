// The CHILD_SA of a vlink (RFC 3884 §3 over RFC 7296 §1.3.1/§2.9): transport mode, and traffic
// selectors naming exactly the two underlay addresses with protocol 4 (IPIP), because the outer
// header is all an IIPtran SA protects. Anything wider or narrower is TS_UNACCEPTABLE.
// child_mode tunnel-any (tunnel-any.ts) replaces these selectors with 0.0.0.0/0 for route-based peers.

import { PayloadType, TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE, type Ipv4Selector, type Ipv6Selector, type TrafficSelector, type TsPayload } from '../wire/ike/index.js';
import { addrBytes } from './addr-bytes.js';
import type { PrfId } from './crypto/prf.js';
import { childSaKeys } from './crypto/keys.js';
import type { IkeRole } from './protect.js';
import type { EspChoice } from './negotiate.js';
import type { ChildSaInstall } from './types.js';

const IPPROTO_IPIP = 4;

/** (addr/32 or /128, protocol 4): TS_IPV6_ADDR_RANGE over an IPv6 underlay. */
function hostSelector(addr: string): Ipv4Selector | Ipv6Selector {
  const b = addrBytes(addr);
  if (b.length === 16) return { tsType: TS_IPV6_ADDR_RANGE, ipProtocol: IPPROTO_IPIP, startPort: 0, endPort: 65535, startAddress: b, endAddress: Buffer.from(b) };
  const a = b.readUInt32BE(0);
  return { tsType: TS_IPV4_ADDR_RANGE, ipProtocol: IPPROTO_IPIP, startPort: 0, endPort: 65535, startAddress: a, endAddress: a };
}

export function tsPayload(type: typeof PayloadType.TSi | typeof PayloadType.TSr, addr: string): TsPayload {
  return { type, selectors: [hostSelector(addr)] };
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

/** Responder: does the initiator's TS payload include (addr, IPIP)? Ports are meaningless for IPIP, so any range passes. */
export function coversHost(ts: TsPayload, addr: string): boolean {
  const a = addrBytes(addr);
  return ts.selectors.some((s) => (s.ipProtocol === 0 || s.ipProtocol === IPPROTO_IPIP) && rangeHas(s, a) >= 0);
}

/** Initiator: the responder must have narrowed to exactly (addr, IPIP). */
export function isExactlyHost(ts: TsPayload, addr: string): boolean {
  const a = addrBytes(addr);
  return ts.selectors.length === 1 && ts.selectors.every((s) => s.ipProtocol === IPPROTO_IPIP && rangeHas(s, a) === 1);
}

/**
 * The data-plane view of a negotiated CHILD_SA. KEYMAT's first half protects traffic from the
 * exchange's initiator to its responder (RFC 7296 §2.17), so which half is "in" depends on role.
 */
export function childInstall(prfId: PrfId, skD: Buffer, ni: Buffer, nr: Buffer, choice: EspChoice, spiIn: number, role: IkeRole): ChildSaInstall {
  const k = childSaKeys(prfId, skD, choice.suite, ni, nr);
  const [inn, out] = role === 'initiator' ? [k.responderToInitiator, k.initiatorToResponder] : [k.initiatorToResponder, k.responderToInitiator];
  return { spiIn, spiOut: choice.peerSpi, suite: choice.suite, keyIn: inn.key, saltIn: inn.salt, keyOut: out.key, saltOut: out.salt, esn: choice.esn };
}
