// Certificate and Certificate Request payload bodies (RFC 7296 §3.6, §3.7): Encoding(1) | data.
// For raw public keys (RFC 7670) CERT data is a DER SubjectPublicKeyInfo, and a CERTREQ with
// encoding 15 and empty data says "send me your raw key".

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export const CertEncoding = {
  X509_SIGNATURE: 4,
  CRL: 7,
  HASH_URL_X509: 12,
  RAW_PUBLIC_KEY: 15,
} as const;

export interface CertPayload {
  type: typeof PayloadType.CERT | typeof PayloadType.CERTREQ;
  critical?: boolean;
  encoding: number;
  /** CERT: the certificate or key. CERTREQ: concatenated 20-byte SHA-1 CA key hashes, or empty. */
  data: Buffer;
}

export function certBodyLength(p: CertPayload): number {
  return 1 + p.data.length;
}

export function encodeCertBody(p: CertPayload, buf: Buffer, offset: number): number {
  if (!Number.isInteger(p.encoding) || p.encoding < 0 || p.encoding > 0xff) throw new CodecError(`cert encoding ${p.encoding} out of range`);
  buf[offset] = p.encoding;
  p.data.copy(buf, offset + 1);
  return 1 + p.data.length;
}

/** `data` is a view into `body`. */
export function decodeCertBody(body: Buffer, type: typeof PayloadType.CERT | typeof PayloadType.CERTREQ): CertPayload | Malformed {
  if (body.length < 1) return malformed(`${type === PayloadType.CERT ? 'CERT' : 'CERTREQ'}: empty body`);
  return { type, encoding: body[0]!, data: body.subarray(1) };
}
