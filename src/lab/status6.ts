// The IPv6 half of a dual-stack lab's status (ipv6-model.ts): OSPFv3 neighbours from BIRD
// (protocol overlay6) and FRR's ospf6d, the node's IPv6 routes from /proc/<pid>/net/ipv6_route
// (a file read, like node-proc.ts's IPv4 table), and the IPv6 VN ping matrix.

import fs from 'node:fs';
import path from 'node:path';
import type { OspfNeighbor } from './bird.js';
import { birdCommand } from './bird-ctl.js';
import { frrCommand } from './frr-ctl.js';
import { nsExec, run } from './netns.js';
import type { LabState, NodePaths } from './state.js';
import type { ModelNode } from './topology-model.js';
import { routingDaemon } from './topology-model.js';
import { formatIpv6 } from '../wire/ipv6-text.js';
import type { KernelRoute } from './node-proc.js';

/** BIRD's `show ospf neighbors overlay6`: router id, priority, state, dead time, interface, link-local address. */
export function parseBirdOspf3Neighbors(out: string): OspfNeighbor[] {
  const res: OspfNeighbor[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\s+\d+\s+(\S+)\s+\S+\s+(\S+)\s+([0-9a-fA-F:]+)\s*$/.exec(line.trim());
    if (m) res.push({ routerId: m[1]!, state: m[2]!, iface: m[3]!, address: m[4]! });
  }
  return res;
}

interface Frr6NeighborJson {
  neighborId?: string;
  state?: string;
  interfaceName?: string;
  ifaceName?: string;
}

/** FRR's `show ipv6 ospf6 neighbor json`: {neighbors: [{neighborId, state, interfaceName, ...}]}. */
export function parseFrrOspf6Neighbors(json: string): OspfNeighbor[] {
  let doc: { neighbors?: Frr6NeighborJson[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return [];
  }
  return (Array.isArray(doc.neighbors) ? doc.neighbors : []).map((nb) => ({
    routerId: nb.neighborId ?? '',
    state: nb.state ?? 'unknown',
    iface: nb.interfaceName ?? nb.ifaceName ?? '',
    address: '',
  }));
}

/** OSPFv3 neighbours of a dual-stack node running OSPF; null when its daemon does not answer (or it runs none). */
export async function ospf3Neighbors(m: ModelNode, p: NodePaths): Promise<OspfNeighbor[] | null> {
  if (m.vn6 === undefined) return null;
  const d = routingDaemon(m);
  if (m.routing === 'bird' && d === 'bird' && p.birdSocket !== null) {
    const r = await birdCommand(p.birdSocket, 'show ospf neighbors overlay6', 5000).catch(() => null);
    return r !== null && r.code < 8000 ? parseBirdOspf3Neighbors(r.text) : null;
  }
  if (m.routing === 'frr' && p.frrDir) {
    return frrCommand(path.join(p.frrDir, 'ospf6d.vty'), 'show ipv6 ospf6 neighbor json', 5000).then(parseFrrOspf6Neighbors, () => null);
  }
  return null;
}

/** The v2 protocol's neighbours when OSPFv3 runs beside it: BIRD needs the protocol named then. */
export const BIRD_OSPF2_NEIGHBORS = 'show ospf neighbors overlay';

const RTF_REJECT = 0x200;
/** The local table's entries (the node's own addresses) share the file with the main table's. */
const RTF_LOCAL = 0x80000000;

/**
 * /proc/net/ipv6_route: dst, dst len, src, src len, next hop, metric, refcnt, use, flags, device.
 * Reject routes (the guard's unreachable ones), the node's own addresses and multicast are left out.
 */
export function parseProcRoutes6(text: string): KernelRoute[] {
  const out: KernelRoute[] = [];
  const hex = (h: string) => formatIpv6(Uint8Array.from(Buffer.from(h, 'hex')));
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[0]!.length !== 32) continue;
    const flags = parseInt(f[8]!, 16);
    if ((flags & RTF_REJECT) !== 0 || flags >= RTF_LOCAL || f[0]!.startsWith('ff')) continue;
    const r: KernelRoute = { dst: `${hex(f[0]!)}/${parseInt(f[1]!, 16)}`, dev: f[9]! };
    if (!/^0+$/.test(f[4]!)) r.gateway = hex(f[4]!);
    out.push(r);
  }
  return out;
}

/** The node's IPv6 routes, read as node-proc.ts reads its IPv4 ones; null when unreadable. */
export async function nodeRoutes6(s: LabState, node: string): Promise<KernelRoute[] | null> {
  for (const p of s.processes.filter((x) => x.node === node)) {
    try {
      if (!fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(s.dir)) continue;
      return parseProcRoutes6(fs.readFileSync(`/proc/${p.pid}/net/ipv6_route`, 'utf8'));
    } catch {
      /* exited: try the next one, then ip */
    }
  }
  const ns = s.model.nodes.find((n) => n.name === node)!.ns;
  const r = await run('ip', ['-n', ns, '-j', '-6', 'route', 'show'], { allowFail: true });
  if (r.code !== 0) return null;
  if (r.stdout.trim() === '') return [];
  return (JSON.parse(r.stdout) as (KernelRoute & { type?: string })[])
    .filter((x) => x.type === undefined || x.type === 'unicast')
    .map((x) => ({ ...x, dst: x.dst === 'default' ? '::/0' : x.dst.includes('/') ? x.dst : `${x.dst}/128` }));
}

/** fping -6 from each node to each IPv6 VN address of `plan`: who answered, for both ends of each pair. */
export async function pingMatrix6(s: LabState, plan: Map<string, string[]>): Promise<Map<string, string[]>> {
  const byAddr = new Map(s.model.nodes.map((n) => [n.vnAddr6, n.name]));
  const reach = new Map<string, Set<string>>(s.model.nodes.map((n) => [n.name, new Set()]));
  await Promise.all(s.model.nodes.map(async (n) => {
    const targets = (plan.get(n.name) ?? []).map((o) => s.model.nodes.find((x) => x.name === o)!.vnAddr6).filter((a): a is string => a !== undefined);
    if (targets.length === 0 || n.vnAddr6 === undefined) return;
    const r = await nsExec(n.ns, ['fping', '-6', '-a', '-q', '-r', '1', '-t', '1000', '-i', '5', '-S', n.vnAddr6, ...targets], { allowFail: true, timeoutMs: 30000 });
    for (const line of r.stdout.split('\n')) {
      const o = byAddr.get(line.trim());
      if (o === undefined) continue;
      reach.get(n.name)!.add(o);
      reach.get(o)!.add(n.name);
    }
  }));
  return new Map([...reach].map(([k, v]) => [k, [...v]]));
}
