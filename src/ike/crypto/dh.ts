// Ephemeral Diffie-Hellman for IKEv2 KE payloads: group 19 (ECP P-256, RFC 5903) and group 31
// (Curve25519, RFC 8031). Peer values arrive from the network, so computeShared() reports a bad
// value as 'invalid-ke' (the caller answers INVALID_SYNTAX / drops the exchange) and never throws.

import { createECDH, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DH_CURVE25519, DH_ECP_256, DH_GROUPS, type DhGroupId } from './suites.js';

export type { DhGroupId } from './suites.js';

export interface DhKeyPair {
  readonly group: DhGroupId;
  /** Key Exchange Data for our KE payload. */
  readonly publicValue: Buffer;
  /** g^ir from the peer's Key Exchange Data, or 'invalid-ke' if that value is unacceptable. */
  computeShared(peer: Buffer): Buffer | 'invalid-ke';
}

// RFC 8410 DER wrappers around a raw 32-byte X25519 key; node:crypto has no raw X25519 import.
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** Fresh ephemeral key pair. One pair per exchange: reusing it across SAs forfeits PFS. */
export function generate(group: DhGroupId): DhKeyPair {
  if (group === DH_ECP_256) {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return p256Pair(ecdh);
  }
  if (group === DH_CURVE25519) {
    const { privateKey } = generateKeyPairSync('x25519');
    return x25519Pair(privateKey);
  }
  throw new RangeError(`unsupported DH group ${String(group)}`);
}

/**
 * A key pair from a known private value (P-256: 32-byte scalar; X25519: 32-byte string).
 * For known-answer tests; production code uses generate().
 */
export function fromPrivate(group: DhGroupId, priv: Buffer): DhKeyPair {
  if (priv.length !== 32) throw new RangeError(`group ${group} private value must be 32 bytes`);
  if (group === DH_ECP_256) {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(priv);
    return p256Pair(ecdh);
  }
  if (group === DH_CURVE25519) {
    return x25519Pair(createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, priv]), format: 'der', type: 'pkcs8' }));
  }
  throw new RangeError(`unsupported DH group ${String(group)}`);
}

function p256Pair(ecdh: ReturnType<typeof createECDH>): DhKeyPair {
  // RFC 5903 §7: KE data is x | y without the SEC1 0x04 prefix.
  const publicValue = ecdh.getPublicKey().subarray(1);
  return Object.freeze({
    group: DH_ECP_256 as DhGroupId,
    publicValue,
    computeShared(peer: Buffer): Buffer | 'invalid-ke' {
      if (!Buffer.isBuffer(peer) || peer.length !== DH_GROUPS[DH_ECP_256].keLen) return 'invalid-ke';
      try {
        // OpenSSL rejects points off the curve (invalid-curve attacks) and coordinates >= p;
        // the point at infinity has no x|y encoding, so this is the full check of RFC 5903 §7 / SP 800-56A.
        // The result is the x coordinate only (RFC 5903 §9; RFC 4753 had used x | y).
        return ecdh.computeSecret(Buffer.concat([Buffer.from([4]), peer]));
      } catch {
        return 'invalid-ke';
      }
    },
  });
}

function x25519Pair(privateKey: KeyObject): DhKeyPair {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicValue = Buffer.from(spki.subarray(X25519_SPKI_PREFIX.length));
  return Object.freeze({
    group: DH_CURVE25519 as DhGroupId,
    publicValue,
    computeShared(peer: Buffer): Buffer | 'invalid-ke' {
      if (!Buffer.isBuffer(peer) || peer.length !== DH_GROUPS[DH_CURVE25519].keLen) return 'invalid-ke';
      let shared: Buffer;
      try {
        const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, peer]), format: 'der', type: 'spki' });
        shared = diffieHellman({ privateKey, publicKey });
      } catch {
        // OpenSSL itself fails on an all-zero result (small-order peer value).
        return 'invalid-ke';
      }
      // RFC 8031 §2.3 / RFC 7748 §6.1: an all-zero secret means a small-order point; refuse it
      // even if a future OpenSSL stops checking.
      let acc = 0;
      for (const b of shared) acc |= b;
      return acc === 0 ? 'invalid-ke' : shared;
    },
  });
}
