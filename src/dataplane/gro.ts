// The JS reference of the addon's TUN write coalescing (src/native/tun_write.c): consecutive TCP
// segments of one flow become one super-packet with a virtio_net_hdr (GSO TCPV4, checksum left
// partial), which a TUN with offloads takes as one packet. Same rules, same flow table (8
// flows, the first evicted when full, flushed in slot order at the end), so tests can hold
// the two to the same writes; and segmenting a coalesced packet again (gso.ts) must give back
// the segments it was made of. Allocates per write: it is the reference, not the hot path.

import { checksumOk, fold, internetChecksum } from '../wire/checksum.js';
import { IPPROTO_TCP } from '../wire/ipv4.js';
import { GSO_NONE, GSO_TCPV4, pseudoSum, VNET_F_NEEDS_CSUM, type VnetHdr } from './gso.js';

/** One write into the TUN: the virtio_net_hdr and the packet after it. */
export interface TunWrite {
  vnet: VnetHdr;
  pkt: Buffer;
}

const FLOWS = 8;
const MAX_SEGS = 64;
const PLAIN: VnetHdr = Object.freeze({ flags: 0, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });

interface Flow {
  segs: Buffer[];
  thl: number;
  mss: number;
  total: number;
  nextSeq: number;
  nextId: number;
  closed: boolean;
  psh: boolean;
}

/** An IPv4/TCP segment (no IP options, unfragmented) with payload, ACK set, no SYN/FIN/RST/URG/CWR, a valid checksum. */
export function groCandidate(p: Buffer): boolean {
  const len = p.length;
  if (len < 40 || p[0] !== 0x45 || p[9] !== IPPROTO_TCP || p.readUInt16BE(2) !== len || (p.readUInt16BE(6) & 0x3fff) !== 0) {
    return false;
  }
  const thl = (p[32]! >> 4) * 4;
  if (thl < 20 || 20 + thl >= len) return false;
  const flags = p[33]!;
  if ((flags & 0x10) === 0 || (flags & (0x01 | 0x02 | 0x04 | 0x20 | 0x80)) !== 0) return false;
  return checksumOk(p, 20, len, pseudoSum(p, IPPROTO_TCP, len - 20));
}

function canJoin(f: Flow, p: Buffer): boolean {
  const h = f.segs[0]!;
  const thl = (p[32]! >> 4) * 4;
  const payload = p.length - 20 - thl;
  return !f.closed && f.segs.length < MAX_SEGS && thl === f.thl && payload <= f.mss && f.total + payload <= 65535 &&
    p[1] === h[1] && p[8] === h[8] && p.readUInt16BE(6) === h.readUInt16BE(6) && p.readUInt16BE(4) === f.nextId &&
    p.readUInt32BE(24) === f.nextSeq && p.readUInt32BE(28) === h.readUInt32BE(28) &&
    (p[33]! & ~0x08) === (h[33]! & ~0x08) && p.readUInt16BE(34) === h.readUInt16BE(34) &&
    p.subarray(40, 20 + thl).equals(h.subarray(40, 20 + thl));
}

function join(f: Flow, p: Buffer): void {
  const payload = p.length - 20 - f.thl;
  f.segs.push(p);
  f.total += payload;
  f.nextSeq = (f.nextSeq + payload) >>> 0;
  f.nextId = (f.nextId + 1) & 0xffff;
  if ((p[33]! & 0x08) !== 0) f.psh = f.closed = true;
  if (payload < f.mss) f.closed = true;
}

function startFlow(p: Buffer): Flow {
  const thl = (p[32]! >> 4) * 4;
  const f: Flow = {
    segs: [], thl, mss: p.length - 20 - thl, total: 20 + thl, nextSeq: p.readUInt32BE(24), nextId: p.readUInt16BE(4),
    closed: false, psh: false,
  };
  join(f, p);
  return f;
}

function build(f: Flow): TunWrite {
  if (f.segs.length === 1) return { vnet: PLAIN, pkt: Buffer.from(f.segs[0]!) };
  const hl = 20 + f.thl;
  const out = Buffer.alloc(f.total);
  f.segs[0]!.copy(out, 0, 0, hl);
  let at = hl;
  for (const s of f.segs) at += s.copy(out, at, hl);
  out.writeUInt16BE(f.total, 2);
  out.writeUInt16BE(0, 10);
  out.writeUInt16BE(internetChecksum(out, 0, 20), 10);
  out[33] = (out[33]! & ~0x08) | (f.psh ? 0x08 : 0);
  // CHECKSUM_PARTIAL: the folded pseudo-header sum, as the kernel's own TCP leaves it.
  out.writeUInt16BE(fold(pseudoSum(out, IPPROTO_TCP, f.total - 20)), 36);
  return {
    vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: hl, gsoSize: f.mss, csumStart: 20, csumOffset: 16 },
    pkt: out,
  };
}

/** The writes a TUN with offloads gets for `pkts` (IPv4 packets, in order). */
export function coalesce(pkts: readonly Buffer[]): TunWrite[] {
  const out: TunWrite[] = [];
  const flows: (Flow | null)[] = new Array<Flow | null>(FLOWS).fill(null);
  const flush = (k: number): void => {
    const f = flows[k];
    if (f) out.push(build(f));
    flows[k] = null;
  };
  for (const p of pkts) {
    const tcp = p.length >= 40 && p[0]! >> 4 === 4 && p[9] === IPPROTO_TCP && (p[0]! & 0x0f) === 5;
    let mine = -1;
    if (tcp) {
      for (let k = 0; k < FLOWS; k++) if (flows[k] && flows[k]!.segs[0]!.subarray(12, 24).equals(p.subarray(12, 24))) mine = k;
    }
    if (!tcp || !groCandidate(p)) {
      if (mine >= 0) flush(mine);
      out.push({ vnet: PLAIN, pkt: Buffer.from(p) });
      continue;
    }
    if (mine >= 0 && canJoin(flows[mine]!, p)) {
      join(flows[mine]!, p);
      continue;
    }
    if (mine >= 0) flush(mine);
    let free = flows.indexOf(null);
    if (free < 0) {
      flush(0);
      free = 0;
    }
    flows[free] = startFlow(p);
  }
  for (let k = 0; k < FLOWS; k++) flush(k);
  return out;
}
