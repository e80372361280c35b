// RFC 3456 §4.1 client identity for a node whose VN interface is a vlink (no LAN hardware
// address): htype 31, chaddr = 0x40 0x00, the 4-byte underlay IPv4 address, then one octet the
// node keeps across restarts (hlen 7). The client-identifier (option 61) must be present and
// stable: Kea 2.2 forgets htype when it reloads its lease file, so a client without one loses
// its lease on a server restart (see ../shared/interop/kea.md §10).

import { CodecError } from '../../errors.js';
import { toU32 } from '../addr.js';
import { HTYPE_IPSEC_TUNNEL } from './constants.js';

export const RFC3456_HLEN = 7;

export function rfc3456Chaddr(underlayU32: number, persistentOctet: number): Buffer {
  if (!Number.isInteger(persistentOctet) || persistentOctet < 0 || persistentOctet > 0xff) {
    throw new CodecError(`RFC 3456 chaddr octet out of range: ${persistentOctet}`);
  }
  const b = Buffer.alloc(RFC3456_HLEN);
  b[0] = 0x40;
  b[1] = 0x00;
  b.writeUInt32BE(toU32(underlayU32) >>> 0, 2);
  b[6] = persistentOctet;
  return b;
}

/** True for a 7-byte chaddr in the RFC 3456 shape. */
export function isRfc3456Chaddr(chaddr: Buffer): boolean {
  return chaddr.length === RFC3456_HLEN && chaddr[0] === 0x40 && chaddr[1] === 0x00;
}

/**
 * Client-id from a name (type 0, RFC 2132 §9.14). Preferred: it survives a change of underlay
 * address, which a chaddr-derived id does not (kea.md §10.2).
 */
export function clientIdFromName(name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  if (n.length < 1 || n.length > 254) throw new CodecError(`client-id name must be 1..254 bytes, is ${n.length}`);
  return Buffer.concat([Buffer.from([0]), n]);
}

/** Client-id = htype 31 + chaddr (RFC 2132 §9.14 with the hardware type). */
export function clientIdFromChaddr(chaddr: Buffer): Buffer {
  return Buffer.concat([Buffer.from([HTYPE_IPSEC_TUNNEL]), chaddr]);
}
