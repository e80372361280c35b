// NAT traversal for IKEv2 (RFC 7296 §2.23) and the UDP encapsulation it leads to (RFC 3948).
//
// Both ends put NAT_DETECTION_SOURCE_IP and NAT_DETECTION_DESTINATION_IP into IKE_SA_INIT:
// SHA-1(SPIi | SPIr | IP | port) of the addresses each end believes it uses. The receiver
// recomputes the hashes from the addresses the packet actually carried; a source mismatch
// means the sender is behind a NAT, a destination mismatch means we are.
//
// When a NAT is detected, the initiator moves to port 4500 (non-ESP marker) for IKE_AUTH and
// everything after, so IKE and ESP share one NAT mapping; the responder answers wherever a
// request came from; the end behind the NAT sends keepalives (RFC 3948 §2.3) so the mapping
// outlives quiet periods. Without a NAT nothing moves: IKE stays on 500. The data plane's ESP
// is UDP-encapsulated on 4500 by configuration either way (the vlink's `encap`), so the only
// thing NAT changes for ESP is where it is sent: the address and port the IKE SA sees.

import { createHash } from 'node:crypto';
import { u32ToIpv4 } from '../wire/addr.js';
import { addrBytes, bytesAddr } from './addr-bytes.js';
import {
  IkeMessageCodec, NotifyType, PayloadType, TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE, notify,
  type Ipv4Selector, type Ipv6Selector, type NotifyPayload, type PayloadRepr, type SaPayload, type TsPayload,
} from '../wire/ike/index.js';
import { notifies, find } from './payloads.js';
import { spiBytes, type IkeSa, type Remote } from './ike-sa.js';
import { selectIke } from './negotiate.js';
import { sameIdentity } from './identity.js';
import { ikeSuiteName } from './crypto/suites.js';
import type { ChildSaInstall, IkePeerConfig } from './types.js';

export const NAT_T_PORT = 4500;
/** RFC 3948 §4 suggests 20 s; most consumer NATs forget UDP mappings after 30 s or more. */
export const DEFAULT_NAT_KEEPALIVE_MS = 20000;

export interface NatState {
  /** The peer sent NAT_DETECTION payloads, so it can do UDP encapsulation. */
  supported: boolean;
  /** We are behind a NAT: our address or port is rewritten on the way out. */
  local: boolean;
  /** The peer is behind a NAT. */
  remote: boolean;
  /**
   * Responder only: the IKE_SA_INIT came from an address no vlink names, from an initiator that
   * says it is behind a NAT. The vlink is decided by the identity in IKE_AUTH.
   */
  unbound: boolean;
}

interface Endpoint {
  addr: string;
  port: number;
}

/** SHA-1(SPIi | SPIr | IP address (4 or 16 bytes) | port), the NAT_DETECTION_*_IP notification data. */
export function natHash(spiI: bigint, spiR: bigint, ep: Endpoint): Buffer {
  const ip = addrBytes(ep.addr);
  const b = Buffer.alloc(18 + ip.length);
  spiBytes(spiI).copy(b, 0);
  spiBytes(spiR).copy(b, 8);
  ip.copy(b, 16);
  b.writeUInt16BE(ep.port, 16 + ip.length);
  return createHash('sha1').update(b).digest();
}

/** Our two NAT_DETECTION notifies: where we send from, and where we send to. */
export function natDetectionNotifies(spiI: bigint, spiR: bigint, src: Endpoint, dst: Endpoint): NotifyPayload[] {
  return [
    notify(NotifyType.NAT_DETECTION_SOURCE_IP, natHash(spiI, spiR, src)),
    notify(NotifyType.NAT_DETECTION_DESTINATION_IP, natHash(spiI, spiR, dst)),
  ];
}

/**
 * Compares the peer's NAT_DETECTION notifies with the addresses its message actually carried:
 * `seenSrc` is where it came from, `seenDst` the address and port it reached us at. Null when
 * the peer sent none (it does not support NAT traversal). Several SOURCE notifies are allowed
 * (a multi-homed sender); any one matching means no NAT on its side.
 */
export function detectNat(ps: readonly PayloadRepr[], spiI: bigint, spiR: bigint, seenSrc: Endpoint, seenDst: Endpoint): NatState | null {
  const ns = notifies(ps);
  const srcs = ns.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
  const dsts = ns.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP);
  if (srcs.length === 0 || dsts.length === 0) return null;
  const s = natHash(spiI, spiR, seenSrc);
  const d = natHash(spiI, spiR, seenDst);
  return {
    supported: true,
    remote: !srcs.some((n) => n.data.equals(s)),
    local: !dsts.some((n) => n.data.equals(d)),
    unbound: false,
  };
}

export function natDetected(sa: IkeSa): boolean {
  return sa.nat !== null && (sa.nat.local || sa.nat.remote);
}

/** Initiator: the notifies for IKE_SA_INIT (SPIr is still zero in the hashes, RFC 7296 §2.23). */
export function initRequestNatNotifies(sa: IkeSa): NotifyPayload[] {
  return natDetectionNotifies(sa.spiI, 0n, { addr: sa.cfg.local, port: sa.remote.localPort }, { addr: sa.remote.addr, port: sa.remote.port });
}

/**
 * Responder: detection on the request, and the notifies for our response. The response carries
 * them only if the request did: a peer that sent none would not understand a move to 4500.
 */
export function initResponseNat(sa: IkeSa, request: readonly PayloadRepr[]): NotifyPayload[] {
  const here = { addr: sa.cfg.local, port: sa.remote.localPort };
  const there = { addr: sa.remote.addr, port: sa.remote.port };
  const st = detectNat(request, sa.spiI, 0n, there, here);
  if (st === null) return [];
  sa.nat = st;
  return natDetectionNotifies(sa.spiI, sa.spiR, here, there);
}

/**
 * Initiator: detection on the IKE_SA_INIT response; if a NAT sits on the path, IKE moves to
 * 4500 before IKE_AUTH, so the mapping IKE opens is the one ESP will use.
 */
export function onInitResponseNat(sa: IkeSa, response: readonly PayloadRepr[]): void {
  sa.nat = detectNat(response, sa.spiI, sa.spiR, { addr: sa.remote.addr, port: sa.remote.port }, { addr: sa.cfg.local, port: sa.remote.localPort });
  if (natDetected(sa) && sa.remote.localPort !== NAT_T_PORT) {
    sa.remote = { addr: sa.remote.addr, port: NAT_T_PORT, localPort: NAT_T_PORT };
  }
}

/**
 * An authenticated request came from `from`: answers go back there (RFC 7296 §2.11), and
 * behind a NAT that is also where later requests and ESP must go, because the NAT may have
 * given the peer a new port (§2.23). Unauthenticated packets never get here: a forged one
 * must not be able to steer our traffic.
 */
export function authenticatedFrom(sa: IkeSa, from: Remote): boolean {
  const r = sa.remote;
  if (r.addr === from.addr && r.port === from.port && r.localPort === from.localPort) return false;
  if (r.addr !== from.addr && !natDetected(sa)) return false;
  sa.remote = { ...from };
  return true;
}

/**
 * The data plane's view of where the peer is. The CHILD_SA's inbound selector has to name the
 * address packets really arrive from (receive.ts drops an authentic packet whose outer source
 * is not the SA's source): through a NAT that is the NAT's public address, not the peer's own
 * underlay address. IIPtran SAs are transport mode over the outer IPIP header only, so the
 * RFC 3948 §3.1.3 checksum fix-ups that NAT-OA exists for do not arise (IPIP has no checksum
 * over the outer addresses) and NAT-OA is neither sent nor needed. The ESP port follows the
 * IKE SA's port when IKE itself runs encapsulated: that is the NAT mapping ESP shares.
 */
export function natInstall(sa: IkeSa, c: ChildSaInstall): ChildSaInstall {
  const out: ChildSaInstall = { ...c, peerAddr: sa.remote.addr };
  if (sa.remote.localPort === NAT_T_PORT) out.peerPort = sa.remote.port;
  return out;
}

/**
 * RFC 3948 §2.3 keepalives: one 0xff byte from 4500 to the peer's 4500 mapping, only from the
 * end behind the NAT (only it has a mapping to keep). They stop with the SA: `sa.after` timers
 * die in `close`.
 */
export function startNatKeepalive(sa: IkeSa, intervalMs: () => number, send: (addr: string, port: number) => void): boolean {
  if (intervalMs() <= 0 || sa.nat === null || !sa.nat.local || sa.remote.localPort !== NAT_T_PORT) return false;
  // The interval is read at every tick so that a reload's new value applies to running SAs.
  const tick = () => {
    const ms = intervalMs();
    if (sa.state === 'DELETED' || ms <= 0) return;
    send(sa.remote.addr, sa.remote.port);
    sa.after(ms, tick);
  };
  sa.after(intervalMs(), tick);
  return true;
}

/**
 * Responder, IKE_SA_INIT from an address that is not any vlink's `peer`: acceptable only when
 * the initiator itself reports being behind a NAT (its SOURCE hash does not match what we
 * saw), because then no address could have been configured for it. Returns the vlinks whose
 * proposals accept the request; the first one answers provisionally, and IKE_AUTH's IDi picks
 * the real one (`rebindByIdentity`).
 */
export function natCandidates(ps: readonly PayloadRepr[], spiI: bigint, from: Remote, cfgs: readonly IkePeerConfig[]): IkePeerConfig[] {
  const saP = find(ps, PayloadType.SA);
  const ke = find(ps, PayloadType.KE);
  if (saP === undefined || ke === undefined) return [];
  return cfgs.filter((c) => {
    const st = detectNat(ps, spiI, 0n, { addr: from.addr, port: from.port }, { addr: c.local, port: from.localPort });
    return st !== null && st.remote && selectIke(saP, c.ike, ke.group).kind !== 'no-proposal';
  });
}

/**
 * Responder, IKE_SA_INIT from an address no vlink expects and no NAT explains: the vlinks with a
 * named peer whose proposals accept it (a named peer may have moved). IDi picks the vlink at
 * IKE_AUTH, and DNS must then vouch for the address (authorise.ts).
 */
export function namedCandidates(ps: readonly PayloadRepr[], cfgs: readonly IkePeerConfig[]): IkePeerConfig[] {
  const saP = find(ps, PayloadType.SA);
  const ke = find(ps, PayloadType.KE);
  if (saP === undefined || ke === undefined) return [];
  return cfgs.filter((c) => selectIke(saP, c.ike, ke.group).kind !== 'no-proposal');
}

/**
 * IKE_AUTH on an unbound SA: the vlink whose remote_id equals IDi, provided its proposals
 * would have accepted the IKE suite already negotiated. Null when none does; the caller then
 * answers AUTHENTICATION_FAILED with the provisional config (whose PSK check fails anyway
 * unless the identity is right).
 */
export function rebindByIdentity(sa: IkeSa, ps: readonly PayloadRepr[], cfgs: readonly IkePeerConfig[]): IkePeerConfig | null {
  const idi = find(ps, PayloadType.IDi);
  if (idi === undefined || sa.suite === null) return null;
  const chosen = chosenProposal(sa.initResponse);
  if (chosen === null) return null;
  const want = ikeSuiteName(sa.suite);
  for (const c of cfgs) {
    if (!sameIdentity(idi, c.remoteId)) continue;
    const sel = selectIke(chosen, c.ike, sa.suite.dh.id);
    if (sel.kind === 'ok' && ikeSuiteName(sel.choice.suite) === want) return c;
  }
  return null;
}

function chosenProposal(initResponse: Buffer): SaPayload | null {
  const m = IkeMessageCodec.decode(initResponse);
  if (!m.ok) return null;
  return find(m.payloads, PayloadType.SA) ?? null;
}

/** The one host every selector names (one per protocol, child.ts), or null. */
function singleHost(ts: TsPayload): string | null {
  if (ts.selectors.length === 0) return null;
  const hosts = new Set(ts.selectors.map(selectorHost));
  return hosts.size === 1 ? [...hosts][0]! : null;
}

function selectorHost(s: TsPayload['selectors'][number]): string | null {
  if (s.tsType === TS_IPV6_ADDR_RANGE) {
    const w = s as Ipv6Selector;
    return w.startAddress.equals(w.endAddress) ? bytesAddr(w.startAddress) : null;
  }
  if (s.tsType !== TS_IPV4_ADDR_RANGE) return null;
  const v = s as Ipv4Selector;
  return v.startAddress === v.endAddress ? u32ToIpv4(v.startAddress >>> 0) : null;
}

/**
 * RFC 7296 §2.23.1, transport mode across a NAT: the initiator's TSi names its own (private)
 * address, which we never see, and if we are the ones behind the NAT its TSr names our public
 * one. For the selector check and the answer, the end behind the NAT is whatever single host
 * its selector names: the answer then echoes the initiator's own selectors, which is what it
 * checks for. What actually binds the SA to the peer is the authenticated IKE SA and the
 * observed address the CHILD_SA is installed with (natInstall), not these selectors.
 */
export function natTsCfg<C extends { local: string; peer: string }>(sa: IkeSa, cfg: C, tsi: TsPayload, tsr: TsPayload): C {
  if (sa.nat === null || (!sa.nat.remote && !sa.nat.local)) return cfg;
  const peer = sa.nat.remote ? singleHost(tsi) ?? cfg.peer : cfg.peer;
  const local = sa.nat.local ? singleHost(tsr) ?? cfg.local : cfg.local;
  return { ...cfg, peer, local };
}
