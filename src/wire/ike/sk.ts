// Framing of the Encrypted payload SK (RFC 7296 §3.14) and of its fragments SKF (RFC 7383 §2.5).
// No crypto here: this splits and joins bytes so the cipher code gets exact views.
//
//   SK body:  IV | ciphertext( inner payloads | padding | Pad Length(1) ) | ICV
//   SKF body: Fragment Number(2) | Total Fragments(2) | IV | ciphertext | ICV
//
// The SK generic header's Next Payload is the type of the first inner payload, not of a payload
// after SK: SK is always last. The repr calls it `innerFirst` so nobody chains on it.
//
// IV/ICV sizes by suite: AES-CBC 16/ICV of the INTEG transform (16 for HMAC-SHA2-256-128, 24 for
// -384-192); AES-GCM (RFC 5282) and ChaCha20-Poly1305 (RFC 7634) 8/16 with no padding needed.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export interface SkPayload {
  type: typeof PayloadType.SK;
  critical?: boolean;
  /** Type of the first payload inside; NONE for an empty INFORMATIONAL. */
  innerFirst: number;
  /** IV | ciphertext | ICV, as on the wire. */
  data: Buffer;
}

export interface SkfPayload {
  type: typeof PayloadType.SKF;
  critical?: boolean;
  /** Type of the first inner payload in fragment 1; 0 in every other fragment. */
  innerFirst: number;
  /** 1-based. */
  fragmentNumber: number;
  totalFragments: number;
  data: Buffer;
}

export function skBodyLength(p: SkPayload): number {
  return p.data.length;
}
export function encodeSkBody(p: SkPayload, buf: Buffer, offset: number): number {
  p.data.copy(buf, offset);
  return p.data.length;
}
/** `data` is a view into `body`. Whether it is long enough for IV and ICV depends on the suite: see skSplit. */
export function decodeSkBody(body: Buffer, innerFirst: number): SkPayload | Malformed {
  return { type: PayloadType.SK, innerFirst, data: body };
}

export function skfBodyLength(p: SkfPayload): number {
  return 4 + p.data.length;
}
export function encodeSkfBody(p: SkfPayload, buf: Buffer, offset: number): number {
  for (const [v, what] of [[p.fragmentNumber, 'fragment number'], [p.totalFragments, 'total fragments']] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffff) throw new CodecError(`SKF ${what} ${v} out of range 1..65535`);
  }
  if (p.fragmentNumber > p.totalFragments) throw new CodecError(`SKF fragment ${p.fragmentNumber} of ${p.totalFragments}`);
  buf.writeUInt16BE(p.fragmentNumber, offset);
  buf.writeUInt16BE(p.totalFragments, offset + 2);
  p.data.copy(buf, offset + 4);
  return 4 + p.data.length;
}
/** RFC 7383 §2.6: fragment numbers start at 1 and never exceed the total. `data` is a view. */
export function decodeSkfBody(body: Buffer, innerFirst: number): SkfPayload | Malformed {
  if (body.length < 4) return malformed(`SKF: body of ${body.length} bytes, need at least 4`);
  const fragmentNumber = body.readUInt16BE(0);
  const totalFragments = body.readUInt16BE(2);
  if (fragmentNumber === 0 || fragmentNumber > totalFragments) {
    return malformed(`SKF: fragment ${fragmentNumber} of ${totalFragments}`);
  }
  return { type: PayloadType.SKF, innerFirst, fragmentNumber, totalFragments, data: body.subarray(4) };
}

export interface SkParts {
  iv: Buffer;
  ciphertext: Buffer;
  icv: Buffer;
}

/**
 * Splits SK (or SKF) data into views. Needs room for the IV, the ICV and at least the Pad Length
 * byte: a ciphertext of zero bytes could not even say how much padding it has. Never throws.
 */
export function skSplit(data: Buffer, ivLen: number, icvLen: number): SkParts | Malformed {
  if (!Number.isInteger(ivLen) || !Number.isInteger(icvLen) || ivLen < 0 || icvLen < 0) {
    return malformed(`SK: bad IV/ICV sizes ${ivLen}/${icvLen}`);
  }
  if (data.length < ivLen + 1 + icvLen) {
    return new Malformed('truncated', `SK: ${data.length} bytes cannot hold IV ${ivLen} + 1 + ICV ${icvLen}`);
  }
  return {
    iv: data.subarray(0, ivLen),
    ciphertext: data.subarray(ivLen, data.length - icvLen),
    icv: data.subarray(data.length - icvLen),
  };
}

/** The inverse of skSplit: one buffer IV | ciphertext | ICV. */
export function skJoin(parts: SkParts): Buffer {
  return Buffer.concat([parts.iv, parts.ciphertext, parts.icv]);
}

/**
 * Length of the plaintext to encrypt for `innerLen` bytes of inner payloads: padding brings
 * inner + padding + Pad Length to a multiple of `blockSize` (16 for AES-CBC, 1 for AEADs).
 */
export function skPaddedLength(innerLen: number, blockSize: number): number {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 256) throw new CodecError(`SK block size ${blockSize}`);
  return Math.ceil((innerLen + 1) / blockSize) * blockSize;
}

/**
 * inner | padding | Pad Length, ready to encrypt. The padding is zeros: RFC 7296 §3.14 lets it be
 * anything, and the receiver must not check it.
 */
export function skPad(inner: Buffer, blockSize: number): Buffer {
  const total = skPaddedLength(inner.length, blockSize);
  const padLen = total - inner.length - 1;
  const out = Buffer.alloc(total);
  inner.copy(out, 0);
  out[total - 1] = padLen;
  return out;
}

/** The inner payload chain inside decrypted plaintext, as a view. Never throws. */
export function skUnpad(plain: Buffer): Buffer | Malformed {
  if (plain.length < 1) return new Malformed('truncated', 'SK: empty plaintext');
  const padLen = plain[plain.length - 1]!;
  if (padLen + 1 > plain.length) return malformed(`SK: pad length ${padLen} overruns ${plain.length} bytes of plaintext`);
  return plain.subarray(0, plain.length - 1 - padLen);
}
