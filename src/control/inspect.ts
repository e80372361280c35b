// The inspector's data model: stable JSON views of a running node. `iiptran show ... --json`
// prints these verbatim, so field names are an interface: add fields, never rename them.
// Every view carries `schema` (bump only on an incompatible change) and the node name.

import type { InboundSa, OutboundSa } from '../dataplane/sa.js';
import { DROP_REASONS, type DropCounters } from '../dataplane/drop-reasons.js';
import type { KernelNextHop, KernelRoute } from '../io/netsys.js';
import type { Vlink } from '../dataplane/vlink.js';
import { outerHeadersLen } from '../dataplane/mtu.js';
import type { OverlayNode } from './node.js';
import { hex32x } from '../wire/hex.js';
import { GUARD_METRIC, GUARD_ROUTE_PROTO, GUARD_TABLE, type GuardState } from '../io/guard.js';
import { IKE_DROP_REASONS } from '../ike/drop-reasons.js';
import { formatAddr } from '../wire/addr.js';

export const SCHEMA = 1;

export interface OuterHeader {
  src: string;
  dst: string;
  /** 4 (IPv4 inside), or 41 for a route to an IPv6 prefix: ESP's next header, on the same SA. */
  proto: 4 | 41;
  encap: 'udp' | 'esp';
  /** Destination UDP port for encap udp, null for raw ESP. */
  dport: number | null;
}

function outer(v: Vlink, proto: 4 | 41 = 4): OuterHeader {
  return { src: formatAddr(v.local), dst: formatAddr(v.peer), proto, encap: v.encap, dport: v.encap === 'udp' ? v.peerPort : null };
}

function nonZero(d: DropCounters): Record<string, number> {
  const o: Record<string, number> = {};
  for (const r of DROP_REASONS) if (d[r] !== 0) o[r] = d[r];
  return o;
}

export function saView(sa: OutboundSa | InboundSa, vlink: string, now: number) {
  const base = {
    dir: sa.dir,
    spi: hex32x(sa.spi),
    vlink,
    suite: sa.suite,
    keying: sa.keying,
    esn: sa.esn,
    selector: { src: formatAddr(sa.src), dst: formatAddr(sa.dst), proto: 4 as const },
    packets: sa.stats.packets,
    bytes: sa.stats.bytes,
    ageSeconds: Math.round((now - sa.createdAt) / 1000),
  };
  if (sa.dir === 'out') {
    return { ...base, seq: sa.seq, exhausted: sa.exhausted, replayWindow: null, replayDrops: null, icvDrops: null };
  }
  return {
    ...base,
    seq: sa.replay.top,
    exhausted: false,
    replayWindow: sa.replay.size,
    replayDrops: sa.stats.replayDrops,
    icvDrops: sa.stats.icvDrops,
  };
}

/**
 * The data path a vlink runs (README "Data path"): where ESP crypto runs, which offloads the TUN
 * and the underlay socket took, and how many packets the kernel dropped at the TUN.
 */
function pathView(node: OverlayNode, v: Vlink) {
  const udp = v.encap === 'udp';
  return {
    crypto: node.nativeCrypto ? ('native' as const) : ('js' as const),
    tunOffload: v.tun.path?.tunOffload ?? false,
    uso: v.tun.path?.uso ?? false,
    udpGso: udp && (v.underlay.path?.udpGso ?? false),
    udpGro: udp && (v.underlay.path?.udpGro ?? false),
    // Batches the native fast path sealed and sent without JS, and those it handed to JS.
    fastOut: node.fastOut(v),
  };
}

/** tx: packets the kernel dropped before the daemon read them (the TUN queue was full); rx: writes it refused. */
function tunDrops(v: Vlink): { tx: number; rx: number } | null {
  return v.tun.kernelDrops?.() ?? null;
}

export function linksView(node: OverlayNode) {
  node.syncCounters();
  return {
    schema: SCHEMA,
    node: node.cfg.node,
    links: [...node.vlinks.values()].map((v) => ({
      name: v.name,
      state: v.carrier ? 'up' : 'down',
      address: `${v.vnAddr}/${v.vnPeer === undefined ? v.vnPrefixLen : 32}`,
      // The underlay address packets go to; '' while a named peer has never resolved usably.
      peer: v.peerDst.family === 4 && v.peerDst.v4 === 0 ? '' : formatAddr(v.peerDst),
      peerName: node.cfg.vlinks.find((c) => c.name === v.name)?.peerName ?? null,
      dns: node.dns?.linkView(v.name) ?? null,
      // peer_domain (RFC 2230): the domain, its exchangers, the one in use and why.
      kx: node.dns?.kxView(v.name) ?? null,
      peerAddress: v.vnPeer ?? null,
      // IPv6 on the vlink (config-ipv6.ts): null without it.
      address6: node.cfg.vlinks.find((c) => c.name === v.name)?.address6 ?? null,
      linkLocal: node.cfg.vlinks.find((c) => c.name === v.name)?.linkLocal ?? null,
      mtu: v.mtu,
      underlayMtu: node.cfg.underlay.mtu,
      overhead: { outerHeaders: outerHeadersLen(v.encap, v.local.family), espMax: node.cfg.underlay.mtu - outerHeadersLen(v.encap, v.local.family) - v.mtu },
      outer: outer(v),
      spiOut: hex32x(v.policy.sa?.spi ?? 0),
      spiIn: v.inbound.map((s) => hex32x(s.spi)),
      liveness: node.livenessOf(v.name),
      path: pathView(node, v),
      tunDrops: tunDrops(v),
      ...v.stats,
      drops: nonZero(v.drops),
    })),
  };
}

export function policiesView(node: OverlayNode) {
  return {
    schema: SCHEMA,
    node: node.cfg.node,
    default: 'discard',
    policies: node.spd.entries().map((e) => ({
      id: e.id,
      // The vlink's one entry selects IPv4 inside (4) and IPv6 inside (41) alike: inner-v6.ts.
      selector: { src: formatAddr(e.src), dst: formatAddr(e.dst), proto: e.proto, protos: e.proto === 4 ? [4, 41] : [e.proto] },
      action: e.action,
      vlink: e.vlink,
      sa: e.sa === null ? null : hex32x(e.sa.spi),
    })),
  };
}

export function sasView(node: OverlayNode) {
  const now = Date.now();
  const sas = [];
  for (const v of node.vlinks.values()) {
    if (v.policy.sa !== null) sas.push(saView(v.policy.sa, v.name, now));
    for (const s of v.inbound) sas.push(saView(s, v.name, now));
  }
  return { schema: SCHEMA, node: node.cfg.node, sas };
}

export function countersView(node: OverlayNode) {
  node.syncCounters();
  const vlinks: Record<string, Record<string, number>> = {};
  for (const v of node.vlinks.values()) {
    const k = tunDrops(v);
    vlinks[v.name] = { ...v.stats, ...v.drops, tunTxDropped: k?.tx ?? 0, tunRxDropped: k?.rx ?? 0 };
  }
  return {
    schema: SCHEMA,
    node: node.cfg.node,
    reasons: [...DROP_REASONS],
    node_drops: { ...node.nodeDrops },
    vlinks,
  };
}

/** IKE SAs per ikev2 vlink, with their CHILD_SAs (ike/view.ts has the fields). */
export function ikeView(node: OverlayNode) {
  const e = node.ike;
  return {
    schema: SCHEMA,
    node: node.cfg.node,
    // A named peer's resolution beside its IKE state: the same object as in `links`.
    peers: e === null ? [] : e.view().map((p) => ({ ...p, dns: node.dns?.linkView(p.vlink) ?? null, kx: node.dns?.kxView(p.vlink) ?? null })),
    stats: e === null ? { rx: 0, tx: 0, dropped: {} } : { ...e.stats, dropped: { ...e.stats.dropped } },
    /** Every reason `stats.dropped` may name (ike/drop-reasons.ts). */
    reasons: [...IKE_DROP_REASONS],
  };
}

/** Named peers, the resolver's cache with verdicts, and the stub's drop counters (node-dns.ts). */
export function dnsView(node: OverlayNode) {
  const d = node.dns;
  return {
    schema: SCHEMA,
    node: node.cfg.node,
    configured: d !== null,
    ...(d === null ? { servers: [], dnssec: null, trustAnchors: null, peers: [], cache: [], counters: {} } : d.view(node.vlinks.keys())),
  };
}

/** A path of a route: a multipath route's next hop, or an ordinary route's only one. */
type RoutePath = Omit<KernelNextHop, 'ifindex'> & { ifindex: number | null };

/** One path of a route, joined with the vlink it leaves by (all null when it is not a vlink). */
function nextHopView(node: OverlayNode, h: RoutePath, now: number, proto: 4 | 41) {
  const v = h.dev === null ? undefined : node.vlinks.get(h.dev);
  const base = { gateway: h.gateway, dev: h.dev, ifindex: h.ifindex, weight: h.weight, flags: h.flags };
  if (v === undefined) return { ...base, vlink: null, state: null, outer: null, policy: null, saOut: null, saIn: null };
  const pol = node.spd.lookup(v.local, v.peer, 4);
  return {
    ...base,
    vlink: v.name,
    state: v.carrier ? 'up' : 'down',
    outer: outer(v, proto),
    policy: pol === undefined ? null : { id: pol.id, action: pol.action },
    saOut: pol?.sa ? saView(pol.sa, v.name, now) : null,
    saIn: v.inbound.length > 0 ? saView(v.inbound[0]!, v.name, now) : null,
  };
}

/**
 * The signature view: every kernel route joined with the vlink it leaves by, that vlink's
 * outer header, the SPD entry that outer header selects, and the SAs carrying it. `nexthops`
 * has one entry per path: one for an ordinary route (the same as the route's own fields), one
 * per path of a multipath route, whose own per-path fields are then null.
 */
export function routesView(node: OverlayNode, kernel: KernelRoute[], all = false) {
  const now = Date.now();
  const routes = [];
  for (const { multipath, ...r } of kernel) {
    const single = multipath === undefined;
    const paths: RoutePath[] = single
      ? [{ gateway: r.gateway, dev: r.dev, ifindex: r.ifindex, weight: 1, flags: [] }]
      : multipath;
    const nexthops = paths.map((h) => nextHopView(node, h, now, r.family === 6 ? 41 : 4));
    if (!all && nexthops.every((h) => h.vlink === null)) continue;
    const own = single ? nexthops[0]! : null;
    routes.push({
      ...r,
      vlink: own?.vlink ?? null,
      state: own?.state ?? null,
      outer: own?.outer ?? null,
      policy: own?.policy ?? null,
      saOut: own?.saOut ?? null,
      saIn: own?.saIn ?? null,
      nexthops,
    });
  }
  return { schema: SCHEMA, node: node.cfg.node, routes };
}

/**
 * The fail-closed guard (io/guard.ts): what the config asks for beside what the kernel holds,
 * read back at every call. `installed` means every configured prefix has its unreachable route
 * and the nft table holds exactly the configured prefixes and vlinks.
 */
export function guardView(node: OverlayNode, kernel: GuardState | null) {
  const spec = node.guardSpec;
  const want = spec === null ? null : { prefixes: spec.prefixes, allowed: ['lo', ...spec.vlinks] };
  const same = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();
  const installed = want !== null && kernel !== null && kernel.table &&
    want.prefixes.every((p) => kernel.routes.includes(p)) && same(kernel.prefixes, want.prefixes) && same(kernel.allowed, want.allowed);
  return {
    schema: SCHEMA,
    node: node.cfg.node,
    configured: spec !== null,
    installed,
    prefixes: spec?.prefixes ?? [],
    metric: GUARD_METRIC,
    routeProtocol: GUARD_ROUTE_PROTO,
    table: `inet ${GUARD_TABLE}`,
    allowed: want?.allowed ?? [],
    kernel: kernel === null ? null : { table: kernel.table, routes: kernel.routes, prefixes: kernel.prefixes, allowed: kernel.allowed },
    drops: kernel === null
      ? { output: { packets: 0, bytes: 0 }, forward: { packets: 0, bytes: 0 }, packets: 0 }
      : { ...kernel.drops, packets: kernel.drops.output.packets + kernel.drops.forward.packets },
  };
}
