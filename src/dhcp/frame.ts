// DHCP payloads in and out of IPv4/UDP, as they travel inside a vlink (IPIP + ESP): the node
// injects framed packets into the vlink's send path and takes DHCP out of the receive path
// before the TUN (control/node-dhcp.ts). Pure, never throws on received bytes.

import { Ipv4, Ipv4Packet, IPPROTO_UDP, ipv4Check } from '../wire/ipv4.js';
import { Udp, UdpDatagram, udpCheck } from '../wire/udp.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const TTL = 64;

export interface Framed {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  /** A view into the packet; copy it to keep it. */
  payload: Buffer;
}

export type UnframeDrop = 'ip-malformed' | 'ip-fragment' | 'udp-malformed';

/** payload as UDP src:sport -> dst:dport in an IPv4 packet, checksums filled. */
export function frameDhcp(payload: Buffer, src: number, dst: number, sport: number, dport: number): Buffer {
  const udp = Udp.encode({ srcPort: sport, dstPort: dport, payload, pseudoHeader: { src: src >>> 0, dst: dst >>> 0 } });
  return Ipv4.encode({ src: src >>> 0, dst: dst >>> 0, protocol: IPPROTO_UDP, ttl: TTL, payload: udp });
}

/**
 * The UDP ports of an IPv4 packet without any other check: the receive path's cheap test of
 * whether a packet is DHCP at all. Null when it is not UDP, or a later fragment (no header).
 * A first fragment has its ports, and unframeDhcp drops it: DHCP is never fragmented here.
 */
export function udpPorts(ip: Buffer): { sport: number; dport: number } | null {
  // DHCPv4 is IPv4: an IPv6 packet from a dual-stack vlink is never the node's to take.
  if (ip.length < 28 || ip[0]! >> 4 !== 4 || ip[9] !== IPPROTO_UDP || (ip.readUInt16BE(6) & 0x1fff) !== 0) return null;
  const ihl = (ip[0]! & 15) * 4;
  if (ihl < 20 || ip.length < ihl + 8) return null;
  return { sport: ip.readUInt16BE(ihl), dport: ip.readUInt16BE(ihl + 2) };
}

/** Header, length and checksum checks, then the addresses, ports and payload. */
export function unframeDhcp(ip: Buffer): Framed | UnframeDrop {
  if (ipv4Check(ip) !== null) return 'ip-malformed';
  const p = new Ipv4Packet(ip);
  if (p.protocol !== IPPROTO_UDP) return 'ip-malformed';
  if (p.moreFragments || p.fragmentOffset !== 0) return 'ip-fragment';
  const hl = p.headerLength;
  const end = p.totalLength;
  if (udpCheck(ip, p.srcU32, p.dstU32, hl, end) !== null) return 'udp-malformed';
  const u = new UdpDatagram(ip, hl);
  return { src: p.srcU32, dst: p.dstU32, sport: u.srcPort, dport: u.dstPort, payload: u.payload };
}
