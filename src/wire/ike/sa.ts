// Security Association payload body (RFC 7296 §3.3): proposals, each holding transforms, each
// holding attributes. Substructure "Last" bytes and counts are derived on encode and checked on
// decode, so a repr cannot disagree with itself on the wire.
//
//   Proposal:  Last(1: 0|2) | RESERVED | Length(2) | Num | Protocol ID | SPI Size | #Transforms | SPI
//   Transform: Last(1: 0|3) | RESERVED | Length(2) | Type | RESERVED | Transform ID(2) | attributes
//   Attribute: AF(1b) Type(15b) | TV: value(2) ; TLV: length(2) value

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export const ProtocolId = { IKE: 1, AH: 2, ESP: 3 } as const;

export const TransformType = { ENCR: 1, PRF: 2, INTEG: 3, DH: 4, ESN: 5 } as const;

export const ENCR_AES_CBC = 12;
export const ENCR_AES_GCM_8 = 18;
export const ENCR_AES_GCM_12 = 19;
export const ENCR_AES_GCM_16 = 20;
export const ENCR_CHACHA20_POLY1305 = 28;

export const PRF_HMAC_SHA1 = 2;
export const PRF_HMAC_SHA2_256 = 5;
export const PRF_HMAC_SHA2_384 = 6;
export const PRF_HMAC_SHA2_512 = 7;

export const AUTH_NONE = 0;
export const AUTH_HMAC_SHA1_96 = 2;
export const AUTH_HMAC_SHA2_256_128 = 12;
export const AUTH_HMAC_SHA2_384_192 = 13;
export const AUTH_HMAC_SHA2_512_256 = 14;

export const DH_MODP_2048 = 14;
/** NIST P-256. */
export const DH_ECP_256 = 19;
export const DH_ECP_384 = 20;
export const DH_CURVE25519 = 31;

export const ESN_NO = 0;
export const ESN_YES = 1;

/** Transform attribute type for the key length in bits, always TV format (RFC 7296 §3.3.5). */
export const ATTR_KEY_LENGTH = 14;

const PROPOSAL_HEADER_LEN = 8;
const TRANSFORM_HEADER_LEN = 8;
const LAST = 0;
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;
const AF_TV = 0x8000;

/** An attribute other than Key Length: TV when `value` is a number, TLV when a Buffer. */
export interface TransformAttribute {
  type: number;
  value: number | Buffer;
}

export interface Transform {
  type: number;
  id: number;
  /** The Key Length attribute (14), in bits. */
  keyLength?: number;
  /** Any other attributes; none are defined for IKEv2 today. Encoded after Key Length. */
  attributes?: TransformAttribute[];
}

export interface Proposal {
  /** 1 for the first proposal, then increasing (RFC 7296 §3.3.1). */
  number: number;
  protocolId: number;
  /** Empty for an IKE SA's first negotiation, 8 bytes when rekeying one, 4 for ESP/AH. */
  spi: Buffer;
  transforms: Transform[];
}

export interface SaPayload {
  type: typeof PayloadType.SA;
  critical?: boolean;
  proposals: Proposal[];
}

function checkU(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError(`SA ${what} out of range 0..${max}: ${v}`);
}

function attributesLength(t: Transform): number {
  let n = t.keyLength === undefined ? 0 : 4;
  for (const a of t.attributes ?? []) n += typeof a.value === 'number' ? 4 : 4 + a.value.length;
  return n;
}

function transformLength(t: Transform): number {
  return TRANSFORM_HEADER_LEN + attributesLength(t);
}

function proposalLength(p: Proposal): number {
  let n = PROPOSAL_HEADER_LEN + p.spi.length;
  for (const t of p.transforms) n += transformLength(t);
  return n;
}

export function saBodyLength(p: SaPayload): number {
  let n = 0;
  for (const pr of p.proposals) n += proposalLength(pr);
  return n;
}

export function encodeSaBody(p: SaPayload, buf: Buffer, offset: number): number {
  if (p.proposals.length === 0) throw new CodecError('SA payload needs at least one proposal');
  let o = offset;
  p.proposals.forEach((pr, i) => {
    checkU(pr.number, 0xff, 'proposal number');
    checkU(pr.protocolId, 0xff, 'protocol ID');
    checkU(pr.spi.length, 0xff, 'SPI size');
    checkU(pr.transforms.length, 0xff, 'transform count');
    const plen = proposalLength(pr);
    checkU(plen, 0xffff, 'proposal length');
    buf[o] = i === p.proposals.length - 1 ? LAST : MORE_PROPOSALS;
    buf[o + 1] = 0;
    buf.writeUInt16BE(plen, o + 2);
    buf[o + 4] = pr.number;
    buf[o + 5] = pr.protocolId;
    buf[o + 6] = pr.spi.length;
    buf[o + 7] = pr.transforms.length;
    pr.spi.copy(buf, o + 8);
    o += PROPOSAL_HEADER_LEN + pr.spi.length;
    pr.transforms.forEach((t, j) => {
      checkU(t.type, 0xff, 'transform type');
      checkU(t.id, 0xffff, 'transform ID');
      const tlen = transformLength(t);
      checkU(tlen, 0xffff, 'transform length');
      buf[o] = j === pr.transforms.length - 1 ? LAST : MORE_TRANSFORMS;
      buf[o + 1] = 0;
      buf.writeUInt16BE(tlen, o + 2);
      buf[o + 4] = t.type;
      buf[o + 5] = 0;
      buf.writeUInt16BE(t.id, o + 6);
      let a = o + TRANSFORM_HEADER_LEN;
      if (t.keyLength !== undefined) {
        checkU(t.keyLength, 0xffff, 'key length');
        buf.writeUInt16BE(AF_TV | ATTR_KEY_LENGTH, a);
        buf.writeUInt16BE(t.keyLength, a + 2);
        a += 4;
      }
      for (const at of t.attributes ?? []) {
        checkU(at.type, 0x7fff, 'attribute type');
        if (at.type === ATTR_KEY_LENGTH) throw new CodecError('SA: put Key Length in keyLength, not attributes');
        if (typeof at.value === 'number') {
          checkU(at.value, 0xffff, 'TV attribute value');
          buf.writeUInt16BE(AF_TV | at.type, a);
          buf.writeUInt16BE(at.value, a + 2);
          a += 4;
        } else {
          checkU(at.value.length, 0xffff, 'TLV attribute length');
          buf.writeUInt16BE(at.type, a);
          buf.writeUInt16BE(at.value.length, a + 2);
          at.value.copy(buf, a + 4);
          a += 4 + at.value.length;
        }
      }
      o += tlen;
    });
  });
  return o - offset;
}

function decodeAttributes(body: Buffer, t: Transform, where: string): Malformed | null {
  let o = 0;
  while (o < body.length) {
    if (body.length - o < 4) return malformed(`${where}: attribute header truncated`);
    const raw = body.readUInt16BE(o);
    const type = raw & 0x7fff;
    if (raw & AF_TV) {
      const value = body.readUInt16BE(o + 2);
      if (type === ATTR_KEY_LENGTH) {
        if (t.keyLength !== undefined) return malformed(`${where}: Key Length attribute twice`);
        t.keyLength = value;
      } else {
        (t.attributes ??= []).push({ type, value });
      }
      o += 4;
    } else {
      const len = body.readUInt16BE(o + 2);
      if (type === ATTR_KEY_LENGTH) return malformed(`${where}: Key Length attribute in TLV format`);
      if (len > body.length - o - 4) return malformed(`${where}: attribute length ${len} overruns transform`);
      (t.attributes ??= []).push({ type, value: body.subarray(o + 4, o + 4 + len) });
      o += 4 + len;
    }
  }
  return null;
}

/** Byte fields (SPIs, TLV values) are views into `body`. */
export function decodeSaBody(body: Buffer): SaPayload | Malformed {
  const proposals: Proposal[] = [];
  let o = 0;
  if (body.length === 0) return malformed('SA: no proposals');
  while (o < body.length) {
    const where = `SA proposal ${proposals.length + 1}`;
    if (body.length - o < PROPOSAL_HEADER_LEN) return malformed(`${where}: header truncated`);
    const last = body[o]!;
    const plen = body.readUInt16BE(o + 2);
    if (last !== LAST && last !== MORE_PROPOSALS) return malformed(`${where}: Last Substruc ${last}, want 0 or 2`);
    if (plen < PROPOSAL_HEADER_LEN || plen > body.length - o) return malformed(`${where}: length ${plen} out of bounds`);
    const spiSize = body[o + 6]!;
    const count = body[o + 7]!;
    if (PROPOSAL_HEADER_LEN + spiSize > plen) return malformed(`${where}: SPI size ${spiSize} overruns proposal`);
    const pr: Proposal = {
      number: body[o + 4]!,
      protocolId: body[o + 5]!,
      spi: body.subarray(o + 8, o + 8 + spiSize),
      transforms: [],
    };
    const end = o + plen;
    let t = o + PROPOSAL_HEADER_LEN + spiSize;
    while (t < end) {
      const tw = `${where} transform ${pr.transforms.length + 1}`;
      if (end - t < TRANSFORM_HEADER_LEN) return malformed(`${tw}: header truncated`);
      const tlast = body[t]!;
      const tlen = body.readUInt16BE(t + 2);
      if (tlast !== LAST && tlast !== MORE_TRANSFORMS) return malformed(`${tw}: Last Substruc ${tlast}, want 0 or 3`);
      if (tlen < TRANSFORM_HEADER_LEN || tlen > end - t) return malformed(`${tw}: length ${tlen} out of bounds`);
      const tr: Transform = { type: body[t + 4]!, id: body.readUInt16BE(t + 6) };
      const bad = decodeAttributes(body.subarray(t + TRANSFORM_HEADER_LEN, t + tlen), tr, tw);
      if (bad) return bad;
      pr.transforms.push(tr);
      t += tlen;
      if ((tlast === LAST) !== (t === end)) return malformed(`${tw}: Last Substruc disagrees with the proposal length`);
    }
    if (pr.transforms.length !== count) {
      return malformed(`${where}: says ${count} transforms, holds ${pr.transforms.length}`);
    }
    proposals.push(pr);
    o = end;
    if ((last === LAST) !== (o === body.length)) return malformed(`${where}: Last Substruc disagrees with the SA length`);
  }
  return { type: PayloadType.SA, proposals };
}

/** First transform of `type` in a proposal, e.g. the chosen one in a responder's single-transform answer. */
export function findTransform(p: Proposal, type: number): Transform | undefined {
  return p.transforms.find((t) => t.type === type);
}
