// IPv6 on a vlink's TUN (issue #10): the sysctls that make the kernel take IPv6 on it without
// inventing addresses of its own, and the rtnetlink messages for the link-local and optional
// global/ULA address. netsys.ts calls these; kept apart so the IPv4 path reads as before.

import { writeFileSync } from 'node:fs';
import { formatIpv6, parseIpv6 } from '../wire/ipv6-text.js';
import { CodecError } from '../errors.js';

export const AF_INET6 = 10;
/** A link-local address is always a /64 (RFC 4291 §2.5.6). */
export const LINK_LOCAL_PREFIX_LEN = 64;

/** What a vlink's TUN carries for IPv6; absent on a vlink without IPv6. */
export interface Ipv6LinkSetup {
  linkLocal: string;
  address6?: string;
  prefixLen6?: number;
}

function sysctl(name: string, key: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/${key}`, value);
  } catch {
    /* IPv6 disabled system-wide (no conf directory): nothing to set */
  }
}

/**
 * Without IPv6 the TUN would still get router solicitations from the kernel, which the vlink
 * would only count and drop: IPv6 off. With it: addr_gen_mode 1 (none) first, so the kernel
 * derives no address of its own (a TUN has no MAC; with a random mode both ends could pick
 * anything), then IPv6 on. A TUN is IFF_NOARP, so no duplicate address detection delays it.
 */
export function setIpv6Enabled(name: string, on: boolean): void {
  if (!on) {
    sysctl(name, 'disable_ipv6', '1');
    return;
  }
  sysctl(name, 'addr_gen_mode', '1');
  sysctl(name, 'accept_ra', '0');
  sysctl(name, 'disable_ipv6', '0');
}

function bytes(a: string): Buffer {
  const b = parseIpv6(a);
  if (b === null) throw new CodecError(`not an IPv6 address: ${a}`);
  return Buffer.from(b);
}

/** The rtnetlink address messages of a vlink's IPv6 setup: link-local first, then address6. */
export function ipv6AddressMessages(s: Ipv6LinkSetup, index: number): { data: { family: number; prefixlen: number; index: number; flags: { nodad: true } }; attrs: { local: Buffer; address: Buffer } }[] {
  const out = [];
  const one = (addr: string, prefixlen: number) => {
    const b = bytes(addr);
    return { data: { family: AF_INET6, prefixlen, index, flags: { nodad: true as const } }, attrs: { local: b, address: b } };
  };
  out.push(one(s.linkLocal, LINK_LOCAL_PREFIX_LEN));
  if (s.address6 !== undefined) out.push(one(s.address6.split('/')[0]!, s.prefixLen6 ?? 128));
  return out;
}

/** 4 bytes dotted, 16 bytes RFC 5952; null for anything else. */
export function addrBytesText(b: Uint8Array | undefined): string | null {
  if (b === undefined) return null;
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) return formatIpv6(Uint8Array.from(b));
  return null;
}
