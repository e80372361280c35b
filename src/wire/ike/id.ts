// Identification payload body, IDi and IDr (RFC 7296 §3.5): ID Type(1) | RESERVED(3) | data.
// The raw bytes are what AUTH signs (RFC 7296 §2.15 covers the body from ID Type on), so the repr
// keeps them exactly; the helpers only translate for config and logs.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';
import { u32ToIpv4, ipv4ToU32 } from '../addr.js';
import { formatIpv6 } from '../ipv6-text.js';

export const IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  RFC822_ADDR: 3,
  IPV6_ADDR: 5,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
} as const;

export interface IdPayload {
  type: typeof PayloadType.IDi | typeof PayloadType.IDr;
  critical?: boolean;
  idType: number;
  data: Buffer;
}

export function idBodyLength(p: IdPayload): number {
  return 4 + p.data.length;
}

export function encodeIdBody(p: IdPayload, buf: Buffer, offset: number): number {
  if (!Number.isInteger(p.idType) || p.idType < 0 || p.idType > 0xff) throw new CodecError(`ID type ${p.idType} out of range`);
  buf[offset] = p.idType;
  buf.fill(0, offset + 1, offset + 4);
  p.data.copy(buf, offset + 4);
  return 4 + p.data.length;
}

/** `data` is a view into `body`. Sizes of fixed-size ID types are checked, contents are not. */
export function decodeIdBody(body: Buffer, type: typeof PayloadType.IDi | typeof PayloadType.IDr): IdPayload | Malformed {
  if (body.length < 4) return malformed(`ID: body of ${body.length} bytes, need at least 4`);
  const idType = body[0]!;
  const data = body.subarray(4);
  if (idType === IdType.IPV4_ADDR && data.length !== 4) return malformed(`ID_IPV4_ADDR of ${data.length} bytes`);
  if (idType === IdType.IPV6_ADDR && data.length !== 16) return malformed(`ID_IPV6_ADDR of ${data.length} bytes`);
  return { type, idType, data };
}

export function ipv4Id(type: typeof PayloadType.IDi | typeof PayloadType.IDr, addr: string | number): IdPayload {
  const u = typeof addr === 'number' ? addr : ipv4ToU32(addr);
  const data = Buffer.alloc(4);
  data.writeUInt32BE(u >>> 0);
  return { type, idType: IdType.IPV4_ADDR, data };
}

export function fqdnId(type: typeof PayloadType.IDi | typeof PayloadType.IDr, name: string): IdPayload {
  return { type, idType: IdType.FQDN, data: Buffer.from(name, 'ascii') };
}

/** For logs: the ID the way strongSwan prints it. KEY_ID and DNs come out as hex. */
export function idToString(p: Pick<IdPayload, 'idType' | 'data'>): string {
  switch (p.idType) {
    case IdType.IPV4_ADDR:
      return p.data.length === 4 ? u32ToIpv4(p.data.readUInt32BE(0)) : `ipv4?${p.data.toString('hex')}`;
    case IdType.IPV6_ADDR:
      return p.data.length === 16 ? formatIpv6(Uint8Array.from(p.data)) : `ipv6?${p.data.toString('hex')}`;
    case IdType.FQDN:
    case IdType.RFC822_ADDR:
      return p.data.toString('latin1');
    case IdType.KEY_ID:
      return `@#${p.data.toString('hex')}`;
    default:
      return `id${p.idType}:${p.data.toString('hex')}`;
  }
}
