// What the IKE engine needs from the node around it, and what it hands back. The engine never
// touches sockets or the SAD itself: the node decides how bytes travel and how SAs are installed,
// so the whole engine runs in unit tests over an in-memory transport.

import type { Suite } from '../config-types.js';
import type { IkeIdentity } from './identity.js';
import type { EspProposalSpec, IkeProposalSpec } from './proposals.js';

/** One vlink's IKE settings, resolved (proposals parsed, PSK read, IDs defaulted). */
export interface IkePeerConfig {
  vlink: string;
  /** Our underlay address (the only one IKE runs from) and the peer's. */
  local: string;
  peer: string;
  /** UDP port the peer's IKE listens on; 500. */
  peerPort: number;
  /** 'responder' never initiates; 'initiator' does (and still answers a peer that initiates). */
  role: 'initiator' | 'responder';
  psk: Buffer;
  ike: IkeProposalSpec[];
  esp: EspProposalSpec[];
  localId: IkeIdentity;
  remoteId: IkeIdentity;
  /** Parsed for the inspector; rekeying is not implemented yet. */
  ikeLifetimeS: number;
  childLifetimeS: number;
}

/** A negotiated CHILD_SA, ready for the data plane (RFC 4106/7634 key and salt per direction). */
export interface ChildSaInstall {
  spiIn: number;
  spiOut: number;
  suite: Suite;
  keyIn: Buffer;
  saltIn: Buffer;
  keyOut: Buffer;
  saltOut: Buffer;
  esn: boolean;
}

export interface IkeDatagram {
  data: Buffer;
  addr: string;
  port: number;
  /** Our port it leaves from: 500, or 4500 (then the node prepends the non-ESP marker). */
  localPort: 500 | 4500;
}

export interface IkeHost {
  send(d: IkeDatagram): void;
  /** Must add the inbound SA before switching the outbound one. Throws if it cannot. */
  installChild(vlink: string, c: ChildSaInstall): void;
  removeChild(vlink: string, c: { spiIn: number; spiOut: number }): void;
  /** A fresh inbound ESP SPI no other SA on the node uses. */
  allocSpi(): number;
}

/** One line per derived secret set, for tests and for decrypting captures (like SSLKEYLOGFILE). */
export type IkeKeyLogRecord = Record<string, string | number>;
