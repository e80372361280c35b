// BGP sessions of a lab node, one per vlink, from BIRD (`show protocols`) or FRR
// (`show bgp summary json`), in one shape for `lab status` and the convergence wait.

import path from 'node:path';
import { birdCommand } from './bird-ctl.js';
import { frrCommand } from './frr-ctl.js';
import { bgpPeers, birdName6 } from './bgp.js';
import type { LabModel, ModelNode } from './topology-model.js';

export interface BgpSession {
  /** The vlink the session runs over. */
  iface: string;
  peer: string;
  address: string;
  asn: number;
  /** RFC 4271 state: Idle, Connect, Active, OpenSent, OpenConfirm, Established; `none` when the daemon has no such session. */
  state: string;
  /** Prefixes received from the peer (FRR only; null from BIRD). */
  prefixes: number | null;
  /** Dual stack: the state of the IPv6 session over the same vlink (MP-BGP, IPv6 unicast). */
  state6?: string;
}

const FSM = /\b(Idle|Connect|Active|OpenSent|OpenConfirm|Established|Close)\b/;

/** Per BIRD protocol name, the BGP state from `show protocols` (a protocol that is down and says nothing is Idle). */
export function parseBirdBgpStates(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[1] !== 'BGP') continue;
    out.set(f[0]!, FSM.exec(f.slice(4).join(' '))?.[1] ?? (f[3] === 'up' ? 'Established' : 'Idle'));
  }
  return out;
}

interface FrrPeerJson {
  state?: string;
  pfxRcd?: number;
}

/** Per peer address, state and received prefixes from `show bgp summary json` (FRR 8). */
export function parseFrrBgpSummary(json: string): Map<string, { state: string; prefixes: number | null }> {
  const out = new Map<string, { state: string; prefixes: number | null }>();
  let doc: { ipv4Unicast?: { peers?: Record<string, FrrPeerJson> }; ipv6Unicast?: { peers?: Record<string, FrrPeerJson> } };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return out;
  }
  // Each session is listed under the family it carries; IPv6 sessions have IPv6 addresses.
  for (const af of [doc.ipv4Unicast, doc.ipv6Unicast]) {
    for (const [addr, p] of Object.entries(af?.peers ?? {})) out.set(addr, { state: p.state ?? 'unknown', prefixes: p.pfxRcd ?? null });
  }
  return out;
}

/** The node's sessions, one per vlink; null when its daemon does not answer. */
export async function bgpSessions(model: LabModel, n: ModelNode, paths: { birdSocket: string | null; frrDir?: string | null | undefined }): Promise<BgpSession[] | null> {
  const peers = bgpPeers(model, n);
  if (n.bgp?.daemon === 'bird' && paths.birdSocket !== null) {
    const r = await birdCommand(paths.birdSocket, 'show protocols', 5000).catch(() => null);
    if (r === null || r.code >= 8000) return null;
    const states = parseBirdBgpStates(r.text);
    return peers.map((p) => ({
      iface: p.iface, peer: p.peer, address: p.address, asn: p.asn, state: states.get(p.birdName) ?? 'none', prefixes: null,
      ...(p.address6 === undefined ? {} : { state6: states.get(birdName6(p)) ?? 'none' }),
    }));
  }
  if (paths.frrDir === null || paths.frrDir === undefined) return null;
  const text = await frrCommand(path.join(paths.frrDir, 'bgpd.vty'), 'show bgp summary json', 5000).catch(() => null);
  if (text === null) return null;
  const states = parseFrrBgpSummary(text);
  return peers.map((p) => ({
    iface: p.iface, peer: p.peer, address: p.address, asn: p.asn, state: states.get(p.address)?.state ?? 'none', prefixes: states.get(p.address)?.prefixes ?? null,
    ...(p.address6 === undefined ? {} : { state6: states.get(p.address6)?.state ?? 'none' }),
  }));
}
