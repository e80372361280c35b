// IPv6 text <-> bytes, delegated to the `ip-address` package: RFC 4291 §2.2 input forms and
// RFC 5952 output are easy to get subtly wrong, and nothing here is on a per-packet path.

import { Address6 } from 'ip-address';

/** 16 network-order bytes, or null for anything that is not a plain IPv6 address. */
export function parseIpv6(s: string): Uint8Array | null {
  // A zone or a prefix length does not name one host; ip-address would accept both.
  if (typeof s !== 'string' || s.length < 2 || s.length > 45 || s.includes('%') || s.includes('/')) return null;
  if (!s.includes(':')) return null;
  let a: Address6;
  try {
    a = new Address6(s);
  } catch {
    return null;
  }
  const raw = a.toUnsignedByteArray();
  // The library drops leading zero bytes ('::1' may come back short): left-pad to 16.
  if (raw.length > 16) return null;
  const out = new Uint8Array(16);
  out.set(raw, 16 - raw.length);
  return out;
}

/** RFC 5952 §4 canonical text; an IPv4-mapped address keeps its dotted tail (§5). */
export function formatIpv6(b: Uint8Array): string {
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return Address6.fromUnsignedByteArray([...b]).correctForm();
}
