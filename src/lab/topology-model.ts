// The lab as it will exist: every namespace, interface, address, route and SA parameter,
// derived deterministically from a validated Topology. Same file in, same lab out, so plans
// can be unit tested and two runs of a lab are comparable.

import type { LogLevel, Suite } from '../control/config-types.js';
import { parseCidr, prefixMask, u32ToIpv4 } from '../wire/addr.js';
import { coveredBy } from '../control/vn-prefixes.js';
import type { Encap, IkeAuth, Liveness, Routing, RoutingDaemon, Topology } from './topology.js';
import { ConfigErrors, type ConfigProblem } from '../control/yaml-doc.js';
import { buildDnsModel, type ModelDns } from './dns-model.js';
import type { DnssecMode } from './topology-dns.js';
import { addDhcp, type LabDhcp } from './dhcp-model.js';
import { addIpv6, type ModelNode6, type VlinkEnd6 } from './ipv6-model.js';
import { underlayPool } from './underlay-pool.js';
import { buildSites, makeKxEnd, siteVlinks, type KxEnd, type KxVlink, type ModelSite } from './kx-sites.js';

export const NS_PREFIX = 'iil-';
export const NODE_UNDERLAY_IF = 'eth0';
export const SEGMENT_BRIDGE = 'br0';

export function labNsPrefix(lab: string): string {
  return `${NS_PREFIX}${lab}-`;
}

export interface NetMember {
  element: string;
  /** Interface name inside the element's namespace. */
  ifname: string;
  address: string;
}

export interface Network {
  name: string;
  kind: 'segment' | 'p2p';
  /** e.g. 10.200.1.0/24 */
  subnet: string;
  prefixLen: number;
  members: NetMember[];
}

export interface VlinkEnd {
  /** TUN name on this node: vl-<peer>. */
  ifname: string;
  peer: string;
  /** Our VN link address with prefix, e.g. 10.255.0.0/31. */
  address: string;
  /** The peer's VN link address (next hop for static routes). */
  peerLinkAddr: string;
  /** The peer's underlay address as this node sees it (a NAT router's outside address for a node behind NAT). */
  peerUnderlay: string;
  encap: Encap;
  suite: Suite;
  spiIn: number;
  spiOut: number;
  /** Key file names: <from>-to-<to>.key, in the node's keys/ directory. */
  keyIn: string;
  keyOut: string;
  /** keying ikev2: the vlink's PSK file (<a>-<b>.psk, the same name and content at both ends). */
  psk: string;
  /** keying ikev2: this end's own underlay address, which is its IKE identity even behind a NAT. */
  peerId: string;
  /** keying ikev2: who starts IKE. The end behind a NAT must: the NAT drops what comes in unasked. */
  ikeRole: 'initiator' | 'responder' | 'auto';
  /** keying ikev2: how IKE_AUTH proves identity (both ends agree; topology.ts checks). */
  ikeAuth: IkeAuth;
  /** ike_auth pubkey: this node's private key (<node>.key, 0600) and the peer's public key (<peer>.pub). */
  privateKey: string;
  peerPublicKey: string;
  /** DHCP runs over this vlink (dhcp-model.ts): `client` has address dhcp, `peer` is the relay's end. */
  dhcp?: 'client' | 'peer';
  /** A site lab's vlink (kx-sites.ts): the peer is found by KX (`peer_domain`), its key by IPSECA; `peer` is then the preferred gateway. */
  kx?: KxEnd;
}

/** A dual-stack lab's vlink end also has these (ipv6-model.ts). */
export interface VlinkEnd extends Partial<VlinkEnd6> {}

export interface ModelNode {
  name: string;
  ns: string;
  vn: string;
  vnAddr: string;
  routing: Routing;
  /** routing bgp: the daemon and this node's AS number (eBGP: one AS per node). */
  bgp?: { daemon: RoutingDaemon; asn: number; /** iBGP: a route reflector (topology-bgp.ts). */ rr?: boolean };
  logLevel: LogLevel;
  /** keying ikev2; absent in state files written before ike_auth: psk. */
  ikeAuth?: IkeAuth;
  /** With a lab DNS service: this node's `dns.dnssec`. */
  dnssec?: DnssecMode;
  underlayAddr: string;
  underlayPrefixLen: number;
  network: string;
  gateway: string | null;
  /** The NAT router this node sits behind, if any. */
  behindNat: string | null;
  vlinks: VlinkEnd[];
  /** Static routes (routing static only): every other reachable node's VN prefix. */
  staticRoutes: { dst: string; via: string; dev: string }[];
  /** `client`: vn is `dhcp` (vnAddr '' until leased; dhcp-status.ts); `relay`: relays to the lab's Kea. */
  dhcp?: 'client' | 'relay';
}

/** A dual-stack lab's node also has these (ipv6-model.ts). */
export interface ModelNode extends Partial<ModelNode6> {}

export interface ModelRouter {
  name: string;
  ns: string;
  interfaces: { ifname: string; address: string; network: string }[];
  routes: { dst: string; via: string }[];
  nat: { outsideIf: string; outsideAddr: string } | null;
}

export interface ModelSegment {
  name: string;
  ns: string;
  ports: string[];
}

export interface ModelVlink {
  index: number;
  a: string;
  b: string;
  encap: Encap;
  suite: Suite;
  /** A site lab's vlink (kx-sites.ts); several model vlinks may share one index (one per gateway of a site). */
  kx?: KxVlink;
}

export interface LabModel {
  name: string;
  nsPrefix: string;
  /** Absent in state files written before ikev2 labs: manual. */
  keying?: 'manual' | 'ikev2';
  suite: Suite;
  bfd: boolean;
  ospf: { hello: number; dead: number };
  /** routing bgp: hold time in seconds; absent in state files written before BGP labs. */
  bgpHold?: number;
  /** routing bgp: `ibgp` (one AS, route reflectors: topology-bgp.ts); absent: eBGP, one AS per node. */
  bgpMode?: 'ibgp';
  liveness: Liveness | null;
  underlayMtu: number;
  /** Every node's `vn_prefixes` (its fail-closed guard); absent in state files written before the guard. */
  vnPrefixes?: string[];
  nodes: ModelNode[];
  routers: ModelRouter[];
  segments: ModelSegment[];
  networks: Network[];
  vlinks: ModelVlink[];
  /** The lab DNS service (dns-model.ts), when the topology declares one. */
  dns?: ModelDns;
  /** Kea DHCPv4 behind a relay node (dhcp-model.ts); absent: no DHCP. */
  dhcp?: LabDhcp;
  /** Dual stack (`ipv6: true`, ipv6-model.ts): nodes and vlink ends carry their IPv6 parts. */
  ipv6?: boolean;
  /** 6: the underlay is IPv6 (an IPv6 `addressing.underlay`, underlay-pool.ts); absent: IPv4. */
  underlayFamily?: 6;
  /** Sites as domains of the lab zone (kx-sites.ts); absent: none. */
  sites?: ModelSite[];
  /** Underlay veths: each end is (namespace, ifname). */
  veths: { a: { ns: string; ifname: string; address: string | null }; b: { ns: string; ifname: string; address: string | null } }[];
}

const ip = (n: number) => u32ToIpv4(n >>> 0);

/** The routing daemon a node runs: BIRD or FRR (for OSPF, or BGP by its choice), none for static routes. */
export function routingDaemon(n: Pick<ModelNode, 'routing' | 'bgp'>): RoutingDaemon | null {
  if (n.routing === 'bird' || n.routing === 'frr') return n.routing;
  return n.routing === 'bgp' ? (n.bgp?.daemon ?? 'frr') : null;
}

/** SPI of the SA carrying vlink k from its first end to its second (dir 1) or back (dir 2). */
export function vlinkSpi(k: number, dir: 1 | 2): number {
  return 0x10000 + k * 0x10 + dir;
}

export function buildModel(t: Topology): LabModel {
  const prefix = labNsPrefix(t.name);
  const kindOf = (e: string) => (t.nodes.some((n) => n.name === e) ? 'node' : t.routers.some((r) => r.name === e) ? 'router' : 'segment');
  const ifFor = (e: string, other: string) => (kindOf(e) === 'node' ? NODE_UNDERLAY_IF : kindOf(e) === 'router' ? `u-${other}` : `p-${other}`);

  // Networks: segments first (file order), then point-to-point links (file order); network
  // j gets the (j+1)-th /24 (IPv6: /64) of the underlay pool and members get .1, .2, ... in
  // link order (underlay-pool.ts).
  const up = underlayPool(t.pools.underlay);
  const networks: Network[] = [];
  for (const s of t.segments) networks.push({ name: s, kind: 'segment', subnet: up.subnet(networks.length), prefixLen: up.netLen, members: [] });
  const veths: LabModel['veths'] = [];
  for (const [a, b] of t.underlay) {
    const seg = kindOf(a) === 'segment' ? a : kindOf(b) === 'segment' ? b : null;
    if (seg !== null) {
      const el = seg === a ? b : a;
      const net = networks.find((n) => n.name === seg)!;
      const address = up.host(networks.indexOf(net), net.members.length + 1);
      net.members.push({ element: el, ifname: ifFor(el, seg), address });
      veths.push({ a: { ns: prefix + el, ifname: ifFor(el, seg), address: `${address}/${up.netLen}` }, b: { ns: prefix + seg, ifname: `p-${el}`, address: null } });
    } else {
      const j = networks.length;
      const net: Network = {
        name: `${a}-${b}`,
        kind: 'p2p',
        subnet: up.subnet(j),
        prefixLen: up.netLen,
        members: [
          { element: a, ifname: ifFor(a, b), address: up.host(j, 1) },
          { element: b, ifname: ifFor(b, a), address: up.host(j, 2) },
        ],
      };
      networks.push(net);
      veths.push({ a: { ns: prefix + a, ifname: net.members[0]!.ifname, address: `${up.host(j, 1)}/${up.netLen}` }, b: { ns: prefix + b, ifname: net.members[1]!.ifname, address: `${up.host(j, 2)}/${up.netLen}` } });
    }
  }
  const netsOf = (e: string) => networks.filter((n) => n.members.some((m) => m.element === e) || n.name === e);
  const memberOf = (net: Network, e: string) => net.members.find((m) => m.element === e);

  const problems: ConfigProblem[] = [];
  const insideNets = new Map<string, Set<string>>();
  const routers: ModelRouter[] = t.routers.map((r) => {
    const nets = networks.filter((n) => memberOf(n, r.name) !== undefined);
    let nat: ModelRouter['nat'] = null;
    if (r.natOutside !== null) {
      const out = nets.find((n) => n.name === r.natOutside || (n.kind === 'p2p' && memberOf(n, r.natOutside!) !== undefined))!;
      const m = memberOf(out, r.name)!;
      nat = { outsideIf: m.ifname, outsideAddr: m.address };
      insideNets.set(r.name, new Set(nets.filter((n) => n !== out).map((n) => n.name)));
    }
    return { name: r.name, ns: prefix + r.name, interfaces: nets.map((n) => ({ ifname: memberOf(n, r.name)!.ifname, address: `${memberOf(n, r.name)!.address}/${n.prefixLen}`, network: n.name })), routes: [], nat };
  });
  for (const r of routers) {
    if (r.nat === null) continue;
    const outNet = r.interfaces.find((i) => i.ifname === r.nat!.outsideIf)!.network;
    for (const [other, inside] of insideNets) {
      if (other !== r.name && inside.has(outNet)) problems.push({ field: `routers.${r.name}.nat`, problem: `its outside network ${outNet} is inside NAT router ${other}; nested NAT is not supported` });
    }
  }
  const routerNames = new Set(t.routers.map((r) => r.name));
  // Underlay routes: breadth-first over routers. A NAT router entered from its outside does
  // not pass traffic to (or reveal) its inside networks, as a real masquerading router would not.
  for (const r of routers) {
    const attached = new Set(r.interfaces.map((i) => i.network));
    const via = new Map<string, string | null>([[r.name, null]]);
    const blocked = new Set<string>();
    const queue = [r.name];
    while (queue.length > 0) {
      const u = queue.shift()!;
      for (const net of networks.filter((n) => memberOf(n, u) !== undefined)) {
        if (blocked.has(u) && insideNets.get(u)?.has(net.name)) continue;
        if (!attached.has(net.name) && !r.routes.some((x) => x.dst === net.subnet)) r.routes.push({ dst: net.subnet, via: via.get(u)! });
        for (const m of net.members) {
          if (!routerNames.has(m.element) || via.has(m.element)) continue;
          via.set(m.element, via.get(u) ?? m.address);
          if (insideNets.has(m.element) && !insideNets.get(m.element)!.has(net.name)) blocked.add(m.element);
          queue.push(m.element);
        }
      }
    }
  }

  const nodes: ModelNode[] = t.nodes.map((n) => {
    const net = netsOf(n.name)[0]!;
    const me = memberOf(net, n.name)!;
    // A NAT router is a gateway only for its inside: public hosts do not route into a NAT.
    const gw = net.members.find((m) => routerNames.has(m.element) && (!insideNets.has(m.element) || insideNets.get(m.element)!.has(net.name)));
    const nat = [...insideNets].find(([, inside]) => inside.has(net.name))?.[0] ?? null;
    return {
      name: n.name,
      ns: prefix + n.name,
      vn: n.vn,
      vnAddr: n.vn.split('/')[0]!,
      routing: n.routing,
      ...(n.routing === 'bgp' ? { bgp: bgpOf(t, n) } : {}),
      logLevel: n.logLevel,
      ikeAuth: n.ikeAuth,
      ...(n.dnssec !== null ? { dnssec: n.dnssec } : {}),
      underlayAddr: me.address,
      underlayPrefixLen: net.prefixLen,
      network: net.name,
      gateway: gw?.address ?? null,
      behindNat: nat,
      vlinks: [],
      staticRoutes: [],
    };
  });
  let dns: ModelDns | undefined;
  if (t.dns !== null) {
    const net = networks.find((n) => n.name === t.dns!.segment)!;
    const gw = net.members.find((m) => routerNames.has(m.element) && (!insideNets.has(m.element) || insideNets.get(m.element)!.has(net.name)));
    const insideOf = (name: string) => [...insideNets].find(([, inside]) => inside.has(name))?.[0] ?? null;
    const r = buildDnsModel(t.dns, prefix, net, gw?.address ?? null, nodes, insideOf, veths);
    dns = r.dns;
    problems.push(...r.problems);
  }
  const node = (name: string) => nodes.find((n) => n.name === name)!;
  const seenFrom = (target: ModelNode, from: ModelNode) =>
    target.behindNat !== null && target.behindNat !== from.behindNat ? routers.find((r) => r.name === target.behindNat)!.nat!.outsideAddr : target.underlayAddr;

  const vpool = parseCidr(t.pools.vlinks)!;
  const vlinks: ModelVlink[] = t.sites !== undefined ? siteVlinks(t) : t.vlinks.map((v, k) => ({ index: k, a: v.ends[0], b: v.ends[1], encap: v.encap, suite: v.suite }));
  const sites = t.sites !== undefined && dns !== undefined ? buildSites(t.sites, dns.zone) : undefined;
  const crossing = new Map<string, Set<string>>();
  for (const v of vlinks) {
    const [a, b] = [node(v.a), node(v.b)];
    const [la, lb] = [ip(vpool.addr + 2 * v.index), ip(vpool.addr + 2 * v.index + 1)];
    const end = (me: ModelNode, peer: ModelNode, mine: string, theirs: string, spiIn: number, spiOut: number): VlinkEnd => ({
      ifname: `vl-${peer.name}`,
      peer: peer.name,
      address: `${mine}/31`,
      peerLinkAddr: theirs,
      peerUnderlay: seenFrom(peer, me),
      encap: v.encap,
      suite: v.suite,
      spiIn,
      spiOut,
      keyIn: `${peer.name}-to-${me.name}.key`,
      keyOut: `${me.name}-to-${peer.name}.key`,
      psk: `${a.name}-${b.name}.psk`,
      peerId: peer.underlayAddr,
      ikeRole: me.behindNat !== peer.behindNat ? (me.behindNat !== null ? 'initiator' : peer.behindNat !== null ? 'responder' : 'auto') : 'auto',
      ikeAuth: me.ikeAuth ?? 'psk',
      privateKey: `${me.name}.key`,
      peerPublicKey: `${peer.name}.pub`,
    });
    const [ea, eb] = [end(a, b, la, lb, vlinkSpi(v.index, 2), vlinkSpi(v.index, 1)), end(b, a, lb, la, vlinkSpi(v.index, 1), vlinkSpi(v.index, 2))];
    if (v.kx !== undefined && sites !== undefined) {
      makeKxEnd(ea, v, 'a', sites);
      makeKxEnd(eb, v, 'b', sites);
    }
    // A site with several gateways: the initiating end has one TUN, whichever gateway answers it.
    if (v.kx?.standby !== true) a.vlinks.push(ea);
    if (v.kx?.impostor !== true) b.vlinks.push(eb);
    for (const [x, y] of [[a, b], [b, a]] as const) {
      if (x.behindNat !== null && x.behindNat !== y.behindNat) {
        if (v.encap !== 'udp') problems.push({ field: `vlinks[${v.index}].encap`, problem: `${x.name} is behind NAT router ${x.behindNat}; a vlink crossing NAT must use encap udp` });
        crossing.set(x.behindNat, (crossing.get(x.behindNat) ?? new Set()).add(x.name));
      }
    }
  }
  for (const [r, behind] of crossing) {
    if (behind.size > 1) {
      problems.push({ field: `routers.${r}.nat`, problem: `nodes ${[...behind].join(', ')} are all behind it and have vlinks across it; outside peers would see them at the same address and port, so only one may` });
    }
  }
  if (problems.length > 0) throw new ConfigErrors(problems, undefined, 'IIPTRAN_ERR_TOPOLOGY');

  // Static routes: shortest vlink path (breadth-first, file order breaks ties).
  for (const n of nodes) {
    if (n.routing !== 'static') continue;
    const first = new Map<string, VlinkEnd | null>([[n.name, null]]);
    const queue = [n];
    while (queue.length > 0) {
      const u = queue.shift()!;
      for (const e of u.vlinks) {
        if (first.has(e.peer)) continue;
        const hop = first.get(u.name) ?? n.vlinks.find((x) => x.peer === e.peer)!;
        first.set(e.peer, hop);
        queue.push(node(e.peer));
        n.staticRoutes.push({ dst: node(e.peer).vn, via: hop.peerLinkAddr, dev: hop.ifname });
      }
    }
  }

  const segments: ModelSegment[] = t.segments.map((s) => ({ name: s, ns: prefix + s, ports: networks.find((n) => n.name === s)!.members.map((m) => `p-${m.element}`) }));
  const model: LabModel = { name: t.name, nsPrefix: prefix, keying: t.keying, suite: t.suite, bfd: t.bfd, ospf: t.ospf, ...(t.nodes.some((n) => n.routing === 'bgp') ? { bgpHold: t.bgp.hold, ...(t.bgp.mode === 'ibgp' ? { bgpMode: 'ibgp' as const } : {}) } : {}), liveness: t.liveness, underlayMtu: t.underlayMtu, vnPrefixes: labVnPrefixes(t), nodes, routers, segments, networks, vlinks, veths, ...(dns ? { dns } : {}), ...(sites ? { sites } : {}) };
  if (t.dhcp !== undefined) addDhcp(t, model);
  addIpv6(t, model);
  if (up.family === 6) model.underlayFamily = 6;
  return model;
}

/**
 * The lab's VN address space, guarded on every node: the VN pool (node addresses), the vlink
 * pool (link /31s) and any explicit node VN prefix outside them. Widest first, so a prefix
 * inside one already listed is left out (vn_prefixes must not overlap).
 */
export function labVnPrefixes(t: Topology): string[] {
  const net = (s: string) => {
    const c = parseCidr(s)!;
    return `${u32ToIpv4((c.addr & prefixMask(c.prefixLen)) >>> 0)}/${c.prefixLen}`;
  };
  const all = [t.pools.vn, t.pools.vlinks, ...t.nodes.filter((n) => n.vn !== 'dhcp').map((n) => n.vn)].map(net);
  const byWidth = [...new Set(all)].sort((a, b) => parseCidr(a)!.prefixLen - parseCidr(b)!.prefixLen);
  const out: string[] = [];
  for (const p of byWidth) if (!coveredBy(p, out)) out.push(p);
  return out;
}

/** eBGP: node k (file order) is AS asn_base + k. iBGP: every node is AS asn_base, reflectors marked. */
function bgpOf(t: Topology, n: Topology['nodes'][number]): NonNullable<ModelNode['bgp']> {
  if (t.bgp.mode === 'ibgp') return { daemon: n.bgpDaemon, asn: t.bgp.asnBase, ...(t.bgp.reflectors.includes(n.name) ? { rr: true } : {}) };
  return { daemon: n.bgpDaemon, asn: t.bgp.asnBase + t.nodes.indexOf(n) + 1 };
}
