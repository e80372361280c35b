// Generic payload header (RFC 7296 §3.2) and the payload chain built from it:
//
//   Next Payload(1) | C(1b) RESERVED(7b) | Payload Length(2, includes these 4 bytes) | body
//
// Each header names the type of the payload AFTER it; the first type comes from the IKE header
// (or, inside SK, from SK's own header). decodeChain walks that list against the bytes it has and
// never throws: every way the two can disagree is a reason.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed } from './reason.js';
import type { IkeDecodeError } from './reason.js';
import { decodeSaBody, encodeSaBody, saBodyLength, type SaPayload } from './sa.js';
import { decodeKeBody, encodeKeBody, keBodyLength, type KePayload } from './ke.js';
import { decodeNonceBody, encodeNonceBody, nonceBodyLength, type NoncePayload } from './nonce.js';
import { decodeIdBody, encodeIdBody, idBodyLength, type IdPayload } from './id.js';
import { decodeAuthBody, encodeAuthBody, authBodyLength, type AuthPayload } from './auth.js';
import { decodeCertBody, encodeCertBody, certBodyLength, type CertPayload } from './cert.js';
import { decodeNotifyBody, encodeNotifyBody, notifyBodyLength, type NotifyPayload } from './notify.js';
import { decodeDeleteBody, encodeDeleteBody, deleteBodyLength, type DeletePayload } from './delete.js';
import { decodeVendorBody, encodeVendorBody, vendorBodyLength, type VendorPayload } from './vendor.js';
import { decodeTsBody, encodeTsBody, tsBodyLength, type TsPayload } from './ts.js';
import {
  decodeSkBody, encodeSkBody, skBodyLength, decodeSkfBody, encodeSkfBody, skfBodyLength,
  type SkPayload, type SkfPayload,
} from './sk.js';
import { decodeCpBody, encodeCpBody, cpBodyLength, type CpPayload } from './cp.js';
import { decodeEapBody, encodeEapBody, eapBodyLength, type EapPayload } from './eap.js';

export const PAYLOAD_HEADER_LEN = 4;
export const CRITICAL_BIT = 0x80;
const MAX_PAYLOAD_LEN = 0xffff;

export type PayloadRepr =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorPayload
  | TsPayload
  | SkPayload
  | SkfPayload
  | CpPayload
  | EapPayload;

export interface GenericPayloadHeader {
  nextPayload: number;
  critical: boolean;
  /** Including the 4-byte generic header. */
  length: number;
}

/** Reads a generic header; Malformed when fewer than 4 bytes remain. Does not judge the length. */
export function decodePayloadHeader(buf: Buffer, offset = 0): GenericPayloadHeader | Malformed {
  if (!Number.isInteger(offset) || offset < 0 || buf.length - offset < PAYLOAD_HEADER_LEN) {
    return new Malformed('truncated', `generic payload header needs 4 bytes at ${offset}`);
  }
  return { nextPayload: buf[offset]!, critical: (buf[offset + 1]! & CRITICAL_BIT) !== 0, length: buf.readUInt16BE(offset + 2) };
}

export function encodePayloadHeader(h: GenericPayloadHeader, buf: Buffer, offset = 0): void {
  if (!Number.isInteger(h.nextPayload) || h.nextPayload < 0 || h.nextPayload > 0xff) throw new CodecError(`next payload ${h.nextPayload} out of range`);
  if (!Number.isInteger(h.length) || h.length < PAYLOAD_HEADER_LEN || h.length > MAX_PAYLOAD_LEN) {
    throw new CodecError(`payload length ${h.length} out of range ${PAYLOAD_HEADER_LEN}..${MAX_PAYLOAD_LEN}`);
  }
  buf[offset] = h.nextPayload;
  buf[offset + 1] = h.critical ? CRITICAL_BIT : 0;
  buf.writeUInt16BE(h.length, offset + 2);
}

/** Whether this codec can parse payloads of `type` (everything in RFC 7296 plus SKF). */
export function isKnownPayloadType(type: number): boolean {
  return (type >= PayloadType.SA && type <= PayloadType.EAP) || type === PayloadType.SKF;
}

function bodyLength(p: PayloadRepr): number {
  switch (p.type) {
    case PayloadType.SA: return saBodyLength(p);
    case PayloadType.KE: return keBodyLength(p);
    case PayloadType.IDi: case PayloadType.IDr: return idBodyLength(p);
    case PayloadType.CERT: case PayloadType.CERTREQ: return certBodyLength(p);
    case PayloadType.AUTH: return authBodyLength(p);
    case PayloadType.NONCE: return nonceBodyLength(p);
    case PayloadType.NOTIFY: return notifyBodyLength(p);
    case PayloadType.DELETE: return deleteBodyLength(p);
    case PayloadType.VENDOR: return vendorBodyLength(p);
    case PayloadType.TSi: case PayloadType.TSr: return tsBodyLength(p);
    case PayloadType.SK: return skBodyLength(p);
    case PayloadType.SKF: return skfBodyLength(p);
    case PayloadType.CP: return cpBodyLength(p);
    case PayloadType.EAP: return eapBodyLength(p);
    default: throw new CodecError(`no codec for payload type ${(p as { type: number }).type}`);
  }
}

function encodeBody(p: PayloadRepr, buf: Buffer, o: number): number {
  switch (p.type) {
    case PayloadType.SA: return encodeSaBody(p, buf, o);
    case PayloadType.KE: return encodeKeBody(p, buf, o);
    case PayloadType.IDi: case PayloadType.IDr: return encodeIdBody(p, buf, o);
    case PayloadType.CERT: case PayloadType.CERTREQ: return encodeCertBody(p, buf, o);
    case PayloadType.AUTH: return encodeAuthBody(p, buf, o);
    case PayloadType.NONCE: return encodeNonceBody(p, buf, o);
    case PayloadType.NOTIFY: return encodeNotifyBody(p, buf, o);
    case PayloadType.DELETE: return encodeDeleteBody(p, buf, o);
    case PayloadType.VENDOR: return encodeVendorBody(p, buf, o);
    case PayloadType.TSi: case PayloadType.TSr: return encodeTsBody(p, buf, o);
    case PayloadType.SK: return encodeSkBody(p, buf, o);
    case PayloadType.SKF: return encodeSkfBody(p, buf, o);
    case PayloadType.CP: return encodeCpBody(p, buf, o);
    case PayloadType.EAP: return encodeEapBody(p, buf, o);
    default: throw new CodecError(`no codec for payload type ${(p as { type: number }).type}`);
  }
}

function decodeBody(type: number, body: Buffer, next: number): PayloadRepr | Malformed {
  switch (type) {
    case PayloadType.SA: return decodeSaBody(body);
    case PayloadType.KE: return decodeKeBody(body);
    case PayloadType.IDi: case PayloadType.IDr: return decodeIdBody(body, type);
    case PayloadType.CERT: case PayloadType.CERTREQ: return decodeCertBody(body, type);
    case PayloadType.AUTH: return decodeAuthBody(body);
    case PayloadType.NONCE: return decodeNonceBody(body);
    case PayloadType.NOTIFY: return decodeNotifyBody(body);
    case PayloadType.DELETE: return decodeDeleteBody(body);
    case PayloadType.VENDOR: return decodeVendorBody(body);
    case PayloadType.TSi: case PayloadType.TSr: return decodeTsBody(body, type);
    case PayloadType.SK: return decodeSkBody(body, next);
    case PayloadType.SKF: return decodeSkfBody(body, next);
    case PayloadType.CP: return decodeCpBody(body);
    case PayloadType.EAP: return decodeEapBody(body);
    default: return new Malformed('malformed-payload', `no codec for payload type ${type}`);
  }
}

/** Payload length on the wire, generic header included. Throws CodecError past 65535. */
export function payloadLength(p: PayloadRepr): number {
  const n = PAYLOAD_HEADER_LEN + bodyLength(p);
  if (n > MAX_PAYLOAD_LEN) throw new CodecError(`payload type ${p.type} would be ${n} bytes, max ${MAX_PAYLOAD_LEN}`);
  return n;
}

function isEncrypted(type: number): boolean {
  return type === PayloadType.SK || type === PayloadType.SKF;
}

/** Bytes the chain takes. Throws CodecError on an impossible repr. */
export function chainLength(payloads: readonly PayloadRepr[]): number {
  let n = 0;
  for (const p of payloads) n += payloadLength(p);
  return n;
}

/** Type to put in the header (or SK header) in front of this chain. */
export function firstPayloadType(payloads: readonly PayloadRepr[]): number {
  return payloads.length === 0 ? PayloadType.NONE : payloads[0]!.type;
}

/**
 * Writes the chain with every Next Payload and Length derived from the list. SK/SKF must be last,
 * and their Next Payload is their own `innerFirst`. Returns the bytes written.
 */
export function encodeChainInto(payloads: readonly PayloadRepr[], buf: Buffer, offset: number): number {
  let o = offset;
  payloads.forEach((p, i) => {
    const last = i === payloads.length - 1;
    if (isEncrypted(p.type) && !last) throw new CodecError('SK/SKF must be the last payload');
    const len = payloadLength(p);
    if (o + len > buf.length) throw new CodecError(`payload chain needs ${o + len - offset} bytes, buffer has ${buf.length - offset}`);
    const next = isEncrypted(p.type) ? (p as SkPayload | SkfPayload).innerFirst : last ? PayloadType.NONE : payloads[i + 1]!.type;
    encodePayloadHeader({ nextPayload: next, critical: p.critical ?? false, length: len }, buf, o);
    const wrote = encodeBody(p, buf, o + PAYLOAD_HEADER_LEN);
    if (wrote !== len - PAYLOAD_HEADER_LEN) throw new CodecError(`payload type ${p.type}: wrote ${wrote} bytes, measured ${len - PAYLOAD_HEADER_LEN}`);
    o += len;
  });
  return o - offset;
}

/** The chain as a fresh buffer, e.g. the plaintext to put inside SK. */
export function encodeChain(payloads: readonly PayloadRepr[]): Buffer {
  const buf = Buffer.alloc(chainLength(payloads));
  encodeChainInto(payloads, buf, 0);
  return buf;
}

/** An unknown payload without the critical bit: skipped as RFC 7296 §2.5 requires, but reported. */
export interface SkippedPayload {
  type: number;
  /** Offset of its generic header within the decoded range. */
  offset: number;
  length: number;
}

export interface ChainOk {
  ok: true;
  payloads: PayloadRepr[];
  skipped: SkippedPayload[];
}

export interface ChainError {
  ok: false;
  error: IkeDecodeError;
  detail: string;
  /** Offset (within the decoded range) of the payload at fault, when there is one. */
  offset?: number;
  /** For unsupported-critical-payload: the type to echo in the UNSUPPORTED_CRITICAL_PAYLOAD data. */
  payloadType?: number;
}

export type ChainResult = ChainOk | ChainError;

const MAX_PAYLOADS = 1024;

/**
 * Walks the payload chain in buf[offset..end), starting with `firstType`. Never throws.
 *
 * The whole chain is checked structurally before an unknown critical payload is reported, so a
 * message that is simply garbage gets the generic reason, not UNSUPPORTED_CRITICAL_PAYLOAD.
 * Decoded byte fields are views into `buf`; copy what must outlive it.
 */
export function decodeChain(buf: Buffer, firstType: number, offset = 0, end = buf.length): ChainResult {
  if (!Number.isInteger(offset) || !Number.isInteger(end) || offset < 0 || end > buf.length || offset > end) {
    return { ok: false, error: 'truncated', detail: `bad range ${offset}..${end} of ${buf.length}` };
  }
  const payloads: PayloadRepr[] = [];
  const skipped: SkippedPayload[] = [];
  let critical: { type: number; offset: number } | undefined;
  let type = firstType;
  let o = offset;
  while (type !== PayloadType.NONE) {
    const at = o - offset;
    if (end - o < PAYLOAD_HEADER_LEN) {
      return end === o
        ? { ok: false, error: 'chain-overrun', detail: `payload type ${type} announced after the last byte`, offset: at }
        : { ok: false, error: 'truncated', detail: `payload type ${type}: ${end - o} bytes left for a 4-byte header`, offset: at };
    }
    if (payloads.length + skipped.length >= MAX_PAYLOADS) {
      return { ok: false, error: 'malformed-payload', detail: `more than ${MAX_PAYLOADS} payloads`, offset: at };
    }
    const next = buf[o]!;
    const isCritical = (buf[o + 1]! & CRITICAL_BIT) !== 0;
    const len = buf.readUInt16BE(o + 2);
    if (len < PAYLOAD_HEADER_LEN) {
      return { ok: false, error: 'bad-payload-length', detail: `payload type ${type} has length ${len}`, offset: at };
    }
    if (len > end - o) {
      return { ok: false, error: 'payload-overrun', detail: `payload type ${type} length ${len} overruns the ${end - o} bytes left`, offset: at };
    }
    if (!isKnownPayloadType(type)) {
      if (isCritical) critical ??= { type, offset: at };
      else skipped.push({ type, offset: at, length: len });
    } else {
      const r = decodeBody(type, buf.subarray(o + PAYLOAD_HEADER_LEN, o + len), next);
      if (r instanceof Malformed) {
        const error = r.error === 'truncated' ? 'malformed-payload' : r.error;
        return { ok: false, error, detail: r.detail, offset: at };
      }
      if (isCritical) r.critical = true;
      payloads.push(r);
    }
    o += len;
    if (isEncrypted(type)) {
      if (o !== end) return { ok: false, error: 'sk-not-last', detail: `${end - o} bytes after the encrypted payload`, offset: at };
      break;
    }
    type = next;
  }
  if (o !== end) return { ok: false, error: 'trailing-bytes', detail: `${end - o} bytes after the last payload`, offset: o - offset };
  if (critical) {
    return {
      ok: false,
      error: 'unsupported-critical-payload',
      detail: `unknown payload type ${critical.type} marked critical`,
      offset: critical.offset,
      payloadType: critical.type,
    };
  }
  return { ok: true, payloads, skipped };
}
