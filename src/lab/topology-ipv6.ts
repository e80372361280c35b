// IPv6 in a topology (issue #10). `ipv6: true` makes the overlay dual stack: every node gets an
// IPv6 VN /128 beside its IPv4 one, every vlink an IPv6 /127 and link-local addresses, and the
// routing runs for both families (OSPFv3 beside OSPFv2, static routes for both). An IPv6
// `addressing.underlay` makes the underlay IPv6 only (its networks: underlay-pool.ts). Syntax
// and checks here; VN addresses are allocated by ipv6-model.ts.

import type { Path } from '../control/yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from '../control/yaml-validator.js';
import { formatCidr6, inPrefix6, network6, notGlobalUnicast6, parseCidr6 } from '../wire/cidr6.js';

export interface TopoIpv6 {
  /** Pools: node k (1-based) gets vn6 + k as a /128, vlink k the k-th /127 of vlinks6. */
  vn6: string;
  vlinks6: string;
  /** nodes.<n>.vn6 where written, RFC 5952 with its length. */
  nodeVn6: Record<string, string>;
}

export const DEFAULT_POOLS6 = { vn6: 'fd00:10::/64', vlinks6: 'fd00:255::/64' };
/** The default underlay pool when `addressing.underlay` is IPv6 is whatever is written; networks get /64s. */
export const UNDERLAY6_NET_LEN = 64;

/** `addressing.underlay` as an IPv6 prefix: room for /64 networks, so at most a /56. */
export function underlayPool6(v: SchemaValidator, raw: unknown): string | undefined {
  return pool6(v, raw, ['addressing', 'underlay'], 56);
}

/**
 * An IPv6 underlay carries the overlay over IPv6 only: what needs an IPv4 underlay is refused,
 * each on its own field (NAT is masquerading for IPv4, the lab DNS serves A records, DHCP labs
 * lease over an IPv4 underlay's relay).
 */
export function checkIpv6Underlay(v: SchemaValidator, t: { routers: { name: string; natOutside: string | null }[]; dns: unknown; dhcp?: unknown; sites?: unknown }): void {
  for (const r of t.routers) if (r.natOutside !== null) v.err(['routers', r.name, 'nat'], 'needs an IPv4 underlay (masquerading); addressing.underlay is IPv6');
  if (t.dns !== null) v.err(['dns'], 'needs an IPv4 underlay (the lab zone has A records); addressing.underlay is IPv6');
  if (t.dhcp !== undefined) v.err(['dhcp'], 'needs an IPv4 underlay; addressing.underlay is IPv6');
  if (t.sites !== undefined) v.err(['sites'], 'needs an IPv4 underlay (KX and DNS); addressing.underlay is IPv6');
}

/** An IPv6 pool (network address, length 1..120) or undefined after an error. */
function pool6(v: SchemaValidator, raw: unknown, path: Path, maxLen: number): string | undefined {
  const c = typeof raw === 'string' ? parseCidr6(raw.trim()) : null;
  if (c === null || c.prefixLen === 0 || c.prefixLen > maxLen) {
    v.err(path, `must be an IPv6 prefix with length 1..${maxLen}, e.g. fd00:10::/64 (got ${describe(raw)})`);
    return undefined;
  }
  if (notGlobalUnicast6(c.addr) !== undefined) {
    v.err(path, `must be a global or unique-local prefix, not ${notGlobalUnicast6(c.addr)} (got ${describe(raw)})`);
    return undefined;
  }
  if (!network6(c.addr, c.prefixLen).every((b, i) => b === c.addr[i])) {
    v.err(path, `has host bits set; write the network address (got ${String(raw)})`);
    return undefined;
  }
  return formatCidr6(c);
}

/**
 * `ipv6`, `addressing.vn6`/`vlinks6` and `nodes.<n>.vn6`. Null when the topology is IPv4 only;
 * then none of the IPv6 fields may be set.
 */
export function parseTopoIpv6(v: SchemaValidator, top: Obj, addressing: Obj | undefined, nodes: [string, Obj | undefined][], routing: (n: string) => string): TopoIpv6 | null {
  const on = v.boolean(top, 'ipv6', [], false);
  const written = (o: Obj | undefined, k: string) => o !== undefined && v.present(o, k);
  if (!on) {
    for (const k of ['vn6', 'vlinks6']) if (written(addressing, k)) v.err(['addressing', k], 'is only used with ipv6: true');
    for (const [n, o] of nodes) if (written(o, 'vn6')) v.err(['nodes', n, 'vn6'], 'is only used with ipv6: true');
    return null;
  }
  const out: TopoIpv6 = { ...DEFAULT_POOLS6, nodeVn6: {} };
  if (written(addressing, 'vn6')) out.vn6 = pool6(v, addressing!['vn6'], ['addressing', 'vn6'], 120) ?? out.vn6;
  if (written(addressing, 'vlinks6')) out.vlinks6 = pool6(v, addressing!['vlinks6'], ['addressing', 'vlinks6'], 120) ?? out.vlinks6;
  for (const [n, o] of nodes) {
    if (!written(o, 'vn6')) continue;
    const raw = o!['vn6'];
    const c = typeof raw === 'string' ? parseCidr6(raw.trim().includes('/') ? raw.trim() : `${raw.trim()}/128`) : null;
    if (c === null || notGlobalUnicast6(c.addr) !== undefined) v.err(['nodes', n, 'vn6'], `must be a global or unique-local IPv6 address or prefix, e.g. fd00:10::a/128 (got ${describe(raw)})`);
    else out.nodeVn6[n] = `${formatCidr6({ addr: c.addr, prefixLen: 128 }).split('/')[0]}/${c.prefixLen}`;
  }
  const a = parseCidr6(out.vn6)!;
  const b = parseCidr6(out.vlinks6)!;
  if (inPrefix6(a.addr, b.addr, Math.min(a.prefixLen, b.prefixLen))) v.err(['addressing', 'vlinks6'], `${out.vlinks6} overlaps addressing.vn6 ${out.vn6}`);
  return out;
}
