// A whole IKE message: header + payload chain (RFC 7296 §3), plus the byte spans the SK crypto
// works on. Decode never throws; it says why a datagram is refused and, when the header could be
// read, hands the header back so a responder can still answer (INVALID_MAJOR_VERSION,
// UNSUPPORTED_CRITICAL_PAYLOAD, INVALID_SYNTAX).

import { CodecError } from '../../errors.js';
import { Ike, IKE_HEADER_LEN, ikeHeaderCheck, PayloadType, type IkeHeader } from './header.js';
import { chainLength, decodeChain, encodeChainInto, firstPayloadType, type PayloadRepr, type SkippedPayload } from './payload.js';
import { Malformed } from './reason.js';
import type { IkeDecodeError } from './reason.js';
import { NotifyType } from './notify.js';

/** Header fields a sender chooses; Next Payload and Length follow from the payloads. */
export type IkeMessageHeader = Omit<IkeHeader, 'nextPayload' | 'length'>;

export interface IkeMessage {
  header: IkeMessageHeader;
  payloads: PayloadRepr[];
}

export interface DecodedMessage {
  ok: true;
  header: IkeHeader;
  payloads: PayloadRepr[];
  /** Offsets are within the message, like MessageError.offset. */
  skipped: SkippedPayload[];
}

export interface MessageError {
  ok: false;
  error: IkeDecodeError;
  detail: string;
  /** Present whenever the 28 header bytes existed, even if they were refused. */
  header?: IkeHeader;
  /** Offset within the message of the payload at fault. */
  offset?: number;
  /** For unsupported-critical-payload. */
  payloadType?: number;
}

export type MessageResult = DecodedMessage | MessageError;

/** RFC 7296 allows messages up to 2^32-1 bytes, but a UDP datagram caps them anyway. */
export const IKE_MAX_MESSAGE_LEN = 65535 - 8;

function encodingLength(m: IkeMessage): number {
  return IKE_HEADER_LEN + chainLength(m.payloads);
}

/** Throws CodecError on a repr that cannot be put on the wire. */
function encode(m: IkeMessage, buf?: Buffer, offset = 0): Buffer {
  const len = encodingLength(m);
  if (len > IKE_MAX_MESSAGE_LEN) throw new CodecError(`IKE message of ${len} bytes does not fit a UDP datagram`);
  const out = buf ?? Buffer.alloc(offset + len);
  if (!Number.isInteger(offset) || offset < 0 || out.length - offset < len) {
    throw new CodecError(`IKE message needs ${len} bytes at offset ${offset}, buffer has ${out.length}`);
  }
  Ike.encode({ ...m.header, nextPayload: firstPayloadType(m.payloads), length: len }, out, offset);
  encodeChainInto(m.payloads, out, offset + IKE_HEADER_LEN);
  return out;
}

/**
 * Decodes the message in buf[offset..end), which must be exactly one message (the UDP payload,
 * after the non-ESP marker on port 4500). Payload byte fields are views into `buf`. For a message
 * with SK, `payloads` ends with the SK repr; decrypt it and run decodeChain(plain, sk.innerFirst).
 */
function decode(buf: Buffer, offset = 0, end = buf.length): MessageResult {
  const bad = ikeHeaderCheck(buf, offset, end);
  const header = Ike.decode(buf, offset);
  if (header instanceof Malformed) return { ok: false, error: header.error, detail: header.detail };
  if (bad) return { ok: false, error: bad.error, detail: bad.detail, header };
  const r = decodeChain(buf, header.nextPayload, offset + IKE_HEADER_LEN, end);
  if (!r.ok) {
    const e: MessageError = { ok: false, error: r.error, detail: r.detail, header };
    if (r.offset !== undefined) e.offset = r.offset + IKE_HEADER_LEN;
    if (r.payloadType !== undefined) e.payloadType = r.payloadType;
    return e;
  }
  const skipped = r.skipped.map((k) => ({ ...k, offset: k.offset + IKE_HEADER_LEN }));
  return { ok: true, header, payloads: r.payloads, skipped };
}

export const IkeMessageCodec = { encode, decode, encodingLength } as const;

/**
 * Views into a message that carries SK (or SKF) last, for the cipher code to read or fill in:
 *
 * - `associatedData`: for AEAD suites (RFC 5282 §5.1, RFC 7634 §4), every byte from the first
 *   byte of the IKE header up to the IV: the IKE header, any payloads before SK, and SK's 4-byte
 *   generic header (for SKF also Fragment Number and Total Fragments, RFC 7383 §2.5). It includes
 *   the header's Length, so the message must be laid out at its final size before sealing.
 * - `integrityCovered`: for non-AEAD suites (RFC 7296 §3.14), the whole message up to the ICV:
 *   header, generic headers, IV and ciphertext.
 * - `iv`, `ciphertext`, `icv`: the SK body split by the suite's sizes.
 *
 * To send: encode the message with SK data of the right size (IV | padded plaintext length | ICV,
 * contents arbitrary), then write IV, ciphertext and ICV through these views. Never throws.
 */
export interface SkLayout {
  skOffset: number;
  associatedData: Buffer;
  integrityCovered: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
  icv: Buffer;
}

export function skLayout(msg: Buffer, ivLen: number, icvLen: number): SkLayout | Malformed {
  const bad = ikeHeaderCheck(msg);
  if (bad) return bad;
  let type = msg[16]!;
  let o = IKE_HEADER_LEN;
  while (type !== PayloadType.SK && type !== PayloadType.SKF) {
    if (type === PayloadType.NONE) return new Malformed('malformed-payload', 'no encrypted payload');
    if (msg.length - o < 4) return new Malformed('chain-overrun', 'chain ends before an encrypted payload');
    const len = msg.readUInt16BE(o + 2);
    if (len < 4 || len > msg.length - o) return new Malformed('bad-payload-length', `payload length ${len} at ${o}`);
    type = msg[o]!;
    o += len;
  }
  if (msg.length - o < 4) return new Malformed('truncated', 'encrypted payload header truncated');
  const len = msg.readUInt16BE(o + 2);
  if (o + len !== msg.length) return new Malformed('sk-not-last', `encrypted payload of length ${len} does not end the message`);
  const bodyStart = o + 4 + (type === PayloadType.SKF ? 4 : 0);
  if (!Number.isInteger(ivLen) || !Number.isInteger(icvLen) || ivLen < 0 || icvLen < 0 || msg.length - bodyStart < ivLen + 1 + icvLen) {
    return new Malformed('truncated', `encrypted payload cannot hold IV ${ivLen} + 1 + ICV ${icvLen}`);
  }
  return {
    skOffset: o,
    associatedData: msg.subarray(0, bodyStart),
    integrityCovered: msg.subarray(0, msg.length - icvLen),
    iv: msg.subarray(bodyStart, bodyStart + ivLen),
    ciphertext: msg.subarray(bodyStart + ivLen, msg.length - icvLen),
    icv: msg.subarray(msg.length - icvLen),
  };
}

/** RFC 3948 §2.2: on UDP 4500, IKE messages are preceded by four zero bytes. */
export const NON_ESP_MARKER_LEN = 4;

/**
 * The IKE message inside a port-4500 datagram, as a view, or null when the datagram is ESP (a
 * non-zero SPI where the marker would be) or too short to be either.
 */
export function stripNonEspMarker(datagram: Buffer): Buffer | null {
  if (datagram.length < NON_ESP_MARKER_LEN + IKE_HEADER_LEN) return null;
  if (datagram.readUInt32BE(0) !== 0) return null;
  return datagram.subarray(NON_ESP_MARKER_LEN);
}

/**
 * The notify a responder owes for a refused request (RFC 7296 §2.5, §3.10.1), or null when the
 * right answer is silence. Only UNSUPPORTED_CRITICAL_PAYLOAD and INVALID_MAJOR_VERSION may go out
 * unprotected; INVALID_SYNTAX belongs in a protected response, so a caller that has not yet
 * authenticated the message should drop it instead.
 */
export function notifyForDecodeError(error: IkeDecodeError): number | null {
  switch (error) {
    case 'unsupported-critical-payload':
      return NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD;
    case 'unsupported-major-version':
      return NotifyType.INVALID_MAJOR_VERSION;
    case 'truncated':
    case 'length-mismatch':
      return null;
    default:
      return NotifyType.INVALID_SYNTAX;
  }
}
