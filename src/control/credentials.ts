// IKE credentials from disk: the PSK file, our private key and the peer's public key, and new
// key pairs for `iiptran genauthkey`. Reading files is the orchestrator's job; the IKE engine
// (src/ike/) only ever sees the bytes and KeyObjects these return.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { KeyFileError } from '../errors.js';
import { withSecretFile, writeSecretFile } from './keyfile.js';
import { exportSpki, generateAuthKey, importPrivateKey, importSpki, type AuthKeyType } from '../ike/crypto/auth.js';
import { spkiSha256, type PubkeyAuth } from '../ike/auth-pubkey.js';
import { parsePsk } from '../ike/psk.js';

export function loadPskFile(path: string): Buffer {
  return withSecretFile(path, 'keying.psk_file', (raw) => parsePsk(raw, path));
}

function keyError(path: string, problem: string): KeyFileError {
  return new KeyFileError(path, problem);
}

/** Our private key: gets every check a key file gets (mode 0600/0400, owner), then must be Ed25519 or P-256. */
export function loadAuthPrivateKey(path: string): KeyObject {
  return withSecretFile(path, 'keying.private_key', (raw) => {
    const k = importPrivateKey(raw);
    if (k === null) {
      throw keyError(path, 'is not an Ed25519 or ECDSA P-256 private key in PEM or DER (PKCS#8, or SEC1 "EC PRIVATE KEY"); create one with: iiptran genauthkey --type ed25519 -o FILE');
    }
    return k;
  });
}

/**
 * The peer's public key from a PEM ("PUBLIC KEY") or DER SubjectPublicKeyInfo file. Public, so no
 * permission check; but it decides who may connect, so it must parse exactly.
 */
export function loadPeerPublicKey(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw keyError(path, code === 'ENOENT'
      ? 'does not exist; check keying.peer_public_key (relative paths are resolved against the config file\'s directory)'
      : `cannot be read (${code ?? String(e)})`);
  }
  let der: Buffer | null = null;
  try {
    const k = raw.includes('-----BEGIN')
      ? createPublicKey({ key: raw.toString('latin1'), format: 'pem' })
      : createPublicKey({ key: raw, format: 'der', type: 'spki' });
    // A private key file here would be accepted by createPublicKey; refuse it, it does not belong on this path.
    der = raw.includes('PRIVATE KEY') ? null : exportSpki(k);
  } catch {
    der = null;
  }
  if (der === null || importSpki(der) === null) {
    throw keyError(path, 'is not an Ed25519 or ECDSA P-256 public key (PEM "PUBLIC KEY" or DER SubjectPublicKeyInfo)');
  }
  return der;
}

/**
 * `auth: dns`: our key pair, and the configured peer key only as a fallback for an IPSECA answer
 * that cannot be used ('' for none). The node attaches the IPSECA verifier (node-dns.ts).
 */
export function loadDnsAuth(privateKeyPath: string, peerPublicKeyPath: string): PubkeyAuth {
  const privateKey = loadAuthPrivateKey(privateKeyPath);
  return { privateKey, ourSpki: exportSpki(privateKey), peerSpki: peerPublicKeyPath === '' ? null : loadPeerPublicKey(peerPublicKeyPath) };
}

export function loadPubkeyAuth(privateKeyPath: string, peerPublicKeyPath: string): PubkeyAuth {
  const privateKey = loadAuthPrivateKey(privateKeyPath);
  return { privateKey, ourSpki: exportSpki(privateKey), peerSpki: loadPeerPublicKey(peerPublicKeyPath) };
}

export interface AuthKeyPairFiles {
  privatePath: string;
  publicPath: string;
  /** SHA-256 of the public key's DER SPKI, hex. */
  sha256: string;
}

/**
 * A new key pair on disk: the private key as PKCS#8 PEM created 0600 (never overwritten), the
 * public key as SPKI PEM beside it (`<path>.pub`, 0644), to be copied to the peer's
 * peer_public_key (or, as is, to a strongSwan `pubkeys =`).
 */
export function writeAuthKeyPair(path: string, type: AuthKeyType, publicPath = `${path}.pub`): AuthKeyPairFiles {
  if (existsSync(publicPath)) throw new KeyFileError(publicPath, 'already exists; refusing to overwrite a key (delete it first)');
  const { privateKey, publicKey } = generateAuthKey(type);
  writeSecretFile(path, Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'latin1'));
  writeFileSync(publicPath, publicKey.export({ format: 'pem', type: 'spki' }) as string, { mode: 0o644, flag: 'wx' });
  return { privatePath: path, publicPath, sha256: spkiSha256(exportSpki(publicKey)) };
}
