// Where the lab DNS server sits and what it serves, derived from the topology like the rest of
// the model: its namespace and veth on the chosen segment, its address (the first one after
// the segment's members), its gateway, and the address each node's A record publishes.

import { parseCidr, u32ToIpv4 } from '../wire/addr.js';
import type { ConfigProblem } from '../control/yaml-doc.js';
import type { DnssecMode, PeerResolve, TopoDns } from './topology-dns.js';
import { DNS_RESERVED_NAME } from './topology-dns.js';
import type { LabModel, ModelNode, Network } from './topology-model.js';

export const DNS_UNDERLAY_IF = 'eth0';
/** Each node's trust anchor file, relative to its directory like its key files. */
export const NODE_ANCHOR_FILE = 'keys/trust-anchor.ds';

export interface ModelDns {
  zone: string;
  /** The zone minus its first label: the lab serves it too, signed, holding the zone's DS. */
  parent: string;
  ttl: number;
  dnssec: DnssecMode;
  peerResolve: PeerResolve;
  namedPeers: boolean;
  /** The server's name, ns.<parent>, with glue in the parent. */
  nsName: string;
  ns: string;
  network: string;
  address: string;
  prefixLen: number;
  gateway: string | null;
}

/** Whether a vlink from `me` to `peer` names its peer: not between two nodes behind the same NAT (the A record holds the NAT's outside address). */
export function namesPeer(dns: ModelDns | undefined, me: Pick<ModelNode, 'behindNat'>, peer: Pick<ModelNode, 'behindNat'>): boolean {
  return dns !== undefined && dns.namedPeers && !(me.behindNat !== null && me.behindNat === peer.behindNat);
}

export function parentZone(zone: string): string {
  return zone.slice(zone.indexOf('.') + 1);
}

export function nodeFqdn(dns: { zone: string }, node: string): string {
  return `${node}.${dns.zone}`;
}

/**
 * The address a node's A record holds: the one its peers reach it at. For a node behind NAT
 * that is the NAT router's outside address (peers on the same inside network keep addresses).
 */
export function publishedAddress(m: Pick<LabModel, 'routers'>, n: Pick<ModelNode, 'behindNat' | 'underlayAddr'>): string {
  if (n.behindNat === null) return n.underlayAddr;
  return m.routers.find((r) => r.name === n.behindNat)!.nat!.outsideAddr;
}

/**
 * The server on `net` (a segment): the first address after its members. Adds its veth to
 * `veths`; returns problems when a node could not reach it.
 */
export function buildDnsModel(
  d: TopoDns,
  prefix: string,
  net: Network,
  gateway: string | null,
  nodes: ModelNode[],
  insideOf: (network: string) => string | null,
  veths: LabModel['veths'],
): { dns: ModelDns; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const base = parseCidr(net.subnet)!.addr;
  const used = new Set(net.members.map((m) => m.address));
  let host = 1;
  while (host < 254 && used.has(u32ToIpv4((base + host) >>> 0))) host++;
  if (host >= 254) problems.push({ field: 'dns.segment', problem: `segment ${net.name} has no free address left for the DNS server` });
  const address = u32ToIpv4((base + host) >>> 0);
  const ns = prefix + DNS_RESERVED_NAME;
  veths.push({ a: { ns, ifname: DNS_UNDERLAY_IF, address: `${address}/${net.prefixLen}` }, b: { ns: prefix + net.name, ifname: `p-${DNS_RESERVED_NAME}`, address: null } });
  const nat = insideOf(net.name);
  for (const n of nodes) {
    if (n.network === net.name) continue;
    if (n.gateway === null) problems.push({ field: `nodes.${n.name}`, problem: `cannot reach the DNS server on segment ${net.name}: its network ${n.network} has no router` });
    else if (nat !== null && n.behindNat !== nat) problems.push({ field: 'dns.segment', problem: `segment ${net.name} is inside NAT router ${nat}, so node ${n.name} could not reach the DNS server; put it on a public segment` });
  }
  return {
    dns: {
      zone: d.zone, parent: parentZone(d.zone), ttl: d.ttl, dnssec: d.dnssec, peerResolve: d.peerResolve, namedPeers: d.namedPeers,
      nsName: `ns.${parentZone(d.zone)}`, ns, network: net.name, address, prefixLen: net.prefixLen, gateway,
    },
    problems,
  };
}
