// Delete payload body (RFC 7296 §3.11): Protocol ID(1) | SPI Size(1) | #SPIs(2) | SPIs.
// Deleting an IKE SA uses protocol 1, SPI size 0 and no SPIs (the header names the SA).

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export interface DeletePayload {
  type: typeof PayloadType.DELETE;
  critical?: boolean;
  protocolId: number;
  /** Carried explicitly because an IKE delete has no SPI to measure. */
  spiSize: number;
  spis: Buffer[];
}

export function deleteBodyLength(p: DeletePayload): number {
  return 4 + p.spiSize * p.spis.length;
}

export function encodeDeleteBody(p: DeletePayload, buf: Buffer, offset: number): number {
  if (!Number.isInteger(p.protocolId) || p.protocolId < 0 || p.protocolId > 0xff) throw new CodecError(`Delete protocol ${p.protocolId} out of range`);
  if (!Number.isInteger(p.spiSize) || p.spiSize < 0 || p.spiSize > 0xff) throw new CodecError(`Delete SPI size ${p.spiSize} out of range`);
  if (p.spis.length > 0xffff) throw new CodecError(`Delete with ${p.spis.length} SPIs`);
  buf[offset] = p.protocolId;
  buf[offset + 1] = p.spiSize;
  buf.writeUInt16BE(p.spis.length, offset + 2);
  let o = offset + 4;
  for (const s of p.spis) {
    if (s.length !== p.spiSize) throw new CodecError(`Delete SPI of ${s.length} bytes, SPI size is ${p.spiSize}`);
    s.copy(buf, o);
    o += s.length;
  }
  return o - offset;
}

/** SPIs are views into `body`. */
export function decodeDeleteBody(body: Buffer): DeletePayload | Malformed {
  if (body.length < 4) return malformed(`Delete: body of ${body.length} bytes, need at least 4`);
  const spiSize = body[1]!;
  const n = body.readUInt16BE(2);
  if (body.length !== 4 + spiSize * n) return malformed(`Delete: ${n} SPIs of ${spiSize} bytes do not fill ${body.length - 4} bytes`);
  const spis: Buffer[] = [];
  for (let i = 0; i < n; i++) spis.push(body.subarray(4 + i * spiSize, 4 + (i + 1) * spiSize));
  return { type: PayloadType.DELETE, protocolId: body[0]!, spiSize, spis };
}
