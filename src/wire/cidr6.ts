// IPv6 prefixes (`2001:db8::/32`) as 16 bytes and a length: parsing, canonical text, masks and
// containment, for config, the guard and the lab. Nothing here runs per packet.

import { formatIpv6, parseIpv6 } from './ipv6-text.js';

export interface Cidr6 {
  /** As written: host bits NOT cleared, since `fd00::1/64` is also an interface address. */
  addr: Uint8Array;
  prefixLen: number;
}

/** `X/n` with n 0..128 and no leading zeros; null for anything else (a bare address too). */
export function parseCidr6(s: string): Cidr6 | null {
  if (typeof s !== 'string') return null;
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/')) return null;
  const addr = parseIpv6(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (addr === null || !/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
  const prefixLen = Number(p);
  return prefixLen > 128 ? null : { addr, prefixLen };
}

/** The prefix's network address: host bits cleared. */
export function network6(addr: Uint8Array, prefixLen: number): Uint8Array {
  const out = Uint8Array.from(addr);
  for (let bit = prefixLen; bit < 128; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

/** True when `a` lies inside `prefix/prefixLen`. */
export function inPrefix6(a: Uint8Array, prefix: Uint8Array, prefixLen: number): boolean {
  const whole = prefixLen >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== prefix[i]) return false;
  const rest = prefixLen & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & m) === (prefix[whole]! & m);
}

/** `net/len` in RFC 5952 form, host bits cleared. */
export function formatCidr6(c: Cidr6): string {
  return `${formatIpv6(network6(c.addr, c.prefixLen))}/${c.prefixLen}`;
}

/** The address `n` places after `base` (n < 2^53), wrapping silently within 128 bits. */
export function addToIpv6(base: Uint8Array, n: number): Uint8Array {
  const out = Uint8Array.from(base);
  let carry = n;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const s = out[i]! + (carry % 256);
    out[i] = s & 0xff;
    carry = Math.floor(carry / 256) + (s > 0xff ? 1 : 0);
  }
  return out;
}

export function isLinkLocal6(a: Uint8Array): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

export function isMulticast6(a: Uint8Array): boolean {
  return a[0] === 0xff;
}

export function isUnspecified6(a: Uint8Array): boolean {
  return a.every((b) => b === 0);
}

export function isLoopback6(a: Uint8Array): boolean {
  return a[15] === 1 && a.subarray(0, 15).every((b) => b === 0);
}

/** ::ffff:a.b.c.d: an IPv4 address in IPv6 clothing, which never names an IPv6 interface. */
export function isV4Mapped6(a: Uint8Array): boolean {
  return a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;
}

/** Why `a` cannot be a unicast interface address (global or ULA), or undefined when it can. */
export function notGlobalUnicast6(a: Uint8Array): string | undefined {
  if (isUnspecified6(a)) return 'the unspecified address';
  if (isLoopback6(a)) return 'the loopback address';
  if (isMulticast6(a)) return 'a multicast address';
  if (isLinkLocal6(a)) return 'a link-local address';
  if (isV4Mapped6(a)) return 'an IPv4-mapped address';
  return undefined;
}
