// `vn_prefixes`: the node's VN address space, which the fail-closed guard (io/guard.ts) keeps
// off every interface that is not a vlink. Checked here so config.ts only wires it in.

import { describe, looksIpv6 } from './yaml-validator.js';
import { inPrefix, ipv4ToU32, parseCidr, prefixMask, u32ToIpv4, type Cidr } from '../wire/addr.js';

export interface VnPrefixProblem {
  /** Path below the top level, e.g. ['vn_prefixes', 1]. */
  path: (string | number)[];
  problem: string;
}

export interface VnPrefixResult {
  /** Canonical `a.b.c.d/n` strings in file order; undefined when the field is absent or invalid. */
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
    problems.push({ path: ['vn_prefixes'], problem: `must be a non-empty list of IPv4 prefixes, ${example} (got ${why})` });
    return { prefixes: undefined, problems };
  }
  const good: { i: number; c: Cidr; s: string }[] = [];
  raw.forEach((v, i) => {
    const c = typeof v === 'string' ? parseCidr(v.trim()) : null;
    if (c === null) {
      const v6 = looksIpv6(v) ? 'IPv6 is not supported yet; ' : '';
      problems.push({ path: ['vn_prefixes', i], problem: `${v6}must be an IPv4 prefix a.b.c.d/n with n 0..32, e.g. 10.10.0.0/16 (got ${describe(v)})` });
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
    const inside = (addr: string) => addr !== '' && inPrefix(ipv4ToU32(addr), net, c.prefixLen);
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
  });
  return { prefixes: problems.length === 0 ? good.map((g) => g.s) : undefined, problems };
}

/** True when `cidr` (a vlink address such as 10.255.0.0/31) lies inside one of `prefixes`. */
export function coveredBy(cidr: string, prefixes: readonly string[]): boolean {
  const c = parseCidr(cidr);
  if (c === null) return false;
  return prefixes.some((p) => {
    const q = parseCidr(p)!;
    return q.prefixLen <= c.prefixLen && inPrefix(c.addr, q.addr, q.prefixLen);
  });
}
