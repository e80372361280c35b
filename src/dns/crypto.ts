// DNSSEC algorithms through node:crypto: RSASHA256 (8, RFC 5702), ECDSAP256SHA256 (13) and
// ECDSAP384SHA384 (14, RFC 6605), ED25519 (15, RFC 8080); DS digests SHA-256 (2) and SHA-384
// (4); key tags (RFC 4034 Appendix B). Nothing here throws on a malformed key or signature:
// they simply do not verify.

import crypto from 'node:crypto';
import { nameToWire, lowerName, type DnsName } from '../wire/dns/name.js';

export const SUPPORTED_ALGORITHMS: ReadonlySet<number> = new Set([8, 13, 14, 15]);
export const SUPPORTED_DIGESTS: ReadonlySet<number> = new Set([2, 4]);

/** Zone Key flag (RFC 4034 §2.1.1) and SEP flag. */
export const DNSKEY_ZONE = 0x0100;
export const DNSKEY_SEP = 0x0001;
/** RFC 5011 REVOKE: a revoked key must not be used to validate. */
export const DNSKEY_REVOKE = 0x0080;

/** RFC 4034 Appendix B over the DNSKEY RDATA. */
export function keyTag(dnskeyRdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < dnskeyRdata.length; i++) ac += i & 1 ? dnskeyRdata[i]! : dnskeyRdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

const keyCache = new WeakMap<Buffer, crypto.KeyObject | null>();

const b64u = (b: Buffer) => b.toString('base64url');

function rsaKey(k: Buffer): crypto.KeyObject | null {
  if (k.length < 3) return null;
  let eLen = k[0]!;
  let o = 1;
  if (eLen === 0) {
    eLen = k.readUInt16BE(1);
    o = 3;
  }
  if (eLen === 0 || o + eLen >= k.length) return null;
  const e = k.subarray(o, o + eLen);
  const n = k.subarray(o + eLen);
  // RFC 3110 / RFC 5702: moduli of 512 to 4096 bits; refuse anything else before OpenSSL sees it.
  if (n.length < 64 || n.length > 512) return null;
  return crypto.createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' });
}

function publicKey(algorithm: number, k: Buffer): crypto.KeyObject | null {
  switch (algorithm) {
    case 8: return rsaKey(k);
    case 13:
    case 14: {
      const half = algorithm === 13 ? 32 : 48;
      if (k.length !== 2 * half) return null;
      return crypto.createPublicKey({
        key: { kty: 'EC', crv: algorithm === 13 ? 'P-256' : 'P-384', x: b64u(k.subarray(0, half)), y: b64u(k.subarray(half)) },
        format: 'jwk',
      });
    }
    case 15:
      if (k.length !== 32) return null;
      return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(k) }, format: 'jwk' });
    default:
      return null;
  }
}

/** Verifies `signature` over `data` with a DNSKEY's public key field. False on any malformed input. */
export function verifySignature(algorithm: number, key: Buffer, data: Buffer, signature: Buffer): boolean {
  try {
    let kobj = keyCache.get(key);
    if (kobj === undefined) {
      kobj = publicKey(algorithm, key);
      keyCache.set(key, kobj);
    }
    if (!kobj) return false;
    switch (algorithm) {
      case 8: return crypto.verify('sha256', data, kobj, signature);
      case 13: return signature.length === 64 && crypto.verify('sha256', data, { key: kobj, dsaEncoding: 'ieee-p1363' }, signature);
      case 14: return signature.length === 96 && crypto.verify('sha384', data, { key: kobj, dsaEncoding: 'ieee-p1363' }, signature);
      case 15: return signature.length === 64 && crypto.verify(null, data, kobj, signature);
      default: return false;
    }
  } catch {
    return false;
  }
}

/** DS digest (RFC 4034 §5.1.4) of a DNSKEY: hash(canonical owner | DNSKEY RDATA); null for other digest types. */
export function dsDigest(digestType: number, owner: DnsName, dnskeyRdata: Buffer): Buffer | null {
  const alg = digestType === 2 ? 'sha256' : digestType === 4 ? 'sha384' : null;
  if (!alg) return null;
  return crypto.createHash(alg).update(nameToWire(lowerName(owner))).update(dnskeyRdata).digest();
}

/** NSEC3 hash (RFC 5155 §5): SHA-1 iterated over the canonical owner with the salt appended each round. */
export function nsec3Hash(name: DnsName, salt: Buffer, iterations: number): Buffer {
  let h = crypto.createHash('sha1').update(nameToWire(lowerName(name))).update(salt).digest();
  for (let i = 0; i < iterations; i++) h = crypto.createHash('sha1').update(h).update(salt).digest();
  return h;
}
