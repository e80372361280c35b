// `vn_prefixes`: the node's VN address space, which the fail-closed guard (io/guard.ts) keeps
// off every interface that is not a vlink. Checked here so config.ts only wires it in.

import { describe } from './yaml-validator.js';
import { formatCidr6, inPrefix6, network6, parseCidr6, type Cidr6 } from '../wire/cidr6.js';
import { parseIpv6 } from '../wire/ipv6-text.js';
import { inPrefix, ipv4ToU32, parseCidr, prefixMask, u32ToIpv4, type Cidr } from '../wire/addr.js';

export interface VnPrefixProblem {
  /** Path below the top level, e.g. ['vn_prefixes', 1]. */
  path: (string | number)[];
  problem: string;
}

export interface VnPrefixResult {
  /** Canonical `a.b.c.d/n` (or RFC 5952 IPv6 prefix) strings in file order; undefined when the field is absent or invalid. */
  prefixes: string[] | undefined;
  problems: VnPrefixProblem[];
}

/**
 * Validates the raw `vn_prefixes` value. `underlay` and `peers` are the addresses the tunnel
 * itself uses: a prefix holding one of them would make the guard drop the node's own ESP and
 * IKE packets, so that is refused rather than discovered as a dead overlay.
 */
export function checkVnPrefixes(raw: unknown, underlay: string, peers: { index: number; peer: string }[]): VnPrefixResult {
  const problems: VnPrefixProblem[] = [];
  const example = 'e.g. [10.10.0.0/16, 10.255.0.0/16]';
  if (!Array.isArray(raw) || raw.length === 0) {
    const why = Array.isArray(raw) ? 'an empty list; omit the field to run without a guard' : describe(raw);
    problems.push({ path: ['vn_prefixes'], problem: `must be a non-empty list of IPv4 or IPv6 prefixes, ${example} (got ${why})` });
    return { prefixes: undefined, problems };
  }
  const good: { i: number; c: Cidr; s: string }[] = [];
  const good6: { i: number; c: Cidr6; s: string }[] = [];
  const ordered: string[] = [];
  raw.forEach((v, i) => {
    if (typeof v === 'string' && v.includes(':')) {
      const g = checkV6(v.trim(), i, underlay, peers, good6);
      if (typeof g === 'string') problems.push({ path: ['vn_prefixes', i], problem: g });
      else {
        good6.push(g);
        ordered.push(g.s);
      }
      return;
    }
    const c = typeof v === 'string' ? parseCidr(v.trim()) : null;
    if (c === null) {
      problems.push({ path: ['vn_prefixes', i], problem: `must be an IPv4 prefix a.b.c.d/n with n 0..32, e.g. 10.10.0.0/16, or an IPv6 prefix, e.g. fd00:10::/48 (got ${describe(v)})` });
      return;
    }
    const net = (c.addr & prefixMask(c.prefixLen)) >>> 0;
    const s = `${u32ToIpv4(net)}/${c.prefixLen}`;
    if (net !== c.addr) {
      problems.push({ path: ['vn_prefixes', i], problem: `${String(v)} has host bits set; did you mean ${s}?` });
      return;
    }
    const clash = good.find((g) => inPrefix(net, g.c.addr, Math.min(g.c.prefixLen, c.prefixLen)));
    if (clash !== undefined) {
      problems.push({ path: ['vn_prefixes', i], problem: `${s} overlaps vn_prefixes[${clash.i}] (${clash.s}); list each range once` });
      return;
    }
    const inside = (addr: string) => addr !== '' && !addr.includes(':') && inPrefix(ipv4ToU32(addr), net, c.prefixLen);
    if (inside(underlay)) {
      problems.push({ path: ['vn_prefixes', i], problem: `${s} contains underlay.address ${underlay}; the guard would drop the tunnel's own packets` });
      return;
    }
    const p = peers.find((x) => inside(x.peer));
    if (p !== undefined) {
      problems.push({ path: ['vn_prefixes', i], problem: `${s} contains vlinks[${p.index}].peer ${p.peer}, an underlay address; the guard would drop the tunnel's own packets` });
      return;
    }
    good.push({ i, c, s });
    ordered.push(s);
  });
  return { prefixes: problems.length === 0 ? ordered : undefined, problems };
}

/** An IPv6 entry: canonical, without host bits, not overlapping another, holding no underlay address. */
function checkV6(v: string, i: number, underlay: string, peers: { index: number; peer: string }[], good: { i: number; c: Cidr6; s: string }[]): { i: number; c: Cidr6; s: string } | string {
  const c = parseCidr6(v);
  if (c === null) return `must be an IPv6 prefix with length 0..128, e.g. fd00:10::/48 (got ${describe(v)})`;
  const s = formatCidr6(c);
  if (!network6(c.addr, c.prefixLen).every((b, k) => b === c.addr[k])) return `${v} has host bits set; did you mean ${s}?`;
  const clash = good.find((g) => inPrefix6(c.addr, g.c.addr, Math.min(g.c.prefixLen, c.prefixLen)));
  if (clash !== undefined) return `${s} overlaps vn_prefixes[${clash.i}] (${clash.s}); list each range once`;
  const inside = (addr: string) => {
    const b = addr.includes(':') ? parseIpv6(addr) : null;
    return b !== null && inPrefix6(b, c.addr, c.prefixLen);
  };
  if (inside(underlay)) return `${s} contains underlay.address ${underlay}; the guard would drop the tunnel's own packets`;
  const p = peers.find((x) => inside(x.peer));
  if (p !== undefined) return `${s} contains vlinks[${p.index}].peer ${p.peer}, an underlay address; the guard would drop the tunnel's own packets`;
  return { i, c, s };
}

/** True when `cidr` (a vlink address such as 10.255.0.0/31 or fd00:255::/127) lies inside one of `prefixes`. */
export function coveredBy(cidr: string, prefixes: readonly string[]): boolean {
  if (cidr.includes(':')) {
    const c6 = parseCidr6(cidr);
    if (c6 === null) return false;
    return prefixes.some((p) => {
      const q = p.includes(':') ? parseCidr6(p) : null;
      return q !== null && q.prefixLen <= c6.prefixLen && inPrefix6(c6.addr, q.addr, q.prefixLen);
    });
  }
  const c = parseCidr(cidr);
  if (c === null) return false;
  return prefixes.some((p) => {
    const q = p.includes(':') ? null : parseCidr(p);
    return q !== null && q.prefixLen <= c.prefixLen && inPrefix(c.addr, q.addr, q.prefixLen);
  });
}
