// Fault injection for `lab link A B down|up`: cuts the underlay path between two nodes with
// nftables drop rules at both ends (this kernel has no netem, and downing an interface would
// cut every peer sharing it). Each end drops everything to and from the address at which it
// reaches the other, which for a node behind NAT is the NAT router's outside address.

import { nsExec } from './netns.js';
import type { LabModel, ModelNode } from './topology-model.js';
import { saveState, type LabState } from './state.js';
import { IiptranError } from '../errors.js';

export function faultKey(a: string, b: string): string {
  return [a, b].sort().join(' ');
}

/** nft identifiers allow no "-"; node names allow no "_", so the mapping cannot collide. */
function tableFor(peer: string): string {
  return `iiptran_fault_${peer.replace(/-/g, '_')}`;
}

function seenFrom(m: LabModel, target: ModelNode, from: ModelNode): string {
  if (target.behindNat !== null && target.behindNat !== from.behindNat) return m.routers.find((r) => r.name === target.behindNat)!.nat!.outsideAddr;
  return target.underlayAddr;
}

/** `ip` or, for an IPv6 underlay address, `ip6`: the nft family and its address match. */
function fam(addr: string): 'ip' | 'ip6' {
  return addr.includes(':') ? 'ip6' : 'ip';
}

export function faultRuleset(peer: string, addr: string): string {
  const t = tableFor(peer);
  const f = fam(addr);
  return `table ${f} ${t} {
  chain in { type filter hook input priority filter - 10; policy accept; ${f} saddr ${addr} drop; }
  chain out { type filter hook output priority filter - 10; policy accept; ${f} daddr ${addr} drop; }
}`;
}

export async function setLink(s: LabState, a: string, b: string, up: boolean): Promise<void> {
  const na = s.model.nodes.find((n) => n.name === a);
  const nb = s.model.nodes.find((n) => n.name === b);
  for (const [name, n] of [[a, na], [b, nb]] as const) {
    if (n === undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab ${s.name} has no node "${name}"; its nodes: ${s.model.nodes.map((x) => x.name).join(', ')}`);
  }
  if (a === b) throw new IiptranError('IIPTRAN_ERR_USAGE', 'NODE_A and NODE_B must differ');
  for (const [me, peer] of [[na!, nb!], [nb!, na!]]) {
    // Replace rather than add, so `down` twice leaves one rule set and `up` removes it.
    await nsExec(me.ns, ['nft', 'delete', 'table', fam(seenFrom(s.model, peer, me)), tableFor(peer.name)], { allowFail: true });
    if (!up) await nsExec(me.ns, ['nft', faultRuleset(peer.name, seenFrom(s.model, peer, me))]);
  }
  const key = faultKey(a, b);
  s.faults = s.faults.filter(([x, y]) => faultKey(x, y) !== key);
  if (!up) s.faults.push([a, b]);
  saveState(s);
}
