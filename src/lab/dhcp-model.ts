// What a topology's `dhcp` section adds to the lab model: Kea's namespace joined to the relay
// node by a veth on a service network of its own (the /24 after the underlay networks, outside
// the VN, so the relay node's guard lets it through), and the vlink ends that DHCP runs over.
// A client's end has `address: dhcp` and the relay's VN address as its point-to-point peer; the
// relay's end is its VN address /32 with `peer_address: dhcp`, so OSPF on that link sees the
// leased address at the far end once the relay has seen the ACK.

import { ConfigErrors, type ConfigProblem } from '../control/yaml-doc.js';
import { parseCidr, parseIpv4, u32ToIpv4 } from '../wire/addr.js';
import type { LabModel } from './topology-model.js';
import type { Topology } from './topology.js';

export interface LabDhcp {
  relay: string;
  /** Kea's namespace and its end of the veth; the relay's end is `relayIf` in the relay's namespace. */
  ns: string;
  serverIf: string;
  relayIf: string;
  /** The relay's address (giaddr, server identifier) and Kea's, on the service /24. */
  relayAddr: string;
  serverAddr: string;
  /** Kea's subnet: the lab's VN pool, chosen by giaddr. */
  subnet: string;
  pool: [string, string];
  leaseS: number;
  renewS: number;
  rebindS: number;
  reservations: { circuitId: string; node: string; ip: string }[];
}

export const KEA_ELEMENT = 'kea';

export function addDhcp(t: Topology, m: LabModel): void {
  const d = t.dhcp!;
  const problems: ConfigProblem[] = [];
  const relay = m.nodes.find((n) => n.name === d.relay)!;
  const [lo, hi] = [parseIpv4(d.pool[0])!, parseIpv4(d.pool[1])!];
  for (const n of m.nodes) {
    if (n.vn === 'dhcp') {
      n.dhcp = 'client';
      n.vnAddr = '';
      continue;
    }
    const a = parseCidr(n.vn)!.addr;
    if (a >= lo && a <= hi) problems.push({ field: `nodes.${n.name}`, problem: `its VN address ${n.vnAddr} (allocated from addressing.vn) lies in the DHCP pool ${d.pool[0]} - ${d.pool[1]}; give it a vn outside the pool` });
  }
  if ([...m.nodes.map((n) => n.name)].includes(KEA_ELEMENT)) problems.push({ field: `nodes.${KEA_ELEMENT}`, problem: `the name ${KEA_ELEMENT} is the lab's DHCP server namespace in a lab with a dhcp section` });
  if (problems.length > 0) throw new ConfigErrors(problems, undefined, 'IIPTRAN_ERR_TOPOLOGY');
  relay.dhcp = 'relay';
  for (const n of m.nodes) {
    if (n.dhcp !== 'client') continue;
    const mine = n.vlinks.find((e) => e.peer === relay.name)!;
    Object.assign(mine, { address: 'dhcp', peerLinkAddr: relay.vnAddr, dhcp: 'client' });
    const theirs = relay.vlinks.find((e) => e.peer === n.name)!;
    Object.assign(theirs, { address: `${relay.vnAddr}/32`, peerLinkAddr: '', dhcp: 'peer' });
  }
  const upool = parseCidr(t.pools.underlay)!;
  const base = upool.addr + (m.networks.length + 1) * 256;
  if (base + 256 > upool.addr + 2 ** (32 - upool.prefixLen)) {
    throw new ConfigErrors([{ field: 'addressing.underlay', problem: `${t.pools.underlay} has no /24 left for the DHCP server's network` }], undefined, 'IIPTRAN_ERR_TOPOLOGY');
  }
  const ns = `${m.nsPrefix}${KEA_ELEMENT}`;
  const dhcp: LabDhcp = {
    relay: relay.name, ns, serverIf: 'eth0', relayIf: 'kea0', relayAddr: u32ToIpv4(base + 1), serverAddr: u32ToIpv4(base + 2),
    subnet: t.pools.vn, pool: d.pool, leaseS: d.leaseS, renewS: Math.floor(d.leaseS / 2), rebindS: Math.floor((d.leaseS * 7) / 8),
    reservations: Object.entries(d.reservations).map(([node, ip]) => ({ circuitId: `vl-${node}`, node, ip })),
  };
  m.veths.push({ a: { ns: relay.ns, ifname: dhcp.relayIf, address: `${dhcp.relayAddr}/24` }, b: { ns, ifname: dhcp.serverIf, address: `${dhcp.serverAddr}/24` } });
  m.dhcp = dhcp;
}
