// What a running lab looks like right now: per node, whether its daemons answer, each vlink's
// state from the control socket, OSPF neighbours from BIRD's control socket, and which other VN prefixes
// have a kernel route. Shared by `lab status` and the convergence wait of `lab up`.

import os from 'node:os';
import { createHash } from 'node:crypto';
import { controlCall } from '../control/control-client.js';
import { table } from './table.js';
import { parseOspfNeighbors, type OspfNeighbor } from './bird.js';
import { birdCommand } from './bird-ctl.js';
import { nodeRoutes, rssKiB } from './node-proc.js';
import { mapLimit, probeConcurrency } from './waves.js';
import type { LabState } from './state.js';
import { faultKey } from './fault.js';
import type { Routing } from './topology.js';
import { routingProtocol } from './topology.js';
import { routingDaemon } from './topology-model.js';
import { frrDown, frrOspfNeighbors } from './frr-status.js';
import { bgpSessions, type BgpSession } from './bgp-status.js';
import { alive } from './detached.js';
import { withLeases } from './dhcp-status.js';
import { BIRD_OSPF2_NEIGHBORS, nodeRoutes6, ospf3Neighbors } from './status6.js';
import { expectedUp, vlinkIfnames } from './kx-sites.js';

export interface NodeStatus {
  node: string;
  ns: string;
  vn: string;
  underlay: string;
  routing: Routing;
  daemon: boolean;
  /** null unless the node runs BIRD; false when BIRD does not answer on its control socket. */
  bird: boolean | null;
  /** null unless the node runs FRR; false when one of its daemons does not answer on its vty socket. */
  frr?: boolean | null;
  /** routing bgp: one session per vlink. */
  sessions?: BgpSession[];
  links: { name: string; state: string; peer: string }[];
  neighbors: OspfNeighbor[];
  /** Dual stack: OSPFv3 neighbours (status6.ts). */
  neighbors6?: OspfNeighbor[];
  /** Other nodes whose VN prefix has a kernel route here. */
  routesTo: string[];
  /** Dual stack: other nodes whose IPv6 VN prefix has a kernel route here. */
  routesTo6?: string[];
  /** Digest of those routes with their next hops: convergence waits until it stops changing. */
  routeDigest: string;
  /** Resident memory of the node's daemons in KiB (null: not running; bird null too for static routing). */
  rssKiB: { iiptran: number | null; bird: number | null; frr?: number | null };
}

export interface VlinkStatus {
  a: string;
  b: string;
  encap: string;
  stateA: string;
  stateB: string;
  /** OSPF state seen from each end, null for static links. */
  ospfA: string | null;
  ospfB: string | null;
  /** Dual stack: the OSPFv3 state seen from each end, null for static links. */
  ospf6A?: string | null;
  ospf6B?: string | null;
  /** BGP session state seen from each end, null unless the vlink runs BGP. */
  bgpA?: string | null;
  bgpB?: string | null;
  fault: boolean;
  /** A site lab (kx-sites.ts): a less preferred gateway's end (down while the preferred one answers), or an impostor's vlink (refused); neither is expected up. */
  kx?: 'standby' | 'impostor';
}

export interface LabStatus {
  name: string;
  status: LabState['status'];
  nodes: NodeStatus[];
  vlinks: VlinkStatus[];
  faults: [string, string][];
  /** The lab DNS service, when there is one (`lab dns NAME show` has the details). */
  dns?: { zone: string; server: string; running: boolean; serial: number; signed: boolean; breaks: Record<string, string> };
}

const isFull = (s: string | null) => s !== null && s.startsWith('Full');

async function nodeStatus(s: LabState, name: string): Promise<NodeStatus> {
  const m = s.model.nodes.find((n) => n.name === name)!;
  const p = s.nodes[name]!;
  const daemon = routingDaemon(m);
  const st: NodeStatus = { node: name, ns: m.ns, vn: m.vn, underlay: m.underlayAddr, routing: m.routing, daemon: false, bird: daemon === 'bird' ? false : null, frr: daemon === 'frr' ? false : null, links: [], neighbors: [], routesTo: [], routeDigest: '', rssKiB: { iiptran: rssKiB(s, name, 'iiptran'), bird: rssKiB(s, name, 'bird'), frr: rssKiB(s, name, 'frr') } };
  const frrDir = p.frrDir ?? null;
  const [links, birdc, routes, frrMissing, frrNbs, sessions, nbs6, routes6] = await Promise.all([
    controlCall(p.socket, 'show', { what: 'links' }, 5000).catch(() => null),
    // With OSPFv3 beside it (status6.ts) BIRD wants the protocol named.
    p.birdSocket === null || m.routing !== 'bird' ? null : birdCommand(p.birdSocket, m.vn6 === undefined ? 'show ospf neighbors' : BIRD_OSPF2_NEIGHBORS, 5000).catch(() => null),
    nodeRoutes(s, name),
    frrDir === null ? null : frrDown(s.model, m, frrDir),
    frrDir === null || m.routing !== 'frr' ? null : frrOspfNeighbors(frrDir),
    m.routing === 'bgp' ? bgpSessions(s.model, m, p) : null,
    ospf3Neighbors(m, p),
    m.vn6 === undefined ? null : nodeRoutes6(s, name),
  ]);
  if (m.vn6 !== undefined) st.neighbors6 = nbs6 ?? [];
  if (frrMissing !== null) st.frr = frrMissing.length === 0;
  if (frrNbs !== null) st.neighbors = frrNbs;
  if (m.routing === 'bgp') {
    st.sessions = sessions ?? [];
    if (daemon === 'bird') st.bird = sessions !== null;
  }
  if (links !== null) {
    st.daemon = true;
    st.links = (links as { links: { name: string; state: string }[] }).links.map((l) => ({ name: l.name, state: l.state, peer: l.name.replace(/^vl-/, '') }));
  }
  if (birdc !== null && birdc.code < 8000) {
    st.bird = true;
    st.neighbors = parseOspfNeighbors(birdc.text);
  }
  if (routes !== null) {
    const rts = routes;
    const dsts = new Set(rts.map((r) => r.dst));
    st.routesTo = s.model.nodes.filter((o) => o.name !== name && dsts.has(o.vn)).map((o) => o.name);
    const vns = new Set(s.model.nodes.map((o) => o.vn));
    const rts6 = routes6 ?? [];
    if (m.vn6 !== undefined) {
      const d6 = new Set(rts6.map((r) => r.dst));
      st.routesTo6 = s.model.nodes.filter((o) => o.name !== name && o.vn6 !== undefined && d6.has(o.vn6)).map((o) => o.name);
      for (const o of s.model.nodes) if (o.vn6 !== undefined) vns.add(o.vn6);
    }
    const hops = [...rts, ...rts6].filter((r) => vns.has(r.dst)).map((r) => `${r.dst} ${[r, ...(r.nexthops ?? [])].map((h) => `${h.dev ?? ''}/${h.gateway ?? ''}`).join(',')}`);
    st.routeDigest = createHash('sha256').update(hops.sort().join('\n')).digest('hex').slice(0, 16);
  }
  return st;
}

/** Probes every node, a bounded number at a time: 100 nodes probed at once starve the daemons that must answer. */
export async function labStatus(lab: LabState, concurrency = probeConcurrency(os.availableParallelism())): Promise<LabStatus> {
  // Leased VN addresses are read from the daemons (dhcp-status.ts).
  const s = await withLeases(lab);
  const nodes = await mapLimit(s.model.nodes, concurrency, (n) => nodeStatus(s, n.name));
  const by = new Map(nodes.map((n) => [n.node, n]));
  const faults = new Set(s.faults.map(([a, b]) => faultKey(a, b)));
  const vlinks = s.model.vlinks.map((v) => {
    const end = (me: string, ifname: string | null) => {
      const n = by.get(me)!;
      // An impostor's target answers it on its vlink to the claimed site: it has no end of its own.
      if (ifname === null) return { state: 'none (impostor)', ospf: null, bgp: null, ospf6: null };
      const link = n.links.find((l) => l.name === ifname);
      const nb = n.neighbors.find((x) => x.iface === ifname);
      const bgp = n.routing === 'bgp' ? bgpEndState(n.sessions?.find((x) => x.iface === ifname)) : null;
      const nb6 = n.neighbors6?.find((x) => x.iface === ifname);
      const ospf6 = n.neighbors6 === undefined || routingProtocol(n.routing) !== 'ospf' ? null : (nb6?.state ?? 'none');
      return { state: n.daemon ? (link?.state ?? 'missing') : 'no daemon', ospf: routingProtocol(n.routing) === 'ospf' ? (nb?.state ?? 'none') : null, bgp, ospf6 };
    };
    const [ifA, ifB] = vlinkIfnames(v);
    const [ea, eb] = [end(v.a, ifA), end(v.b, ifB)];
    const kx = v.kx?.impostor ? { kx: 'impostor' as const } : v.kx?.standby ? { kx: 'standby' as const } : {};
    const six = ea.ospf6 !== null || eb.ospf6 !== null ? { ospf6A: ea.ospf6, ospf6B: eb.ospf6 } : {};
    return { a: v.a, b: v.b, encap: v.encap, stateA: ea.state, stateB: eb.state, ospfA: ea.ospf, ospfB: eb.ospf, ...six, bgpA: ea.bgp, bgpB: eb.bgp, fault: faults.has(faultKey(v.a, v.b)), ...kx };
  });
  const nsd = s.processes.find((p) => p.role === 'nsd');
  const dns = s.model.dns && s.dns
    ? { dns: { zone: s.model.dns.zone, server: s.model.dns.address, running: nsd !== undefined && alive(nsd.pid), serial: s.dns.serial, signed: s.dns.signed, breaks: s.dns.breaks } }
    : {};
  return { name: s.name, status: s.status, nodes, vlinks, faults: s.faults, ...dns };
}

/** Nodes joined to `name` by vlinks: the set its VN traffic can reach at all. */
export function component(s: LabState, name: string): string[] {
  const seen = new Set([name]);
  const queue = [name];
  while (queue.length > 0) {
    const u = queue.shift()!;
    for (const v of s.model.vlinks) {
      if (!expectedUp(v)) continue;
      const o = v.a === u ? v.b : v.b === u ? v.a : null;
      if (o !== null && !seen.has(o)) {
        seen.add(o);
        queue.push(o);
      }
    }
  }
  seen.delete(name);
  return [...seen];
}

/** What is not (yet) up, each with the log to read. Empty when routing has converged. */
export function problems(s: LabState, st: LabStatus): string[] {
  const out: string[] = [];
  const logOf = (n: string) => s.nodes[n]!.log;
  const birdLogOf = (n: string) => s.nodes[n]!.birdLog ?? s.nodes[n]!.frrLog;
  for (const n of st.nodes) {
    if (!n.daemon) out.push(`node ${n.node}: iiptran daemon does not answer on ${s.nodes[n.node]!.socket}; see ${logOf(n.node)}`);
    if (n.bird === false) out.push(`node ${n.node}: BIRD does not answer on ${s.nodes[n.node]!.birdSocket}; see ${birdLogOf(n.node)}`);
    if (n.frr === false) out.push(`node ${n.node}: an FRR daemon does not answer on its vty socket in ${s.nodes[n.node]!.frrDir}; see ${birdLogOf(n.node)}`);
  }
  if (st.dns !== undefined && !st.dns.running) out.push(`DNS server ${st.dns.server} (NSD) is not running; see ${s.dns!.dir}/nsd.log`);
  for (const v of st.vlinks) {
    if (v.fault || v.kx !== undefined) continue;
    for (const [me, peer, state, ospf, bgp] of [[v.a, v.b, v.stateA, v.ospfA, v.bgpA], [v.b, v.a, v.stateB, v.ospfB, v.bgpB]] as const) {
      if (state !== 'up' && state !== 'no daemon') out.push(`vlink ${me}/vl-${peer} is ${state}: no authentic packet from ${peer}; see ${logOf(me)} and ${logOf(peer)}`);
      if (ospf !== null && !isFull(ospf)) out.push(`OSPF adjacency ${me}/vl-${peer} -> ${peer} is ${ospf}, not Full; see ${birdLogOf(me)}`);
      const ospf6 = me === v.a ? v.ospf6A : v.ospf6B;
      if (ospf6 !== null && ospf6 !== undefined && !isFull(ospf6)) out.push(`OSPFv3 adjacency ${me}/vl-${peer} -> ${peer} is ${ospf6}, not Full; see ${birdLogOf(me)}`);
      if (bgp !== null && bgp !== undefined && bgp !== 'Established') out.push(`BGP session ${me}/vl-${peer} -> ${peer} is ${bgp}, not Established; see ${birdLogOf(me)}`);
    }
  }
  for (const n of st.nodes) {
    const missing = component(s, n.node).filter((o) => !n.routesTo.includes(o));
    if (missing.length > 0 && n.daemon) out.push(`node ${n.node}: no route to the VN prefix of ${missing.join(', ')}`);
    const missing6 = n.routesTo6 === undefined ? [] : component(s, n.node).filter((o) => !n.routesTo6!.includes(o));
    if (missing6.length > 0 && n.daemon) out.push(`node ${n.node}: no IPv6 route to the VN prefix of ${missing6.join(', ')}`);
  }
  return out;
}

export function renderStatus(st: LabStatus, reach?: Map<string, string[]>): string {
  // A site lab's initiating end is one TUN for all of a site's gateways; an impostor's target has none.
  const ends = (node: string) => st.vlinks.filter((v) => (v.a === node && v.kx !== 'standby') || (v.b === node && v.kx !== 'impostor')).length;
  const nodes = table(
    ['NODE', 'NAMESPACE', 'VN PREFIX', 'UNDERLAY', 'ROUTING', 'DAEMONS', 'VLINKS UP', 'OSPF FULL / BGP UP', reach ? 'VN REACHABLE' : 'VN ROUTES'],
    st.nodes.map((n) => {
      const full = n.routing === 'bgp' ? (n.sessions ?? []).filter((x) => x.state === 'Established').length : n.neighbors.filter((x) => isFull(x.state)).length;
      const others = st.nodes.length - 1;
      return [
        n.node,
        n.ns,
        n.vn,
        n.underlay,
        n.routing,
        `iiptran:${n.daemon ? 'ok' : 'DOWN'}${n.bird === null ? '' : ` bird:${n.bird ? 'ok' : 'DOWN'}`}${n.frr === null || n.frr === undefined ? '' : ` frr:${n.frr ? 'ok' : 'DOWN'}`}`,
        `${n.links.filter((l) => l.state === 'up').length}/${ends(n.node)}`,
        n.routing !== 'static' ? `${full}/${ends(n.node)}` : '-',
        reach ? `${reach.get(n.node)?.length ?? 0}/${others}` : `${n.routesTo.length}/${others}`,
      ];
    }),
  );
  const vlinks = table(
    ['VLINK (A <-> B)', 'ENCAP', 'STATE (A | B)', 'OSPF NEIGHBOUR / BGP SESSION (A | B)', 'FAULT'],
    st.vlinks.map((v) => [`${v.a} <-> ${v.b}${v.kx === undefined ? '' : ` (${v.kx})`}`, v.encap, `${v.stateA} | ${v.stateB}`, v.ospfA !== null ? `${v.ospfA} | ${v.ospfB ?? '-'}${v.ospf6A != null ? ` (v3 ${v.ospf6A} | ${v.ospf6B ?? '-'})` : ''}` : v.bgpA !== null && v.bgpA !== undefined ? `bgp ${v.bgpA} | ${v.bgpB}` : 'static', v.fault ? 'underlay cut (lab link ... down)' : '-']),
  );
  const d = st.dns;
  const dns = d === undefined ? '' : `\nDNS: zone ${d.zone}. served by NSD on ${d.server} (${d.running ? 'running' : 'NOT running'}), serial ${d.serial}, ${d.signed ? 'signed' : 'UNSIGNED'}${Object.keys(d.breaks).length > 0 ? `, broken: ${Object.entries(d.breaks).map(([h, m]) => `${h} ${m}`).join(', ')}` : ''}\n`;
  return `lab ${st.name} (${st.status})\n\n${nodes}\n\n${vlinks}\n${dns}`;
}

/** A vlink end's BGP state: `Established` only when its IPv6 session (dual stack) is too. */
function bgpEndState(x: BgpSession | undefined): string {
  if (x === undefined) return 'none';
  if (x.state6 === undefined || x.state6 === x.state) return x.state;
  return `${x.state}, IPv6 ${x.state6}`;
}
