// The IPv6 half of a dual-stack lab model (topology-ipv6.ts): each node's IPv6 VN /128, each
// vlink end's /127 and link-local address, static IPv6 routes along the IPv4 ones, and the IPv6
// VN space every node guards. Deterministic like the rest of the model: file order decides.

import type { Topology } from './topology.js';
import type { LabModel } from './topology-model.js';
import { addToIpv6, inPrefix6, parseCidr6 } from '../wire/cidr6.js';
import { formatIpv6 } from '../wire/ipv6-text.js';
import { deriveLinkLocal } from '../control/config-ipv6.js';

export interface ModelNode6 {
  /** The node's IPv6 VN prefix on lo, e.g. fd00:10::1/128; its address sources the node's IPv6 traffic. */
  vn6: string;
  vnAddr6: string;
  /** routing static: every other reachable node's IPv6 VN prefix, via the vlink the IPv4 route takes. */
  staticRoutes6: { dst: string; via: string; dev: string }[];
}

export interface VlinkEnd6 {
  /** Our IPv6 VN link address with prefix, e.g. fd00:255::/127. */
  address6: string;
  /** The peer's IPv6 link address (next hop of static IPv6 routes). */
  peerLinkAddr6: string;
  /** Ours and the peer's link-local address: OSPFv3 speaks and routes through these. */
  linkLocal: string;
  peerLinkLocal: string;
}

/**
 * fe80:: + the end's IPv4 link address (what `link_local: auto` derives), or for an end whose
 * IPv4 address is leased, fe80::ffff:<vlink>:<end>, which no derived address can equal.
 */
function linkLocalOf(ipv4: string, k: number, end: 0 | 1): string {
  return deriveLinkLocal(ipv4.split('/')[0] ?? '', undefined) ?? `fe80::ffff:${(k + 1).toString(16)}:${end + 1}`;
}

/** Fills in the IPv6 parts of a built model; no-op for an IPv4-only topology. */
export function addIpv6(t: Topology, m: LabModel): void {
  const six = t.ipv6;
  if (six === undefined) return;
  m.ipv6 = true;
  const vnPool = parseCidr6(six.vn6)!;
  const taken = new Set(Object.values(six.nodeVn6).map((p) => p.split('/')[0]));
  let k = 1;
  for (const n of m.nodes) {
    let vn6 = six.nodeVn6[n.name];
    if (vn6 === undefined) {
      let a = formatIpv6(addToIpv6(vnPool.addr, k));
      while (taken.has(a)) a = formatIpv6(addToIpv6(vnPool.addr, ++k));
      k++;
      vn6 = `${a}/128`;
    }
    Object.assign(n, { vn6, vnAddr6: vn6.split('/')[0]!, staticRoutes6: [] } satisfies ModelNode6);
  }
  const linkPool = parseCidr6(six.vlinks6)!;
  for (const v of m.vlinks) {
    const lo = formatIpv6(addToIpv6(linkPool.addr, 2 * v.index));
    const hi = formatIpv6(addToIpv6(linkPool.addr, 2 * v.index + 1));
    const ea = m.nodes.find((n) => n.name === v.a)!.vlinks.find((e) => e.peer === v.b)!;
    const eb = m.nodes.find((n) => n.name === v.b)!.vlinks.find((e) => e.peer === v.a)!;
    const lla = linkLocalOf(ea.dhcp === 'client' ? '' : ea.address, v.index, 0);
    const llb = linkLocalOf(eb.dhcp === 'client' ? '' : eb.address, v.index, 1);
    Object.assign(ea, { address6: `${lo}/127`, peerLinkAddr6: hi, linkLocal: lla, peerLinkLocal: llb } satisfies VlinkEnd6);
    Object.assign(eb, { address6: `${hi}/127`, peerLinkAddr6: lo, linkLocal: llb, peerLinkLocal: lla } satisfies VlinkEnd6);
  }
  // Static routes: the IPv6 VN prefix of each node the IPv4 routes reach, through the same vlink.
  for (const n of m.nodes) {
    if (n.routing !== 'static') continue;
    for (const r of n.staticRoutes) {
      const to = m.nodes.find((x) => x.vn === r.dst);
      const hop = n.vlinks.find((e) => e.ifname === r.dev);
      if (to?.vn6 !== undefined && hop?.peerLinkAddr6 !== undefined) n.staticRoutes6!.push({ dst: to.vn6, via: hop.peerLinkAddr6, dev: r.dev });
    }
  }
  const extra = m.nodes.map((n) => n.vn6!).filter((p) => ![six.vn6, six.vlinks6].some((q) => {
    const a = parseCidr6(p)!;
    const b = parseCidr6(q)!;
    return inPrefix6(a.addr, b.addr, b.prefixLen) && a.prefixLen >= b.prefixLen;
  }));
  m.vnPrefixes = [...(m.vnPrefixes ?? []), six.vn6, six.vlinks6, ...new Set(extra)];
}
