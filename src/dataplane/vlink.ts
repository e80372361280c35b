// A virtual link: one TUN, one peer, one outbound policy, its inbound SAs and its counters.
// This is plain state; the pipelines in send.ts and receive.ts act on it.

import type { TunDevice, UnderlaySocket } from '../io/types.js';
import type { IpAddr } from '../wire/addr.js';
import { newDropCounters, type DropCounters } from './drop-reasons.js';
import type { SpdEntry } from './spd.js';
import type { InboundSa } from './sa.js';

export interface VlinkStats {
  /** Inner packets read from the TUN and sent protected. */
  txPackets: number;
  txBytes: number;
  /** Inner packets decrypted, checked and written to the TUN. */
  rxPackets: number;
  rxBytes: number;
  /** ICMP fragmentation-needed messages generated towards VN senders. */
  icmpFragNeeded: number;
  /** ICMPv6 Packet Too Big messages generated towards VN senders (inner-v6.ts). */
  icmp6PacketTooBig: number;
  /** Liveness probes (ESP dummy packets) sent and received. */
  probesTx: number;
  probesRx: number;
  /** Times the peer's UDP source port changed (a NAT rebinding). */
  peerPortChanges: number;
  /** TCP/UDP super-packets from a TUN with offloads, split into segments as they were sealed. */
  tsoSplit: number;
}

/**
 * The fields that are not readonly change in place on a reload (control/reload.ts): a new TUN
 * would take the kernel routes through the old one with it.
 */
export interface Vlink {
  readonly name: string;
  /** Underlay addresses of the two ends: the SPD selector (local -> peer, protocol 4). */
  readonly local: IpAddr;
  peer: IpAddr;
  /**
   * Where packets for the peer are sent: `peer`, unless IKE found the peer behind a NAT at
   * another address (the NAT's). `peer` stays the SPD selector, as the config names it.
   */
  peerDst: IpAddr;
  /** Floats to the source port of the latest authentic packet (RFC 3948 NAT traversal). */
  peerPort: number;
  encap: 'udp' | 'esp';
  /** VN address of this end (for ICMP errors we originate). */
  vnAddrU32: number;
  vnAddr: string;
  vnPrefixLen: number;
  vnPeer: string | undefined;
  /**
   * Source of ICMP errors we originate into the TUN. It must not be one of this host's own
   * addresses (the kernel drops such packets as martians), so it is the far end of the link,
   * as if the next-hop router had sent the error.
   */
  icmpSrcU32: number;
  /**
   * Source of ICMPv6 errors we originate (Packet Too Big), 16 bytes: the far end of the vlink's
   * IPv6 /127, else this end's own IPv6 address, else its link-local one (which reaches only
   * senders on this node); null when the vlink has no IPv6.
   */
  icmp6Src: Uint8Array | null;
  mtu: number;
  readonly tun: TunDevice;
  underlay: UnderlaySocket;
  policy: SpdEntry;
  readonly inbound: InboundSa[];
  readonly drops: DropCounters;
  readonly stats: VlinkStats;
  carrier: boolean;
  /** Set by the receive path on every authentic packet; consumed by the liveness monitor. */
  rxAlive: boolean;
  /** When the liveness monitor last saw the link alive (ms since epoch). */
  lastAliveAt: number;
}

export function newVlinkStats(): VlinkStats {
  return {
    txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, icmpFragNeeded: 0, icmp6PacketTooBig: 0, probesTx: 0, probesRx: 0,
    peerPortChanges: 0, tsoSplit: 0,
  };
}

export { newDropCounters };

/** The far end of a point-to-point VN link: explicit peer, the /31 partner, or the /30 partner. */
export function linkPeerU32(addrU32: number, prefixLen: number, peer: number | undefined): number {
  if (peer !== undefined) return peer;
  if (prefixLen === 31) return (addrU32 ^ 1) >>> 0;
  if (prefixLen === 30) {
    const host = addrU32 & 3;
    return ((addrU32 & ~3) | (host === 1 ? 2 : 1)) >>> 0;
  }
  return addrU32;
}
