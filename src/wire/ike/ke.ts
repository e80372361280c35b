// Key Exchange payload body (RFC 7296 §3.4): DH Group Num(2) | RESERVED(2) | KE data.
// The group must match the first DH transform of the proposal the data is for; that check
// belongs to the exchange, which knows the proposal.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export interface KePayload {
  type: typeof PayloadType.KE;
  critical?: boolean;
  group: number;
  data: Buffer;
}

export function keBodyLength(p: KePayload): number {
  return 4 + p.data.length;
}

export function encodeKeBody(p: KePayload, buf: Buffer, offset: number): number {
  if (!Number.isInteger(p.group) || p.group < 0 || p.group > 0xffff) throw new CodecError(`KE group ${p.group} out of range`);
  buf.writeUInt16BE(p.group, offset);
  buf.writeUInt16BE(0, offset + 2);
  p.data.copy(buf, offset + 4);
  return 4 + p.data.length;
}

/** `data` is a view into `body`. */
export function decodeKeBody(body: Buffer): KePayload | Malformed {
  if (body.length < 4) return malformed(`KE: body of ${body.length} bytes, need at least 4`);
  return { type: PayloadType.KE, group: body.readUInt16BE(0), data: body.subarray(4) };
}
