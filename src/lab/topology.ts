// Topology files for `iiptran lab`: the schema, its validation and its defaults. Every
// problem in a file is collected and reported with its field path; the derived model
// (addresses, routes, NAT views) lives in topology-model.ts so this file stays about syntax.

import { readFileSync } from 'node:fs';
import { LOG_LEVELS, type LogLevel, type Suite } from '../control/config-types.js';
import { SUITES } from '../dataplane/suite.js';
import { inPrefix, parseCidr, u32ToIpv4 } from '../wire/addr.js';
import { IiptranError } from '../errors.js';
import { ConfigErrors, parseYaml, type ConfigProblem, type Path, type YamlSource } from '../control/yaml-doc.js';
import { SchemaValidator, describe, type Obj } from '../control/yaml-validator.js';
import { DNS_RESERVED_NAME, DNSSEC_MODES, parseDnsSection, type DnssecMode, type TopoDns } from './topology-dns.js';
import { DHCP_VN, parseTopoDhcp, type TopoDhcp } from './topology-dhcp.js';
import { BGP_MODES, checkIbgp, parseReflectors, type BgpMode } from './topology-bgp.js';
import { checkIpv6Underlay, parseTopoIpv6, underlayPool6, type TopoIpv6 } from './topology-ipv6.js';
import { isIpv6Underlay } from './underlay-pool.js';
import { checkSiteAuth, checkSiteNames, checkSites, endNodes, parseSitesSection, type TopoSite } from './topology-sites.js';

/** Topology problems are the schema module's one error class, under IIPTRAN_ERR_TOPOLOGY. */
export { ConfigErrors as TopologyError, type ConfigProblem as TopologyProblem };

/** static routes; OSPFv2 by BIRD (`bird`) or by FRR (`frr`); eBGP per vlink (`bgp`, daemon by bgp_daemon). */
export type Routing = 'static' | 'bird' | 'frr' | 'bgp';
export const ROUTINGS: readonly Routing[] = ['static', 'bird', 'frr', 'bgp'];
/** The routing daemons a lab can run; `bgp` nodes choose one. */
export type RoutingDaemon = 'bird' | 'frr';
const DAEMONS: readonly RoutingDaemon[] = ['bird', 'frr'];
/** The protocol a node's vlinks speak: both ends of a vlink must agree on it (not on the daemon). */
export function routingProtocol(r: Routing): 'static' | 'ospf' | 'bgp' {
  return r === 'bird' || r === 'frr' ? 'ospf' : r;
}
export type Encap = 'udp' | 'esp';
/**
 * keying ikev2: IKE_AUTH with the vlink's PSK, or with each node's generated Ed25519 key (RFC 7670
 * raw keys), copied to its peers (pubkey) or published only as IPSECA in the lab zone (dns, sites).
 */
export type IkeAuth = 'psk' | 'pubkey' | 'dns';

export interface Liveness {
  intervalMs: number;
  deadMs: number;
}

export interface TopoNode {
  name: string;
  /** VN prefix as written or allocated, e.g. 10.10.0.1/32; its first address goes on lo. `dhcp`: leased (topology-dhcp.ts). */
  vn: string;
  routing: Routing;
  logLevel: LogLevel;
  ikeAuth: IkeAuth;
  /** routing bgp: the daemon that speaks it (nodes.<n>.bgp_daemon, else bgp.daemon). */
  bgpDaemon: RoutingDaemon;
  /** With a `dns:` section: this node's `dns.dnssec` (default the section's); null without one. */
  dnssec: DnssecMode | null;
}

export interface TopoRouter {
  name: string;
  /** Name of the neighbour (segment, router or node) on the masquerading side, or null. */
  natOutside: string | null;
}

export interface TopoVlinkSpec {
  ends: [string, string];
  encap: Encap;
  suite: Suite;
}

/** A topology as written, validated and with every default filled in. */
export interface Topology {
  name: string;
  /** manual: key files per SA; ikev2: a PSK file per vlink, IKEv2 negotiates the SAs. */
  keying: 'manual' | 'ikev2';
  /** keying ikev2: the default of every node's ike_auth. */
  ikeAuth: IkeAuth;
  suite: Suite;
  encap: Encap;
  /** routing bird: BFD (100 ms x 3) on every vlink; default true. */
  bfd: boolean;
  ospf: { hello: number; dead: number };
  /** routing bgp: node k (1-based, file order) is AS asnBase + k; hold time in seconds (keepalive a third). */
  bgp: { daemon: RoutingDaemon; asnBase: number; hold: number; mode: BgpMode; reflectors: string[] };
  liveness: Liveness | null;
  underlayMtu: number;
  pools: { vn: string; vlinks: string; underlay: string };
  nodes: TopoNode[];
  routers: TopoRouter[];
  segments: string[];
  /** Underlay links in file order; an end may be a node, a router or a segment. */
  underlay: [string, string][];
  /** Explicit vlinks, or all pairs in node order for `full-mesh`. */
  vlinks: TopoVlinkSpec[];
  fullMesh: boolean;
  /** The lab DNS service, or null (topology-dns.ts). */
  dns: TopoDns | null;
  /** Nodes with `vn: dhcp` lease their VN address from the lab's Kea (topology-dhcp.ts). */
  dhcp?: TopoDhcp;
  /** `ipv6: true`: a dual-stack overlay (topology-ipv6.ts); absent: IPv4 only. */
  ipv6?: TopoIpv6;
  /** Sites as domains of the lab zone, with KX and IPSECA records (topology-sites.ts); absent: none. */
  sites?: TopoSite[];
}

export const LAB_NAME_RE = /^[a-z][a-z0-9]{0,11}$/;
export const ELEMENT_NAME_RE = /^[a-z][a-z0-9-]{0,11}$/;
const IKE_AUTHS: readonly IkeAuth[] = ['psk', 'pubkey', 'dns'];
const TOP_FIELDS = ['name', 'keying', 'ike_auth', 'suite', 'encap', 'routing', 'bfd', 'ospf', 'bgp', 'liveness', 'underlay_mtu', 'log_level', 'ipv6', 'addressing', 'nodes', 'routers', 'segments', 'underlay', 'vlinks', 'dns', 'dhcp', 'sites'];

export const DEFAULTS = {
  suite: 'aes-gcm-256' as Suite,
  encap: 'udp' as Encap,
  routing: 'static' as Routing,
  ospf: { hello: 1, dead: 4 },
  bgp: { daemon: 'frr' as RoutingDaemon, asnBase: 65000, hold: 3, mode: 'ebgp' as BgpMode, reflectors: [] as string[] },
  liveness: { intervalMs: 200, deadMs: 1000 },
  underlayMtu: 1500,
  pools: { vn: '10.10.0.0/16', vlinks: '10.255.0.0/16', underlay: '10.200.0.0/16' },
};

export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new IiptranError('IIPTRAN_ERR_TOPOLOGY', `topology file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  }
  return parseTopology(text, file);
}

export function parseTopology(text: string, file?: string): Topology {
  const src = parseYaml(text, file, 'IIPTRAN_ERR_TOPOLOGY');
  const v = new TopologyValidator(src);
  const topo = v.run(src.raw);
  v.throwIfAny(file);
  if (topo === undefined) throw new ConfigErrors([], file, 'IIPTRAN_ERR_TOPOLOGY');
  return topo;
}

class TopologyValidator extends SchemaValidator {
  constructor(src: YamlSource) {
    super(src, 'IIPTRAN_ERR_TOPOLOGY');
  }

  private pair(v: unknown, path: Path, known: readonly string[]): { ends: [string, string]; obj: Obj; endsPath: Path } | undefined {
    let ends: unknown = v;
    let obj: Obj = {};
    let endsPath = path;
    if (!Array.isArray(v)) {
      const o = this.mapping(v, path, ['ends', ...known]);
      if (o === undefined) return undefined;
      obj = o;
      ends = o['ends'];
      endsPath = [...path, 'ends'];
    }
    if (!Array.isArray(ends) || ends.length !== 2 || ends.some((e) => typeof e !== 'string')) {
      this.err(endsPath, `must be a list of two names, e.g. [a, b] (got ${describe(ends)})`);
      return undefined;
    }
    return { ends: [ends[0] as string, ends[1] as string], obj, endsPath };
  }

  private names(v: unknown, path: Path, what: string): [string, unknown][] {
    if (v === undefined || v === null) return [];
    const o = this.mapping(v, path, null);
    if (o === undefined) return [];
    const out: [string, unknown][] = [];
    for (const [k, val] of Object.entries(o)) {
      if (!ELEMENT_NAME_RE.test(k)) {
        this.err([...path, k], `${what} name must be 1..12 of a-z 0-9 "-", starting with a letter (it becomes part of namespace and interface names)`);
        continue;
      }
      out.push([k, val]);
    }
    return out;
  }

  run(raw: unknown): Topology | undefined {
    const top = this.topLevel(raw, TOP_FIELDS, 'topology is empty; expected a mapping with name, nodes, underlay and vlinks');
    if (top === undefined) return undefined;

    let name = '';
    if (!this.present(top, 'name')) this.err(['name'], 'is required (the lab name: 1..12 of a-z 0-9, starting with a letter)');
    else if (typeof top['name'] !== 'string' || !LAB_NAME_RE.test(top['name'])) {
      this.err(['name'], `must be 1..12 of a-z 0-9 starting with a letter, no "-" (namespaces are named iil-NAME-ELEMENT, so a "-" could make two labs collide) (got ${describe(top['name'])})`);
    } else name = top['name'];

    const keying = this.oneOf(top, 'keying', [], ['manual', 'ikev2'] as const, 'manual');
    // Sites publish their gateways' keys as IPSECA only: dns is their one IKE_AUTH (and needs them).
    const withSites = this.present(top, 'sites');
    const ikeAuth = this.oneOf(top, 'ike_auth', [], IKE_AUTHS, withSites ? 'dns' : 'psk');
    // Silently ignored under manual keying, it would let a reader believe IKE runs.
    if (keying !== 'ikev2' && this.present(top, 'ike_auth')) this.err(['ike_auth'], 'is only used with keying: ikev2');
    const suite = this.oneOf(top, 'suite', [], SUITES, DEFAULTS.suite);
    const encap = this.oneOf(top, 'encap', [], ['udp', 'esp'] as const, DEFAULTS.encap);
    const routing = this.oneOf(top, 'routing', [], ROUTINGS, DEFAULTS.routing);
    const logLevel = this.oneOf(top, 'log_level', [], LOG_LEVELS, 'info');
    // BFD by default: it sees a silent vlink in 300 ms on its own, where liveness's carrier-off
    // can wait up to a further second in the kernel's link-watch before BIRD hears of it.
    const bfd = this.boolean(top, 'bfd', [], true);
    const ospf = { ...DEFAULTS.ospf };
    if (this.present(top, 'ospf')) {
      const o = this.mapping(top['ospf'], ['ospf'], ['hello', 'dead']);
      if (o !== undefined) {
        ospf.hello = this.integer(o, 'hello', ['ospf'], 1, 65535, ospf.hello);
        ospf.dead = this.integer(o, 'dead', ['ospf'], 2, 65535, ospf.dead);
        if (ospf.dead <= ospf.hello) this.err(['ospf', 'dead'], `must be greater than ospf.hello (${ospf.hello})`);
      }
    }
    const bgp = { ...DEFAULTS.bgp, reflectors: [] as string[] };
    if (this.present(top, 'bgp')) {
      const o = this.mapping(top['bgp'], ['bgp'], ['daemon', 'asn_base', 'hold', 'mode', 'route_reflectors']);
      if (o !== undefined) {
        bgp.daemon = this.oneOf(o, 'daemon', ['bgp'], DAEMONS, bgp.daemon);
        // Private 32-bit ASNs would do too, but 16-bit ones keep `show` output short.
        bgp.asnBase = this.integer(o, 'asn_base', ['bgp'], 1, 4200000000, bgp.asnBase);
        // 3 s is the least both BIRD and FRR accept (RFC 4271: 0 or at least 3).
        bgp.hold = this.integer(o, 'hold', ['bgp'], 3, 65535, bgp.hold);
        // iBGP with route reflectors (topology-bgp.ts).
        bgp.mode = this.oneOf(o, 'mode', ['bgp'], BGP_MODES, bgp.mode);
        bgp.reflectors = parseReflectors(this, o, bgp.mode);
      }
    }
    let liveness: Liveness | null = { ...DEFAULTS.liveness };
    if (this.present(top, 'liveness')) {
      if (top['liveness'] === 'off') liveness = null;
      else {
        const o = this.mapping(top['liveness'], ['liveness'], ['interval_ms', 'dead_ms']);
        if (o !== undefined) {
          liveness.intervalMs = this.integer(o, 'interval_ms', ['liveness'], 10, 60000, liveness.intervalMs);
          liveness.deadMs = this.integer(o, 'dead_ms', ['liveness'], 20, 600000, liveness.deadMs);
          if (liveness.deadMs <= liveness.intervalMs) this.err(['liveness', 'dead_ms'], `must be greater than liveness.interval_ms (${liveness.intervalMs})`);
        }
      }
    }
    const underlayMtu = this.integer(top, 'underlay_mtu', [], 576, 9000, DEFAULTS.underlayMtu);
    const pools = { ...DEFAULTS.pools };
    let addressing: Obj | undefined;
    if (this.present(top, 'addressing')) {
      const o = this.mapping(top['addressing'], ['addressing'], ['vn', 'vlinks', 'underlay', 'vn6', 'vlinks6']);
      addressing = o;
      if (o !== undefined) {
        for (const k of ['vn', 'vlinks', 'underlay'] as const) {
          // An IPv6 underlay pool makes the underlay IPv6 only (topology-ipv6.ts).
          if (k === 'underlay' && typeof o[k] === 'string' && (o[k] as string).includes(':')) pools[k] = underlayPool6(this, o[k]) ?? pools[k];
          else if (this.present(o, k)) pools[k] = this.ipv4Prefix(o[k], ['addressing', k], false) ?? pools[k];
        }
      }
    }

    const nodes: TopoNode[] = [];
    const explicitVn = new Map<string, Path>();
    const nodeObjs: [string, Obj | undefined][] = [];
    if (!this.present(top, 'nodes')) this.err(['nodes'], 'is required (a mapping of node name to settings)');
    for (const [n, val] of this.names(top['nodes'], ['nodes'], 'node')) {
      const o = this.mapping(val, ['nodes', n], ['vn', 'vn6', 'routing', 'log_level', 'ike_auth', 'dnssec', 'bgp_daemon'], true);
      nodeObjs.push([n, o]);
      if (o === undefined) continue;
      let vn = '';
      if (o['vn'] === DHCP_VN) vn = DHCP_VN;
      else if (this.present(o, 'vn')) {
        vn = this.ipv4Prefix(o['vn'], ['nodes', n, 'vn'], true) ?? '';
        if (vn !== '') explicitVn.set(n, ['nodes', n, 'vn']);
      }
      if (keying !== 'ikev2' && this.present(o, 'ike_auth')) this.err(['nodes', n, 'ike_auth'], 'is only used with keying: ikev2');
      const nodeRouting = this.oneOf(o, 'routing', ['nodes', n], ROUTINGS, routing);
      if (nodeRouting !== 'bgp' && this.present(o, 'bgp_daemon')) this.err(['nodes', n, 'bgp_daemon'], `is only used with routing: bgp (this node's routing is ${nodeRouting})`);
      nodes.push({
        name: n, vn, routing: nodeRouting, logLevel: this.oneOf(o, 'log_level', ['nodes', n], LOG_LEVELS, logLevel),
        ikeAuth: this.oneOf(o, 'ike_auth', ['nodes', n], IKE_AUTHS, ikeAuth),
        dnssec: this.present(o, 'dnssec') ? this.oneOf(o, 'dnssec', ['nodes', n], DNSSEC_MODES, 'require') : null,
        bgpDaemon: this.oneOf(o, 'bgp_daemon', ['nodes', n], DAEMONS, bgp.daemon),
      });
    }
    if (this.present(top, 'nodes') && nodes.length === 0) this.err(['nodes'], 'must name at least one node');

    const routers: TopoRouter[] = [];
    const natOutsidePath = new Map<string, Path>();
    for (const [r, val] of this.names(top['routers'], ['routers'], 'router')) {
      const o = this.mapping(val, ['routers', r], ['nat'], true);
      if (o === undefined) continue;
      let natOutside: string | null = null;
      if (this.present(o, 'nat') && o['nat'] !== false) {
        const nat = this.mapping(o['nat'], ['routers', r, 'nat'], ['outside']);
        if (nat !== undefined) {
          if (typeof nat['outside'] !== 'string') this.err(['routers', r, 'nat', 'outside'], `is required: the neighbour (segment, router or node) on the public side (got ${describe(nat['outside'])})`);
          else {
            natOutside = nat['outside'];
            natOutsidePath.set(r, ['routers', r, 'nat', 'outside']);
          }
        }
      }
      routers.push({ name: r, natOutside });
    }
    const sites = withSites ? parseSitesSection(this, top['sites'], nodes.map((n) => n.name), ELEMENT_NAME_RE) : [];
    if (keying === 'ikev2') checkSiteAuth(this, withSites, ikeAuth, nodes);
    const segments = this.names(top['segments'], ['segments'], 'segment').map(([s, val]) => {
      this.mapping(val, ['segments', s], [], true);
      return s;
    });

    const kind = new Map<string, 'node' | 'router' | 'segment'>();
    const declare = (n: string, k: 'node' | 'router' | 'segment', path: Path) => {
      const prev = kind.get(n);
      if (prev !== undefined) this.err(path, `name "${n}" is already used by a ${prev}; nodes, routers and segments share one namespace`);
      else kind.set(n, k);
    };
    nodes.forEach((n) => kind.set(n.name, 'node'));
    routers.forEach((r) => declare(r.name, 'router', ['routers', r.name]));
    segments.forEach((s) => declare(s, 'segment', ['segments', s]));
    checkSiteNames(this, sites, kind, DNS_RESERVED_NAME);
    const siteNames = new Set(sites.map((s) => s.name));

    const underlay: [string, string][] = [];
    if (!this.present(top, 'underlay')) this.err(['underlay'], 'is required (a list of links, e.g. - [a, lan])');
    else if (!Array.isArray(top['underlay'])) this.err(['underlay'], `must be a list of links like [a, b] (got ${describe(top['underlay'])})`);
    else {
      const seen = new Set<string>();
      (top['underlay'] as unknown[]).forEach((l, i) => {
        const p = this.pair(l, ['underlay', i], []);
        if (p === undefined) return;
        const [a, b] = p.ends;
        let ok = true;
        p.ends.forEach((e, j) => {
          if (!kind.has(e)) {
            this.err([...p.endsPath, j], `"${e}" is not a declared node, router or segment`);
            ok = false;
          }
        });
        if (!ok) return;
        if (a === b) return this.err(p.endsPath, `links "${a}" to itself`);
        if (kind.get(a) === 'segment' && kind.get(b) === 'segment') return this.err(p.endsPath, 'joins two segments; put a router between them');
        const key = [a, b].sort().join(' ');
        if (seen.has(key)) return this.err(p.endsPath, `duplicate link between ${a} and ${b}`);
        seen.add(key);
        underlay.push([a, b]);
      });
    }
    for (const n of nodes) {
      const count = underlay.filter((l) => l.includes(n.name)).length;
      if (count !== 1) this.err(['nodes', n.name], `must have exactly one underlay link (its underlay address is the outer source of every tunnelled packet); it has ${count}`);
    }
    for (const r of routers) {
      if (r.natOutside === null) continue;
      const neighbours = underlay.filter((l) => l.includes(r.name)).map((l) => (l[0] === r.name ? l[1] : l[0]));
      if (!neighbours.includes(r.natOutside)) {
        this.err(natOutsidePath.get(r.name)!, `"${r.natOutside}" is not linked to router ${r.name} (its neighbours: ${neighbours.join(', ') || 'none'})`);
      } else if (neighbours.length < 2) this.err(['routers', r.name], 'a NAT router needs an inside link besides the outside one');
    }
    for (const s of segments) {
      if (!underlay.some((l) => l.includes(s))) this.err(['segments', s], 'has no underlay link; attach at least one node or router');
    }

    const vlinks: TopoVlinkSpec[] = [];
    let fullMesh = false;
    if (!this.present(top, 'vlinks')) this.err(['vlinks'], 'is required: full-mesh, or a list of node pairs like [a, b]');
    else if (top['vlinks'] === 'full-mesh') {
      fullMesh = true;
      for (let i = 0; i < nodes.length; i++) {
        for (let j = i + 1; j < nodes.length; j++) vlinks.push({ ends: [nodes[i]!.name, nodes[j]!.name], encap, suite });
      }
    } else if (!Array.isArray(top['vlinks'])) this.err(['vlinks'], `must be full-mesh or a list of node pairs (got ${describe(top['vlinks'])})`);
    else {
      const seen = new Set<string>();
      (top['vlinks'] as unknown[]).forEach((l, i) => {
        const p = this.pair(l, ['vlinks', i], ['encap', 'suite']);
        if (p === undefined) return;
        const [a, b] = p.ends;
        const bad = p.ends.findIndex((e) => kind.get(e) !== 'node' && !siteNames.has(e));
        if (bad >= 0) return this.err([...p.endsPath, bad], `"${p.ends[bad]}" is not a declared node${withSites ? ' or site' : ''} (vlinks join nodes${withSites ? ' and sites' : ''})`);
        if (a === b) return this.err(p.endsPath, `joins ${a} to itself`);
        const key = [a, b].sort().join(' ');
        if (seen.has(key)) return this.err(p.endsPath, `duplicate vlink between ${a} and ${b}: each pair gets one TUN named vl-<peer>`);
        seen.add(key);
        vlinks.push({ ends: [a, b], encap: this.oneOf(p.obj, 'encap', ['vlinks', i], ['udp', 'esp'] as const, encap), suite: this.oneOf(p.obj, 'suite', ['vlinks', i], SUITES, suite) });
      });
    }
    vlinks.forEach((v, i) => {
      // A site end stands for each of its gateways.
      for (const a of endNodes(sites, v.ends[0]).map((e) => nodes.find((n) => n.name === e)!)) {
        for (const b of endNodes(sites, v.ends[1]).map((e) => nodes.find((n) => n.name === e)!)) {
          // BIRD and FRR speak the same OSPF: a vlink needs one protocol at both ends, not one daemon.
          if (routingProtocol(a.routing) !== routingProtocol(b.routing)) {
            this.err(fullMesh ? ['vlinks'] : ['vlinks', i], `joins ${a.name} (routing ${a.routing}) and ${b.name} (routing ${b.routing}); both ends of a vlink must speak the same protocol (static, OSPF by bird or frr, or bgp)`);
          }
          // One IKE_AUTH method per IKE SA: a PSK end and a raw-key end could never authenticate.
          if (keying === 'ikev2' && a.ikeAuth !== b.ikeAuth) {
            this.err(fullMesh ? ['vlinks'] : ['vlinks', i], `joins ${a.name} (ike_auth ${a.ikeAuth}) and ${b.name} (ike_auth ${b.ikeAuth}); both ends of a vlink must use the same ike_auth`);
          }
        }
      }
    });
    if (withSites) checkSites(this, { sites, nodes, keying, hasDns: this.present(top, 'dns'), fullMesh, vlinks });

    const dns = this.present(top, 'dns') ? parseDnsSection(this, top['dns'], segments) : null;
    for (const n of nodes) {
      if (dns === null && n.dnssec !== null) this.err(['nodes', n.name, 'dnssec'], 'is only used with a dns: section');
      else if (dns !== null) n.dnssec ??= dns.dnssec;
    }
    if (dns !== null && kind.has(DNS_RESERVED_NAME)) {
      this.err([kind.get(DNS_RESERVED_NAME) === 'node' ? 'nodes' : kind.get(DNS_RESERVED_NAME) === 'router' ? 'routers' : 'segments', DNS_RESERVED_NAME], 'the name "dns" is the lab DNS server\'s (namespace iil-<lab>-dns); rename this element');
    }
    const dhcp = parseTopoDhcp(this, top, nodes, vlinks, pools.vn);
    const ipv6 = parseTopoIpv6(this, top, addressing, nodeObjs, (n) => nodes.find((x) => x.name === n)?.routing ?? routing);
    if (this.present(top, 'bgp') && !nodes.some((n) => n.routing === 'bgp')) this.err(['bgp'], 'is only used when some node has routing: bgp');
    const topo: Topology = { name, keying, ikeAuth, suite, encap, bfd, ospf, bgp, liveness, underlayMtu, pools, nodes, routers, segments, underlay, vlinks, fullMesh, dns, ...(dhcp === undefined ? {} : { dhcp }), ...(withSites ? { sites } : {}), ...(ipv6 === null ? {} : { ipv6 }) };
    if (isIpv6Underlay(pools.underlay)) checkIpv6Underlay(this, topo);
    checkIbgp(this, topo);
    if (this.problems.length === 0) checkModel(topo, explicitVn, this);
    return topo;
  }
}

/** Checks that need the whole, syntactically valid topology: pools, overlaps, NAT shape. */
function checkModel(t: Topology, explicitVn: Map<string, Path>, v: SchemaValidator): void {
  const pool = (k: keyof Topology['pools']) => parseCidr(t.pools[k])!;
  const room = (k: keyof Topology['pools'], unitLen: number, need: number, what: string) => {
    const have = 2 ** Math.max(0, unitLen - pool(k).prefixLen);
    if (pool(k).prefixLen > unitLen || have < need) v.err(['addressing', k], `${t.pools[k]} is too small for ${need} ${what}`);
  };
  room('vn', 32, t.nodes.length + 1, 'node /32s');
  room('vlinks', 31, t.vlinks.length, 'vlink /31s');
  if (!isIpv6Underlay(t.pools.underlay)) room('underlay', 24, t.segments.length + t.underlay.length + 1, 'underlay /24 networks');
  // Node k (1-based, file order) gets pool + k unless an explicit vn already holds it.
  const taken = new Set(t.nodes.map((x) => x.vn));
  const base = pool('vn').addr;
  let k = 1;
  for (const n of t.nodes) {
    if (n.vn !== '') continue;
    while (taken.has(`${u32ToIpv4((base + k) >>> 0)}/32`)) k++;
    n.vn = `${u32ToIpv4((base + k++) >>> 0)}/32`;
    taken.add(n.vn);
  }
  const ranges: { what: string; path: Path; c: { addr: number; prefixLen: number } }[] = [
    ...(['vn', 'vlinks', 'underlay'] as const).slice(1).filter((p) => !isIpv6Underlay(t.pools[p])).map((p) => ({ what: `addressing.${p}`, path: ['addressing', p] as Path, c: pool(p) })),
    ...t.nodes.filter((n) => n.vn !== DHCP_VN).map((n) => ({ what: `nodes.${n.name}.vn`, path: explicitVn.get(n.name) ?? ['nodes', n.name], c: parseCidr(n.vn)! })),
  ];
  for (let i = 0; i < ranges.length; i++) {
    for (let j = 0; j < i; j++) {
      if (inPrefix(ranges[i]!.c.addr, ranges[j]!.c.addr, Math.min(ranges[i]!.c.prefixLen, ranges[j]!.c.prefixLen))) v.err(ranges[i]!.path, `${ranges[i]!.what} overlaps ${ranges[j]!.what}`);
    }
  }
}
