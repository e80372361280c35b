// The ESP engine: bytes in, bytes out, no I/O and no policy (strongSwan's libipsec split). It
// frames and protects one payload with an outbound SA, or authenticates and unframes one ESP
// packet with an inbound SA and, once the caller's policy accepted it, records it in the SA.
// Failures are returned as DropReason names, never thrown: on the receive path a forged or
// stale packet is routine, not exceptional.

import type { DropReason } from './drop-reasons.js';
import { aeadOpen, aeadSeal } from './aead.js';
import type { InboundSa, OutboundSa } from './sa.js';
import {
  checkTrailer,
  ESP_HEADER_LEN,
  ESP_IV_LEN,
  ESP_MIN_PACKET_LEN,
  ESP_PAYLOAD_OFFSET,
  espOverhead,
  padLengthFor,
  writeTrailer,
} from '../wire/esp.js';

export interface EspOpenResult {
  /** Decrypted payload. A fresh buffer, so it stays valid after the receive buffer is reused. */
  payload: Buffer;
  nextHeader: number;
  /** Full (ESN-inferred) sequence number of the packet. */
  seq: number;
}

const TWO32 = 0x1_0000_0000;
/** Non-ESN counters stop at 2^32-1: the next packet would reuse sequence number 0's space. */
const MAX_SEQ_32 = 0xffffffff;
/** ESN counters are 64-bit on the wire but a JS number is exact only to 2^53-1; see replay-window.ts. */
const MAX_SEQ_ESN = Number.MAX_SAFE_INTEGER;

// With ESN the high half is authenticated but not sent, so the AAD cannot be a view of the
// packet: SPI || seq_hi || seq_lo (RFC 4106 §5, RFC 7634 §2.1). Safe to share: all synchronous.
const esnAad = Buffer.alloc(12);

function aadFor(spi: number, esn: boolean, seqHi: number, seqLo: number, pkt: Buffer, off: number): Buffer {
  if (!esn) return pkt.subarray(off, off + ESP_HEADER_LEN);
  esnAad.writeUInt32BE(spi, 0);
  esnAad.writeUInt32BE(seqHi, 4);
  esnAad.writeUInt32BE(seqLo, 8);
  return esnAad;
}

// Expects the IV already at out[o+8..o+16]; writes everything else. The payload is copied to its
// final place first and sealed in place, so a caller that built the payload there pays no copy.
function sealAt(
  sa: OutboundSa, seqHi: number, seqLo: number, payload: Buffer, nextHeader: number, out: Buffer, o: number,
): number {
  out.writeUInt32BE(sa.spi, o);
  out.writeUInt32BE(seqLo, o + 4);
  const ptStart = o + ESP_PAYLOAD_OFFSET;
  payload.copy(out, ptStart);
  const ptLen = payload.length + writeTrailer(out, ptStart + payload.length, padLengthFor(payload.length), nextHeader);
  const aad = aadFor(sa.spi, sa.esn, seqHi, seqLo, out, o);
  const iv = out.subarray(o + ESP_HEADER_LEN, ptStart);
  return ESP_PAYLOAD_OFFSET + aeadSeal(sa.suite, sa.key, sa.salt, iv, aad, out.subarray(ptStart, ptStart + ptLen), out, ptStart);
}

/**
 * Seals with an explicit sequence number and IV and leaves the SA's counter and stats alone.
 * For known-answer tests whose IV is not the sequence number; production code uses espSeal,
 * because reusing an IV under one key is fatal for both GCM and ChaCha20-Poly1305.
 */
export function sealWithIv(
  sa: OutboundSa, seqHi: number, seqLo: number, iv: Buffer, payload: Buffer, nextHeader: number,
  out: Buffer, outOffset: number,
): number {
  iv.copy(out, outOffset + ESP_HEADER_LEN, 0, ESP_IV_LEN);
  return sealAt(sa, seqHi >>> 0, seqLo >>> 0, payload, nextHeader, out, outOffset);
}

/**
 * Builds SPI | seq | IV | ciphertext(payload | padding | pad length | next header) | ICV at
 * out[outOffset..] and returns its length. The IV is the SA's random 64-bit base plus the
 * sequence number: unique per key for the SA's life, which is all RFC 4106 §3.1 and RFC 7634 §2
 * ask of it, and not repeated when a manual SA's counter restarts with the daemon (sa.ts ivHi).
 *
 * Returns 'sa-exhausted' (and sets sa.exhausted) instead of wrapping the counter, and 'mtu' if
 * `out` is too small (the caller sizes buffers with espOverhead, so that is a bug upstream).
 */
export function espSeal(
  sa: OutboundSa, payload: Buffer, nextHeader: number, out: Buffer, outOffset: number,
): number | DropReason {
  if (sa.exhausted) return 'sa-exhausted';
  if (outOffset < 0 || out.length - outOffset < payload.length + espOverhead(sa.suite, payload.length)) return 'mtu';
  const seq = sa.seq + 1;
  if (seq > (sa.esn ? MAX_SEQ_ESN : MAX_SEQ_32)) {
    sa.exhausted = true;
    return 'sa-exhausted';
  }
  // Committed before sealing: a sequence number, and with it the IV, is never handed out twice.
  sa.seq = seq;
  const seqHi = Math.floor(seq / TWO32);
  const seqLo = seq % TWO32;
  const lo = sa.ivLo + seqLo;
  out.writeUInt32BE((sa.ivHi + seqHi + (lo >= TWO32 ? 1 : 0)) % TWO32, outOffset + ESP_HEADER_LEN);
  out.writeUInt32BE(lo % TWO32, outOffset + ESP_HEADER_LEN + 4);
  const n = sealAt(sa, seqHi, seqLo, payload, nextHeader, out, outOffset);
  sa.stats.packets++;
  sa.stats.bytes += payload.length;
  return n;
}

/**
 * Authenticates and unframes one ESP packet (`esp` starts at the SPI) without recording it:
 * neither the replay window nor the SA's packet counters move. Order matters: the replay
 * pre-check is cheap and runs first, so a replayed packet costs no AEAD; padding is checked
 * last, on authentic data. The caller applies its inbound policy (RFC 4301 §5.2: outer header
 * against the SA's selectors) and only then calls espCommit, so an authentic packet that fails
 * the policy, e.g. a captured one re-sent from another source, cannot burn its sequence number
 * and get the genuine copy dropped as a replay. Nothing in between may run other packets of
 * this SA through espVerify and espCommit: the pre-check would be stale.
 */
export function espVerify(sa: InboundSa, esp: Buffer): EspOpenResult | DropReason {
  if (esp.length < ESP_MIN_PACKET_LEN) return 'malformed';
  if (esp.readUInt32BE(0) !== sa.spi) return 'unknown-spi';
  const seqLo = esp.readUInt32BE(4);
  const seq = sa.replay.check(seqLo);
  if (seq < 0) {
    sa.stats.replayDrops++;
    return 'replay';
  }
  const aad = aadFor(sa.spi, sa.esn, Math.floor(seq / TWO32), seqLo, esp, 0);
  const plain = aeadOpen(
    sa.suite, sa.key, sa.salt, esp.subarray(ESP_HEADER_LEN, ESP_PAYLOAD_OFFSET), aad, esp.subarray(ESP_PAYLOAD_OFFSET),
  );
  if (plain === null) {
    sa.stats.icvDrops++;
    return 'bad-icv';
  }
  // Authentic but badly padded: dropped without a commit, like any packet the receiver refuses.
  // Its re-sends cost an AEAD each, no more than forgeries do.
  const payloadLen = checkTrailer(plain, 0, plain.length);
  if (payloadLen < 0) return 'bad-padding';
  return { payload: plain.subarray(0, payloadLen), nextHeader: plain[plain.length - 1]!, seq };
}

/**
 * Records a packet espVerify passed and the caller's policy accepted: its sequence number enters
 * the replay window (RFC 4303 §3.4.3) and it counts as received on the SA.
 */
export function espCommit(sa: InboundSa, r: EspOpenResult): void {
  sa.replay.accept(r.seq);
  sa.stats.packets++;
  sa.stats.bytes += r.payload.length;
}

/** espVerify then espCommit, for a caller with no inbound policy of its own (tests, benchmarks). */
export function espOpen(sa: InboundSa, esp: Buffer): EspOpenResult | DropReason {
  const r = espVerify(sa, esp);
  if (typeof r !== 'string') espCommit(sa, r);
  return r;
}

/** ESP bytes espSeal writes for a payload of `payloadLen` bytes. */
export function sealedLength(sa: OutboundSa, payloadLen: number): number {
  return payloadLen + espOverhead(sa.suite, payloadLen);
}

