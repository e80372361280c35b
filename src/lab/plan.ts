// `lab up` as data: the ordered, named steps and the actions in each. Pure (no I/O), so the
// whole of what a topology will create can be unit tested without root, and `apply` stays a
// small interpreter that records each created resource before moving on.

import path from 'node:path';
import type { LabModel, ModelNode } from './topology-model.js';
import { NODE_UNDERLAY_IF, SEGMENT_BRIDGE } from './topology-model.js';
import { birdConfig, KERNEL_SCAN_S } from './bird.js';
import { birdBgpConfig } from './bgp.js';
import { frrArgv, frrConfigs, frrDaemons, frrVty } from './frr.js';
import { routingDaemon } from './topology-model.js';
import { hostsFile, nodeConfigYaml } from './node-config.js';
import { natRuleset } from './nat.js';
import type { NodePaths } from './state.js';

export type Action =
  | { kind: 'netns'; ns: string }
  | { kind: 'cmd'; ns: string | null; argv: string[] }
  | { kind: 'file'; path: string; content: string; mode: number; external?: boolean }
  /** One fresh random key written to both paths: the sender's key_out and the receiver's key_in. */
  | { kind: 'key'; paths: [string, string]; suite: string }
  /** One fresh random PSK written to both ends of an ikev2 vlink. */
  | { kind: 'psk'; paths: [string, string] }
  /** ike_auth pubkey: one fresh Ed25519 pair per node; the private key 0600, the public key to the node and to each IKE peer. */
  | { kind: 'authkey'; node: string; privatePath: string; publicPaths: string[] }
  /** `after`: an FRR vty socket that must answer first (bfdd, ospfd and bgpd wait for their zebra). */
  | { kind: 'spawn'; role: 'iiptran' | 'bird' | 'frr'; node: string; ns: string; argv: string[]; log: string; ready: { control: string } | { birdc: string } | { vty: string }; after?: string }
  /** The lab's Kea DHCPv4 server (kea.ts), up before the node daemons ask it for leases. */
  | { kind: 'kea'; ns: string }
  | { kind: 'converge' }
  /** The lab DNS service (dns-service.ts): keys, signed zones and trust anchors; then NSD, serving before any node starts. */
  | { kind: 'dns'; phase: 'zones' | 'server'; zone: string }
  /**
   * Actions in order, or (parallel) each at the same time as its siblings, a bounded number
   * at once: a 100-node lab's thousand `ip` commands in sequence take longer than its daemons
   * need to converge. Only independent actions (different namespaces, different veths) go in
   * one parallel group.
   */
  | { kind: 'group'; parallel: boolean; actions: Action[] };

export interface Step {
  /** Stable name: progress output and IIPTRAN_LAB_FAIL_AT use it. */
  name: string;
  title: string;
  actions: Action[];
}

export const STEP_NAMES = ['namespaces', 'underlay', 'nat', 'keys', 'configs', 'daemons', 'routing', 'converge'] as const;

export interface PlanEnv {
  labDir: string;
  cli: string;
  nodeBin: string;
  nodePaths: (node: string) => NodePaths;
  /** The daemon accepts per-vlink `liveness`; older builds reject the field. */
  liveness: boolean;
}

const ipn = (ns: string, ...args: string[]): Action => ({ kind: 'cmd', ns: null, argv: ['ip', '-n', ns, ...args] });
const inNs = (ns: string, ...argv: string[]): Action => ({ kind: 'cmd', ns, argv });

export type PlainAction = Exclude<Action, { kind: 'group' }>;

/** Every action of the plan in order, groups opened: for tests and for counting. */
export function flatActions(steps: Step[]): PlainAction[] {
  const open = (a: Action): PlainAction[] => (a.kind === 'group' ? a.actions.flatMap(open) : [a]);
  return steps.flatMap((s) => s.actions.flatMap(open));
}

export function planLab(m: LabModel, env: PlanEnv): Step[] {
  const allNs = [...m.nodes.map((n) => n.ns), ...m.routers.map((r) => r.ns), ...m.segments.map((s) => s.ns), ...(m.dns ? [m.dns.ns] : []), ...(m.dhcp === undefined ? [] : [m.dhcp.ns])];
  const steps: Step[] = [];

  const seq = (actions: Action[]): Action => ({ kind: 'group', parallel: false, actions });
  const par = (actions: Action[]): Action => ({ kind: 'group', parallel: true, actions });
  const forwarding = new Set([...m.nodes, ...m.routers].map((n) => n.ns));
  const ns = allNs.map((n) =>
    seq([
      { kind: 'netns', ns: n },
      // Nodes forward too: OSPF reroutes transit traffic through them. rp_filter off because
      // a rerouted reply may legitimately arrive on another vlink than the one it left by.
      ...(forwarding.has(n) ? [inNs(n, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0')] : []),
      // Dual stack: nodes forward IPv6 too (routers only when the underlay is IPv6).
      ...(forwarding.has(n) && (m.ipv6 === true || m.underlayFamily === 6) ? [inNs(n, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1')] : []),
      { kind: 'file', path: `/etc/netns/${n}/hosts`, content: hostsFile(m), mode: 0o644, external: true },
    ]),
  );
  steps.push({ name: 'namespaces', title: `create ${allNs.length} namespaces, enable forwarding`, actions: [par(ns)] });

  // Bridges first (veths become their ports), then each veth on its own, then what needs the
  // veths up: VN prefixes on lo, gateways, router routes.
  const bridges = m.segments.map((s) => seq([ipn(s.ns, 'link', 'add', SEGMENT_BRIDGE, 'type', 'bridge', 'stp_state', '0'), ipn(s.ns, 'link', 'set', SEGMENT_BRIDGE, 'up')]));
  const veths = m.veths.map((v) => {
    const mtu = String(m.underlayMtu);
    const a: Action[] = [{ kind: 'cmd', ns: null, argv: ['ip', 'link', 'add', v.a.ifname, 'netns', v.a.ns, 'mtu', mtu, 'type', 'veth', 'peer', 'name', v.b.ifname, 'netns', v.b.ns, 'mtu', mtu] }];
    for (const end of [v.a, v.b]) {
      // An IPv6 underlay address is usable at once: duplicate address detection would hold it
      // back a second or two, and the lab allocates every address itself.
      if (end.address !== null) a.push(ipn(end.ns, 'addr', 'add', end.address, 'dev', end.ifname, ...(end.address.includes(':') ? ['nodad'] : [])));
      else a.push(ipn(end.ns, 'link', 'set', end.ifname, 'master', SEGMENT_BRIDGE));
      a.push(ipn(end.ns, 'link', 'set', end.ifname, 'up'));
    }
    return seq(a);
  });
  // A node with vn: dhcp gets its address from its lease, on its vlink (control/node-dhcp-client.ts).
  const nodeNets = m.nodes.map((n) => seq([...(n.dhcp === 'client' ? [] : [ipn(n.ns, 'addr', 'add', n.vn, 'dev', 'lo')]), ...(n.vn6 === undefined ? [] : [ipn(n.ns, '-6', 'addr', 'add', n.vn6, 'dev', 'lo')]), ...(n.gateway !== null ? [ipn(n.ns, 'route', 'add', 'default', 'via', n.gateway, 'dev', NODE_UNDERLAY_IF)] : [])]));
  const routes = m.routers.map((r) => seq(r.routes.map((rt) => ipn(r.ns, 'route', 'add', rt.dst, 'via', rt.via))));
  if (m.dns?.gateway) routes.push(ipn(m.dns.ns, 'route', 'add', 'default', 'via', m.dns.gateway));
  steps.push({
    name: 'underlay',
    title: `build the underlay: ${m.segments.length} segments, ${m.veths.length} veths, ${m.routers.length} routers`,
    actions: [par(bridges), par(veths), par([...nodeNets, ...routes])],
  });

  const nat: Action[] = [];
  for (const r of m.routers) {
    if (r.nat === null) continue;
    const file = path.join(env.labDir, `nat-${r.name}.nft`);
    nat.push({ kind: 'file', path: file, content: natRuleset(r.nat.outsideIf), mode: 0o644 }, inNs(r.ns, 'nft', '-f', file));
  }
  steps.push({ name: 'nat', title: `NAT: ${nat.length / 2} masquerading routers`, actions: nat });

  const keys: Action[] = [];
  for (const n of m.nodes) keys.push({ kind: 'cmd', ns: null, argv: ['mkdir', '-p', '-m', '0700', path.join(env.nodePaths(n.name).dir, 'keys')] });
  const ike = m.keying === 'ikev2';
  const keyDir = (n: string) => path.join(env.nodePaths(n).dir, 'keys');
  const authOf = (n: string) => m.nodes.find((x) => x.name === n)!.ikeAuth ?? 'psk';
  const pairs = ike ? m.nodes.filter((n) => n.ikeAuth === 'pubkey' || n.ikeAuth === 'dns') : [];
  for (const n of pairs) {
    // <peer>.pub in every peer's keys/ is that node's peer_public_key; its own copy is for the operator.
    // With ike_auth dns no peer gets it: the lab zone publishes it as IPSECA (kx-dns.ts).
    const peers = n.ikeAuth === 'dns' ? [] : n.vlinks.map((e) => path.join(keyDir(e.peer), `${n.name}.pub`));
    keys.push({ kind: 'authkey', node: n.name, privatePath: path.join(keyDir(n.name), `${n.name}.key`), publicPaths: [path.join(keyDir(n.name), `${n.name}.pub`), ...peers] });
  }
  let psks = 0;
  for (const v of m.vlinks) {
    if (ike) {
      if (authOf(v.a) !== 'psk') continue;
      psks++;
      const file = `${v.a}-${v.b}.psk`;
      keys.push({ kind: 'psk', paths: [path.join(env.nodePaths(v.a).dir, 'keys', file), path.join(env.nodePaths(v.b).dir, 'keys', file)] });
      continue;
    }
    for (const [from, to] of [[v.a, v.b], [v.b, v.a]]) {
      const file = `${from}-to-${to}.key`;
      keys.push({ kind: 'key', suite: v.suite, paths: [path.join(env.nodePaths(from!).dir, 'keys', file), path.join(env.nodePaths(to!).dir, 'keys', file)] });
    }
  }
  let keysTitle = ike ? ikeKeysTitle(psks, pairs.length) : `generate ${m.vlinks.length * 2} random keys (one per direction per vlink, mode 0600)`;
  if (m.dns) {
    keys.push({ kind: 'dns', phase: 'zones', zone: m.dns.zone });
    keysTitle += `; DNSSEC keys, zones ${m.dns.zone}. and ${m.dns.parent}. signed${m.sites ? ` with KX and IPSECA records for ${m.sites.length} sites` : ''}, trust anchors`;
  }
  steps.push({ name: 'keys', title: keysTitle, actions: keys });

  const cfg: Action[] = [];
  for (const n of m.nodes) {
    const p = env.nodePaths(n.name);
    cfg.push({ kind: 'file', path: p.config, content: nodeConfigYaml(m, n, p.socket, env.liveness), mode: 0o600 });
    if (p.birdConfig !== null) cfg.push({ kind: 'file', path: p.birdConfig, content: n.routing === 'bgp' ? birdBgpConfig(m, n, KERNEL_SCAN_S) : birdConfig(m, n), mode: 0o644 });
    const frrDir = p.frrDir ?? null;
    if (frrDir !== null) {
      // FRR drops to the frr user before it reads its config: its directory is its own.
      for (const [d, text] of Object.entries(frrConfigs(m, n))) cfg.push({ kind: 'file', path: path.join(frrDir, `${d}.conf`), content: text, mode: 0o640 });
      cfg.push({ kind: 'cmd', ns: null, argv: ['chown', '-R', 'frr:frr', frrDir] }, { kind: 'cmd', ns: null, argv: ['chmod', '0750', frrDir] });
    }
  }
  // The frr user must pass through the lab directory and its parents (0700) to reach its own:
  // o+x lets it traverse without listing, and every secret below stays 0600 or in a 0700 keys/.
  if (m.nodes.some((n) => routingDaemon(n) === 'frr')) cfg.push({ kind: 'cmd', ns: null, argv: ['chmod', 'o+x', ...ancestors(env.labDir)] });
  steps.push({ name: 'configs', title: 'write node and routing daemon configs', actions: cfg });

  const daemons: Action[] = m.nodes.map((n) => {
    const p = env.nodePaths(n.name);
    return { kind: 'spawn', role: 'iiptran', node: n.name, ns: n.ns, argv: [env.nodeBin, env.cli, 'node', '--config', p.config], log: p.log, ready: { control: p.socket } };
  });
  steps.push({
    name: 'daemons',
    title: `${m.dns ? `start NSD (${m.dns.address}, serving ${m.dns.zone}.), then ` : 'start '}${m.dhcp === undefined ? '' : 'Kea DHCPv4 and '}${m.nodes.length} iiptran node daemons`,
    actions: [
      ...(m.dns ? [{ kind: 'dns' as const, phase: 'server' as const, zone: m.dns.zone }] : []),
      ...(m.dhcp === undefined ? [] : [{ kind: 'kea' as const, ns: m.dhcp.ns }]),
      ...daemons,
    ],
  });

  // One sequence per node (FRR's daemons wait for their zebra), the nodes side by side.
  steps.push({ name: 'routing', title: routingTitle(m), actions: [par(m.nodes.map((n) => seq(routingActions(m, n, env.nodePaths(n.name)))))] });
  steps.push({ name: 'converge', title: 'wait for routing to converge', actions: [{ kind: 'converge' }] });
  return steps;
}

function ikeKeysTitle(psks: number, pairs: number): string {
  const parts = [];
  if (psks > 0) parts.push(`${psks} random IKEv2 PSKs (one per vlink, mode 0600)`);
  if (pairs > 0) parts.push(`${pairs} Ed25519 key pairs for IKEv2 (one per node, private key mode 0600)`);
  return `generate ${parts.join(' and ') || 'no IKEv2 keys'}`;
}

/** The directory and each of its parents below /. */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); d !== path.dirname(d); d = path.dirname(d)) out.push(d);
  return out;
}

function routingTitle(m: LabModel): string {
  const count = (f: (n: ModelNode) => boolean) => m.nodes.filter(f).length;
  const bfd = m.bfd ? ' + BFD' : '';
  const parts: string[] = [];
  const add = (k: number, what: string) => k > 0 && parts.push(`${what} on ${k} node${k === 1 ? '' : 's'}`);
  add(count((n) => n.routing === 'bird'), `start BIRD (OSPFv2${bfd})`);
  add(count((n) => n.routing === 'frr'), `start FRR (OSPFv2${bfd})`);
  const bgp = `${m.bgpMode === 'ibgp' ? 'iBGP' : 'eBGP'}${m.ipv6 === true ? ' + MP-BGP IPv6' : ''}${bfd}`;
  add(count((n) => n.routing === 'bgp' && routingDaemon(n) === 'bird'), `start BIRD (${bgp})`);
  add(count((n) => n.routing === 'bgp' && routingDaemon(n) === 'frr'), `start FRR (${bgp})`);
  add(count((n) => n.routing === 'static'), 'static routes');
  return parts.join(', ');
}

function routingActions(m: LabModel, n: ModelNode, p: NodePaths): Action[] {
  if (n.routing === 'static') {
    return [
      ...n.staticRoutes.map((r) => ipn(n.ns, 'route', 'add', r.dst, 'via', r.via, 'dev', r.dev, 'src', n.vnAddr, 'proto', 'static')),
      ...(n.staticRoutes6 ?? []).map((r) => ipn(n.ns, '-6', 'route', 'add', r.dst, 'via', r.via, 'dev', r.dev, 'src', n.vnAddr6!, 'proto', 'static')),
    ];
  }
  const dir = p.frrDir ?? null;
  if (routingDaemon(n) === 'frr' && dir !== null) {
    return frrDaemons(m, n).map((d) => ({
      kind: 'spawn', role: 'frr', node: n.name, ns: n.ns, argv: frrArgv(d, dir, n.ns), log: p.frrLog!, ready: { vty: frrVty(dir, d) },
      ...(d === 'zebra' ? {} : { after: frrVty(dir, 'zebra') }),
    }));
  }
  return [{ kind: 'spawn', role: 'bird', node: n.name, ns: n.ns, argv: ['bird', '-f', '-c', p.birdConfig!, '-s', p.birdSocket!, '-P', path.join(p.dir, 'bird.pid')], log: p.birdLog!, ready: { birdc: p.birdSocket! } }];
}
