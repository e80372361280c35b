/* Inbound pipeline for the node's underlay socket(s) (like wireguard-go's receive.go):
 *
 *   1. read     a batch of datagrams arrives on UDP 4500 (RFC 3948) or raw IP protocol 50
 *   2. classify UDP only: a lone 0xff byte is a NAT keepalive; four zero bytes are the
 *               non-ESP marker, i.e. IKE, handed to the IKE hook if one is installed
 *   3. sad      SA lookup by SPI
 *   4. verify   length, anti-replay pre-check, AEAD verify, trailer; nothing recorded yet
 *   5. policy   the packet's outer header must match the SA's selectors: source = the peer
 *               underlay, arriving on the vlink's encap (the destination is implied: the
 *               socket is bound to our underlay address). Only a packet that passes enters
 *               the replay window (RFC 4301 §5.2 orders it so): a captured packet re-sent
 *               from elsewhere is dropped as policy-mismatch and the genuine copy still gets
 *               in. Then next header 59 is a liveness dummy (RFC 4303 §2.6), consumed;
 *               anything else but 4 (IPIP) and 41 (IPv6, inner-v6.ts) is dropped.
 *   6. decap    the IPIP payload must be a sane IPv4 packet (41: a sane IPv6 packet, its
 *               extension-header chain well formed); then RFC 6040 §4.2: the outer
 *               ECN (when the socket told us the outer TOS) is combined with the inner one,
 *               a CE mark survives decapsulation, CE over a Not-ECT inner packet is dropped
 *   7. write    per-vlink batches into the TUNs, but for what the node itself takes
 *               (onLocal: DHCP for the node's client or relay)
 *
 * Every failure is a named counter, on the vlink once the SA is known, on the node before.
 */

import type { Datagram, DatagramBatch, EspCrypto } from '../io/types.js';
import type { DropCounters } from './drop-reasons.js';
import { ipv4Check, Ipv4Packet, IPPROTO_IPIP, IPPROTO_NONE } from '../wire/ipv4.js';
import { ecnDecapsulate } from '../wire/ipip.js';
import { ESP_MIN_PACKET_LEN, ESP_PAYLOAD_OFFSET } from '../wire/esp.js';
import { BatchPacker } from './batch-pack.js';
import { EspBatch, ST_BAD_ICV, statusReason } from './esp-batch.js';
import type { InboundSa } from './sa.js';
import type { Sad } from './sad.js';
import { inboundV6, ipipVersionMismatch, IPPROTO_IPV6 } from './inner-v6.js';
import type { Vlink } from './vlink.js';
import { ipv6, type IpAddr } from '../wire/addr.js';

export type NonEspHandler = (d: Datagram) => void;

const TWO32 = 0x1_0000_0000;

/** Datagram i's source: IPv4 from `addr`, else the 16 bytes of `addr6` (ipv6() copies them: the slot is reused). */
function sourceOf(b: DatagramBatch, i: number): IpAddr {
  const v4 = b.addr[i]!;
  if (v4 !== 0 || b.addr6 === null) return { family: 4, v4 };
  return ipv6(b.addr6.subarray(16 * i, 16 * i + 16));
}

/** Whether datagram i came from `src`, without allocating. */
function fromSource(b: DatagramBatch, i: number, src: IpAddr): boolean {
  if (src.family === 4) return b.addr[i] === src.v4;
  const a6 = b.addr6;
  if (a6 === null || b.addr[i] !== 0) return false;
  const s = src.v6;
  for (let j = 0, o = 16 * i; j < 16; j++) if (a6[o + j] !== s[j]) return false;
  return true;
}

/** Packets bound for one vlink's TUN, as offsets into the batch's buffer. */
interface Pending {
  off: Int32Array;
  len: Int32Array;
  n: number;
}

/**
 * The ESP packets of one batch between stages 3 and 5, one slot per packet: plain arrays
 * reused across batches, so the per-packet path allocates nothing.
 */
class Work {
  off = new Int32Array(0);
  len = new Int32Array(0);
  seqHi = new Uint32Array(0);
  seq = new Float64Array(0);
  dgram = new Int32Array(0);
  result = new Int32Array(0);
  nh = new Uint8Array(0);
  sa: InboundSa[] = [];
  vlink: Vlink[] = [];

  /** Room for n items; what is already stored is kept (a batch grows the arrays mid-way). */
  ensure(n: number): void {
    if (this.off.length >= n) return;
    const m = Math.max(n, this.off.length * 2, 256);
    const grow = <T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(a: T, make: (m: number) => T): T => {
      const b = make(m);
      b.set(a);
      return b;
    };
    this.off = grow(this.off, (k) => new Int32Array(k));
    this.len = grow(this.len, (k) => new Int32Array(k));
    this.seqHi = grow(this.seqHi, (k) => new Uint32Array(k));
    this.seq = grow(this.seq, (k) => new Float64Array(k));
    this.dgram = grow(this.dgram, (k) => new Int32Array(k));
    this.result = grow(this.result, (k) => new Int32Array(k));
    this.nh = grow(this.nh, (k) => new Uint8Array(k));
  }
}

export class Receiver {
  /** Per-vlink output batches, reused across calls. */
  private readonly pending = new Map<Vlink, Pending>();
  /** One re-pointed view for ECN rewrites, so a marked packet costs no allocation. */
  private readonly view = new Ipv4Packet(Buffer.alloc(0));
  private readonly engine: EspBatch;
  private readonly work = new Work();
  private readonly packer = new BatchPacker();
  private readonly views: Buffer[] = [];
  /** Called before a peer's NAT port moves (the native fast path turns off: fast-state.ts). */
  onPeerPort: (() => void) | null = null;
  /** The native inbound fast path, told about each SA whose packet was delivered (fast-state.ts). */
  fast: { armIn(v: Vlink, sa: InboundSa): void } | null = null;

  constructor(
    private readonly sad: Sad,
    private readonly vlinkByName: (name: string) => Vlink | undefined,
    /** Counters for drops that happen before an SA (and so a vlink) is known. */
    readonly nodeDrops: DropCounters,
    public onNonEsp: NonEspHandler | null = null,
    crypto: EspCrypto | null = null,
  ) {
    this.engine = new EspBatch(crypto);
  }

  /**
   * Inner packets the node answers itself instead of the kernel (DHCP over the vlink,
   * control/node-dhcp.ts); true means taken, and the packet does not reach the TUN. The packet
   * is a view of the socket's memory, valid during the call only.
   */
  onLocal: ((v: Vlink, inner: Buffer) => boolean) | null = null;

  /** Datagrams handed over one by one (fakes, tests): laid out as a batch first. */
  process(kind: 'udp' | 'esp', dgrams: Datagram[]): void {
    if (dgrams.length > 0) this.processBatch(kind, this.packer.datagrams(dgrams));
  }

  processBatch(kind: 'udp' | 'esp', b: DatagramBatch): void {
    const w = this.work;
    const { buf, off, len, gso } = b;
    // Stages 2..4a: classify, SAD, replay pre-check; UDP GRO datagrams split into their segments.
    let n = 0;
    for (let i = 0; i < b.count; i++) {
      const o = off[i]!;
      const l = len[i]!;
      if (l < 0) continue; // the socket counted it (truncated, bad outer header)
      if (l === 0) {
        this.nodeDrops.malformed++;
        continue;
      }
      const g = gso === null ? 0 : gso[i]!;
      const seg = g > 0 ? g : l;
      w.ensure(n + Math.ceil(l / seg));
      for (let p = o, end = o + l; p < end; p += seg) {
        if (this.classify(kind, b, i, p, Math.min(seg, end - p), n)) n++;
      }
    }
    // Stage 4b: authenticate and decrypt, in place, one call per run of packets of one SA.
    for (let s = 0; s < n; ) {
      const sa = w.sa[s]!;
      let e = s + 1;
      while (e < n && w.sa[e] === sa) e++;
      this.engine.open(sa, buf, w.off, w.len, w.seqHi, s, e, w.result, w.nh);
      s = e;
    }
    for (let k = 0; k < n; k++) this.deliver(kind, b, k);
    // Drop the references so a removed vlink's SA is not pinned until the next batch.
    w.sa.length = 0;
    w.vlink.length = 0;
    // Stage 7: write.
    for (const [v, p] of this.pending) {
      if (p.n === 0) continue;
      const written = v.tun.writeBatch !== undefined ? v.tun.writeBatch(buf, p.off, p.len, p.n) : this.writeViews(v, buf, p);
      if (written < p.n) v.drops['tun-write'] += p.n - written;
      p.n = 0;
    }
  }

  /** Stages 2, 3 and the replay pre-check for the ESP packet at buf[p, p + sl); true when it goes on as work item n. */
  private classify(kind: 'udp' | 'esp', b: DatagramBatch, i: number, p: number, sl: number, n: number): boolean {
    const nd = this.nodeDrops;
    const buf = b.buf;
    // Stage 2: classify.
    if (kind === 'udp') {
      if (sl === 1 && buf[p] === 0xff) {
        nd.keepalive++;
        return false;
      }
      if (sl >= 4 && buf.readUInt32BE(p) === 0) {
        if (this.onNonEsp !== null) {
          const t = b.tos[i]!;
          this.onNonEsp({ data: buf.subarray(p, p + sl), addr: sourceOf(b, i), port: b.port[i]!, tos: t < 0 ? undefined : t });
        } else {
          nd['non-esp-marker']++;
        }
        return false;
      }
    }
    if (sl < 8) {
      nd.malformed++;
      return false;
    }
    // Stage 3: SAD.
    const entry = this.sad.get(buf.readUInt32BE(p));
    const v = entry === undefined ? undefined : this.vlinkByName(entry.vlink);
    if (entry === undefined || v === undefined) {
      nd['unknown-spi']++;
      return false;
    }
    const sa = entry.sa;
    if (sl < ESP_MIN_PACKET_LEN) {
      v.drops.malformed++;
      return false;
    }
    // Stage 4a: the cheap replay pre-check runs first, so a replayed packet costs no AEAD.
    const seq = sa.replay.check(buf.readUInt32BE(p + 4));
    if (seq < 0) {
      sa.stats.replayDrops++;
      v.drops.replay++;
      return false;
    }
    const w = this.work;
    w.off[n] = p;
    w.len[n] = sl;
    w.seq[n] = seq;
    w.seqHi[n] = Math.floor(seq / TWO32);
    w.dgram[n] = i;
    w.sa[n] = sa;
    w.vlink[n] = v;
    return true;
  }

  /** Stages 5 and 6 for work item k, once decrypted: policy, replay window, decap. */
  private deliver(kind: 'udp' | 'esp', b: DatagramBatch, k: number): void {
    const w = this.work;
    const v = w.vlink[k]!;
    const sa = w.sa[k]!;
    const r = w.result[k]!;
    if (r < 0) {
      if (r === ST_BAD_ICV) sa.stats.icvDrops++;
      v.drops[statusReason(r)]++;
      return;
    }
    const i = w.dgram[k]!;
    const buf = b.buf;
    // Stage 5: policy, checked only after authentication so forged headers cannot be
    // used to probe which selectors exist.
    // The SA's source is read here, per packet: a named peer's move re-points it (Spd.move).
    if (kind !== v.encap || !fromSource(b, i, sa.src)) {
      v.drops['policy-mismatch']++;
      return;
    }
    // Only now does the packet enter the replay window (RFC 4301 §5.2). Checked again: an
    // earlier packet of this batch may have carried the same sequence number.
    const seq = w.seq[k]!;
    if (sa.replay.check(buf.readUInt32BE(w.off[k]! + 4)) !== seq) {
      sa.stats.replayDrops++;
      v.drops.replay++;
      return;
    }
    // IPv6 inside only where the CHILD_SA's selectors named protocol 41.
    if (w.nh[k] === IPPROTO_IPV6 && !sa.ipv6) {
      v.drops['ipv6-not-negotiated']++;
      return;
    }
    sa.replay.accept(seq);
    sa.stats.packets++;
    sa.stats.bytes += r;
    // Authentic and from the right peer: the link is alive, and behind a NAT the peer's
    // port is whatever the NAT last mapped it to.
    v.rxAlive = true;
    if (kind === 'udp' && b.port[i] !== v.peerPort) {
      this.onPeerPort?.();
      v.peerPort = b.port[i]!;
      v.stats.peerPortChanges++;
    }
    const nh = w.nh[k]!;
    if (nh === IPPROTO_NONE) {
      v.stats.probesRx++;
      return;
    }
    // Stage 6: decap. The payload was decrypted in place, right after the ESP header and IV.
    const p = w.off[k]! + ESP_PAYLOAD_OFFSET;
    const outerTos = b.tos[i]!;
    let innerLen: number;
    if (nh === IPPROTO_IPV6) {
      // [ipv6] next header 41 (inner-v6.ts): must be IPv6; RFC 6040 on its traffic class.
      innerLen = inboundV6(v, buf, p, p + r, outerTos);
      if (innerLen < 0) return;
    } else {
      // 4 is also what tunnel-mode ESP of an IPv4 packet carries (child_mode tunnel-any): same bytes.
      if (nh !== IPPROTO_IPIP) {
        v.drops['bad-next-header']++;
        return;
      }
      if (ipipVersionMismatch(v, buf, p, p + r)) return;
      if (ipv4Check(buf, p, p + r) !== null) {
        v.drops.malformed++;
        return;
      }
      if (outerTos >= 0) {
        const innerEcn = buf[p + 1]! & 3;
        const ecn = ecnDecapsulate(outerTos & 3, innerEcn);
        if (ecn < 0) {
          v.drops['ecn-ce-not-ect']++;
          return;
        }
        if (ecn !== innerEcn) this.view.reset(buf, p).setEcn(ecn);
      }
      innerLen = buf.readUInt16BE(p + 2);
    }
    if (this.onLocal !== null && this.onLocal(v, buf.subarray(p, p + innerLen))) return;
    let q = this.pending.get(v);
    if (q === undefined) {
      q = { off: new Int32Array(64), len: new Int32Array(64), n: 0 };
      this.pending.set(v, q);
    }
    if (q.n === q.off.length) {
      const off = new Int32Array(q.n * 2);
      const len = new Int32Array(q.n * 2);
      off.set(q.off);
      len.set(q.len);
      q.off = off;
      q.len = len;
    }
    q.off[q.n] = p;
    q.len[q.n] = innerLen;
    q.n++;
    v.stats.rxPackets++;
    v.stats.rxBytes += innerLen;
    this.fast?.armIn(v, sa);
  }

  /** For TUNs without batch writes (fakes): a view per packet. */
  private writeViews(v: Vlink, buf: Buffer, p: Pending): number {
    const views = this.views;
    views.length = 0;
    for (let i = 0; i < p.n; i++) views.push(buf.subarray(p.off[i]!, p.off[i]! + p.len[i]!));
    const written = v.tun.write(views);
    views.length = 0;
    return written;
  }

  /** Forget a removed vlink's pending batch so the map does not pin its TUN. */
  forget(v: Vlink): void {
    this.pending.delete(v);
  }
}
