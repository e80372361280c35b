// IKE keeps underlay addresses as text (README "Known gaps"); where the protocol wants their
// bytes (NAT_DETECTION hashes, cookies, ID_IPV*_ADDR, traffic selectors) they are converted
// here, for both families, so no IKE module has to know which family it got.

import { CodecError } from '../errors.js';
import { formatAddr, parseAddr } from '../wire/addr.js';

/** 4 bytes for an IPv4 address, 16 for IPv6 (network order); CodecError for anything else. */
export function addrBytes(text: string): Buffer {
  const a = parseAddr(text);
  if (a === null) throw new CodecError(`not an IP address: ${JSON.stringify(text)}`);
  if (a.family === 6) return Buffer.from(a.v6);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(a.v4 >>> 0);
  return b;
}

/** The text of 4 or 16 address bytes, as the rest of IKE writes addresses (RFC 5952 for IPv6). */
export function bytesAddr(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) return formatAddr({ family: 6, v6: Uint8Array.from(b) });
  throw new CodecError(`an address is 4 or 16 bytes, got ${b.length}`);
}

/** Numeric order within a family (IPv4 before IPv6 across families): `role: auto` uses it. */
export function compareAddr(a: string, b: string): number {
  const x = addrBytes(a);
  const y = addrBytes(b);
  return x.length !== y.length ? x.length - y.length : Buffer.compare(x, y);
}
