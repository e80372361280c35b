// A node with `vn: dhcp` has no VN address in the lab model: it has what its lease says, now.
// Status and convergence ask each such daemon (`show dhcp`) and look at a copy of the lab with
// those addresses filled in; a node without a lease yet keeps `dhcp` and no address, so routes
// to it and pings from it are simply missing until it has one.

import { controlCall } from '../control/control-client.js';
import type { LabState } from './state.js';

interface DhcpView {
  clients: { installed: string | null; lease: { address: string } | null }[];
}

/** The address a node's daemon has on its vlink from its lease, or null. */
export async function leasedAddress(s: LabState, node: string): Promise<string | null> {
  const v = (await controlCall(s.nodes[node]!.socket, 'show', { what: 'dhcp' }, 3000).catch(() => null)) as DhcpView | null;
  const c = v?.clients.find((x) => x.installed !== null && x.lease !== null);
  return c?.lease?.address ?? null;
}

/** `s` itself when no node leases its address, else a copy with the current leases filled in. */
export async function withLeases(s: LabState): Promise<LabState> {
  const dhcp = s.model.nodes.filter((n) => n.dhcp === 'client');
  if (dhcp.length === 0) return s;
  const got = new Map(await Promise.all(dhcp.map(async (n) => [n.name, await leasedAddress(s, n.name)] as const)));
  const nodes = s.model.nodes.map((n) => {
    const a = got.get(n.name);
    return a === undefined || a === null ? n : { ...n, vn: `${a}/32`, vnAddr: a };
  });
  return { ...s, model: { ...s.model, nodes } };
}
