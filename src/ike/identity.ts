// IKE identities (RFC 7296 §3.5) as the config writes them, strongSwan-style:
//   192.0.2.1          ID_IPV4_ADDR
//   2001:db8::1        ID_IPV6_ADDR
//   user@example.org   ID_RFC822_ADDR
//   @vpn.example.org   ID_FQDN (the @ forces FQDN even for a name that looks like something else)
//   vpn.example.org    ID_FQDN
// The ID payload body (type, three reserved bytes, data) is what AUTH covers (RFC 7296 §2.15),
// so identities are compared as bytes, never as strings.

import { IdType, PayloadType, type IdPayload } from '../wire/ike/index.js';
import { parseIpv4 } from '../wire/addr.js';
import { parseIpv6 } from '../wire/ipv6-text.js';

export interface IkeIdentity {
  idType: number;
  data: Buffer;
  /** As configured, for logs. */
  text: string;
}

/** The identity a config string denotes, or a sentence saying why it cannot be one. */
export function parseIdentity(text: string): IkeIdentity | string {
  if (text.length === 0) return 'is empty';
  if (text.length > 255) return 'is longer than 255 characters';
  if (!/^[\x21-\x7e]+$/.test(text)) return 'must be printable ASCII without spaces';
  const v4 = parseIpv4(text);
  if (v4 !== null) {
    const data = Buffer.alloc(4);
    data.writeUInt32BE(v4 >>> 0);
    return { idType: IdType.IPV4_ADDR, data, text };
  }
  // RFC 7296 §3.5: ID_IPV6_ADDR carries the 16 bytes. An FQDN never contains a colon.
  const v6 = text.includes(':') ? parseIpv6(text) : null;
  if (v6 !== null) return { idType: IdType.IPV6_ADDR, data: Buffer.from(v6), text };
  if (text.startsWith('@')) {
    const name = text.slice(1);
    if (name === '' || name.startsWith('#')) return 'needs a name after "@"';
    return { idType: IdType.FQDN, data: Buffer.from(name, 'ascii'), text };
  }
  if (text.includes('@')) return { idType: IdType.RFC822_ADDR, data: Buffer.from(text, 'ascii'), text };
  return { idType: IdType.FQDN, data: Buffer.from(text, 'ascii'), text };
}

export function idPayload(type: typeof PayloadType.IDi | typeof PayloadType.IDr, id: IkeIdentity): IdPayload {
  return { type, idType: id.idType, data: id.data };
}

/** The bytes prf(SK_p, IDx') runs over: the ID payload body without its generic header. */
export function idBody(p: Pick<IdPayload, 'idType' | 'data'>): Buffer {
  return Buffer.concat([Buffer.from([p.idType, 0, 0, 0]), p.data]);
}

export function sameIdentity(a: Pick<IdPayload, 'idType' | 'data'>, b: IkeIdentity): boolean {
  return a.idType === b.idType && a.data.equals(b.data);
}
