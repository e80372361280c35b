// iBGP with route reflectors in a topology (`bgp: {mode: ibgp, route_reflectors: [...]}`): the
// syntax and the rules that make every VN prefix reach every node. Sessions still run over the
// vlinks only, so reachability depends on where the reflectors sit: a client passes on nothing
// it learns over iBGP, and a reflector passes a non-client's routes only to its clients. Hence
// every client has a vlink to a reflector, and the reflectors have vlinks between each other.

import { describe, type Obj, type SchemaValidator } from '../control/yaml-validator.js';

export type BgpMode = 'ebgp' | 'ibgp';
export const BGP_MODES: readonly BgpMode[] = ['ebgp', 'ibgp'];

/** `bgp.route_reflectors`: node names as written (checked against the nodes by checkIbgp). */
export function parseReflectors(v: SchemaValidator, o: Obj, mode: BgpMode): string[] {
  if (!v.present(o, 'route_reflectors')) {
    if (mode === 'ibgp') v.err(['bgp', 'route_reflectors'], 'is required with mode: ibgp (a list of node names, e.g. [a])');
    return [];
  }
  const raw = o['route_reflectors'];
  if (mode !== 'ibgp') {
    v.err(['bgp', 'route_reflectors'], 'is only used with mode: ibgp');
    return [];
  }
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((x) => typeof x === 'string')) {
    v.err(['bgp', 'route_reflectors'], `must be a non-empty list of node names, e.g. [a] (got ${describe(raw)})`);
    return [];
  }
  const names = raw as string[];
  const dup = names.find((x, i) => names.indexOf(x) !== i);
  if (dup !== undefined) v.err(['bgp', 'route_reflectors'], `names ${dup} twice`);
  return names;
}

interface IbgpTopo {
  bgp: { mode: BgpMode; reflectors: string[] };
  nodes: { name: string; routing: string }[];
  vlinks: { ends: [string, string] }[];
}

/** iBGP: reflectors are BGP nodes, each client has a vlink to one, and the reflectors are meshed. */
export function checkIbgp(v: SchemaValidator, t: IbgpTopo): void {
  if (t.bgp.mode !== 'ibgp') return;
  const bgpNodes = t.nodes.filter((n) => n.routing === 'bgp').map((n) => n.name);
  const rr = new Set(t.bgp.reflectors);
  for (const r of rr) {
    if (!t.nodes.some((n) => n.name === r)) v.err(['bgp', 'route_reflectors'], `names ${r}, which is not a node`);
    else if (!bgpNodes.includes(r)) v.err(['bgp', 'route_reflectors'], `names ${r}, whose routing is not bgp`);
  }
  const linked = (a: string, b: string) => t.vlinks.some((l) => (l.ends[0] === a && l.ends[1] === b) || (l.ends[0] === b && l.ends[1] === a));
  for (const n of bgpNodes) {
    if (rr.has(n)) continue;
    if (![...rr].some((r) => linked(n, r))) {
      v.err(['bgp', 'route_reflectors'], `node ${n} has no vlink to a route reflector (${[...rr].join(', ')}); an iBGP client learns routes only from a reflector`);
    }
  }
  const list = [...rr];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      if (!linked(list[i]!, list[j]!)) v.err(['bgp', 'route_reflectors'], `${list[i]} and ${list[j]} have no vlink between them; route reflectors must be joined by vlinks (a reflector does not pass one non-client's routes to another)`);
    }
  }
}
