// The CHILD_SA of a vlink (RFC 3884 §3 over RFC 7296 §1.3.1/§2.9): transport mode, and traffic
// selectors naming exactly the two underlay addresses with protocol 4 (IPIP), because the outer
// header is all an IIPtran SA protects. Anything wider or narrower is TS_UNACCEPTABLE.
// child_mode tunnel-any (tunnel-any.ts) replaces these selectors with 0.0.0.0/0 for route-based peers.

import { PayloadType, TS_IPV4_ADDR_RANGE, type Ipv4Selector, type TrafficSelector, type TsPayload } from '../wire/ike/index.js';
import { ipv4ToU32 } from '../wire/addr.js';
import type { PrfId } from './crypto/prf.js';
import { childSaKeys } from './crypto/keys.js';
import type { IkeRole } from './protect.js';
import type { EspChoice } from './negotiate.js';
import type { ChildSaInstall } from './types.js';

const IPPROTO_IPIP = 4;

function hostSelector(addr: string): Ipv4Selector {
  const a = ipv4ToU32(addr);
  return { tsType: TS_IPV4_ADDR_RANGE, ipProtocol: IPPROTO_IPIP, startPort: 0, endPort: 65535, startAddress: a, endAddress: a };
}

export function tsPayload(type: typeof PayloadType.TSi | typeof PayloadType.TSr, addr: string): TsPayload {
  return { type, selectors: [hostSelector(addr)] };
}

function isV4(s: TrafficSelector): s is Ipv4Selector {
  return s.tsType === TS_IPV4_ADDR_RANGE;
}

/** Responder: does the initiator's TS payload include (addr, IPIP)? Ports are meaningless for IPIP, so any range passes. */
export function coversHost(ts: TsPayload, addr: string): boolean {
  const a = ipv4ToU32(addr);
  return ts.selectors.some((s) => isV4(s) && (s.ipProtocol === 0 || s.ipProtocol === IPPROTO_IPIP) && s.startAddress <= a && a <= s.endAddress);
}

/** Initiator: the responder must have narrowed to exactly (addr, IPIP). */
export function isExactlyHost(ts: TsPayload, addr: string): boolean {
  const a = ipv4ToU32(addr);
  return ts.selectors.length === 1 && ts.selectors.every((s) => isV4(s) && s.ipProtocol === IPPROTO_IPIP && s.startAddress === a && s.endAddress === a);
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
