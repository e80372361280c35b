// The ESP engine over batches: a run of inner packets of one outbound SA sealed into one output
// buffer, a run of ESP packets of one inbound SA opened in place. Bytes in, bytes out, no I/O
// and no policy, like esp-engine.ts, which it uses as the reference: without native crypto
// (tests, fakes) every item goes through espSeal / aeadOpen, with it (io/esp-native.ts, the
// addon over OpenSSL) the whole run is one call, one cipher context per SA, no allocation.
// Both implementations produce the same bytes for the same SA state; tests hold them to it.
//
// Seal items may carry a virtio_net_hdr (a TUN with offloads): super-packets are segmented
// (gso.ts is the reference) and partial checksums completed before sealing.

import type { EspCrypto } from '../io/types.js';
import type { DropReason } from './drop-reasons.js';
import { aeadOpen } from './aead.js';
import { espSeal } from './esp-engine.js';
import { ipv6TrafficClass } from '../wire/ipv6.js';
import { applyOffload, planOffload, readVnetHdr, VNET_HDR_LEN } from './gso.js';
import type { InboundSa, OutboundSa } from './sa.js';
import type { Suite } from './suite.js';
import { checkTrailer, ESP_FIXED_OVERHEAD, ESP_HEADER_LEN, ESP_MIN_PACKET_LEN, ESP_PAYLOAD_OFFSET, padLengthFor } from '../wire/esp.js';

/** Per-item status (src/native/esp_batch.h). On input to seal, anything but ST_OK means skip. */
export const ST_OK = 0;
export const ST_BAD_OFFLOAD = -1;
export const ST_EXHAUSTED = -2;
export const ST_CRYPTO = -3;
export const ST_NO_ROOM = -4;
export const ST_BAD_ICV = -5;
export const ST_BAD_PADDING = -6;
export const ST_MALFORMED = -7;
/** An item the caller already dropped. */
export const ST_SKIP = 1;

export function statusReason(st: number): DropReason {
  switch (st) {
    case ST_BAD_OFFLOAD: return 'bad-offload';
    case ST_EXHAUSTED: return 'sa-exhausted';
    case ST_CRYPTO: return 'internal-error';
    case ST_NO_ROOM: return 'mtu';
    case ST_BAD_ICV: return 'bad-icv';
    case ST_BAD_PADDING: return 'bad-padding';
    default: return 'malformed';
  }
}

// espSeal's control array (esp_batch.h enum seal_ctl).
const SC_SPI = 0, SC_SEQ_HI = 1, SC_SEQ_LO = 2, SC_IV_HI = 3, SC_IV_LO = 4, SC_FLAGS = 5, SC_SEQ_LEFT = 6,
  SC_NEXT_HDR = 7, SC_OUT_USED = 8, SC_OUT_COUNT = 9, SC_ITEM_NEXT = 10, SC_INNER_BYTES = 11, SC_PACKETS = 12,
  SC_SEGMENTED = 13, SC_LEN = 14;
const SF_ESN = 1, SF_VNET = 2;

const TWO32 = 0x1_0000_0000;
const MAX_SEQ_32 = 0xffffffff;
const MAX_SEQ_ESN = Number.MAX_SAFE_INTEGER;

const SUITE_NUMBER: Readonly<Record<Suite, number>> = { 'aes-gcm-128': 0, 'aes-gcm-256': 1, 'chacha20-poly1305': 2 };

/** Bytes one ESP packet of a `ptLen`-byte payload takes. */
export function espSize(ptLen: number): number {
  return ptLen + ESP_FIXED_OVERHEAD + padLengthFor(ptLen);
}

/** ESP packets back to back in one buffer, listed in off/len with each one's outer TOS. */
export class SealOut {
  readonly buf: Buffer;
  readonly off: Int32Array;
  readonly len: Int32Array;
  readonly tos: Uint8Array;
  count = 0;
  used = 0;

  constructor(bytes: number, packets: number) {
    this.buf = Buffer.alloc(bytes);
    this.off = new Int32Array(packets);
    this.len = new Int32Array(packets);
    this.tos = new Uint8Array(packets);
  }

  reset(): void {
    this.count = 0;
    this.used = 0;
  }
}

export class EspBatch {
  /** What the last seal() made: ESP packets, inner bytes, super-packets segmented. */
  packets = 0;
  innerBytes = 0;
  segmented = 0;
  private readonly ctl = new Uint32Array(SC_LEN);
  private readonly contexts = new WeakMap<OutboundSa | InboundSa, object>();
  // The last SA and its context: a run of batches of one vlink finds it without a hash lookup.
  private lastSa: OutboundSa | InboundSa | null = null;
  private lastContext: object | null = null;
  private readonly esnAad = Buffer.alloc(12);

  constructor(readonly crypto: EspCrypto | null) {}

  private context(sa: OutboundSa | InboundSa): object {
    if (sa === this.lastSa) return this.lastContext!;
    let h = this.contexts.get(sa);
    if (h === undefined) {
      h = this.crypto!.newSa(SUITE_NUMBER[sa.suite], sa.key, sa.salt, sa.dir === 'out');
      this.contexts.set(sa, h);
    }
    this.lastSa = sa;
    this.lastContext = h;
    return h;
  }

  /**
   * Seals items [start, end) whose status is ST_OK into `out` (from out.used on) with next
   * header `nh`; a failing item gets a negative status. Stops early when `out` is full: the
   * return value is the first item not processed. Advances the SA's counter and stats.
   */
  seal(
    sa: OutboundSa, inBuf: Buffer, inOff: Int32Array, inLen: Int32Array, status: Int32Array, start: number, end: number,
    vnet: boolean, nh: number, out: SealOut,
  ): number {
    this.packets = 0;
    this.innerBytes = 0;
    this.segmented = 0;
    if (sa.exhausted) {
      for (let i = start; i < end; i++) if (status[i] === ST_OK) status[i] = ST_EXHAUSTED;
      return end;
    }
    const next = this.crypto === null
      ? this.sealJs(sa, inBuf, inOff, inLen, status, start, end, vnet, nh, out)
      : this.sealNative(sa, inBuf, inOff, inLen, status, start, end, vnet, nh, out);
    for (let i = start; i < next; i++) if (status[i] === ST_EXHAUSTED) sa.exhausted = true;
    return next;
  }

  private sealNative(
    sa: OutboundSa, inBuf: Buffer, inOff: Int32Array, inLen: Int32Array, status: Int32Array, start: number, end: number,
    vnet: boolean, nh: number, out: SealOut,
  ): number {
    const c = this.ctl;
    const max = sa.esn ? MAX_SEQ_ESN : MAX_SEQ_32;
    c[SC_SPI] = sa.spi;
    c[SC_SEQ_HI] = Math.floor(sa.seq / TWO32);
    c[SC_SEQ_LO] = sa.seq % TWO32;
    c[SC_IV_HI] = sa.ivHi;
    c[SC_IV_LO] = sa.ivLo;
    c[SC_FLAGS] = (sa.esn ? SF_ESN : 0) | (vnet ? SF_VNET : 0);
    c[SC_SEQ_LEFT] = Math.min(max - sa.seq, MAX_SEQ_32);
    c[SC_NEXT_HDR] = nh;
    c[SC_OUT_USED] = out.used;
    c[SC_OUT_COUNT] = out.count;
    this.crypto!.seal(this.context(sa), inBuf, inOff, inLen, status, start, end, out.buf, out.off, out.len, out.tos, c);
    sa.seq = c[SC_SEQ_HI]! * TWO32 + c[SC_SEQ_LO]!;
    sa.stats.packets += c[SC_PACKETS]!;
    sa.stats.bytes += c[SC_INNER_BYTES]!;
    out.used = c[SC_OUT_USED]!;
    out.count = c[SC_OUT_COUNT]!;
    this.packets = c[SC_PACKETS]!;
    this.innerBytes = c[SC_INNER_BYTES]!;
    this.segmented = c[SC_SEGMENTED]!;
    return c[SC_ITEM_NEXT]!;
  }

  private sealJs(
    sa: OutboundSa, inBuf: Buffer, inOff: Int32Array, inLen: Int32Array, status: Int32Array, start: number, end: number,
    vnet: boolean, nh: number, out: SealOut,
  ): number {
    const cap = Math.min(out.off.length, out.len.length, out.tos.length);
    for (let i = start; i < end; i++) {
      if (status[i] !== ST_OK) continue;
      const off = inOff[i]!;
      const len = inLen[i]!;
      if (off < (vnet ? VNET_HDR_LEN : 0) || len < (vnet ? 1 : 0) || off + len > inBuf.length) {
        status[i] = ST_BAD_OFFLOAD;
        continue;
      }
      const pkt = inBuf.subarray(off, off + len);
      const plan = vnet ? planOffload(pkt, readVnetHdr(inBuf, off - VNET_HDR_LEN)) : null;
      if (plan === 'bad-offload') {
        status[i] = ST_BAD_OFFLOAD;
        continue;
      }
      const nseg = plan?.nseg ?? 1;
      const need = nseg * espSize(plan !== null && plan.gso !== 0 ? plan.hl + plan.mss : len);
      if (out.used + need > out.buf.length || out.count + nseg > cap) {
        if (out.count === 0) {
          status[i] = ST_NO_ROOM;
          continue;
        }
        return i;
      }
      const segs = plan === null ? [pkt] : applyOffload(pkt, plan);
      if (plan !== null && plan.gso !== 0) this.segmented++;
      for (const seg of segs) {
        const r = espSeal(sa, seg, nh, out.buf, out.used);
        if (typeof r !== 'number') {
          status[i] = r === 'sa-exhausted' ? ST_EXHAUSTED : ST_NO_ROOM;
          break;
        }
        // espSeal counted the packet on the SA (as the native call does for its packets).
        out.off[out.count] = out.used;
        out.len[out.count] = r;
        // The outer TOS: IPv4's TOS byte or IPv6's traffic class (RFC 2983, RFC 6040).
        out.tos[out.count] = seg[0]! >> 4 === 6 ? ipv6TrafficClass(seg, 0) : seg[1]!;
        out.count++;
        out.used += r;
        this.packets++;
        this.innerBytes += seg.length;
      }
    }
    return end;
  }

  /**
   * Authenticates and decrypts items [start, end) of `buf`, all ESP packets of `sa`, in place:
   * item i's payload is then at off[i] + 16, result[i] bytes long, next header nh[i]; a failure
   * leaves a negative status in result[i]. seqHi[i] is the inferred high half of an ESN
   * sequence number (unused without ESN). No replay window, no stats: the caller does both.
   */
  open(
    sa: InboundSa, buf: Buffer, off: Int32Array, len: Int32Array, seqHi: Uint32Array, start: number, end: number,
    result: Int32Array, nh: Uint8Array,
  ): number {
    if (this.crypto !== null) {
      return this.crypto.open(this.context(sa), buf, off, len, sa.esn ? seqHi : null, start, end, result, nh, sa.spi, sa.esn);
    }
    let opened = 0;
    for (let i = start; i < end; i++) {
      const o = off[i]!;
      const l = len[i]!;
      if (o < 0 || l < ESP_MIN_PACKET_LEN || o + l > buf.length || buf.readUInt32BE(o) !== sa.spi) {
        result[i] = ST_MALFORMED;
        continue;
      }
      let aad = buf.subarray(o, o + ESP_HEADER_LEN);
      if (sa.esn) {
        aad = this.esnAad;
        aad.writeUInt32BE(sa.spi, 0);
        aad.writeUInt32BE(seqHi[i]!, 4);
        aad.writeUInt32BE(buf.readUInt32BE(o + 4), 8);
      }
      const plain = aeadOpen(sa.suite, sa.key, sa.salt, buf.subarray(o + ESP_HEADER_LEN, o + ESP_PAYLOAD_OFFSET), aad,
        buf.subarray(o + ESP_PAYLOAD_OFFSET, o + l));
      if (plain === null) {
        result[i] = ST_BAD_ICV;
        continue;
      }
      const payloadLen = checkTrailer(plain, 0, plain.length);
      if (payloadLen < 0) {
        result[i] = ST_BAD_PADDING;
        continue;
      }
      plain.copy(buf, o + ESP_PAYLOAD_OFFSET);
      result[i] = payloadLen;
      nh[i] = plain[plain.length - 1]!;
      opened++;
    }
    return opened;
  }
}
