// The shape of a vlink's CHILD_SA: IIPtran transport mode (child.ts), or `child_mode: tunnel-any`,
// the route-based VPN convention (VTI, XFRM interfaces, strongSwan with kernel-libipsec): a
// tunnel-mode SA with 0.0.0.0/0 any-protocol selectors on both sides, and no USE_TRANSPORT_MODE.
//
// The data plane needs no mode at all. Tunnel-mode ESP carrying an IPv4 packet has next header 4
// (RFC 4303 §2.6, IANA protocol 4 = IPv4) and its payload is the inner packet, with the outer
// header built from the two gateways' addresses: the same bytes as ESP transport of our IPIP
// packet. receive.ts accepts next header 4 and hands the inner packet to the TUN, send.ts seals
// with next header 4. Only the negotiation differs, and the kernel FIB (not the selectors)
// decides what goes into the vlink, which is exactly why route-based peers use 0/0.

import { NotifyType, PayloadType, TS_IPV4_ADDR_RANGE, notify, type Ipv4Selector, type PayloadRepr, type TsPayload } from '../wire/ike/index.js';
import { agreedProtocols, coveredProtocols, exactProtocols, tsPayload, VLINK_PROTOCOLS } from './child.js';
import { hasNotify } from './payloads.js';

export type ChildMode = 'transport' | 'tunnel-any';

interface ModeCfg {
  local: string;
  peer: string;
  childMode?: ChildMode | undefined;
}

const ANY: Ipv4Selector = { tsType: TS_IPV4_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: 0, endAddress: 0xffffffff };

export function childMode(cfg: ModeCfg): ChildMode {
  return cfg.childMode ?? 'transport';
}

function anyTs(type: typeof PayloadType.TSi | typeof PayloadType.TSr): TsPayload {
  return { type, selectors: [{ ...ANY }] };
}

function isAnySelector(s: TsPayload['selectors'][number]): boolean {
  if (s.tsType !== TS_IPV4_ADDR_RANGE) return false;
  const v = s as Ipv4Selector;
  return v.ipProtocol === 0 && v.startPort === 0 && v.endPort === 65535 && v.startAddress === 0 && v.endAddress >>> 0 === 0xffffffff;
}

/** Exactly 0.0.0.0/0, any protocol, all ports: what a tunnel-any answer must say. */
export function isAnyTs(ts: TsPayload): boolean {
  return ts.selectors.length === 1 && isAnySelector(ts.selectors[0]!);
}

/** An offer that includes 0.0.0.0/0 any protocol (among others, e.g. ::/0), which we narrow to it. */
export function coversAnyTs(ts: TsPayload): boolean {
  return ts.selectors.some(isAnySelector);
}

/**
 * Our selectors as the requester of a CHILD_SA exchange (IKE_AUTH or CREATE_CHILD_SA), TSi = us,
 * or as its responder (TSi = the peer): the payloads in order, mode notify first.
 */
export function childTsPayloads(cfg: ModeCfg, side: 'requester' | 'responder', protocols: readonly number[] = VLINK_PROTOCOLS): { mode: PayloadRepr[]; tsi: TsPayload; tsr: TsPayload } {
  if (childMode(cfg) === 'tunnel-any') return { mode: [], tsi: anyTs(PayloadType.TSi), tsr: anyTs(PayloadType.TSr) };
  const [i, r] = side === 'requester' ? [cfg.local, cfg.peer] : [cfg.peer, cfg.local];
  return { mode: [notify(NotifyType.USE_TRANSPORT_MODE)], tsi: tsPayload(PayloadType.TSi, i, protocols), tsr: tsPayload(PayloadType.TSr, r, protocols) };
}

/**
 * The IP protocols a CHILD_SA covers, from selectors checkChildAnswer (requester) or
 * checkChildRequest (responder) accepted: [4] or [4, 41]. tunnel-any's 0.0.0.0/0 names IPv4
 * inner addresses, so it covers IPv4 inner packets only.
 */
export function childProtocols(cfg: ModeCfg, side: 'requester' | 'responder', tsi: TsPayload, tsr: TsPayload): number[] {
  if (childMode(cfg) === 'tunnel-any') return [4];
  const agreed = side === 'requester'
    ? agreedProtocols(exactProtocols(tsi, cfg.local), exactProtocols(tsr, cfg.peer))
    : agreedProtocols(coveredProtocols(tsi, cfg.peer), coveredProtocols(tsr, cfg.local));
  return agreed ?? [4];
}

/** Requester: is the response's mode and narrowing what this vlink can use? Null if so. */
export function checkChildAnswer(cfg: ModeCfg, ps: readonly PayloadRepr[], tsi: TsPayload, tsr: TsPayload): string | null {
  const transport = hasNotify(ps, NotifyType.USE_TRANSPORT_MODE);
  if (childMode(cfg) === 'tunnel-any') {
    // We did not ask for transport mode; a peer that answers with it breaks RFC 7296 §1.3.1.
    if (transport) return 'peer answered USE_TRANSPORT_MODE to a tunnel-mode request';
    if (!isAnyTs(tsi) || !isAnyTs(tsr)) return 'peer narrowed the traffic selectors below 0.0.0.0/0 (child_mode tunnel-any needs any-to-any: local_ts/remote_ts = 0.0.0.0/0 on the peer)';
    return null;
  }
  if (!transport) return 'peer did not accept transport mode';
  if (agreedProtocols(exactProtocols(tsi, cfg.local), exactProtocols(tsr, cfg.peer)) === null) {
    return 'peer narrowed the traffic selectors to something other than the two underlay addresses with protocol 4 (and optionally 41)';
  }
  return null;
}

/** Responder: can we accept the request's mode and selectors? Null if so, else the notify to refuse with. */
export function checkChildRequest(cfg: ModeCfg, ps: readonly PayloadRepr[], tsi: TsPayload, tsr: TsPayload): { refuse: number; why: string } | null {
  const transport = hasNotify(ps, NotifyType.USE_TRANSPORT_MODE);
  if (childMode(cfg) === 'tunnel-any') {
    if (transport) {
      return { refuse: NotifyType.NO_PROPOSAL_CHOSEN, why: 'peer asked for transport mode; this vlink has child_mode tunnel-any (set mode = tunnel on the peer, or child_mode transport here)' };
    }
    if (!coversAnyTs(tsi) || !coversAnyTs(tsr)) {
      return { refuse: NotifyType.TS_UNACCEPTABLE, why: 'traffic selectors do not include 0.0.0.0/0 on both sides (child_mode tunnel-any; on strongSwan: local_ts = remote_ts = 0.0.0.0/0)' };
    }
    return null;
  }
  if (!transport) {
    return { refuse: NotifyType.NO_PROPOSAL_CHOSEN, why: 'peer asked for a tunnel-mode CHILD_SA; IIPtran vlinks use transport mode (set mode = transport on the peer, or child_mode tunnel-any here)' };
  }
  if (agreedProtocols(coveredProtocols(tsi, cfg.peer), coveredProtocols(tsr, cfg.local)) === null) {
    return { refuse: NotifyType.TS_UNACCEPTABLE, why: `traffic selectors do not cover ${cfg.peer} <-> ${cfg.local} protocol 4 (on strongSwan: local_ts/remote_ts = dynamic[ipencap])` };
  }
  return null;
}
