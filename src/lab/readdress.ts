// `iiptran lab readdress NODE`: the real "peer changed its address" scenario. The node gets a
// free address on its underlay network, its daemon is restarted with it (underlay.address is
// fixed for a daemon's life), and the lab zone publishes the new A record, re-signed and
// served before the command returns. Its peers are not touched: they name it, so they find
// the new address through DNS (within the TTL, sooner if the node keys to them first).

import { IiptranError } from '../errors.js';
import { parseCidr, u32ToIpv4 } from '../wire/addr.js';
import { nsExec } from './netns.js';
import { NODE_UNDERLAY_IF, type LabModel } from './topology-model.js';
import { nodeFqdn, publishedAddress } from './dns-model.js';
import { publish, requireDns } from './dns-service.js';
import { setLink } from './fault.js';
import { startNodeDaemon, stopNodeDaemon } from './node-restart.js';
import { nodeOf, saveState, type LabState } from './state.js';

/** The lowest address of `network` that no member, no DNS server and nothing in `avoid` holds. */
export function freeAddress(m: LabModel, network: string, avoid: string[]): string {
  const net = m.networks.find((n) => n.name === network);
  if (net === undefined) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `lab model has no network ${network}`);
  const used = new Set([...net.members.map((x) => x.address), ...avoid, ...(m.dns?.network === network ? [m.dns.address] : [])]);
  const c = parseCidr(net.subnet)!;
  const last = 2 ** (32 - net.prefixLen) - 2;
  for (let h = 1; h <= last; h++) {
    const a = u32ToIpv4((c.addr + h) >>> 0);
    if (!used.has(a)) return a;
  }
  throw new IiptranError('IIPTRAN_ERR_LAB', `underlay network ${network} (${net.subnet}) has no free address left`);
}

/** Moves `node` to `next` in the model: its own record, its network membership, and what its peers' vlink ends say about it. */
export function moveInModel(m: LabModel, node: string, next: string): void {
  const n = m.nodes.find((x) => x.name === node)!;
  const old = n.underlayAddr;
  n.underlayAddr = next;
  for (const member of m.networks.find((x) => x.name === n.network)!.members) if (member.element === node) member.address = next;
  for (const v of m.veths) if (v.a.ns === n.ns && v.a.address !== null) v.a.address = `${next}/${n.underlayPrefixLen}`;
  for (const o of m.nodes) {
    for (const e of o.vlinks) {
      if (e.peer !== node) continue;
      e.peerId = next;
      if (e.peerUnderlay === old) e.peerUnderlay = next;
    }
  }
}

export interface ReaddressResult {
  lab: string;
  node: string;
  name: string;
  old: string;
  new: string;
  /** The A record (differs from `new` for a node behind NAT: its router's outside address). */
  published: string;
  ttl: number;
  serial: number;
  /** When the new record was first seen served (ISO): peers follow from here. */
  servedAt: string | null;
  /** Whether peers name this node (dns.named_peers) and so can follow it. */
  peersFollow: boolean;
  ms: { stop: number; address: number; sign: number; serve: number; start: number; total: number };
}

export async function readdress(s: LabState, node: string): Promise<ReaddressResult> {
  const { dns, st } = requireDns(s);
  const { model: n } = nodeOf(s, node);
  const t0 = Date.now();
  const old = n.underlayAddr;
  const next = freeAddress(s.model, n.network, [old]);
  const stop = await stopNodeDaemon(s, node);

  const t1 = Date.now();
  const len = n.underlayPrefixLen;
  await nsExec(n.ns, ['ip', 'addr', 'del', `${old}/${len}`, 'dev', NODE_UNDERLAY_IF], { allowFail: true });
  await nsExec(n.ns, ['ip', 'addr', 'add', `${next}/${len}`, 'dev', NODE_UNDERLAY_IF]);
  // Removing the subnet's only address took the default route with it.
  if (n.gateway !== null) await nsExec(n.ns, ['ip', 'route', 'replace', 'default', 'via', n.gateway, 'dev', NODE_UNDERLAY_IF]);
  moveInModel(s.model, node, next);
  saveState(s);
  const address = Date.now() - t1;

  const zone = await publish(s, () => {});
  // Cut paths follow the node too: the drop rules name the address each end reaches the other at.
  for (const [a, b] of s.faults.filter(([x, y]) => x === node || y === node)) await setLink(s, a, b, false);
  const started = await startNodeDaemon(s, node);
  saveState(s);
  return {
    lab: s.name, node, name: nodeFqdn(dns, node), old, new: next, published: publishedAddress(s.model, n), ttl: dns.ttl, serial: zone.serial,
    servedAt: st.servedAt, peersFollow: dns.namedPeers,
    ms: { stop, address, sign: zone.signMs, serve: zone.serveMs, start: started.readyMs, total: Date.now() - t0 },
  };
}
