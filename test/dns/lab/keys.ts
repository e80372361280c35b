// Gateway keys for the DNS lab: Ed25519 keys derived from a fixed seed per name, so the IPSECA
// records in lab/zones.ts and the keys the unit tests present agree without key files, and
// captured replies stay valid for the tests however often the lab is rebuilt.

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { rdataToGenericString } from '../../../src/wire/dns/present.js';

/** PKCS#8 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed follows. */
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface LabKey {
  privateKey: KeyObject;
  /** DER SubjectPublicKeyInfo: what IKE (RFC 7670) carries and IPSECA selector 1 covers. */
  spki: Buffer;
  sha256: Buffer;
  sha512: Buffer;
}

export function labKey(name: string): LabKey {
  const seed = createHash('sha256').update(`iiptran dns lab gateway ${name}`).digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  return { privateKey, spki, sha256: createHash('sha256').update(spki).digest(), sha512: createHash('sha512').update(spki).digest() };
}

/** An IPSECA record's type and RDATA in RFC 3597 form (`TYPE65347 \# len hex`), which ldns-signzone and NSD read. */
export function ipsecaGeneric(usage: number, selector: number, matchingType: number, data: Buffer): string {
  return `TYPE65347 ${rdataToGenericString({ kind: 'IPSECA', usage, selector, matchingType, data })}`;
}
