// IKEv2 transform tables (IANA "Internet Key Exchange Version 2 (IKEv2) Parameters"): what each
// transform ID we negotiate means in bytes and node:crypto names. Only what issue 4 needs is
// listed; a transform that is not here is one we must not accept (NO_PROPOSAL_CHOSEN).

import { SUITES, keymatLength, type SuiteInfo } from '../../dataplane/aead.js';
import type { Suite } from '../../dataplane/suite.js';

// Transform Type 1 (ENCR)
export const ENCR_AES_CBC = 12;
export const ENCR_AES_GCM_16 = 20;
export const ENCR_CHACHA20_POLY1305 = 28;
// Transform Type 2 (PRF)
export const PRF_HMAC_SHA2_256 = 5;
export const PRF_HMAC_SHA2_384 = 6;
// Transform Type 3 (INTEG)
export const AUTH_NONE = 0;
export const AUTH_HMAC_SHA2_256_128 = 12;
export const AUTH_HMAC_SHA2_384_192 = 13;
// Transform Type 4 (DH / KE)
export const DH_ECP_256 = 19;
export const DH_CURVE25519 = 31;

export type PrfId = typeof PRF_HMAC_SHA2_256 | typeof PRF_HMAC_SHA2_384;
export type IntegId = typeof AUTH_HMAC_SHA2_256_128 | typeof AUTH_HMAC_SHA2_384_192;
export type DhGroupId = typeof DH_ECP_256 | typeof DH_CURVE25519;

export interface PrfInfo {
  readonly id: PrfId;
  readonly name: string;
  readonly hash: 'sha256' | 'sha384';
  /** Output length in bytes; also the length of SK_d, SK_pi and SK_pr (RFC 7296 §2.14). */
  readonly outLen: number;
}

export interface IntegInfo {
  readonly id: IntegId;
  readonly name: string;
  readonly hash: 'sha256' | 'sha384';
  /** SK_a* length: the full hash output (RFC 4868 §2.1.1). */
  readonly keyLen: number;
  /** Truncated ICV length on the wire. */
  readonly icvLen: number;
}

interface EncrBase {
  readonly id: number;
  readonly name: string;
  /** Key Length attribute in bits, or null when the transform must not carry one (RFC 7634 §4). */
  readonly keyLenBits: number | null;
  /** Cipher key bytes, salt excluded. */
  readonly keyLen: number;
}

export interface AeadEncrInfo extends EncrBase {
  readonly kind: 'aead';
  readonly cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  /** Salt appended to the cipher key in SK_e* (RFC 5282 §7.1, RFC 7634 §2). */
  readonly saltLen: 4;
  readonly ivLen: 8;
  readonly icvLen: 16;
}

export interface CbcEncrInfo extends EncrBase {
  readonly kind: 'cbc';
  readonly cipher: 'aes-128-cbc' | 'aes-256-cbc';
  readonly saltLen: 0;
  readonly ivLen: 16;
  readonly blockLen: 16;
}

export type EncrInfo = AeadEncrInfo | CbcEncrInfo;

export interface DhInfo {
  readonly id: DhGroupId;
  readonly name: string;
  /** KE payload Key Exchange Data length. */
  readonly keLen: number;
  /** g^ir length. */
  readonly sharedLen: number;
}

export const PRFS: Readonly<Record<PrfId, PrfInfo>> = Object.freeze({
  [PRF_HMAC_SHA2_256]: Object.freeze({ id: PRF_HMAC_SHA2_256, name: 'PRF_HMAC_SHA2_256', hash: 'sha256', outLen: 32 }),
  [PRF_HMAC_SHA2_384]: Object.freeze({ id: PRF_HMAC_SHA2_384, name: 'PRF_HMAC_SHA2_384', hash: 'sha384', outLen: 48 }),
} as const);

export const INTEGS: Readonly<Record<IntegId, IntegInfo>> = Object.freeze({
  [AUTH_HMAC_SHA2_256_128]: Object.freeze({ id: AUTH_HMAC_SHA2_256_128, name: 'AUTH_HMAC_SHA2_256_128', hash: 'sha256', keyLen: 32, icvLen: 16 }),
  [AUTH_HMAC_SHA2_384_192]: Object.freeze({ id: AUTH_HMAC_SHA2_384_192, name: 'AUTH_HMAC_SHA2_384_192', hash: 'sha384', keyLen: 48, icvLen: 24 }),
} as const);

export const DH_GROUPS: Readonly<Record<DhGroupId, DhInfo>> = Object.freeze({
  [DH_ECP_256]: Object.freeze({ id: DH_ECP_256, name: 'ECP_256', keLen: 64, sharedLen: 32 }),
  [DH_CURVE25519]: Object.freeze({ id: DH_CURVE25519, name: 'CURVE_25519', keLen: 32, sharedLen: 32 }),
} as const);

const aead = (id: number, name: string, keyLenBits: number | null, keyLen: number, cipher: AeadEncrInfo['cipher']): AeadEncrInfo =>
  Object.freeze({ kind: 'aead', id, name, keyLenBits, keyLen, cipher, saltLen: 4, ivLen: 8, icvLen: 16 });
const cbc = (keyLenBits: 128 | 256): CbcEncrInfo =>
  Object.freeze({
    kind: 'cbc', id: ENCR_AES_CBC, name: `ENCR_AES_CBC-${keyLenBits}`, keyLenBits, keyLen: keyLenBits / 8,
    cipher: keyLenBits === 128 ? 'aes-128-cbc' : 'aes-256-cbc', saltLen: 0, ivLen: 16, blockLen: 16,
  });

/** IKE SA encryption transforms we accept. */
export const IKE_ENCRS: readonly EncrInfo[] = Object.freeze([
  aead(ENCR_AES_GCM_16, 'ENCR_AES_GCM_16-128', 128, 16, 'aes-128-gcm'),
  aead(ENCR_AES_GCM_16, 'ENCR_AES_GCM_16-256', 256, 32, 'aes-256-gcm'),
  aead(ENCR_CHACHA20_POLY1305, 'ENCR_CHACHA20_POLY1305', null, 32, 'chacha20-poly1305'),
  cbc(128),
  cbc(256),
]);

export function isPrfId(x: number): x is PrfId {
  return Object.prototype.hasOwnProperty.call(PRFS, x);
}
export function isIntegId(x: number): x is IntegId {
  return Object.prototype.hasOwnProperty.call(INTEGS, x);
}
export function isDhGroupId(x: number): x is DhGroupId {
  return Object.prototype.hasOwnProperty.call(DH_GROUPS, x);
}

export function prfInfo(id: PrfId): PrfInfo {
  return PRFS[id];
}

/**
 * The ENCR transform for an ID and Key Length attribute (null = attribute absent), or null if
 * we do not support that combination. AES needs the attribute (RFC 7296 §3.3.5 leaves no default
 * for it); ChaCha20-Poly1305 must not have one (RFC 7634 §4).
 */
export function ikeEncr(id: number, keyLenBits: number | null): EncrInfo | null {
  return IKE_ENCRS.find((e) => e.id === id && e.keyLenBits === keyLenBits) ?? null;
}

/** A fully negotiated IKE SA suite; lengths below derive from it. */
export interface IkeSuite {
  readonly encr: EncrInfo;
  /** null exactly when encr is an AEAD (RFC 5282 §8: INTEG must be NONE or absent). */
  readonly integ: IntegInfo | null;
  readonly prf: PrfInfo;
  readonly dh: DhInfo;
}

/**
 * Validates one chosen transform set. `integ` null or AUTH_NONE means "no INTEG transform".
 * Returns null for combinations a responder must refuse, so the caller can answer
 * NO_PROPOSAL_CHOSEN instead of guessing.
 */
export function ikeSuite(t: { encr: number; keyLenBits: number | null; integ: number | null; prf: number; dh: number }): IkeSuite | null {
  const encr = ikeEncr(t.encr, t.keyLenBits);
  if (!encr || !isPrfId(t.prf) || !isDhGroupId(t.dh)) return null;
  const noInteg = t.integ === null || t.integ === AUTH_NONE;
  let integ: IntegInfo | null = null;
  if (encr.kind === 'aead') {
    if (!noInteg) return null;
  } else {
    if (noInteg || !isIntegId(t.integ!)) return null;
    integ = INTEGS[t.integ as IntegId];
  }
  return Object.freeze({ encr, integ, prf: PRFS[t.prf], dh: DH_GROUPS[t.dh] });
}

/** Byte lengths of SK_d, SK_a*, SK_e* (salt included), SK_p* for a suite (RFC 7296 §2.14). */
export function ikeKeyLengths(s: IkeSuite): { d: number; a: number; e: number; p: number } {
  return { d: s.prf.outLen, a: s.integ?.keyLen ?? 0, e: s.encr.keyLen + s.encr.saltLen, p: s.prf.outLen };
}

/** Short human form in charon's style, for logs and the inspector. */
export function ikeSuiteName(s: IkeSuite): string {
  return [s.encr.name, s.integ?.name, s.prf.name, s.dh.name].filter(Boolean).join('/');
}

// ---- CHILD SA (ESP): exactly the data plane's AEAD suites ----

/** The data-plane suite an ESP ENCR transform (+ Key Length attribute) selects, or null. */
export function childSuite(encrId: number, keyLenBits: number | null): Suite | null {
  for (const info of Object.values(SUITES) as SuiteInfo[]) {
    if (info.ikeTransformId === encrId && info.ikeKeyLengthBits === keyLenBits) return info.suite;
  }
  return null;
}

/** The ESP ENCR transform (ID, Key Length attribute) to offer for a data-plane suite. */
export function childTransform(suite: Suite): { encr: number; keyLenBits: number | null } {
  const info = SUITES[suite];
  return { encr: info.ikeTransformId, keyLenBits: info.ikeKeyLengthBits };
}

/** KEYMAT bytes per direction: key then salt (RFC 4106 §8.1, RFC 7634 §2); no INTEG key for AEAD. */
export function childKeymatLength(suite: Suite): number {
  return keymatLength(suite);
}
