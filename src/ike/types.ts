// What the IKE engine needs from the node around it, and what it hands back. The engine never
// touches sockets or the SAD itself: the node decides how bytes travel and how SAs are installed,
// so the whole engine runs in unit tests over an in-memory transport.

import type { Suite } from '../dataplane/suite.js';
import type { IkeIdentity } from './identity.js';
import type { EspProposalSpec, IkeProposalSpec } from './proposals.js';
import type { PubkeyAuth } from './auth-pubkey.js';
import type { ChildMode } from './tunnel-any.js';

/** One vlink's IKE settings, resolved (proposals parsed, PSK read, IDs defaulted). */
export interface IkePeerConfig {
  vlink: string;
  /** Our underlay address (the only one IKE runs from) and the peer's ('' while a named peer is unresolved). */
  local: string;
  peer: string;
  /**
   * The peer's host name when the config names it (`peer: b.overlay.test`): the host resolves it
   * before every initiation (resolvePeer) and vouches for any other address it initiates from
   * (checkPeerAddress).
   */
  peerName?: string;
  /** UDP port the peer's IKE listens on; 500. */
  peerPort: number;
  /** 'responder' never initiates; 'initiator' does (and still answers a peer that initiates). */
  role: 'initiator' | 'responder';
  psk: Buffer;
  ike: IkeProposalSpec[];
  esp: EspProposalSpec[];
  localId: IkeIdentity;
  remoteId: IkeIdentity;
  /** Hard lifetimes; rekey.ts replaces the SA at a random 85-95 % of them. */
  ikeLifetimeS: number;
  childLifetimeS: number;
  /** CHILD_SA volume lifetimes (either direction); absent or 0: none. */
  childLifetimeBytes?: number;
  childLifetimePackets?: number;
  /** dpd_interval_s (dpd.ts): silence after which the peer is asked if it is alive; 0 = never; absent = 10. */
  dpdIntervalS?: number;
  /** `auth: pubkey` (auth-pubkey.ts); absent: PSK. */
  pubkey?: PubkeyAuth;
  /** CHILD_SA shape (tunnel-any.ts); absent: transport. */
  childMode?: ChildMode;
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
  /**
   * IP protocols the traffic selectors agreed on (child.ts): [4] or [4, 41]; IPv6 inner packets
   * (next header 41) belong to this SA only with 41. Absent (manual keying): [4, 41].
   */
  protocols?: number[];
  /** Where the IKE SA sees the peer (a NAT's public address and mapped port, nat.ts); absent: the vlink's `peer`. */
  peerAddr?: string;
  peerPort?: number;
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
  installChild(vlink: string, c: ChildSaInstall, opts?: { outbound?: boolean }): void;
  removeChild(vlink: string, c: { spiIn: number; spiOut: number }): void;
  /**
   * A rekey responder installs with `outbound: false` and calls this once the initiator is known
   * to hold the new inbound SA (rekey.ts): switching earlier would race the response and lose
   * packets. Hosts without it switch at install time.
   */
  activateChild?(vlink: string, c: { spiIn: number; spiOut: number }): void;
  /** Traffic through a CHILD_SA's two data-plane SAs, for byte/packet lifetimes; null if unknown. */
  childUsage?(vlink: string, c: { spiIn: number; spiOut: number }): ChildUsage | null;
  /** A fresh inbound ESP SPI no other SA on the node uses. */
  allocSpi(): number;
  /** A NAT keepalive (RFC 3948 §2.3: one 0xff byte) from our 4500 socket; optional for hosts without one. */
  sendKeepalive?(addr: string, port: number): void;
  /**
   * Named peers: the address to initiate to, resolved now (`attempt` counts failures, so a host
   * with several addresses can try them in order), or why there is none. Before it answers, the
   * host moves the vlink with `relocatePeer` when the address changed. Must not reject.
   */
  resolvePeer?(vlink: string, attempt: number): Promise<{ addr: string } | { error: string }>;
  /**
   * Named peers: null when a fresh, validated resolution of the vlink's peer name yields `addr`;
   * otherwise why not. Asked before an SA from an address the vlink does not expect is
   * authenticated. Must not reject.
   */
  checkPeerAddress?(vlink: string, addr: string): Promise<string | null>;
  /** A named peer's SA was established from `addr`, which differs from what the vlink had. */
  peerRelocated?(vlink: string, addr: string): void;
  /**
   * How an attempt with the peer at `addr` ended: an IKE SA established (either role), or one we
   * initiated failed (no answer, refused, DPD). KX failover (RFC 2230) keys on it.
   */
  peerAttempt?(vlink: string, addr: string, ok: boolean, why?: string): void;
}

export interface ChildUsage {
  inPackets: number;
  inBytes: number;
  outPackets: number;
  outBytes: number;
  /** Last outbound sequence number: a non-ESN SA must be replaced before it wraps. */
  outSeq: number;
}

/** One line per derived secret set, for tests and for decrypting captures (like SSLKEYLOGFILE). */
export type IkeKeyLogRecord = Record<string, string | number>;
