// The three ESP AEAD suites over node:crypto. The ESP nonce is salt(4) || IV(8): the salt is the
// last 4 bytes of the keying material and never goes on the wire, the IV does (RFC 4106 §4,
// RFC 7634 §2). Everything here is synchronous, so one module-level nonce buffer can be shared:
// createCipheriv copies the IV into the OpenSSL context before returning.

import {
  createCipheriv,
  createDecipheriv,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
} from 'node:crypto';
import type { Suite } from './suite.js';

export type NodeAeadCipher = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

export interface SuiteInfo {
  readonly suite: Suite;
  /** node:crypto algorithm name. */
  readonly cipher: NodeAeadCipher;
  /** Cipher key bytes, excluding the salt. */
  readonly keyLen: number;
  readonly saltLen: number;
  readonly ivLen: number;
  readonly icvLen: number;
  /** IKEv2 Transform Type 1 ID (IANA "Transform Type 1 - Encryption Algorithm Transform IDs"). */
  readonly ikeTransformId: number;
  /** IKEv2 Key Length attribute in bits; null when the transform has a fixed key size and must not carry one (RFC 7634 §4). */
  readonly ikeKeyLengthBits: number | null;
  /** Encryption algorithm string for tshark 4.0's esp_sa UAT; null when tshark cannot decrypt the suite. */
  readonly tsharkName: string | null;
}

export const ENCR_AES_GCM_16 = 20;
export const ENCR_CHACHA20_POLY1305 = 28;

export const SALT_LEN = 4;
export const IV_LEN = 8;
export const ICV_LEN = 16;
const NONCE_LEN = SALT_LEN + IV_LEN;

const TSHARK_AES_GCM_16 = 'AES-GCM with 16 octet ICV [RFC4106]';

export const SUITES: Readonly<Record<Suite, SuiteInfo>> = Object.freeze({
  'aes-gcm-128': Object.freeze({
    suite: 'aes-gcm-128', cipher: 'aes-128-gcm', keyLen: 16, saltLen: SALT_LEN, ivLen: IV_LEN, icvLen: ICV_LEN,
    ikeTransformId: ENCR_AES_GCM_16, ikeKeyLengthBits: 128, tsharkName: TSHARK_AES_GCM_16,
  }),
  'aes-gcm-256': Object.freeze({
    suite: 'aes-gcm-256', cipher: 'aes-256-gcm', keyLen: 32, saltLen: SALT_LEN, ivLen: IV_LEN, icvLen: ICV_LEN,
    ikeTransformId: ENCR_AES_GCM_16, ikeKeyLengthBits: 256, tsharkName: TSHARK_AES_GCM_16,
  }),
  'chacha20-poly1305': Object.freeze({
    suite: 'chacha20-poly1305', cipher: 'chacha20-poly1305', keyLen: 32, saltLen: SALT_LEN, ivLen: IV_LEN, icvLen: ICV_LEN,
    ikeTransformId: ENCR_CHACHA20_POLY1305, ikeKeyLengthBits: null, tsharkName: null,
  }),
} satisfies Record<Suite, SuiteInfo>);

export const SUITE_NAMES: readonly Suite[] = Object.freeze(Object.keys(SUITES) as Suite[]);

export function isSuite(x: unknown): x is Suite {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(SUITES, x);
}

export function suiteInfo(suite: Suite): SuiteInfo {
  return SUITES[suite];
}

/** Bytes of keying material a suite consumes: key then salt (RFC 4106 §8.1, RFC 7634 §2). */
export function keymatLength(suite: Suite): number {
  return SUITES[suite].keyLen + SALT_LEN;
}

const nonce = Buffer.alloc(NONCE_LEN);

function loadNonce(salt: Buffer, iv: Buffer): Buffer {
  salt.copy(nonce, 0, 0, SALT_LEN);
  iv.copy(nonce, SALT_LEN, 0, IV_LEN);
  return nonce;
}

function cipherFor(info: SuiteInfo, key: Buffer, n: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  // Two literal branches so the overloads resolve; authTagLength is mandatory for chacha.
  return info.cipher === 'chacha20-poly1305'
    ? createCipheriv(info.cipher, key, n, { authTagLength: ICV_LEN })
    : createCipheriv(info.cipher, key, n, { authTagLength: ICV_LEN });
}

function decipherFor(info: SuiteInfo, key: Buffer, n: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  return info.cipher === 'chacha20-poly1305'
    ? createDecipheriv(info.cipher, key, n, { authTagLength: ICV_LEN })
    : createDecipheriv(info.cipher, key, n, { authTagLength: ICV_LEN });
}

/**
 * Encrypts `plain` and writes ciphertext || ICV at out[outOffset..]; returns plain.length + 16.
 * `plain` may be the very bytes at out[outOffset..] (in-place sealing). Key and salt lengths
 * are the caller's contract (checked once when the SA is made, not per packet); `iv` is read
 * for 8 bytes, so a view into the packet being built works.
 */
export function aeadSeal(
  suite: Suite, key: Buffer, salt: Buffer, iv: Buffer, aad: Buffer, plain: Buffer,
  out: Buffer, outOffset: number,
): number {
  const c = cipherFor(SUITES[suite], key, loadNonce(salt, iv));
  c.setAAD(aad, { plaintextLength: plain.length });
  const ct = c.update(plain);
  // Stream ciphers return everything from update(); final() only closes the tag computation.
  c.final();
  ct.copy(out, outOffset);
  c.getAuthTag().copy(out, outOffset + plain.length);
  return plain.length + ICV_LEN;
}

/**
 * Verifies and decrypts `sealed` = ciphertext || ICV. Returns a fresh plaintext buffer, or null
 * when the ICV does not verify or the input is shorter than an ICV. Never throws for bad input:
 * a forged packet is an expected event on this path.
 */
export function aeadOpen(
  suite: Suite, key: Buffer, salt: Buffer, iv: Buffer, aad: Buffer, sealed: Buffer,
): Buffer | null {
  const ctLen = sealed.length - ICV_LEN;
  if (ctLen < 0 || iv.length < IV_LEN) return null;
  try {
    const d = decipherFor(SUITES[suite], key, loadNonce(salt, iv));
    d.setAuthTag(sealed.subarray(ctLen));
    d.setAAD(aad, { plaintextLength: ctLen });
    const plain = d.update(sealed.subarray(0, ctLen));
    d.final();
    return plain;
  } catch {
    return null;
  }
}
