// IPv6 in a node config (issue #10): a vlink's IPv6 addresses (`address6`, `link_local`), the
// derived link-local address, and the rules tying IPv6 to the vlink MTU and the underlay family.
// config-vlink.ts calls readVlinkIpv6 for each vlink; config.ts calls checkIpv6Links once.

import type { IpFamily } from '../wire/addr.js';
import { parseIpv4 } from '../wire/addr.js';
import { formatIpv6, parseIpv6 } from '../wire/ipv6-text.js';
import { isLinkLocal6, notGlobalUnicast6, parseCidr6 } from '../wire/cidr6.js';
import { IPV6_MIN_MTU } from '../wire/ipv6.js';
import type { Path } from './yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from './yaml-validator.js';

export const LINK_LOCAL_AUTO = 'auto';

/** What a vlink's IPv6 settings resolve to; all absent when the vlink carries no IPv6. */
export interface VlinkIpv6 {
  /** address6 as written, RFC 5952 address and its length, e.g. `fd00:255::/127`. */
  address6?: string;
  prefixLen6?: number;
  /** The link-local address (no prefix: always /64), given or derived; present iff the vlink carries IPv6. */
  linkLocal?: string;
}

/** The family of an address held as text in a config ('' counts as 4: no address yet). */
export function familyOf(address: string): IpFamily {
  return address.includes(':') ? 6 : 4;
}

/**
 * `link_local: auto`: fe80::/64 with an interface identifier both ends of a vlink derive
 * differently without talking: the vlink's IPv4 address in the low 32 bits (fe80::aff:0 for
 * 10.255.0.0), else the low 64 bits of address6. Undefined when neither gives one.
 */
export function deriveLinkLocal(ipv4: string, address6: Uint8Array | undefined): string | undefined {
  const v4 = parseIpv4(ipv4);
  const ll = new Uint8Array(16);
  ll[0] = 0xfe;
  ll[1] = 0x80;
  if (v4 !== null && v4 !== 0) {
    ll[12] = v4 >>> 24;
    ll[13] = (v4 >>> 16) & 0xff;
    ll[14] = (v4 >>> 8) & 0xff;
    ll[15] = v4 & 0xff;
    return formatIpv6(ll);
  }
  if (address6 !== undefined && address6.subarray(8).some((b) => b !== 0)) {
    ll.set(address6.subarray(8), 8);
    return formatIpv6(ll);
  }
  return undefined;
}

/**
 * `address6` and `link_local` of vlinks[i]. `address` is the IPv4 VN address as read ('' when
 * invalid, `dhcp` when leased): the derived link-local address uses it.
 */
export function readVlinkIpv6(v: SchemaValidator, o: Obj, p: Path, address: string): VlinkIpv6 {
  const out: VlinkIpv6 = {};
  let a6: Uint8Array | undefined;
  if (v.present(o, 'address6')) {
    const raw = o.address6;
    const c = typeof raw === 'string' ? parseCidr6(raw.trim()) : null;
    const bad = c === null ? undefined : notGlobalUnicast6(c.addr);
    if (c === null || c.prefixLen === 0) {
      v.err([...p, 'address6'], `must be an IPv6 address with prefix length 1..128, e.g. fd00:255::/127 (got ${describe(raw)})`);
    } else if (bad !== undefined) {
      v.err([...p, 'address6'], `must be a global or unique-local unicast address, not ${bad} (got ${describe(raw)})${isLinkLocal6(c.addr) ? '; set link_local for that' : ''}`);
    } else {
      a6 = c.addr;
      out.address6 = `${formatIpv6(c.addr)}/${c.prefixLen}`;
      out.prefixLen6 = c.prefixLen;
    }
  }
  const ipv6On = v.present(o, 'link_local') || v.present(o, 'address6');
  if (!ipv6On) return out;
  const raw = v.present(o, 'link_local') ? o.link_local : LINK_LOCAL_AUTO;
  if (raw === LINK_LOCAL_AUTO) {
    const ll = deriveLinkLocal(address === 'dhcp' ? '' : address.split('/')[0] ?? '', a6);
    if (ll !== undefined) out.linkLocal = ll;
    else if (address !== '') {
      v.err([...p, 'link_local'], 'cannot be derived: the vlink has no static IPv4 address and address6 has an all-zero interface identifier; set link_local, e.g. fe80::1');
    }
    return out;
  }
  const ll = typeof raw === 'string' ? parseIpv6(raw.trim()) : null;
  if (ll === null || !isLinkLocal6(ll) || ll[1] !== 0x80 || ll.subarray(2, 8).some((b) => b !== 0) || ll.subarray(8).every((b) => b === 0)) {
    v.err([...p, 'link_local'], `must be "auto" or a link-local address in fe80::/64 without prefix length and with a non-zero interface identifier, e.g. fe80::1 (got ${describe(raw)})`);
    return out;
  }
  out.linkLocal = formatIpv6(ll);
  return out;
}

/** An IPv6 vlink must carry 1280-byte packets (RFC 8200 §5); the kernel turns IPv6 off on a smaller link. */
export function ipv6MtuProblem(mtu: number): string | undefined {
  return mtu >= IPV6_MIN_MTU ? undefined : `${mtu} is below ${IPV6_MIN_MTU}, the least an IPv6 link must carry (RFC 8200 §5), and this vlink has address6 or link_local; raise underlay.mtu or drop IPv6 from the vlink`;
}

/** The vlink's IPv6 part for the TUN (netsys), or undefined without IPv6. */
export function ipv6LinkSetup(c: VlinkIpv6): { linkLocal: string; address6?: string; prefixLen6?: number } | undefined {
  if (c.linkLocal === undefined) return undefined;
  return { linkLocal: c.linkLocal, ...(c.address6 === undefined ? {} : { address6: c.address6, prefixLen6: c.prefixLen6! }) };
}

/**
 * Where ICMPv6 errors we originate come from (Vlink.icmp6Src): not the next-hop router's own
 * view of itself but the far end of the link, as for IPv4, when a /127 or /126 names it; else
 * this end's address6; else its link-local address, which reaches only senders on this node
 * (a router does not forward a packet from a link-local source). Null without IPv6.
 */
export function ipv6ErrorSource(c: VlinkIpv6): Uint8Array | null {
  if (c.linkLocal === undefined) return null;
  if (c.address6 === undefined) return parseIpv6(c.linkLocal);
  const a = parseIpv6(c.address6.split('/')[0]!)!;
  if (c.prefixLen6 === 127) a[15]! ^= 1;
  else if (c.prefixLen6 === 126) {
    const host = a[15]! & 3;
    a[15] = (a[15]! & ~3) | (host === 1 ? 2 : 1);
  }
  return a;
}
