// ESP wire format (RFC 4303 §2) as used by the combined-mode AEAD suites we support (RFC 4106,
// RFC 7634): all of them carry an 8-byte explicit IV and a 16-byte ICV, so the layout is fixed:
//
//   SPI(4) | Seq(4) | IV(8) | ciphertext( payload | padding | pad length(1) | next header(1) ) | ICV(16)
//
// Only the cleartext header gets a view and a repr codec; the trailer lives inside the
// ciphertext, so the engine handles it with the small helpers below instead.

import { CodecError } from '../errors.js';

export const ESP_HEADER_LEN = 8;
export const ESP_IV_LEN = 8;
export const ESP_ICV_LEN = 16;
/** Pad length + next header. */
export const ESP_TRAILER_LEN = 2;
/** Header and IV precede the ciphertext; this is where the encrypted payload starts. */
export const ESP_PAYLOAD_OFFSET = ESP_HEADER_LEN + ESP_IV_LEN;
/** Everything but the padding: what a zero-length payload with no padding would still cost. */
export const ESP_FIXED_OVERHEAD = ESP_HEADER_LEN + ESP_IV_LEN + ESP_TRAILER_LEN + ESP_ICV_LEN;
/**
 * Shortest packet we try to open: a ciphertext holding only the trailer. Our own sender always
 * pads to 4, but RFC 4303 leaves unaligned ciphertext to the receiver's discretion and the AEAD
 * decides authenticity anyway.
 */
export const ESP_MIN_PACKET_LEN = ESP_FIXED_OVERHEAD;

export interface EspHeader {
  spi: number;
  /** Low 32 bits of the sequence number: the only part that is ever on the wire. */
  seq: number;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function encodingLength(_h?: EspHeader): number {
  return ESP_HEADER_LEN;
}

function encode(h: EspHeader, buf?: Buffer, offset = 0): Buffer {
  if (!isU32(h.spi)) throw new CodecError(`ESP SPI ${h.spi} is not a 32-bit unsigned integer`);
  if (!isU32(h.seq)) throw new CodecError(`ESP sequence number ${h.seq} is not a 32-bit unsigned integer`);
  const out = buf ?? Buffer.alloc(ESP_HEADER_LEN + offset);
  if (offset < 0 || out.length - offset < ESP_HEADER_LEN) {
    throw new CodecError(`ESP header needs ${ESP_HEADER_LEN} bytes at offset ${offset}, buffer has ${out.length}`);
  }
  out.writeUInt32BE(h.spi, offset);
  out.writeUInt32BE(h.seq, offset + 4);
  return out;
}

function decode(buf: Buffer, offset = 0): EspHeader {
  if (offset < 0 || buf.length - offset < ESP_HEADER_LEN) {
    throw new CodecError(`ESP header truncated: ${buf.length - offset} bytes at offset ${offset}`);
  }
  return { spi: buf.readUInt32BE(offset), seq: buf.readUInt32BE(offset + 4) };
}

/** Repr codec for the cleartext header (throws CodecError: not for the receive hot path). */
export const Esp = { encode, decode, encodingLength } as const;

/**
 * Zero-copy view of an ESP packet's cleartext part, for inspectors and tests. Unchecked: the
 * getters throw RangeError on a buffer shorter than ESP_HEADER_LEN (+ IV for `iv`).
 */
export class EspPacket {
  buffer: Buffer;
  offset: number;

  constructor(buffer: Buffer, offset = 0) {
    this.buffer = buffer;
    this.offset = offset;
  }

  reset(buffer: Buffer, offset = 0): this {
    this.buffer = buffer;
    this.offset = offset;
    return this;
  }

  get spi(): number {
    return this.buffer.readUInt32BE(this.offset);
  }
  set spi(v: number) {
    this.buffer.writeUInt32BE(v, this.offset);
  }
  /** Low 32 bits of the sequence number. */
  get seq(): number {
    return this.buffer.readUInt32BE(this.offset + 4);
  }
  set seq(v: number) {
    this.buffer.writeUInt32BE(v, this.offset + 4);
  }
  /** The explicit IV, as a view. */
  get iv(): Buffer {
    if (this.buffer.length - this.offset < ESP_PAYLOAD_OFFSET) throw new RangeError('ESP packet shorter than header + IV');
    return this.buffer.subarray(this.offset + ESP_HEADER_LEN, this.offset + ESP_PAYLOAD_OFFSET);
  }
}

/**
 * The SPI without decoding anything else, for SA lookup on the receive path. Returns -1 when the
 * buffer cannot hold one, so the caller can count 'malformed' without a try/catch.
 */
export function peekSpi(buf: Buffer, offset = 0): number {
  if (offset < 0 || buf.length - offset < 4) return -1;
  return buf.readUInt32BE(offset);
}

/** Padding that makes payload + trailer a multiple of 4 (RFC 4303 §2.4: the ICV must be 4-byte aligned). */
export function padLengthFor(payloadLen: number): number {
  return (4 - ((payloadLen + ESP_TRAILER_LEN) & 3)) & 3;
}

/**
 * Writes padding 1,2,..,padLen then pad length and next header at buf[offset..]. The monotonic
 * padding is RFC 4303 §2.4's default and what the receiver checks. Returns bytes written.
 */
export function writeTrailer(buf: Buffer, offset: number, padLen: number, nextHeader: number): number {
  for (let i = 0; i < padLen; i++) buf[offset + i] = i + 1;
  buf[offset + padLen] = padLen;
  buf[offset + padLen + 1] = nextHeader & 0xff;
  return padLen + ESP_TRAILER_LEN;
}

/**
 * Checks the decrypted trailer of `plain[start..end)`. Returns the payload length, or -1 when the
 * pad length overruns the plaintext or the padding is not 1,2,3,... (a sender that is not us or
 * a decryption with the wrong key that still authenticated, i.e. a bug worth counting).
 */
export function checkTrailer(plain: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len < ESP_TRAILER_LEN) return -1;
  const padLen = plain[end - 2]!;
  const payloadLen = len - ESP_TRAILER_LEN - padLen;
  if (payloadLen < 0) return -1;
  const padStart = start + payloadLen;
  for (let i = 0; i < padLen; i++) {
    if (plain[padStart + i] !== i + 1) return -1;
  }
  return payloadLen;
}

/**
 * Exact bytes ESP adds around a payload of `payloadLen` bytes. `suite` is accepted so callers do
 * not have to change if a suite with a different IV/ICV size is ever added; today all match.
 */
export function espOverhead(_suite: string, payloadLen: number): number {
  return ESP_FIXED_OVERHEAD + padLengthFor(payloadLen);
}

/**
 * Largest payload whose ESP packet fits in `room` bytes, or -1 if not even an empty one does.
 * Because of the 4-byte alignment the answer is always ≡ 2 (mod 4): one more byte would push
 * the ciphertext to the next multiple of 4.
 */
export function maxPayloadForMtu(room: number): number {
  const ct = Math.floor(room) - ESP_HEADER_LEN - ESP_IV_LEN - ESP_ICV_LEN;
  if (ct < 4) return -1;
  return (ct & ~3) - ESP_TRAILER_LEN;
}
