// Authentication payload body (RFC 7296 §3.8): Auth Method(1) | RESERVED(3) | data.
// For method 14 (RFC 7427) the data begins with an AlgorithmIdentifier; that split is done by
// the authenticator, which also has to check it against SIGNATURE_HASH_ALGORITHMS.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export const AuthMethod = {
  RSA_SIG: 1,
  PSK: 2,
  DSS_SIG: 3,
  /** ECDSA with SHA-256 on P-256 (RFC 4754). */
  ECDSA_P256: 9,
  ECDSA_P384: 10,
  ECDSA_P521: 11,
  /** Digital Signature (RFC 7427): the form Ed25519 and modern ECDSA use. */
  DIGITAL_SIGNATURE: 14,
} as const;

export interface AuthPayload {
  type: typeof PayloadType.AUTH;
  critical?: boolean;
  method: number;
  data: Buffer;
}

export function authBodyLength(p: AuthPayload): number {
  return 4 + p.data.length;
}

export function encodeAuthBody(p: AuthPayload, buf: Buffer, offset: number): number {
  if (!Number.isInteger(p.method) || p.method < 0 || p.method > 0xff) throw new CodecError(`AUTH method ${p.method} out of range`);
  buf[offset] = p.method;
  buf.fill(0, offset + 1, offset + 4);
  p.data.copy(buf, offset + 4);
  return 4 + p.data.length;
}

/** `data` is a view into `body`. */
export function decodeAuthBody(body: Buffer): AuthPayload | Malformed {
  if (body.length < 4) return malformed(`AUTH: body of ${body.length} bytes, need at least 4`);
  return { type: PayloadType.AUTH, method: body[0]!, data: body.subarray(4) };
}
