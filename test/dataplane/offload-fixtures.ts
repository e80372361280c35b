// Packets for the offload tests: IPv4/TCP and IPv4/UDP segments with valid checksums, and the
// super-packets a TUN with offloads hands over (checksum left partial, a virtio_net_hdr).

import { internetChecksum } from '../../src/wire/checksum.js';
import { GSO_TCPV4, GSO_UDP_L4, partialTcpChecksum, pseudoSum, VNET_F_NEEDS_CSUM, type VnetHdr } from '../../src/dataplane/gso.js';

export const TCP_ACK = 0x10;
export const TCP_PSH = 0x08;
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_CWR = 0x80;

export interface TcpSpec {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  id?: number;
  flags?: number;
  window?: number;
  /** TCP options, a multiple of 4 bytes (default: NOP NOP timestamps). */
  options?: Buffer;
  payload: Buffer;
  tos?: number;
  ttl?: number;
  df?: boolean;
}

export const TIMESTAMPS = Buffer.from('0101080a0001e2400000abcd', 'hex');

function ipHeader(total: number, proto: number, s: { src?: string; dst?: string; id?: number; tos?: number; ttl?: number; df?: boolean }): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = s.tos ?? 0;
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(s.id ?? 0x1234, 4);
  h.writeUInt16BE(s.df === false ? 0 : 0x4000, 6);
  h[8] = s.ttl ?? 64;
  h[9] = proto;
  Buffer.from((s.src ?? '10.255.0.0').split('.').map(Number)).copy(h, 12);
  Buffer.from((s.dst ?? '10.255.0.1').split('.').map(Number)).copy(h, 16);
  h.writeUInt16BE(internetChecksum(h, 0, 20), 10);
  return h;
}

/** An IPv4/TCP packet with valid checksums, or with the TCP checksum left partial (`partial`). */
export function tcpPacket(t: TcpSpec, partial = false): Buffer {
  const opts = t.options ?? TIMESTAMPS;
  const thl = 20 + opts.length;
  const total = 20 + thl + t.payload.length;
  const p = Buffer.concat([ipHeader(total, 6, t), Buffer.alloc(thl), t.payload]);
  p.writeUInt16BE(t.sport ?? 40000, 20);
  p.writeUInt16BE(t.dport ?? 5201, 22);
  p.writeUInt32BE((t.seq ?? 1000) >>> 0, 24);
  p.writeUInt32BE((t.ack ?? 777) >>> 0, 28);
  p[32] = (thl / 4) << 4;
  p[33] = t.flags ?? TCP_ACK;
  p.writeUInt16BE(t.window ?? 502, 34);
  opts.copy(p, 40);
  p.writeUInt16BE(
    partial ? partialTcpChecksum(p, total - 20) : internetChecksum(p, 20, total, pseudoSum(p, 6, total - 20)),
    36,
  );
  return p;
}

export function udpPacket(u: { payload: Buffer; sport?: number; dport?: number; id?: number; src?: string; dst?: string }, partial = false): Buffer {
  const total = 28 + u.payload.length;
  const p = Buffer.concat([ipHeader(total, 17, u), Buffer.alloc(8), u.payload]);
  p.writeUInt16BE(u.sport ?? 40000, 20);
  p.writeUInt16BE(u.dport ?? 5201, 22);
  p.writeUInt16BE(total - 20, 24);
  const pseudo = pseudoSum(p, 17, total - 20);
  const c = partial ? pseudo : internetChecksum(p, 20, total, pseudo);
  p.writeUInt16BE(c === 0 ? 0xffff : c, 26);
  return p;
}

/** A TCP super-packet as a TUN with TSO hands it over: checksum partial, header NEEDS_CSUM / TCPV4. */
export function tcpSuper(t: TcpSpec, mss: number): { pkt: Buffer; vnet: VnetHdr } {
  const pkt = tcpPacket(t, true);
  const thl = (pkt[32]! >> 4) * 4;
  return {
    pkt,
    vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 20 + thl, gsoSize: mss, csumStart: 20, csumOffset: 16 },
  };
}

export function udpSuper(u: { payload: Buffer; id?: number }, mss: number): { pkt: Buffer; vnet: VnetHdr } {
  const pkt = udpPacket(u, true);
  return { pkt, vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_UDP_L4, hdrLen: 28, gsoSize: mss, csumStart: 20, csumOffset: 6 } };
}

/** Deterministic filler. */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
