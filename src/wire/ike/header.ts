// IKE header (RFC 7296 §3.1) and the registry numbers every other IKE codec shares.
//
//   SPIi(8) | SPIr(8) | Next Payload(1) | MjVer(4) MnVer(4) | Exchange Type(1) | Flags(1)
//   | Message ID(4) | Length(4)
//
// SPIs are bigints so they can key a Map and compare with ===, which Buffers cannot.

import { CodecError } from '../../errors.js';
import { Malformed } from './reason.js';

export const IKE_HEADER_LEN = 28;
export const IKE_MAJOR_VERSION = 2;

export const ExchangeType = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
} as const;

/** Payload type registry (RFC 7296 §3.2, RFC 7383 for SKF). */
export const PayloadType = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR: 43,
  TSi: 44,
  TSr: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  SKF: 53,
} as const;

export const FLAG_INITIATOR = 0x08;
export const FLAG_VERSION = 0x10;
export const FLAG_RESPONSE = 0x20;

export interface IkeHeader {
  spiI: bigint;
  /** 0n in the first IKE_SA_INIT request. */
  spiR: bigint;
  /** Type of the first payload. On encode, message.ts fills it in from the payload list. */
  nextPayload: number;
  /** Default 0. The major version is always 2 on encode; decode refuses anything else. */
  minorVersion?: number;
  exchangeType: number;
  /** I: sent by the original initiator of the IKE SA. */
  initiator: boolean;
  /** R: this is a response. */
  response: boolean;
  /** V: sender could speak a higher major version. Default false. */
  higherVersion?: boolean;
  messageId: number;
  /** Whole message. On encode, message.ts fills it in; Ike header encode writes it as given. */
  length: number;
}

const U64_MAX = (1n << 64n) - 1n;

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}
function isU8(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xff;
}

/**
 * Checks the fixed header of the message at buf[offset..end): size, major version, and that
 * Length is exactly what the datagram holds. Never throws.
 */
export function ikeHeaderCheck(buf: Buffer, offset = 0, end = buf.length): Malformed | null {
  if (!Number.isInteger(offset) || offset < 0 || end > buf.length || end - offset < IKE_HEADER_LEN) {
    return new Malformed('truncated', `IKE header needs ${IKE_HEADER_LEN} bytes, have ${Math.max(0, end - offset)}`);
  }
  const major = buf[offset + 17]! >> 4;
  if (major !== IKE_MAJOR_VERSION) return new Malformed('unsupported-major-version', `major version ${major}`);
  const len = buf.readUInt32BE(offset + 24);
  if (len !== end - offset) {
    return new Malformed('length-mismatch', `header says ${len} bytes, datagram has ${end - offset}`);
  }
  return null;
}

function encodingLength(_h?: IkeHeader): number {
  return IKE_HEADER_LEN;
}

function encode(h: IkeHeader, buf?: Buffer, offset = 0): Buffer {
  if (typeof h.spiI !== 'bigint' || h.spiI < 0n || h.spiI > U64_MAX) throw new CodecError(`IKE SPIi ${h.spiI} is not a 64-bit unsigned integer`);
  if (typeof h.spiR !== 'bigint' || h.spiR < 0n || h.spiR > U64_MAX) throw new CodecError(`IKE SPIr ${h.spiR} is not a 64-bit unsigned integer`);
  if (!isU8(h.nextPayload)) throw new CodecError(`IKE next payload ${h.nextPayload} out of range`);
  if (!isU8(h.exchangeType)) throw new CodecError(`IKE exchange type ${h.exchangeType} out of range`);
  const minor = h.minorVersion ?? 0;
  if (!Number.isInteger(minor) || minor < 0 || minor > 15) throw new CodecError(`IKE minor version ${minor} out of range`);
  if (!isU32(h.messageId)) throw new CodecError(`IKE message ID ${h.messageId} is not a 32-bit unsigned integer`);
  if (!isU32(h.length) || h.length < IKE_HEADER_LEN) throw new CodecError(`IKE length ${h.length} out of range`);
  const out = buf ?? Buffer.alloc(offset + IKE_HEADER_LEN);
  if (!Number.isInteger(offset) || offset < 0 || out.length - offset < IKE_HEADER_LEN) {
    throw new CodecError(`IKE header needs ${IKE_HEADER_LEN} bytes at offset ${offset}, buffer has ${out.length}`);
  }
  out.writeBigUInt64BE(h.spiI, offset);
  out.writeBigUInt64BE(h.spiR, offset + 8);
  out[offset + 16] = h.nextPayload;
  out[offset + 17] = (IKE_MAJOR_VERSION << 4) | minor;
  out[offset + 18] = h.exchangeType;
  out[offset + 19] = (h.initiator ? FLAG_INITIATOR : 0) | (h.response ? FLAG_RESPONSE : 0) | (h.higherVersion ? FLAG_VERSION : 0);
  out.writeUInt32BE(h.messageId, offset + 20);
  out.writeUInt32BE(h.length, offset + 24);
  return out;
}

/**
 * Reads the fixed fields without judging them (the Length may disagree with the buffer): run
 * ikeHeaderCheck first on untrusted bytes. Returns Malformed only when fewer than 28 bytes exist.
 * Reserved flag bits are ignored, as RFC 7296 §3.1 requires of a receiver.
 */
function decode(buf: Buffer, offset = 0): IkeHeader | Malformed {
  if (!Number.isInteger(offset) || offset < 0 || buf.length - offset < IKE_HEADER_LEN) {
    return new Malformed('truncated', `IKE header needs ${IKE_HEADER_LEN} bytes`);
  }
  const flags = buf[offset + 19]!;
  return {
    spiI: buf.readBigUInt64BE(offset),
    spiR: buf.readBigUInt64BE(offset + 8),
    nextPayload: buf[offset + 16]!,
    minorVersion: buf[offset + 17]! & 0x0f,
    exchangeType: buf[offset + 18]!,
    initiator: (flags & FLAG_INITIATOR) !== 0,
    response: (flags & FLAG_RESPONSE) !== 0,
    higherVersion: (flags & FLAG_VERSION) !== 0,
    messageId: buf.readUInt32BE(offset + 20),
    length: buf.readUInt32BE(offset + 24),
  };
}

export const Ike = { encode, decode, encodingLength } as const;

/**
 * SPIs, exchange and message ID without decoding anything else, for demultiplexing to an IKE SA
 * before any parsing. Null when the buffer cannot hold a header.
 */
export function peekIkeSpis(buf: Buffer, offset = 0): { spiI: bigint; spiR: bigint } | null {
  if (offset < 0 || buf.length - offset < IKE_HEADER_LEN) return null;
  return { spiI: buf.readBigUInt64BE(offset), spiR: buf.readBigUInt64BE(offset + 8) };
}

