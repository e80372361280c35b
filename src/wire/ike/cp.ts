// Configuration payload body (RFC 7296 §3.15): CFG Type(1) | RESERVED(3) | attributes, each
// R(1b) Type(15b) | Length(2) | value. Kept raw: IIPtran vlinks assign no addresses, but a peer
// that sends CP must still parse.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export const CfgType = { REQUEST: 1, REPLY: 2, SET: 3, ACK: 4 } as const;

export interface CpAttribute {
  type: number;
  value: Buffer;
}

export interface CpPayload {
  type: typeof PayloadType.CP;
  critical?: boolean;
  cfgType: number;
  attributes: CpAttribute[];
}

export function cpBodyLength(p: CpPayload): number {
  let n = 4;
  for (const a of p.attributes) n += 4 + a.value.length;
  return n;
}

export function encodeCpBody(p: CpPayload, buf: Buffer, offset: number): number {
  if (!Number.isInteger(p.cfgType) || p.cfgType < 0 || p.cfgType > 0xff) throw new CodecError(`CP type ${p.cfgType} out of range`);
  buf[offset] = p.cfgType;
  buf.fill(0, offset + 1, offset + 4);
  let o = offset + 4;
  for (const a of p.attributes) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0x7fff) throw new CodecError(`CP attribute type ${a.type} out of range`);
    if (a.value.length > 0xffff) throw new CodecError(`CP attribute of ${a.value.length} bytes`);
    buf.writeUInt16BE(a.type, o);
    buf.writeUInt16BE(a.value.length, o + 2);
    a.value.copy(buf, o + 4);
    o += 4 + a.value.length;
  }
  return o - offset;
}

/** Values are views into `body`. The reserved bit in front of each type is ignored. */
export function decodeCpBody(body: Buffer): CpPayload | Malformed {
  if (body.length < 4) return malformed(`CP: body of ${body.length} bytes, need at least 4`);
  const attributes: CpAttribute[] = [];
  let o = 4;
  while (o < body.length) {
    if (body.length - o < 4) return malformed(`CP attribute ${attributes.length + 1}: header truncated`);
    const len = body.readUInt16BE(o + 2);
    if (len > body.length - o - 4) return malformed(`CP attribute ${attributes.length + 1}: length ${len} overruns payload`);
    attributes.push({ type: body.readUInt16BE(o) & 0x7fff, value: body.subarray(o + 4, o + 4 + len) });
    o += 4 + len;
  }
  return { type: PayloadType.CP, cfgType: body[0]!, attributes };
}
