// The IKE part of the inspector's data model (`iiptran show ike --json`): stable field names,
// added to, never renamed. No key material ever appears here.

import type { IkeSa } from './ike-sa.js';
import type { PeerKeyInfo } from './auth-pubkey.js';
import { childRekeyView, ikeRekeyInSeconds } from './rekey-state.js';
import { hex32x, hex64 } from '../wire/hex.js';

export interface IkeChildView {
  spiIn: string;
  spiOut: string;
  suite: string;
  esn: boolean;
  mode: 'transport' | 'tunnel-any';
  /** IP protocols the traffic selectors agreed on: [4] or [4, 41] (41: IPv6 inner packets). */
  protocols: number[];
  ageSeconds: number;
  /** Seconds until the lifetime rekey (rekey.ts; byte/packet limits may come first); null if none is scheduled. */
  rekeyInSeconds: number | null;
  /** active, rekeying, replaced (waits for its Delete), redundant (lost a simultaneous rekey); `pending` when the outbound half is not in use yet. */
  rekeyState: string;
}

export interface IkeSaView {
  role: 'initiator' | 'responder';
  state: string;
  spiI: string;
  spiR: string;
  peer: string;
  peerPort: number;
  localPort: number;
  localId: string;
  remoteId: string;
  /** null until IKE_SA_INIT has chosen one. */
  ike: { encr: string; integ: string | null; prf: string; dh: string } | null;
  ageSeconds: number;
  establishedSecondsAgo: number | null;
  /** Configured hard lifetimes; rekeyed at a random 85-95 % of them. */
  lifetimeSeconds: { ike: number; child: number };
  /** Seconds until this IKE SA is rekeyed; null if none is scheduled (not established, or already replaced). */
  rekeyInSeconds: number | null;
  lastError: string | null;
  /** NAT detection (RFC 7296 §2.23): null when the peer sent no NAT_DETECTION; `local`: we are behind one. */
  nat: { detected: boolean; local: boolean; remote: boolean } | null;
  children: IkeChildView[];
  /** `auth: pubkey`: the raw public key the peer authenticated with; null with PSK or before IKE_AUTH. */
  peerPublicKey: PeerKeyInfo | null;
}

export interface IkePeerView {
  vlink: string;
  peer: string;
  /** The configured host name of a named peer; null for an address. */
  peerName: string | null;
  role: 'initiator' | 'responder';
  /** ESTABLISHED, CONNECTING, RESOLVING (a named peer's address), WAITING (to retry) or IDLE. */
  state: string;
  /** Consecutive failures + 1: the attempt in progress, or the next one while WAITING. */
  attempt: number;
  /** WAITING: whole seconds until the next attempt (reinit.ts backoff); null otherwise. */
  retryInSeconds: number | null;
  lastError: string | null;
  sas: IkeSaView[];
}

/** `state` with the backoff spelled out, e.g. "WAITING (retry in 8 s, attempt 4)". */
export function peerStateText(p: Pick<IkePeerView, 'state' | 'attempt' | 'retryInSeconds'>): string {
  if (p.retryInSeconds !== null && p.retryInSeconds !== undefined) return `${p.state} (retry in ${p.retryInSeconds} s, attempt ${p.attempt})`;
  if (p.state === 'CONNECTING' && p.attempt > 1) return `${p.state} (attempt ${p.attempt})`;
  return p.state;
}

const secs = (ms: number) => Math.round(ms / 1000);

export function ikeSaView(sa: IkeSa, now: number): IkeSaView {
  const s = sa.suite;
  return {
    role: sa.role,
    state: sa.state,
    spiI: hex64(sa.spiI),
    spiR: hex64(sa.spiR),
    peer: sa.remote.addr,
    peerPort: sa.remote.port,
    localPort: sa.remote.localPort,
    localId: sa.cfg.localId.text,
    remoteId: sa.cfg.remoteId.text,
    ike: s === null ? null : { encr: s.encr.name, integ: s.integ?.name ?? null, prf: s.prf.name, dh: s.dh.name },
    ageSeconds: secs(now - sa.createdAt),
    establishedSecondsAgo: sa.establishedAt === null ? null : secs(now - sa.establishedAt),
    lifetimeSeconds: { ike: sa.cfg.ikeLifetimeS, child: sa.cfg.childLifetimeS },
    rekeyInSeconds: ikeRekeyInSeconds(sa, now),
    lastError: sa.lastError,
    nat: sa.nat === null ? null : { detected: sa.nat.local || sa.nat.remote, local: sa.nat.local, remote: sa.nat.remote },
    children: sa.children.map((c) => ({ spiIn: hex32x(c.spiIn), spiOut: hex32x(c.spiOut), suite: c.suite, esn: c.esn, mode: sa.cfg.childMode ?? 'transport', protocols: c.protocols, ageSeconds: secs(now - c.createdAt), ...childRekeyView(c, now) })),
    peerPublicKey: sa.peerKey,
  };
}
