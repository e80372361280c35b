// The IKE part of the inspector's data model (`iiptran show ike --json`): stable field names,
// added to, never renamed. No key material ever appears here.

import { spiHex } from '../../wire/ike/index.js';
import type { IkeSa } from './ike-sa.js';

export interface IkeChildView {
  spiIn: string;
  spiOut: string;
  suite: string;
  esn: boolean;
  mode: 'transport';
  ageSeconds: number;
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
  /** Configured; not enforced yet (no rekeying in this version). */
  lifetimeSeconds: { ike: number; child: number };
  lastError: string | null;
  children: IkeChildView[];
}

export interface IkePeerView {
  vlink: string;
  peer: string;
  role: 'initiator' | 'responder';
  /** ESTABLISHED, CONNECTING, WAITING (to retry) or IDLE. */
  state: string;
  lastError: string | null;
  sas: IkeSaView[];
}

const secs = (ms: number) => Math.round(ms / 1000);
const hex8 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

export function ikeSaView(sa: IkeSa, now: number): IkeSaView {
  const s = sa.suite;
  return {
    role: sa.role,
    state: sa.state,
    spiI: spiHex(sa.spiI),
    spiR: spiHex(sa.spiR),
    peer: sa.remote.addr,
    peerPort: sa.remote.port,
    localPort: sa.remote.localPort,
    localId: sa.cfg.localId.text,
    remoteId: sa.cfg.remoteId.text,
    ike: s === null ? null : { encr: s.encr.name, integ: s.integ?.name ?? null, prf: s.prf.name, dh: s.dh.name },
    ageSeconds: secs(now - sa.createdAt),
    establishedSecondsAgo: sa.establishedAt === null ? null : secs(now - sa.establishedAt),
    lifetimeSeconds: { ike: sa.cfg.ikeLifetimeS, child: sa.cfg.childLifetimeS },
    lastError: sa.lastError,
    children: sa.children.map((c) => ({ spiIn: hex8(c.spiIn), spiOut: hex8(c.spiOut), suite: c.suite, esn: c.esn, mode: 'transport', ageSeconds: secs(now - c.createdAt) })),
  };
}
