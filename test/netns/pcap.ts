// Minimal pcap reader for tests: Ethernet (linktype 1), Linux cooked (113) or raw IP (101, or
// DLT_RAW 12 as some libpcaps write it; what a TUN yields) frames carrying IPv4. Enough to pull
// real ESP packets out of a capture and replay or mutate them, or inner packets off a vlink.
// IPv6 frames too (an IPv6 underlay): `proto` is the next header, `ip` the whole IPv6 packet.
// The kernel's own IPv6 link control on an underlay veth (neighbour discovery and MLD from a
// link-local or unspecified source) is left out: it is not traffic anything under test sent,
// and whether it falls inside a capture window depends only on DAD timing.

import fs from 'node:fs';
import { formatIpv6 } from '../../src/wire/ipv6-text.js';

export interface CapturedIp {
  src: string;
  dst: string;
  proto: number;
  /** The IPv4 (or IPv6) packet. */
  ip: Buffer;
  /** UDP payload when proto is 17, IP payload otherwise. */
  payload: Buffer;
  dport: number | null;
}

function ip6Text(b: Buffer, o: number): string {
  return formatIpv6(Uint8Array.from(b.subarray(o, o + 16)));
}

function ip4(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** ICMPv6 MLD (130-132, 143) or ND (133-137) from :: or fe80::/10: the kernel's link upkeep. */
function isLinkControl(pkt: Buffer): boolean {
  if (pkt[6] !== 58 && pkt[6] !== 0) return false;
  const linkSrc = (pkt[8] === 0xfe && (pkt[9]! & 0xc0) === 0x80) || pkt.subarray(8, 24).every((x) => x === 0);
  if (!linkSrc) return false;
  // MLD reports carry a hop-by-hop header (router alert); its next header is then ICMPv6.
  const icmpAt = pkt[6] === 58 ? 40 : pkt[40] === 58 ? 40 + (pkt[41]! + 1) * 8 : -1;
  if (icmpAt < 0 || icmpAt >= pkt.length) return false;
  const type = pkt[icmpAt]!;
  return (type >= 130 && type <= 137) || type === 143;
}

export function readPcap(file: string): CapturedIp[] {
  const b = fs.readFileSync(file);
  const magic = b.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4) throw new Error(`${file}: not a little-endian microsecond pcap`);
  const linktype = b.readUInt32LE(20);
  const raw = linktype === 101 || linktype === 12;
  const l2 = linktype === 1 ? 14 : linktype === 113 ? 16 : raw ? 0 : -1;
  if (l2 < 0) throw new Error(`unsupported linktype ${linktype}`);
  const out: CapturedIp[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const incl = b.readUInt32LE(o + 8);
    const frame = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    const six = raw ? frame.length >= 40 && frame[0]! >> 4 === 6 : frame.readUInt16BE(l2 - 2) === 0x86dd;
    if (six) {
      // IPv6 without extension headers (what the underlay sockets send): next header at byte 6.
      const ip6 = frame.subarray(l2);
      const pkt = Buffer.from(ip6.subarray(0, 40 + ip6.readUInt16BE(4)));
      const proto = pkt[6]!;
      if (isLinkControl(pkt)) continue;
      let payload = pkt.subarray(40);
      let dport: number | null = null;
      if (proto === 17) {
        dport = payload.readUInt16BE(2);
        payload = payload.subarray(8);
      }
      out.push({ src: ip6Text(pkt, 8), dst: ip6Text(pkt, 24), proto, ip: pkt, payload, dport });
      continue;
    }
    if (raw ? frame.length < 20 || frame[0]! >> 4 !== 4 : frame.readUInt16BE(l2 - 2) !== 0x0800) continue;
    const ip = frame.subarray(l2);
    const ihl = (ip[0]! & 15) * 4;
    const total = ip.readUInt16BE(2);
    const pkt = Buffer.from(ip.subarray(0, total));
    const proto = pkt[9]!;
    let payload = pkt.subarray(ihl);
    let dport: number | null = null;
    if (proto === 17) {
      dport = payload.readUInt16BE(2);
      payload = payload.subarray(8);
    }
    out.push({ src: ip4(pkt, 12), dst: ip4(pkt, 16), proto, ip: pkt, payload, dport });
  }
  return out;
}

/** A pcap of bare IPv4 packets (LINKTYPE_RAW), for tshark to decode independently. */
export function writeRawPcap(file: string, pkts: Buffer[]): void {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(101, 20); // LINKTYPE_RAW: records start at the IP header
  const parts: Buffer[] = [head];
  for (const p of pkts) {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(p.length, 8);
    rec.writeUInt32LE(p.length, 12);
    parts.push(rec, p);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}
