// Raw public key authentication (RFC 7670) with Ed25519 or ECDSA P-256.
//
//   IKE_SA_INIT  both sides:  N(SIGNATURE_HASH_ALGORITHMS)        (RFC 7427 §4)
//                responder:   CERTREQ(15, empty)                  "send me your raw key"
//   IKE_AUTH     initiator:   IDi, CERT(15, SPKI), CERTREQ(15), IDr, AUTH(14 | 9)
//                responder:   IDr, CERT(15, SPKI), AUTH(14 | 9)
//
// The CERT payload is informative: the key that may speak for the peer is decided by the
// PeerKeyVerifier, by default "equals peer_public_key". That is the hook DNS-based checks
// (IPSECA, selector 1 = SPKI) plug into. It may answer with a Promise: IKE_AUTH then waits for
// it, up to the engine's authorisation timeout (authorise.ts), before it is answered.

import { createHash, type KeyObject } from 'node:crypto';
import {
  CertEncoding, HashAlgorithm, NotifyType, PayloadType, notify, signatureHashAlgorithms,
  type AuthPayload, type CertPayload, type PayloadRepr,
} from '../wire/ike/index.js';
import {
  AUTH_DIGITAL_SIGNATURE, AUTH_ECDSA_SHA256_P256, authKeyType, importSpki, signAuth, verifyAuth,
  SUPPORTED_SIGNATURE_HASHES, type AuthKeyType, type SignatureAuthMethod,
} from './crypto/auth.js';
import type { IkeIdentity } from './identity.js';
import { notifies } from './payloads.js';

/**
 * A verifier's answer: a plain yes/no, or one that says why not (the sentence `show ike` keeps)
 * and, for a yes, what vouched for the key (an IPSECA record: `show ike` shows its owner).
 */
export type PeerKeyDecision =
  | boolean
  | { accept: boolean; why?: string; source?: 'ipseca' | 'config'; ipseca?: { owner: string; verdict: string; record: string | null } };

/**
 * May `spki` (DER SubjectPublicKeyInfo) authenticate the peer that claims `identity`, seen at
 * `ctx.addr`? Called once per IKE_AUTH, before the signature is checked against that key; a
 * rejected Promise or a throw is a no.
 */
export type PeerKeyVerifier = (spki: Buffer, identity: IkeIdentity, ctx: { addr: string }) => PeerKeyDecision | Promise<PeerKeyDecision>;

export interface PubkeyAuth {
  privateKey: KeyObject;
  /** Our public key as DER SPKI: the CERT payload's data. */
  ourSpki: Buffer;
  /** peer_public_key as DER SPKI; null only when a verifier alone decides. */
  peerSpki: Buffer | null;
  /** Overrides the default check (presented key = peerSpki). */
  verifyPeerKey?: PeerKeyVerifier;
}

/** The peer's key as the inspector and later DNS checks see it. No secret in here. */
export interface PeerKeyInfo {
  type: AuthKeyType;
  /** DER SPKI, base64. */
  spki: string;
  /** SHA-256 of the DER SPKI, hex: IPSECA/TLSA selector 1, matching type 1. */
  sha256: string;
  /**
   * What vouches for it: `cert` (the peer's CERT payload, equal to peer_public_key or accepted by
   * a verifier), `config` (no CERT; the configured key), `ipseca` (a secure IPSECA record).
   */
  source: 'cert' | 'config' | 'ipseca';
  /** The IPSECA record that vouched (source `ipseca`); null otherwise. */
  ipseca: { owner: string; verdict: string; record: string | null } | null;
  /** The AUTH method it signed with. */
  authMethod: number;
}

/** The subset of an IKE SA this module reads and writes; IkeSa satisfies it. */
export interface PubkeySaState {
  cfg: { pubkey?: PubkeyAuth | undefined; remoteId: IkeIdentity };
  remote: { addr: string };
  peerSigHashes: number[] | null;
  peerKey: PeerKeyInfo | null;
}

export function spkiSha256(spki: Buffer): string {
  return createHash('sha256').update(spki).digest('hex');
}

/** Identifies the configured keys for reload: a changed key file must recreate the vlink. */
export function pubkeyFingerprint(a: PubkeyAuth): string {
  return `pubkey:${spkiSha256(a.ourSpki)}:${a.peerSpki === null ? '-' : spkiSha256(a.peerSpki)}`;
}

const SIG_HASHES = Buffer.from(SUPPORTED_SIGNATURE_HASHES.flatMap((h) => [h >> 8, h & 0xff]));

/**
 * Extra IKE_SA_INIT payloads for a pubkey vlink. The responder asks for the raw key with an
 * empty CERTREQ(15) here, as RFC 7670 §3 does; the initiator asks in IKE_AUTH.
 */
export function initPayloads(cfg: { pubkey?: PubkeyAuth | undefined }, role: 'initiator' | 'responder'): PayloadRepr[] {
  if (cfg.pubkey === undefined) return [];
  const out: PayloadRepr[] = [];
  if (role === 'responder') out.push(certReq());
  out.push(notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, SIG_HASHES));
  return out;
}

/** Remembers what the peer announced in IKE_SA_INIT: it decides between AUTH methods 14 and 9. */
export function notePeerInit(sa: PubkeySaState, ps: readonly PayloadRepr[]): void {
  const n = notifies(ps).find((x) => x.notifyType === NotifyType.SIGNATURE_HASH_ALGORITHMS);
  sa.peerSigHashes = n === undefined ? null : signatureHashAlgorithms(n);
}

function certReq(): CertPayload {
  return { type: PayloadType.CERTREQ, encoding: CertEncoding.RAW_PUBLIC_KEY, data: Buffer.alloc(0) };
}

/**
 * RFC 7427 needs the peer's announcement of the hash we sign with (Identity for Ed25519,
 * RFC 8420; SHA2-256 for ECDSA). Ed25519 has no other method, so it is sent as 14 regardless; a
 * P-256 key falls back to method 9 (RFC 4754), which every IKEv2 ECDSA implementation knows.
 */
export function signatureMethod(sa: PubkeySaState, key: KeyObject): SignatureAuthMethod {
  if (authKeyType(key) === 'ed25519') return AUTH_DIGITAL_SIGNATURE;
  return sa.peerSigHashes?.includes(HashAlgorithm.SHA2_256) === true ? AUTH_DIGITAL_SIGNATURE : AUTH_ECDSA_SHA256_P256;
}

/** CERT(15) and AUTH for our side; the initiator adds CERTREQ(15) so the peer sends its key too. */
export function pubkeyCredentials(sa: PubkeySaState & { role: 'initiator' | 'responder' }, octets: Buffer): PayloadRepr[] {
  const a = sa.cfg.pubkey!;
  const method = signatureMethod(sa, a.privateKey);
  const auth: AuthPayload = { type: PayloadType.AUTH, method, data: signAuth(method, a.privateKey, octets) };
  const cert: CertPayload = { type: PayloadType.CERT, encoding: CertEncoding.RAW_PUBLIC_KEY, data: a.ourSpki };
  return sa.role === 'initiator' ? [cert, certReq(), auth] : [cert, auth];
}

const short = (spki: Buffer) => `SHA-256 ${spkiSha256(spki).slice(0, 16)}…`;

/**
 * Checks the peer's AUTH against the key it may use. Null on success (and sa.peerKey is set);
 * otherwise a sentence for the operator. Any failure here is AUTHENTICATION_FAILED.
 */
export async function checkPubkeyPeer(sa: PubkeySaState, auth: AuthPayload, ps: readonly PayloadRepr[], octets: Buffer): Promise<string | null> {
  const a = sa.cfg.pubkey!;
  if (auth.method !== AUTH_DIGITAL_SIGNATURE && auth.method !== AUTH_ECDSA_SHA256_P256) {
    return `peer authenticates with method ${auth.method}; this vlink uses raw public keys (method 14, or 9 for ECDSA P-256)`;
  }
  const certs = ps.filter((p): p is CertPayload => p.type === PayloadType.CERT);
  const raw = certs.find((c) => c.encoding === CertEncoding.RAW_PUBLIC_KEY);
  if (raw === undefined && certs.length > 0) {
    return `peer sent a certificate (encoding ${certs[0]!.encoding}) instead of a raw public key (encoding 15); X.509 is not supported`;
  }
  let presented: Buffer;
  if (raw !== undefined) {
    if (importSpki(raw.data) === null) return 'peer\'s CERT payload is not an Ed25519 or P-256 SubjectPublicKeyInfo';
    presented = Buffer.from(raw.data);
  } else if (a.peerSpki !== null) {
    presented = a.peerSpki;
  } else {
    return 'peer sent no raw public key and none is configured';
  }
  let d: Exclude<PeerKeyDecision, boolean>;
  try {
    const r = a.verifyPeerKey !== undefined ? await a.verifyPeerKey(presented, sa.cfg.remoteId, { addr: sa.remote.addr }) : a.peerSpki !== null && presented.equals(a.peerSpki);
    d = typeof r === 'boolean' ? { accept: r } : r;
  } catch {
    // A verifier that fails must not let the peer in, nor take the engine down.
    d = { accept: false };
  }
  if (!d.accept) {
    if (d.why !== undefined) return `peer presented public key ${short(presented)}: ${d.why}`;
    return a.verifyPeerKey !== undefined || a.peerSpki === null
      ? `peer presented public key ${short(presented)}, which the key verifier refused`
      : `peer presented public key ${short(presented)}, but peer_public_key is ${short(a.peerSpki)} (wrong key file on one side?)`;
  }
  const key = importSpki(presented)!;
  if (!verifyAuth(auth.method, key, octets, auth.data)) {
    return raw !== undefined
      ? `peer's AUTH signature (method ${auth.method}) does not verify with the public key it presented, ${short(presented)} (it does not hold that key's private half)`
      // Peers that send no CERT (strongSwan 5.9 ignores encoding 15) leave only this to say.
      : `peer's AUTH signature (method ${auth.method}) does not verify with peer_public_key ${short(presented)} (the peer uses another key pair, or peer_public_key is the wrong file)`;
  }
  sa.peerKey = {
    type: authKeyType(key)!, spki: presented.toString('base64'), sha256: spkiSha256(presented),
    source: d.source === 'ipseca' ? 'ipseca' : raw !== undefined ? 'cert' : 'config', ipseca: d.ipseca ?? null, authMethod: auth.method,
  };
  return null;
}
