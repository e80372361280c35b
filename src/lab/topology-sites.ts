// The `sites:` section of a topology file: sites as domains of the lab zone (RFC 2230 KX
// delegation, issue #8). Each site names its gateways (the exchangers its KX records list, with
// their preferences) and, for tests, impostors: nodes that claim the site without being named
// by its KX records. Syntax, defaults and the checks that need the nodes and vlinks; what the
// sites publish and how vlinks use them is in kx-sites.ts.

import type { Path } from '../control/yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from '../control/yaml-validator.js';

export const SITE_FIELDS = ['gateways', 'impostors'];
/** KX PREFERENCE is 16 bits (RFC 2230 §3.1). */
export const KX_PREFERENCE_MAX = 65535;

export interface TopoGateway {
  node: string;
  preference: number;
}

export interface TopoSite {
  name: string;
  /** In file order; the zone's KX records, each naming <node>.<site>.<zone>. */
  gateways: TopoGateway[];
  /** Nodes that claim to be this site (IDi = its domain) from addresses its KX records do not name. */
  impostors: string[];
}

/** Where a node stands: the gateway of a site, or an impostor claiming one. */
export interface SiteRole {
  site: string;
  impostor: boolean;
}

/**
 * Parses `sites:`. `nodes` are the declared node names; the caller checks that site names do
 * not collide with other elements.
 */
export function parseSitesSection(v: SchemaValidator, raw: unknown, nodes: string[], nameRe: RegExp): TopoSite[] {
  const path: Path = ['sites'];
  const o: Obj | undefined = v.mapping(raw, path, null);
  if (o === undefined) return [];
  const sites: TopoSite[] = [];
  const taken = new Map<string, string>();
  for (const [name, val] of Object.entries(o)) {
    const p: Path = ['sites', name];
    if (!nameRe.test(name)) {
      v.err(p, 'site name must be 1..12 of a-z 0-9 "-", starting with a letter (it becomes a label of the lab zone and the TUN name vl-<site> at its peers)');
      continue;
    }
    const s = v.mapping(val, p, SITE_FIELDS);
    if (s === undefined) continue;
    const site: TopoSite = { name, gateways: [], impostors: [] };
    const claim = (node: string, at: Path, as: string) => {
      if (!nodes.includes(node)) return v.err(at, `"${node}" is not a declared node`);
      const prev = taken.get(node);
      if (prev !== undefined) return v.err(at, `node ${node} is already ${prev}; a node stands for one site`);
      taken.set(node, `${as} of site ${name}`);
      return true;
    };
    if (!v.present(s, 'gateways')) v.err([...p, 'gateways'], 'is required: a mapping of node name to KX preference, e.g. { b1: 10, b2: 20 }');
    else {
      const g = v.mapping(s['gateways'], [...p, 'gateways'], null);
      for (const [node, pref] of Object.entries(g ?? {})) {
        const at: Path = [...p, 'gateways', node];
        if (typeof pref !== 'number' || !Number.isInteger(pref) || pref < 0 || pref > KX_PREFERENCE_MAX) {
          v.err(at, `must be the KX preference, an integer 0..${KX_PREFERENCE_MAX} (lower is preferred) (got ${describe(pref)})`);
          continue;
        }
        if (claim(node, at, 'a gateway') === true) site.gateways.push({ node, preference: pref });
      }
      if (g !== undefined && Object.keys(g).length === 0) v.err([...p, 'gateways'], 'must name at least one gateway node');
    }
    if (v.present(s, 'impostors')) {
      const list = s['impostors'];
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) v.err([...p, 'impostors'], `must be a list of node names (got ${describe(list)})`);
      else list.forEach((node: string, i) => claim(node, [...p, 'impostors', i], 'an impostor') === true && site.impostors.push(node));
    }
    sites.push(site);
  }
  if (sites.length === 0 && Object.keys(o).length === 0) v.err(path, 'must declare at least one site');
  return sites;
}

/** ike_auth dns publishes keys only as IPSECA, which the sites' records are: each needs the other. */
export function checkSiteAuth(v: SchemaValidator, withSites: boolean, top: string, nodes: { name: string; ikeAuth: string }[]): void {
  const rule = (a: string) => (withSites && a !== 'dns' ? `must be dns with sites (their gateways' keys are published only as IPSECA); got ${a}` : !withSites && a === 'dns' ? 'dns (keys published only as IPSECA) needs a sites: section' : null);
  if (rule(top) !== null) v.err(['ike_auth'], rule(top)!);
  for (const n of nodes) if (n.ikeAuth !== top && rule(n.ikeAuth) !== null) v.err(['nodes', n.name, 'ike_auth'], rule(n.ikeAuth)!);
}

/** A site's name is a TUN name (vl-<site>) at its peers and a label beside the nodes' own in the zone. */
export function checkSiteNames(v: SchemaValidator, sites: TopoSite[], kind: Map<string, string>, reserved: string): void {
  for (const s of sites) {
    if (kind.has(s.name)) v.err(['sites', s.name], `name "${s.name}" is already used by a ${kind.get(s.name)}; sites, nodes, routers and segments share one namespace`);
    if (s.name === reserved) v.err(['sites', s.name], `the name "${reserved}" is the lab DNS server's; rename this site`);
  }
}

export function siteRoles(sites: TopoSite[]): Map<string, SiteRole> {
  const roles = new Map<string, SiteRole>();
  for (const s of sites) {
    for (const g of s.gateways) roles.set(g.node, { site: s.name, impostor: false });
    for (const i of s.impostors) roles.set(i, { site: s.name, impostor: true });
  }
  return roles;
}

/** The nodes a vlink end stands for: a site's gateways, or the node itself. */
export function endNodes(sites: TopoSite[], end: string): string[] {
  return sites.find((s) => s.name === end)?.gateways.map((g) => g.node) ?? [end];
}

/**
 * What sites need of the rest of the topology, and the vlink rules: every node stands for a
 * site; a vlink joins two different sites, at most one of them with several gateways (named
 * by the site, since it goes to whichever gateway the KX records prefer); one vlink per pair
 * of sites; an impostor's vlink goes to a real site.
 */
export function checkSites(
  v: SchemaValidator,
  t: { sites: TopoSite[]; nodes: { name: string; routing: string }[]; keying: string; hasDns: boolean; fullMesh: boolean; vlinks: { ends: [string, string] }[] },
): void {
  if (!t.hasDns) v.err(['sites'], 'needs a dns: section: the sites are domains of the lab zone, published by the lab DNS service');
  if (t.keying !== 'ikev2') v.err(['sites'], 'needs keying: ikev2 (KX names the gateways IKE negotiates with, and IPSECA holds their keys)');
  const roles = siteRoles(t.sites);
  for (const n of t.nodes) {
    if (!roles.has(n.name)) v.err(['nodes', n.name], 'is in no site: with sites, every node is a gateway (sites.<s>.gateways) or an impostor (sites.<s>.impostors)');
    // The vlink to a site with several gateways moves between them; OSPF follows (BGP would need
    // the same AS at every gateway of a site, static routes would not follow at all).
    if (n.routing !== 'bird' && n.routing !== 'frr') v.err(['nodes', n.name], `needs OSPF routing (bird or frr) with sites, not ${n.routing} (a vlink to a site moves between its gateways; OSPF follows it)`);
  }
  if (t.fullMesh) {
    v.err(['vlinks'], 'must be a list with sites (full-mesh would join gateways of one site, and each gateway of a site separately); name a site with several gateways, e.g. - [a, site-b]');
    return;
  }
  const siteNames = new Set(t.sites.map((s) => s.name));
  const gateways = (s: string) => t.sites.find((x) => x.name === s)!.gateways;
  const seen = new Map<string, number>();
  t.vlinks.forEach((vl, i) => {
    const path: Path = ['vlinks', i];
    const ends = vl.ends.map((e) => (siteNames.has(e) ? { site: e, impostor: false, node: null } : { ...roles.get(e)!, node: e }));
    if (ends.some((e) => e.site === undefined)) return;
    for (const e of ends) {
      if (e.node !== null && !e.impostor && gateways(e.site).length > 1) {
        v.err(path, `names ${e.node}, a gateway of site ${e.site}, which has ${gateways(e.site).length}; name the site (${e.site}) instead: the vlink goes to whichever gateway its KX records prefer`);
      }
    }
    const [x, y] = ends as [(typeof ends)[0], (typeof ends)[0]];
    if (x.site === y.site) return v.err(path, `joins two ends of site ${x.site}; a vlink joins two sites`);
    if (x.impostor && y.impostor) return v.err(path, 'joins two impostors; an impostor\'s vlink goes to a real site');
    const multi = [x, y].filter((e) => !e.impostor && gateways(e.site).length > 1);
    if (multi.length === 2) {
      return v.err(path, `joins sites ${x.site} and ${y.site}, which both have several gateways; each gateway of one would take the vlink over from the other in turn, so one end must be a site with a single gateway`);
    }
    const key = [x, y].map((e) => (e.impostor ? `${e.node}!` : e.site)).sort().join(' ');
    const prev = seen.get(key);
    if (prev !== undefined) return v.err(path, `duplicate vlink between ${x.impostor ? x.node : x.site} and ${y.impostor ? y.node : y.site} (vlinks[${prev}]): one vlink per pair of sites`);
    seen.set(key, i);
  });
}
