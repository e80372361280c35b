// The body of the Encrypted payload (SK, RFC 7296 §3.14): IV | ciphertext | ICV, where the
// ciphertext covers the inner payload chain | Padding | Pad Length. AEAD transforms follow
// RFC 5282 (AES-GCM) and RFC 7634 (ChaCha20-Poly1305): nonce = salt(4, from SK_e*) | IV(8),
// AAD = every message byte before the IV. AES-CBC uses an HMAC ICV (RFC 4868) computed over the
// message from the IKE header to the end of the ciphertext.
//
// `aad` is always "the message bytes before the IV": IKE header, any unencrypted payloads and the
// SK payload's generic header. Both length fields in it must already hold their final values,
// which is what skBodyLength() is for.

import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IkeSaKeys } from './keys.js';
import type { AeadEncrInfo, IkeSuite } from './suites.js';

/** The transforms that shape the SK payload. */
export type SkSuite = Pick<IkeSuite, 'encr' | 'integ'>;

/** The keys one sender uses: SK_ei/SK_ai for the original initiator, SK_er/SK_ar otherwise. */
export interface SkKeys {
  /** Cipher key, followed by the 4-byte salt for AEAD. */
  readonly encr: Buffer;
  /** HMAC key; null for AEAD. */
  readonly integ: Buffer | null;
}

export type SkOpenResult = Buffer | 'bad-icv' | 'malformed';

/**
 * The keys protecting messages sent by the IKE SA's original initiator or responder (the roles
 * of IKE_SA_INIT, not of the current exchange: §2.14).
 */
export function skKeysFor(keys: IkeSaKeys, sender: 'initiator' | 'responder'): SkKeys {
  const a = sender === 'initiator' ? keys.skAi : keys.skAr;
  return { encr: sender === 'initiator' ? keys.skEi : keys.skEr, integ: a.length === 0 ? null : a };
}

function icvLen(s: SkSuite): number {
  return s.encr.kind === 'aead' ? s.encr.icvLen : s.integ!.icvLen;
}

function padLengthFor(s: SkSuite, plainLen: number): number {
  // AEAD needs no alignment, so only the Pad Length octet is sent; CBC pads to the block size.
  if (s.encr.kind === 'aead') return 0;
  const b = s.encr.blockLen;
  return (b - ((plainLen + 1) % b)) % b;
}

/** Bytes the SK payload body will take for `plainLen` bytes of inner payloads. */
export function skBodyLength(s: SkSuite, plainLen: number): number {
  return s.encr.ivLen + plainLen + padLengthFor(s, plainLen) + 1 + icvLen(s);
}

function checkKeys(s: SkSuite, k: SkKeys): void {
  const e = s.encr;
  if (k.encr.length !== e.keyLen + e.saltLen) throw new RangeError(`${e.name} needs ${e.keyLen + e.saltLen} bytes of SK_e, got ${k.encr.length}`);
  if (e.kind === 'aead') {
    if (s.integ !== null) throw new RangeError(`${e.name} is combined-mode; INTEG must be none`);
  } else {
    if (s.integ === null) throw new RangeError(`${e.name} needs an INTEG transform`);
    if (k.integ === null || k.integ.length !== s.integ.keyLen) throw new RangeError(`${s.integ.name} needs a ${s.integ.keyLen}-byte SK_a`);
  }
}

function aeadNonce(e: AeadEncrInfo, k: SkKeys, iv: Buffer): Buffer {
  return Buffer.concat([k.encr.subarray(e.keyLen), iv]);
}

function aeadCipher(e: AeadEncrInfo, k: SkKeys, iv: Buffer) {
  const key = k.encr.subarray(0, e.keyLen);
  const nonce = aeadNonce(e, k, iv);
  // Literal branches so the overloads resolve to the AEAD cipher types.
  return e.cipher === 'chacha20-poly1305'
    ? createCipheriv(e.cipher, key, nonce, { authTagLength: e.icvLen })
    : createCipheriv(e.cipher, key, nonce, { authTagLength: e.icvLen });
}

function aeadDecipher(e: AeadEncrInfo, k: SkKeys, iv: Buffer) {
  const key = k.encr.subarray(0, e.keyLen);
  const nonce = aeadNonce(e, k, iv);
  return e.cipher === 'chacha20-poly1305'
    ? createDecipheriv(e.cipher, key, nonce, { authTagLength: e.icvLen })
    : createDecipheriv(e.cipher, key, nonce, { authTagLength: e.icvLen });
}

function cbcMac(s: SkSuite, k: SkKeys, aad: Buffer, ivAndCt: Buffer): Buffer {
  return createHmac(s.integ!.hash, k.integ!).update(aad).update(ivAndCt).digest().subarray(0, s.integ!.icvLen);
}

/**
 * Protects `plain` (the inner payload chain) with an explicit IV; returns IV | ciphertext | ICV.
 * Deterministic, for tests and for SkSealer; the IV must never repeat under one key.
 */
export function sealSk(s: SkSuite, k: SkKeys, aad: Buffer, plain: Buffer, iv: Buffer): Buffer {
  checkKeys(s, k);
  const e = s.encr;
  if (iv.length !== e.ivLen) throw new RangeError(`${e.name} needs a ${e.ivLen}-byte IV`);
  const pad = padLengthFor(s, plain.length);
  // Padding content is the sender's choice (§3.14); zeros leak nothing.
  const padded = Buffer.concat([plain, Buffer.alloc(pad + 1)]);
  padded[padded.length - 1] = pad;
  if (e.kind === 'aead') {
    const c = aeadCipher(e, k, iv);
    c.setAAD(aad, { plaintextLength: padded.length });
    const ct = Buffer.concat([c.update(padded), c.final()]);
    return Buffer.concat([iv, ct, c.getAuthTag()]);
  }
  const c = createCipheriv(e.cipher, k.encr, iv).setAutoPadding(false);
  const ivAndCt = Buffer.concat([iv, c.update(padded), c.final()]);
  return Buffer.concat([ivAndCt, cbcMac(s, k, aad, ivAndCt)]);
}

/**
 * Verifies and decrypts an SK payload body. Returns the inner payload chain (padding removed),
 * 'bad-icv' when authentication fails, or 'malformed' when the body cannot be a valid SK body
 * (too short, not block aligned, or a Pad Length larger than the plaintext). Never throws on
 * network input; it does throw for keys that do not fit the suite (a caller bug).
 */
export function openSk(s: SkSuite, k: SkKeys, aad: Buffer, body: Buffer): SkOpenResult {
  checkKeys(s, k);
  const e = s.encr;
  const icv = icvLen(s);
  const ctLen = body.length - e.ivLen - icv;
  const iv = body.subarray(0, e.ivLen);
  const ct = body.subarray(e.ivLen, e.ivLen + ctLen);
  const tag = body.subarray(e.ivLen + ctLen);
  let padded: Buffer;
  if (e.kind === 'aead') {
    if (ctLen < 1) return 'malformed';
    try {
      const d = aeadDecipher(e, k, iv);
      d.setAuthTag(tag);
      d.setAAD(aad, { plaintextLength: ctLen });
      padded = Buffer.concat([d.update(ct), d.final()]);
    } catch {
      return 'bad-icv';
    }
  } else {
    if (ctLen < e.blockLen || ctLen % e.blockLen !== 0) return 'malformed';
    // Authenticate before decrypting: no padding oracle, no work on forged input.
    if (!timingSafeEqual(cbcMac(s, k, aad, body.subarray(0, e.ivLen + ctLen)), tag)) return 'bad-icv';
    try {
      const d = createDecipheriv(e.cipher, k.encr, iv).setAutoPadding(false);
      padded = Buffer.concat([d.update(ct), d.final()]);
    } catch {
      return 'malformed';
    }
  }
  const pad = padded[padded.length - 1]!;
  // Any padding content and any length that fits is acceptable (§3.14).
  if (pad + 1 > padded.length) return 'malformed';
  return padded.subarray(0, padded.length - pad - 1);
}

/**
 * Seals outgoing SK payloads for one sender key, choosing IVs.
 *
 * CBC: a fresh random IV per message, as §3.14 requires (it must be unpredictable).
 * AEAD: the IV only has to be unique per key (RFC 5282 §3.1, RFC 7634 §2), and a repeat is
 * catastrophic for GCM (key stream reuse, authentication key recovery), so uniqueness must not
 * rest on luck: a 64-bit counter cannot repeat within one sealer, whereas random 64-bit IVs
 * already reach a 2^-32 collision chance after ~2^16 messages. The counter starts at a random
 * value so that a second sealer wrongly built over the same key (a caller bug) still collides
 * only with negligible probability, and so the IV does not reveal how many messages were sent.
 * One sealer per IKE SA and direction; retransmissions resend cached bytes, never reseal.
 */
export class SkSealer {
  readonly #suite: SkSuite;
  readonly #keys: SkKeys;
  #counter: bigint;
  #left = 1n << 64n;

  constructor(suite: SkSuite, keys: SkKeys) {
    checkKeys(suite, keys);
    this.#suite = suite;
    this.#keys = { encr: Buffer.from(keys.encr), integ: keys.integ === null ? null : Buffer.from(keys.integ) };
    this.#counter = randomBytes(8).readBigUInt64BE();
  }

  bodyLength(plainLen: number): number {
    return skBodyLength(this.#suite, plainLen);
  }

  seal(aad: Buffer, plain: Buffer): Buffer {
    return sealSk(this.#suite, this.#keys, aad, plain, this.#nextIv());
  }

  #nextIv(): Buffer {
    const e = this.#suite.encr;
    if (e.kind === 'cbc') return randomBytes(e.ivLen);
    if (this.#left === 0n) throw new RangeError('SK IV counter exhausted; the IKE SA must be rekeyed');
    this.#left--;
    const iv = Buffer.alloc(8);
    iv.writeBigUInt64BE(this.#counter);
    this.#counter = (this.#counter + 1n) & 0xffffffffffffffffn;
    return iv;
  }
}
