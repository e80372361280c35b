/* Outbound pipeline for one vlink (read top to bottom, like wireguard-go's send.go):
 *
 *   1. read    a batch of inner VN packets arrives from the vlink's TUN
 *   2. check   IPv4 or IPv6, header sane; too big for the vlink MTU: with DF set, an ICMP
 *              fragmentation-needed goes back into the TUN to the VN sender (RFC 1191); an
 *              IPv6 packet always gets ICMPv6 Packet Too Big (inner-v6.ts)
 *   3. policy  the IPIP outer header is (local underlay -> peer underlay, protocol 4); the SPD
 *              is consulted with exactly that triple. Every packet of a vlink shares it, so
 *              the lookup is done once per batch. No entry, DISCARD, or no usable SA: drop.
 *              There is no bypass path.
 *   4. seal    ESP transport mode over the IPIP packet's payload, next header 4 (RFC 3884 §3),
 *              or 41 for an IPv6 inner packet (the same SA and SPD entry): a batch is sealed
 *              as runs of one family each, one call per run, in the order the TUN gave them
 *   5. send    one batch on the underlay socket
 *
 * The outer IPv4 header itself is written by the kernel's underlay socket from the same
 * (source, destination) pair the SPD matched: source = the socket's bound underlay address,
 * destination = the peer, TTL 64, DF always set (RFC 2003 §3.1 requires DF when the inner
 * has it and allows it otherwise; the vlink MTU guarantees the outer packet fits). Its TOS is
 * the inner TOS byte as is, handed to the socket per datagram: DSCP by the RFC 2983 uniform
 * model, ECN by RFC 6040 §4.1 normal mode (CE included), so congestion marks and priorities
 * set inside the VN are visible to the underlay, and probes go best effort.
 */

import type { Datagram, EspCrypto, TunBatch, UnderlaySocket } from '../io/types.js';
import { ipv4Check, IPPROTO_IPIP, IPPROTO_NONE, IPPROTO_TCP } from '../wire/ipv4.js';
import { buildFragNeeded } from '../wire/icmp.js';
import { espSeal } from './esp-engine.js';
import { FastPath } from './fast-state.js';
import { BatchPacker } from './batch-pack.js';
import { EspBatch, SealOut, ST_OK, ST_SKIP, statusReason } from './esp-batch.js';
import { FairDrop } from './fair-drop.js';
import { IPPROTO_IPV6, outboundV6 } from './inner-v6.js';
import type { OutboundSa } from './sa.js';
import type { Spd } from './spd.js';
import type { Vlink } from './vlink.js';

/** Room for the largest inner packet a TUN can hand us plus every header we add (probes). */
const SLOT_SIZE = 65536 + 128;
const EMPTY = Buffer.alloc(0);
/**
 * The sealed output of one TUN batch collects here and leaves in sends of this size: large
 * enough for a 64 KiB super-packet's segments several times over, small enough to stay in cache.
 */
const OUT_BYTES = 512 * 1024;
const OUT_PACKETS = 1024;

export class Sender {
  private readonly slots: Buffer[] = [];
  private readonly engine: EspBatch;
  private readonly out = new SealOut(OUT_BYTES, OUT_PACKETS);
  private status = new Int32Array(64);
  private readonly packer = new BatchPacker();
  private readonly views: Datagram[] = [];
  private readonly fair = new FairDrop();
  /** The native outbound fast path for established SAs (fast-state.ts), when the crypto offers it. */
  readonly fast: FastPath | null;

  constructor(
    private readonly spd: Spd,
    crypto: EspCrypto | null = null,
  ) {
    this.engine = new EspBatch(crypto);
    this.fast = crypto?.fastPath === true ? new FastPath(spd, crypto) : null;
  }

  /** Whether sealing runs in the addon (native OpenSSL contexts) or in the JS reference engine. */
  get nativeCrypto(): boolean {
    return this.engine.crypto !== null;
  }

  private slot(i: number): Buffer {
    let b = this.slots[i];
    if (b === undefined) {
      b = Buffer.allocUnsafe(SLOT_SIZE);
      this.slots[i] = b;
    }
    return b;
  }

  /** A liveness probe: an authenticated ESP dummy packet (next header 59, empty payload). */
  sendProbe(v: Vlink): void {
    // Liveness reads rxAlive each interval: what the native receive path saw is folded in here.
    this.fast?.sync();
    const sa = this.spd.lookup(v.local, v.peer, IPPROTO_IPIP)?.sa;
    if (sa === null || sa === undefined || sa.exhausted) return;
    const buf = this.slot(0);
    const r = espSeal(sa, EMPTY, IPPROTO_NONE, buf, 0);
    if (typeof r !== 'number') {
      v.drops[r]++;
      return;
    }
    const sent = v.underlay.send([
      { data: buf.subarray(0, r), addr: v.peerDst, port: v.encap === 'udp' ? v.peerPort : 0, tos: 0 },
    ]);
    if (sent === 1) v.stats.probesTx++;
    else v.drops['send-error']++;
  }

  /** Stages 2..5 for packets handed over as Buffers (a TUN without batches, packets the node makes). */
  process(v: Vlink, pkts: Buffer[]): void {
    if (pkts.length > 0) this.processBatch(v, this.packer.packets(pkts));
  }

  /** Runs stages 2..5 for one batch from vlink `v`'s TUN. Never throws on packet content. */
  processBatch(v: Vlink, b: TunBatch): void {
    const drops = v.drops;
    const n = b.count;
    // Stage 3 first for the whole batch: if nothing may leave, nothing is inspected further.
    const pol = this.spd.lookup(v.local, v.peer, IPPROTO_IPIP);
    if (pol === undefined || pol.action !== 'protect') {
      drops['spd-discard'] += n;
      return;
    }
    const sa = pol.sa;
    if (sa === null || sa.exhausted) {
      drops[sa === null ? 'no-sa' : 'sa-exhausted'] += n;
      return;
    }
    // Policy and SA are what this batch goes out with: the native path may take the next ones.
    this.fast?.arm(v, pol, sa);
    if (this.status.length < n) this.status = new Int32Array(Math.max(n, this.status.length * 2));
    const st = this.status;
    const { buf, off, len } = b;
    let icmp: Buffer[] | undefined;
    let v6 = 0;
    for (let i = 0; i < n; i++) {
      // Stage 2: check.
      st[i] = ST_SKIP;
      const o = off[i]!;
      const l = len[i]!;
      if (l > 0 && buf[o]! >> 4 === 6) {
        // [ipv6] IPv6 inner (inner-v6.ts): checked, Packet Too Big when oversize, next header 41.
        // A USO super-packet (the TUN grants USO4 only with USO6) is bigger by design.
        const limit = b.vnet && l >= 40 && segmentFits(buf, o, v.mtu) ? 65535 + 40 : v.mtu;
        const total = outboundV6(v, buf, o, l, (icmp ??= []), limit);
        if (total < 0) continue;
        len[i] = total;
        st[i] = ST_OK;
        v6++;
        continue;
      }
      if (l < 1 || buf[o]! >> 4 !== 4) {
        drops['not-ip']++;
        continue;
      }
      if (ipv4Check(buf, o, o + l) !== null) {
        drops.malformed++;
        continue;
      }
      // The TUN may hand us trailing bytes past the total length; never send them.
      const total = buf.readUInt16BE(o + 2);
      // A super-packet (GSO) is bigger than the MTU by design: its segments must fit.
      if (total > v.mtu && !(b.vnet && segmentFits(buf, o, v.mtu))) {
        drops.mtu++;
        if ((buf.readUInt16BE(o + 6) & 0x4000) !== 0) {
          const err = buildFragNeeded(buf.subarray(o, o + total), v.mtu, v.icmpSrcU32);
          if (err !== null) {
            (icmp ??= []).push(err);
            v.stats.icmpFragNeeded++;
          }
        }
        continue;
      }
      len[i] = total;
      st[i] = ST_OK;
    }
    // Behind the TUN (a full read): the largest flow gives up a packet before the queue overflows.
    if (b.backlog === true) {
      const victim = this.fair.pick(buf, off, st, ST_OK, n);
      if (victim >= 0) {
        if (buf[off[victim]!]! >> 4 === 6) v6--;
        st[victim] = ST_SKIP;
        drops.congestion++;
      }
    }

    // Stage 4: seal, and stage 5: send each time the output fills. The next header is per
    // call, so a batch holding both families is sealed as runs of one family, in order.
    if (v6 === 0) {
      this.sealRun(v, sa, b, 0, n, IPPROTO_IPIP);
    } else {
      for (let s = 0; s < n; ) {
        const six = buf[off[s]!]! >> 4 === 6;
        let e = s + 1;
        while (e < n && (buf[off[e]!]! >> 4 === 6) === six) e++;
        if (six && !sa.ipv6) this.refuse(st, s, e, drops);
        else this.sealRun(v, sa, b, s, e, six ? IPPROTO_IPV6 : IPPROTO_IPIP);
        s = e;
      }
    }
    this.flush(v);
    for (let i = 0; i < n; i++) if (st[i]! < 0) drops[statusReason(st[i]!)]++;
    if (icmp !== undefined && icmp.length > 0) {
      const w = v.tun.write(icmp);
      if (w < icmp.length) drops['tun-write'] += icmp.length - w;
    }
  }

  /** Items [start, end) may not go on this SA: those still standing are counted, none sealed. */
  private refuse(st: Int32Array, start: number, end: number, drops: Vlink['drops']): void {
    for (let i = start; i < end; i++) {
      if (st[i]! !== ST_OK) continue;
      st[i] = ST_SKIP;
      drops['ipv6-not-negotiated']++;
    }
  }

  /** Seals items [start, end) with next header `nh`, sending whenever the output fills. */
  private sealRun(v: Vlink, sa: OutboundSa, b: TunBatch, start: number, end: number, nh: number): void {
    for (let next = start; next < end; ) {
      next = this.engine.seal(sa, b.buf, b.off, b.len, this.status, next, end, b.vnet, nh, this.out);
      v.stats.txPackets += this.engine.packets;
      v.stats.txBytes += this.engine.innerBytes;
      v.stats.tsoSplit += this.engine.segmented;
      if (next < end) this.flush(v);
    }
  }

  private flush(v: Vlink): void {
    const o = this.out;
    if (o.count === 0) return;
    // Read at every send, never kept: a named peer's move re-points the vlink (node-dns.ts).
    const port = v.encap === 'udp' ? v.peerPort : 0;
    const u = v.underlay;
    const sent = u.sendBatch !== undefined
      ? u.sendBatch(o.buf, o.off, o.len, o.tos, o.count, v.peerDst, port)
      : this.sendViews(u, v, port);
    if (sent < o.count) v.drops['send-error'] += o.count - sent;
    o.reset();
  }

  /** For sockets without batches (fakes): a Datagram per packet, viewing the output buffer. */
  private sendViews(u: UnderlaySocket, v: Vlink, port: number): number {
    const o = this.out;
    const ds = this.views;
    ds.length = 0;
    for (let i = 0; i < o.count; i++) {
      ds.push({ data: o.buf.subarray(o.off[i]!, o.off[i]! + o.len[i]!), addr: v.peerDst, port, tos: o.tos[i]! });
    }
    const sent = u.send(ds);
    ds.length = 0;
    return sent;
  }
}

/** A GSO packet's segments (IP + TCP/UDP header + gso_size) fit `mtu`; read from its virtio_net_hdr. */
function segmentFits(buf: Buffer, o: number, mtu: number): boolean {
  if (o < 10 || buf[o - 9] === 0) return false;
  const v6 = buf[o]! >> 4 === 6;
  const iphl = v6 ? 40 : (buf[o]! & 0x0f) * 4;
  const l4hl = buf[o + (v6 ? 6 : 9)] === IPPROTO_TCP ? (buf[o + iphl + 12]! >> 4) * 4 : 8;
  return iphl + l4hl + buf.readUInt16LE(o - 6) <= mtu;
}
