// AUTH payload computation (RFC 7296 §2.15) for PSK, and for raw public keys (RFC 7670) with
// Ed25519 or ECDSA P-256: Digital Signature method 14 (RFC 7427, RFC 8420) and, for peers that
// prefer it, ECDSA method 9 (RFC 4754). Verification gets its inputs from the network, so it
// answers false instead of throwing.

import {
  createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { prf, type PrfId } from './prf.js';

// IKEv2 Authentication Method registry.
export const AUTH_SHARED_KEY_MIC = 2;
export const AUTH_ECDSA_SHA256_P256 = 9;
export const AUTH_DIGITAL_SIGNATURE = 14;
export type SignatureAuthMethod = typeof AUTH_ECDSA_SHA256_P256 | typeof AUTH_DIGITAL_SIGNATURE;

// SIGNATURE_HASH_ALGORITHMS notify values (RFC 7427 §4, RFC 8420): what we can verify.
export const HASH_SHA2_256 = 2;
export const HASH_SHA2_384 = 3;
export const HASH_SHA2_512 = 4;
export const HASH_IDENTITY = 5;
export const SUPPORTED_SIGNATURE_HASHES: readonly number[] = Object.freeze([HASH_SHA2_256, HASH_SHA2_384, HASH_SHA2_512, HASH_IDENTITY]);

export type AuthKeyType = 'ed25519' | 'ecdsa-p256';

const KEY_PAD = Buffer.from('Key Pad for IKEv2', 'ascii');

// RFC 7427 method 14 prefixes AUTH data with the signature's AlgorithmIdentifier. DER is
// canonical, so comparing whole encodings is exact; parameters are absent for both families
// (RFC 8410 §3 for Ed25519, RFC 5758 §3.2 for ECDSA).
const ALG_ED25519 = Buffer.from('300506032b6570', 'hex');
const ALG_ECDSA_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex');
const ALG_ECDSA_SHA384 = Buffer.from('300a06082a8648ce3d040303', 'hex');
const ALG_ECDSA_SHA512 = Buffer.from('300a06082a8648ce3d040304', 'hex');
const ECDSA_ALGS: readonly [Buffer, 'sha256' | 'sha384' | 'sha512'][] = [
  [ALG_ECDSA_SHA256, 'sha256'], [ALG_ECDSA_SHA384, 'sha384'], [ALG_ECDSA_SHA512, 'sha512'],
];

/**
 * The octets the AUTH payload covers: RealMessage | Nonce(peer) | prf(SK_px, IDx').
 * `realMessage` is this side's IKE_SA_INIT message as sent (first message for the initiator, second
 * for the responder), `peerNonce` the other side's Nonce Data, `skP` this side's SK_pi or SK_pr,
 * and `idBody` this side's ID payload body (ID Type, 3 reserved octets, identification data).
 */
export function signedOctets(prfId: PrfId, realMessage: Buffer, peerNonce: Buffer, skP: Buffer, idBody: Buffer): Buffer {
  return Buffer.concat([realMessage, peerNonce, prf(prfId, skP, idBody)]);
}

/** AUTH data for method 2: prf(prf(Shared Secret, "Key Pad for IKEv2"), <signed octets>). */
export function pskAuth(prfId: PrfId, psk: Buffer | string, octets: Buffer): Buffer {
  const secret = typeof psk === 'string' ? Buffer.from(psk, 'utf8') : psk;
  return prf(prfId, prf(prfId, secret, KEY_PAD), octets);
}

export function verifyPskAuth(prfId: PrfId, psk: Buffer | string, octets: Buffer, authData: Buffer): boolean {
  const want = pskAuth(prfId, psk, octets);
  return authData.length === want.length && timingSafeEqual(want, authData);
}

/** The key families we sign and verify with, or null for anything else (RSA, other curves). */
export function authKeyType(key: KeyObject): AuthKeyType | null {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  return null;
}

/** Methods a key can authenticate with, best first: 14 is the modern one, 9 only for ECDSA. */
export function authMethodsFor(key: KeyObject): SignatureAuthMethod[] {
  const t = authKeyType(key);
  if (t === 'ed25519') return [AUTH_DIGITAL_SIGNATURE];
  if (t === 'ecdsa-p256') return [AUTH_DIGITAL_SIGNATURE, AUTH_ECDSA_SHA256_P256];
  return [];
}

export function generateAuthKey(type: AuthKeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  return type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/**
 * AUTH data for a signature method over `octets` with our private key. Method 14 signs with
 * Ed25519 (pure, no pre-hash: RFC 8420) or ECDSA-with-SHA256 (DER signature); method 9 gives the
 * raw r | s of RFC 4754. Throws if the key cannot do the method (a configuration error).
 */
export function signAuth(method: SignatureAuthMethod, privateKey: KeyObject, octets: Buffer): Buffer {
  const t = authKeyType(privateKey);
  if (privateKey.type !== 'private' || t === null) throw new RangeError('AUTH signing needs an Ed25519 or P-256 private key');
  if (method === AUTH_ECDSA_SHA256_P256) {
    if (t !== 'ecdsa-p256') throw new RangeError('auth method 9 needs a P-256 key');
    return cryptoSign('sha256', octets, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  }
  if (method !== AUTH_DIGITAL_SIGNATURE) throw new RangeError(`unsupported auth method ${String(method)}`);
  const [alg, sig] = t === 'ed25519'
    ? [ALG_ED25519, cryptoSign(null, octets, privateKey)]
    : [ALG_ECDSA_SHA256, cryptoSign('sha256', octets, { key: privateKey, dsaEncoding: 'der' })];
  return Buffer.concat([Buffer.from([alg.length]), alg, sig]);
}

/**
 * Checks AUTH data of a signature method against the peer's public key. False for any failure:
 * wrong method for the key, unknown or mismatching AlgorithmIdentifier, bad encoding, bad signature.
 */
export function verifyAuth(method: number, publicKey: KeyObject, octets: Buffer, authData: Buffer): boolean {
  try {
    const t = authKeyType(publicKey);
    if (t === null) return false;
    if (method === AUTH_ECDSA_SHA256_P256) {
      return t === 'ecdsa-p256' && authData.length === 64
        && cryptoVerify('sha256', octets, { key: publicKey, dsaEncoding: 'ieee-p1363' }, authData);
    }
    if (method !== AUTH_DIGITAL_SIGNATURE || authData.length < 1) return false;
    const algLen = authData[0]!;
    if (authData.length < 1 + algLen) return false;
    const alg = authData.subarray(1, 1 + algLen);
    const sig = authData.subarray(1 + algLen);
    if (t === 'ed25519') return alg.equals(ALG_ED25519) && sig.length === 64 && cryptoVerify(null, octets, publicKey, sig);
    const hash = ECDSA_ALGS.find(([a]) => a.equals(alg))?.[1];
    return hash !== undefined && cryptoVerify(hash, octets, { key: publicKey, dsaEncoding: 'der' }, sig);
  } catch {
    return false;
  }
}

/**
 * DER SubjectPublicKeyInfo of a key (private keys give their public half): the RFC 7670 "Raw
 * Public Key" CERT payload data, and what DNS-based checks (IPSECA) compare against.
 */
export function exportSpki(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' });
}

/** A peer's raw public key from SPKI DER, or null if malformed or not Ed25519 / P-256. */
export function importSpki(der: Buffer): KeyObject | null {
  try {
    const k = createPublicKey({ key: der, format: 'der', type: 'spki' });
    // Re-encoding must give the same bytes, so trailing data or odd encodings are refused.
    return authKeyType(k) !== null && exportSpki(k).equals(der) ? k : null;
  } catch {
    return null;
  }
}

/** Our private key from PEM or DER (PKCS#8, or SEC1 for EC), or null if unusable. */
export function importPrivateKey(data: Buffer | string): KeyObject | null {
  try {
    const k = typeof data === 'string' || data.includes('-----BEGIN')
      ? createPrivateKey({ key: data.toString(), format: 'pem' })
      : createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
    return authKeyType(k) !== null ? k : null;
  } catch {
    return null;
  }
}
