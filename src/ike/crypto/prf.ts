// The IKEv2 pseudo-random functions and prf+ (RFC 7296 §2.13), HMAC-SHA2 only (RFC 4868).
// HMAC accepts keys of any length, so none of the fixed-key-size rules of §2.14 apply here.

import { createHmac } from 'node:crypto';
import { PRFS, type PrfId } from './suites.js';

export type { PrfId } from './suites.js';

/** prf+ stops at 255 blocks: the counter octet is one byte (RFC 7296 §2.13). */
export const PRF_PLUS_MAX_BLOCKS = 255;

function hashOf(id: PrfId): 'sha256' | 'sha384' {
  const info = PRFS[id];
  // Callers negotiate from the suites table; an unknown ID here is a programming error.
  if (!info) throw new RangeError(`unsupported IKEv2 PRF ${String(id)}`);
  return info.hash;
}

/** prf(key, data); `data` may be given in parts to avoid concatenating large buffers. */
export function prf(id: PrfId, key: Buffer, data: Buffer | readonly Buffer[]): Buffer {
  const h = createHmac(hashOf(id), key);
  if (Buffer.isBuffer(data)) h.update(data);
  else for (const d of data) h.update(d);
  return h.digest();
}

/** Output length of prf() in bytes. */
export function prfLength(id: PrfId): number {
  hashOf(id);
  return PRFS[id].outLen;
}

/**
 * prf+(K, S) truncated to `length` bytes: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n).
 * Asking for more than 255 blocks is a programming error (the key tables never need it), so it
 * throws rather than silently wrapping the counter.
 */
export function prfPlus(id: PrfId, key: Buffer, seed: Buffer, length: number): Buffer {
  const hash = hashOf(id);
  const outLen = PRFS[id].outLen;
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`prf+ length must be a non-negative integer, got ${length}`);
  const blocks = Math.ceil(length / outLen);
  if (blocks > PRF_PLUS_MAX_BLOCKS) {
    throw new RangeError(`prf+ can produce at most ${PRF_PLUS_MAX_BLOCKS * outLen} bytes with ${PRFS[id].name}, asked for ${length}`);
  }
  const out = Buffer.alloc(blocks * outLen);
  const counter = Buffer.alloc(1);
  let prev = out.subarray(0, 0);
  for (let n = 1; n <= blocks; n++) {
    counter[0] = n;
    const h = createHmac(hash, key);
    h.update(prev);
    h.update(seed);
    h.update(counter);
    const t = h.digest();
    t.copy(out, (n - 1) * outLen);
    prev = out.subarray((n - 1) * outLen, n * outLen);
  }
  return out.subarray(0, length);
}
