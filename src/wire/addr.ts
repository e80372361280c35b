// IPv4 addresses travel through the data plane as unsigned 32-bit numbers: comparing and
// masking numbers is cheap, strings are only for config files, logs and the inspector.

import { CodecError } from '../errors.js';
import { formatIpv6, parseIpv6 } from './ipv6-text.js';

export interface Cidr {
  /** Address as written, host bits NOT cleared: '10.0.0.1/24' is also an interface address. */
  addr: number;
  prefixLen: number;
}

/**
 * Strict dotted quad: exactly four decimal octets, no leading zeros, no whitespace. Leading
 * zeros are refused because inet_aton reads '010' as octal 8 while others read decimal 10; a
 * config that means different things to different tools is a config error.
 */
export function parseIpv4(s: string): number | null {
  if (typeof s !== 'string' || s.length < 7 || s.length > 15) return null;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return null;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && octet === 0) return null;
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3 || octet > 255) return null;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return value * 256 + octet;
}

export function isIpv4(s: string): boolean {
  return parseIpv4(s) !== null;
}

/** Throws CodecError on anything but a strict dotted quad (see parseIpv4 for a null-returning form). */
export function ipv4ToU32(s: string): number {
  const n = parseIpv4(s);
  if (n === null) throw new CodecError(`not an IPv4 address: ${JSON.stringify(s)}`);
  return n;
}

/**
 * Accepts the signed int32 results of `&`, `|`, `^` and `<<` as well as true u32 values, since
 * masking an address in JS yields a negative number whenever the top bit is set.
 */
export function toU32(n: number): number {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) {
    throw new CodecError(`not a 32-bit IPv4 address value: ${n}`);
  }
  return n >>> 0;
}

export function u32ToIpv4(n: number): string {
  const v = toU32(n);
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** Accepts '/0'..'/32' with no leading zeros; returns null rather than throwing on bad input. */
export function parseCidr(s: string): Cidr | null {
  if (typeof s !== 'string') return null;
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/')) return null;
  const addr = parseIpv4(s.slice(0, slash));
  if (addr === null) return null;
  const p = s.slice(slash + 1);
  if (p.length === 0 || p.length > 2 || (p.length === 2 && p[0] === '0')) return null;
  let prefixLen = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    prefixLen = prefixLen * 10 + (c - 0x30);
  }
  if (prefixLen > 32) return null;
  return { addr, prefixLen };
}

/** Network mask as an unsigned number; `<< 32` is a no-op in JS, hence the /0 special case. */
export function prefixMask(prefixLen: number): number {
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) {
    throw new CodecError(`prefix length out of range: ${prefixLen}`);
  }
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** True when `addrU32` lies inside `prefixU32/prefixLen` (host bits of the prefix ignored). */
export function inPrefix(addrU32: number, prefixU32: number, prefixLen: number): boolean {
  return ((addrU32 ^ prefixU32) & prefixMask(prefixLen)) === 0;
}

/**
 * RFC 1122 §3.2.1.3 / RFC 5771: addresses that never name a single host. ICMP errors must not
 * be sent to them, so the ICMP builder needs this test.
 */
export function isUnicastU32(addrU32: number): boolean {
  const a = addrU32 >>> 0;
  const first = a >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

// ---------------------------------------------------------------------------------------------
// Family-tagged addresses. Every place an underlay address travels (datagrams, vlinks, SPD/SA
// selectors) holds an IpAddr, so IPv6 enters by filling in the `family: 6` cases of the
// functions below, not by changing signatures. IPv4 stays a plain number: the data plane
// compares, masks and hands it to the native addon without ever building a string.

export type IpFamily = 4 | 6;

export interface Ipv4Addr {
  readonly family: 4;
  /** Unsigned 32-bit, host order: 10.0.0.1 === 0x0a000001. */
  readonly v4: number;
}

export interface Ipv6Addr {
  readonly family: 6;
  /** 16 bytes, network order. Never mutated once wrapped. */
  readonly v6: Uint8Array;
}

export type IpAddr = Ipv4Addr | Ipv6Addr;

/** An address and a transport port (0 where the protocol has none, e.g. raw ESP). */
export interface Endpoint {
  readonly addr: IpAddr;
  readonly port: number;
}

export function ipv4(n: number): Ipv4Addr {
  return { family: 4, v4: toU32(n) };
}

export function ipv6(bytes: Uint8Array): Ipv6Addr {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
    throw new CodecError(`an IPv6 address is 16 bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
  }
  return { family: 6, v6: Uint8Array.from(bytes) };
}

/**
 * Strict textual address: a dotted quad (see parseIpv4) or an IPv6 address without a zone
 * (`%eth0`) or prefix (`/64`), since neither names one host. Returns null on anything else.
 */
export function parseAddr(s: string): IpAddr | null {
  if (typeof s !== 'string') return null;
  const n = parseIpv4(s);
  if (n !== null) return { family: 4, v4: n };
  const b = parseIpv6(s);
  return b === null ? null : { family: 6, v6: b };
}

/** parseAddr that throws a CodecError naming `what` (a config field, say) on bad input. */
export function addrFromString(s: string, what = 'address'): IpAddr {
  const a = parseAddr(s);
  if (a === null) throw new CodecError(`${what}: not an IPv4 or IPv6 address: ${JSON.stringify(s)}`);
  return a;
}

/** Dotted quad, or RFC 5952 canonical IPv6 (lower case, longest zero run compressed). */
export function formatAddr(a: IpAddr): string {
  switch (a.family) {
    case 4:
      return u32ToIpv4(a.v4);
    case 6:
      return formatIpv6(a.v6);
  }
}

export function formatEndpoint(e: Endpoint): string {
  return e.addr.family === 6 ? `[${formatAddr(e.addr)}]:${e.port}` : `${formatAddr(e.addr)}:${e.port}`;
}

export function addrEquals(a: IpAddr, b: IpAddr): boolean {
  if (a.family === 4) return b.family === 4 && a.v4 === b.v4;
  if (b.family !== 6) return false;
  for (let i = 0; i < 16; i++) if (a.v6[i] !== b.v6[i]) return false;
  return true;
}

export function endpointEquals(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && addrEquals(a.addr, b.addr);
}

/**
 * A Map key that is equal exactly when the addresses are (addrEquals): the IPv4 number in
 * decimal, or '6:' and 32 hex digits. Families can never collide: only the latter has a colon.
 */
export function addrKey(a: IpAddr): string {
  switch (a.family) {
    case 4:
      return String(a.v4);
    case 6:
      return `6:${Buffer.from(a.v6.buffer, a.v6.byteOffset, 16).toString('hex')}`;
  }
}

/** The IPv4 number of `a`; a CodecError for IPv6 on paths that do not carry it yet. */
export function requireV4(a: IpAddr, what: string): number {
  if (a.family === 4) return a.v4;
  throw new CodecError(`${what}: IPv6 not yet supported (${formatAddr(a)})`);
}
