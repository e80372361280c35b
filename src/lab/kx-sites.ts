// Sites in the lab model (issue #8): each site is a domain of the lab zone whose KX records name
// its gateways (RFC 2230), each gateway with an A record and its public key as IPSECA at
// _500.<gateway> (draft-osterweil-dane-ipsec). A vlink joins two sites: its single-gateway end
// finds the other site's gateway by KX (`peer_domain`) and initiates; a site with several
// gateways answers on all of them, and the vlink is up on whichever one the KX records prefer
// and answers. Nodes hold their own key and the trust anchor, and nothing about their peers.

import type { Topology } from './topology.js';
import type { TopoSite } from './topology-sites.js';
import { siteRoles } from './topology-sites.js';
import type { LabModel, ModelVlink, VlinkEnd } from './topology-model.js';

export interface ModelGateway {
  node: string;
  preference: number;
  /** <node>.<site>.<zone>: the exchanger KX names; A and IPSECA (_500.<fqdn>) are published there. */
  fqdn: string;
}

export interface ModelSite {
  name: string;
  /** <site>.<zone>: the peer_domain its peers name, and its gateways' IKE identity (ID_FQDN). */
  domain: string;
  /** Most preferred first; equal preferences in name order, as the node's KX selector orders them. */
  gateways: ModelGateway[];
  /** Nodes that claim the site (local_id = its domain) but are not named by its KX records. Published like gateways, minus KX. */
  impostors: { node: string; fqdn: string }[];
}

/** What a vlink of a site lab is: which sites it joins, and which expansion of it this is. */
export interface KxVlink {
  siteA: string;
  siteB: string;
  /** A less preferred gateway of b's site: a's end is the preferred one's; this one is expected down while that one answers. */
  standby: boolean;
  /** a is an impostor of siteA: only a's end exists; siteB's gateways answer it with their vlink to siteA, and refuse it. */
  impostor: boolean;
  /** TUN names: vl-<the other end's site>; ifB null for an impostor. */
  ifA: string;
  ifB: string | null;
}

/** A vlink end that finds its peer by KX: `peer_domain` and `local_id`, `auth: dns`. */
export interface KxEnd {
  peerDomain: string;
  localDomain: string;
}

export const gatewayFqdn = (node: string, site: string, zone: string) => `${node}.${site}.${zone}`;

export function buildSites(sites: TopoSite[], zone: string): ModelSite[] {
  return sites.map((s) => ({
    name: s.name,
    domain: `${s.name}.${zone}`,
    gateways: [...s.gateways].sort((x, y) => x.preference - y.preference || x.node.localeCompare(y.node)).map((g) => ({ ...g, fqdn: gatewayFqdn(g.node, s.name, zone) })),
    impostors: s.impostors.map((node) => ({ node, fqdn: gatewayFqdn(node, s.name, zone) })),
  }));
}

/**
 * The model's vlinks for a site topology (already checked by topology-sites.ts). Each topology
 * vlink k keeps its index (one /31): a vlink to a site with several gateways becomes one model
 * vlink per gateway, sharing that /31, all but the preferred one marked standby. The end that
 * initiates is `a`: the single-gateway end (or the impostor), else the first one written.
 */
export function siteVlinks(t: Topology): ModelVlink[] {
  const sites = t.sites!;
  const roles = siteRoles(sites);
  const site = (name: string) => sites.find((s) => s.name === name)!;
  const gws = (name: string) => [...site(name).gateways].sort((x, y) => x.preference - y.preference || x.node.localeCompare(y.node)).map((g) => g.node);
  const out: ModelVlink[] = [];
  t.vlinks.forEach((v, index) => {
    const ends = v.ends.map((e) => (roles.has(e) ? { site: roles.get(e)!.site, nodes: [e], impostor: roles.get(e)!.impostor } : { site: e, nodes: gws(e), impostor: false }));
    // The single or impostor end initiates; a multi-gateway site only answers (KX-CONTRACT "role").
    const [x, y] = ends[1]!.impostor || (ends[0]!.nodes.length > 1 && !ends[0]!.impostor) ? [ends[1]!, ends[0]!] : [ends[0]!, ends[1]!];
    // An impostor's vlink has only its own end: record it once, towards the preferred gateway.
    (x.impostor ? y.nodes.slice(0, 1) : y.nodes).forEach((b, i) => {
      const kx: KxVlink = { siteA: x.site, siteB: y.site, standby: i > 0, impostor: x.impostor, ifA: `vl-${y.site}`, ifB: x.impostor ? null : `vl-${x.site}` };
      out.push({ index, a: x.nodes[0]!, b, encap: v.encap, suite: v.suite, kx });
    });
  });
  return out;
}

/** Turns a model vlink end of a site vlink into a KX end: TUN vl-<peer site>, role, domains. */
export function makeKxEnd(e: VlinkEnd, v: ModelVlink, side: 'a' | 'b', sites: ModelSite[]): void {
  const kx = v.kx!;
  const domain = (s: string) => sites.find((x) => x.name === s)!.domain;
  e.ifname = side === 'a' ? kx.ifA : kx.ifB!;
  e.ikeRole = side === 'a' ? 'initiator' : 'responder';
  e.kx = side === 'a' ? { localDomain: domain(kx.siteA), peerDomain: domain(kx.siteB) } : { localDomain: domain(kx.siteB), peerDomain: domain(kx.siteA) };
}

/** The site a node is a gateway or impostor of. */
export function siteOf(m: Pick<LabModel, 'sites'>, node: string): { site: ModelSite; fqdn: string; impostor: boolean } | null {
  for (const s of m.sites ?? []) {
    const g = s.gateways.find((x) => x.node === node);
    if (g !== undefined) return { site: s, fqdn: g.fqdn, impostor: false };
    const i = s.impostors.find((x) => x.node === node);
    if (i !== undefined) return { site: s, fqdn: i.fqdn, impostor: true };
  }
  return null;
}

/** The TUN names of a model vlink's two ends (null: that end has none, an impostor's target). */
export function vlinkIfnames(v: ModelVlink): [string, string | null] {
  return v.kx === undefined ? [`vl-${v.b}`, `vl-${v.a}`] : [v.kx.ifA, v.kx.ifB];
}

/** Vlinks expected up once the lab has converged: not a standby gateway's, not an impostor's. */
export const expectedUp = (v: ModelVlink) => v.kx === undefined || (!v.kx.standby && !v.kx.impostor);
