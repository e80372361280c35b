// Nonce payload body (RFC 7296 §3.9): the nonce itself. RFC 7296 §2.10 wants 16..256 bytes and
// at least half the PRF key size; the size floor is checked here because a shorter nonce can
// never be valid, the PRF-dependent part by the exchange.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export const NONCE_MIN_LEN = 16;
export const NONCE_MAX_LEN = 256;

export interface NoncePayload {
  type: typeof PayloadType.NONCE;
  critical?: boolean;
  data: Buffer;
}

export function nonceBodyLength(p: NoncePayload): number {
  return p.data.length;
}

export function encodeNonceBody(p: NoncePayload, buf: Buffer, offset: number): number {
  if (p.data.length < NONCE_MIN_LEN || p.data.length > NONCE_MAX_LEN) {
    throw new CodecError(`nonce of ${p.data.length} bytes, must be ${NONCE_MIN_LEN}..${NONCE_MAX_LEN}`);
  }
  p.data.copy(buf, offset);
  return p.data.length;
}

/** `data` is a view into `body`. */
export function decodeNonceBody(body: Buffer): NoncePayload | Malformed {
  if (body.length < NONCE_MIN_LEN || body.length > NONCE_MAX_LEN) {
    return malformed(`Nonce: ${body.length} bytes, must be ${NONCE_MIN_LEN}..${NONCE_MAX_LEN}`);
  }
  return { type: PayloadType.NONCE, data: body };
}
