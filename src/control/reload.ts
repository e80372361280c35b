// SIGHUP on a running node: what changed in each vlink, and how each change is applied. A vlink
// keeps its TUN through every change but a rename, because the kernel deletes the routes
// through a TUN with it and tells nobody, a routing daemon included (io/route-snapshot.ts).
// When a new TUN cannot be avoided, the routes through the old one are put back on it.
// README "Reload (SIGHUP)" has the table of what each change does.

import type { Logger } from 'pino';
import type { NetSys, SavedRoute } from '../io/netsys.js';
import type { TunDevice, UnderlaySocket } from '../io/types.js';
import type { Spd } from '../dataplane/spd.js';
import { IPPROTO_IPIP } from '../dataplane/spd.js';
import type { Sad } from '../dataplane/sad.js';
import type { InboundSa, OutboundSa } from '../dataplane/sa.js';
import { linkPeerU32, type Vlink } from '../dataplane/vlink.js';
import { addrFromString, ipv4ToU32 } from '../wire/addr.js';
import type { Liveness } from './config-types.js';
import type { IkeEngine } from '../ike/engine.js';
import { planPeerUpdate } from '../ike/peer-update.js';
import { preparedPeer, usableOut, type PreparedVlink } from './node-vlinks.js';
import { ipv6ErrorSource, ipv6LinkSetup } from './config-ipv6.js';

/** What reload needs of the node; node.ts reloadHost() hands it over. */
export interface ReloadHost {
  log: Logger;
  netsys: NetSys;
  spd: Spd;
  sad: Sad;
  vlinks: Map<string, Vlink>;
  /** The running vlinks' prepared configs; reload keeps it current. */
  prepared: Map<string, PreparedVlink>;
  ike(): IkeEngine | null;
  ikeEngine(): Promise<IkeEngine>;
  socketFor(encap: 'udp' | 'esp'): UnderlaySocket;
  openLink(p: PreparedVlink): Promise<TunDevice>;
  addVlink(p: PreparedVlink, opened?: TunDevice): Promise<void>;
  removeVlink(name: string): void;
  setLiveness(v: Vlink, l: Liveness | null): void;
  carrier(v: Vlink, up: boolean, why: string): void;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  /** Nothing that matters changed. */
  kept: string[];
  /** Changed in place: same TUN, routes untouched. */
  updated: string[];
  /** The fields that changed, per updated vlink, as the config names them. */
  changes: Record<string, string[]>;
  /** A vlink whose name changed: a new TUN, with the old one's routes put back. */
  renamed: { from: string; to: string }[];
  /** An in-place update failed, so the vlink was recreated (routes put back); see the log. */
  recreated: string[];
  /** Routes put back after a new TUN or an address change. */
  routesRestored: number;
}

function sameKey(a: InboundSa | OutboundSa | null, b: InboundSa | OutboundSa | null): boolean {
  if (a === null || b === null) return a === b;
  return a.spi === b.spi && a.suite === b.suite && a.esn === b.esn && a.key.equals(b.key) && a.salt.equals(b.salt);
}

/** The fields of a vlink that differ between two prepared configs, as the config names them. */
export function vlinkChanges(a: PreparedVlink, b: PreparedVlink): string[] {
  const x = a.cfg;
  const y = b.cfg;
  const diff: [string, boolean][] = [
    ['peer', x.peer !== y.peer || x.peerName !== y.peerName],
    ['peer_domain', x.peerDomain !== y.peerDomain],
    ['peer_resolve', x.peerResolve !== y.peerResolve],
    ['peer_port', x.peerPort !== y.peerPort],
    ['encap', x.encap !== y.encap],
    ['address', x.address !== y.address],
    ['peer_address', x.peerAddress !== y.peerAddress],
    ['address6', x.address6 !== y.address6],
    ['link_local', x.linkLocal !== y.linkLocal],
    ['mtu', a.mtu !== b.mtu],
    ['replay_window', x.replayWindow !== y.replayWindow],
    ['liveness', JSON.stringify(x.liveness) !== JSON.stringify(y.liveness)],
    ['keying.mode', x.keying.mode !== y.keying.mode],
  ];
  if (x.keying.mode === 'manual' && y.keying.mode === 'manual') {
    diff.push(['keying (outbound SA)', !sameKey(a.out, b.out)], ['keying (inbound SA)', !sameKey(a.in, b.in)]);
  }
  const out = diff.filter(([, d]) => d).map(([f]) => f);
  if (a.ike !== null && b.ike !== null) {
    const ike = planPeerUpdate(a.ike, b.ike, a.keyId !== b.keyId, { ike: null, children: [] }).changed;
    out.push(...ike.filter((f) => f !== 'peer').map((f) => `keying.${f}`));
  }
  return out;
}

export async function applyReload(h: ReloadHost, next: Map<string, PreparedVlink>): Promise<ReloadResult> {
  const r: ReloadResult = { added: [], removed: [], kept: [], updated: [], changes: {}, renamed: [], recreated: [], routesRestored: 0 };
  const gone = [...h.vlinks.keys()].filter((n) => !next.has(n));
  const fresh = [...next.keys()].filter((n) => !h.vlinks.has(n));
  // A vlink to the same peer under a new name is a rename. Make before break: the new TUN comes
  // up beside the old one and each route through the old one is replaced by the same route
  // through the new one, so the kernel always has a route; then the old vlink goes.
  const renames = new Map<string, { from: string; tun: TunDevice }>();
  for (const to of fresh) {
    const peerOf = (c: PreparedVlink['cfg']) => c.peerName ?? c.peerDomain ?? c.peer;
    const from = gone.find((g) => peerOf(h.prepared.get(g)!.cfg) === peerOf(next.get(to)!.cfg) && ![...renames.values()].some((x) => x.from === g));
    if (from === undefined) continue;
    const routes = await snapshot(h, from);
    const tun = await h.openLink(next.get(to)!);
    renames.set(to, { from, tun });
    r.routesRestored += await restore(h, to, routes, true);
    inherit(next.get(to)!, liveSas(h, from));
  }
  for (const name of gone) {
    h.removeVlink(name);
    r.removed.push(name);
  }
  const changed: { v: Vlink; from: PreparedVlink; to: PreparedVlink; fields: string[] }[] = [];
  for (const [name, to] of next) {
    const v = h.vlinks.get(name);
    if (v === undefined) continue;
    const from = h.prepared.get(name)!;
    const fields = vlinkChanges(from, to);
    if (fields.length === 0) {
      // Same keys, maybe from renamed files: the running SAs (sequence numbers, replay window) stay.
      h.prepared.set(name, { ...to, out: from.out, in: from.in });
      r.kept.push(name);
    } else {
      changed.push({ v, from, to, fields });
    }
  }
  // Keying that moves to another peer or mode lets go of its SPD entry, IKE peer and SAs for
  // every vlink first, so two vlinks may swap peers within one reload.
  for (const c of changed) if (replacesKeying(c.fields)) detachKeying(h, c.v, c.from);
  for (const c of changed) {
    const name = c.v.name;
    r.changes[name] = c.fields;
    try {
      r.routesRestored += await updateInPlace(h, c.v, c.from, c.to, c.fields);
      r.updated.push(name);
      h.log.info({ vlink: name, changed: c.fields }, 'vlink updated in place (same TUN, routes kept)');
    } catch (e) {
      h.log.error({ vlink: name, changed: c.fields, err: e instanceof Error ? e.message : String(e) },
        'in-place update failed: recreating the vlink (new TUN) and putting its routes back');
      const routes = await snapshot(h, name);
      inherit(c.to, liveSas(h, name));
      h.removeVlink(name);
      await h.addVlink(c.to);
      r.routesRestored += await restore(h, name, routes);
      r.recreated.push(name);
    }
  }
  for (const name of fresh) {
    const ren = renames.get(name);
    await h.addVlink(next.get(name)!, ren?.tun);
    r.added.push(name);
    if (ren !== undefined) r.renamed.push({ from: ren.from, to: name });
  }
  return r;
}

async function snapshot(h: ReloadHost, name: string): Promise<SavedRoute[]> {
  try {
    return await h.netsys.routesVia(name);
  } catch (e) {
    h.log.warn({ vlink: name, err: e instanceof Error ? e.message : String(e) }, 'could not read the routes through this vlink; they will not be put back');
    return [];
  }
}

async function restore(h: ReloadHost, name: string, routes: SavedRoute[], replace = false): Promise<number> {
  if (routes.length === 0) return 0;
  const res = await h.netsys.restoreRoutes(name, routes, { replace });
  if (res.restored.length > 0) h.log.info({ vlink: name, routes: res.restored }, `put back ${res.restored.length} route(s) through ${name}`);
  for (const f of res.failed) h.log.warn({ vlink: name, route: f.route, err: f.error }, 'route through the vlink could not be put back');
  return res.restored.length;
}

function replacesKeying(fields: string[]): boolean {
  return fields.includes('peer') || fields.includes('peer_domain') || fields.includes('keying.mode');
}

/**
 * Takes the vlink's policy and IKE peer out (IKE deletes its SAs with it). Manual SAs stay in
 * the SAD until attachKeying knows whether their keys carry over; with no policy nothing is sent.
 */
function detachKeying(h: ReloadHost, v: Vlink, from: PreparedVlink): void {
  if (from.ike !== null) h.ike()?.removePeer(v.name);
  h.spd.removeVlink(v.name);
}

async function updateInPlace(h: ReloadHost, v: Vlink, from: PreparedVlink, to: PreparedVlink, fields: string[]): Promise<number> {
  const c = to.cfg;
  const has = (f: string) => fields.includes(f);
  let restored = 0;
  if (has('mtu')) {
    await h.netsys.setMtu(v.name, to.mtu);
    v.mtu = to.mtu;
  }
  if (has('address') || has('peer_address')) {
    const routes = await snapshot(h, v.name);
    const addr = (p: PreparedVlink) => ({ address: p.cfg.address.split('/')[0]!, prefixLen: p.cfg.prefixLen, peer: p.cfg.peerAddress });
    await h.netsys.replaceAddress(v.name, addr(from), addr(to));
    const a = addr(to);
    v.vnAddr = a.address;
    v.vnAddrU32 = ipv4ToU32(a.address);
    v.vnPrefixLen = a.prefixLen;
    v.vnPeer = a.peer;
    v.icmpSrcU32 = linkPeerU32(v.vnAddrU32, a.prefixLen, a.peer === undefined ? undefined : ipv4ToU32(a.peer));
    restored += await restore(h, v.name, routes);
  }
  if (has('address6') || has('link_local')) {
    await h.netsys.setIpv6(v.name, ipv6LinkSetup(from.cfg), ipv6LinkSetup(c));
    v.icmp6Src = ipv6ErrorSource(c);
  }
  if (has('encap')) {
    v.underlay = h.socketFor(c.encap);
    v.encap = c.encap;
  }
  if (has('peer_port')) v.peerPort = c.peerPort;
  if (replacesKeying(fields)) {
    await attachKeying(h, v, from, to);
  } else if (to.ike === null) {
    swapManualSas(h, v, to);
  } else if (fields.some((f) => f.startsWith('keying.'))) {
    const u = h.ike()!.updatePeer(to.ike, from.keyId !== to.keyId);
    h.log[u.action === 'reestablish' ? 'warn' : 'info']({ vlink: v.name, changed: u.changed, action: u.action }, `IKE settings changed: ${u.why}`);
  }
  if (has('replay_window')) {
    // Resized, not renewed: a fresh window would accept every packet it had already seen.
    for (const sa of v.inbound) sa.replay.resize(c.replayWindow);
  }
  if (has('liveness')) {
    h.setLiveness(v, c.liveness);
    // Nothing but liveness would turn the carrier back on; without an SA it stays off.
    if (c.liveness === null) h.carrier(v, v.policy.sa !== null, 'liveness turned off');
  }
  h.prepared.set(v.name, to);
  return restored;
}

/** New peer or keying mode: a new SPD entry, then the SAs or IKE peer of the new config. */
async function attachKeying(h: ReloadHost, v: Vlink, from: PreparedVlink, to: PreparedVlink): Promise<void> {
  const c = to.cfg;
  v.peer = addrFromString(preparedPeer(to), `vlinks.${c.name}.peer`);
  v.peerDst = v.peer;
  const keep = from.ike === null && to.ike === null;
  v.policy = h.spd.add({ src: v.local, dst: v.peer, proto: IPPROTO_IPIP, action: 'protect', vlink: v.name, sa: keep ? v.policy.sa : null });
  if (to.ike !== null) {
    if (from.ike === null) {
      for (const sa of v.inbound.splice(0)) h.sad.remove(sa.spi);
      h.carrier(v, false, 'keying is now IKEv2: no SA until it negotiates one');
    }
    (await h.ikeEngine()).addPeer(to.ike);
    return;
  }
  swapManualSas(h, v, to);
  if (from.ike !== null) h.carrier(v, true, 'keying is now manual: SAs installed');
}

/** The manual SAs a vlink runs now; none for IKEv2 (IKE negotiates new ones for a new vlink). */
function liveSas(h: ReloadHost, name: string): { out: OutboundSa | null; in: InboundSa | null } {
  const v = h.vlinks.get(name);
  if (v === undefined || h.prepared.get(name)?.ike !== null) return { out: null, in: null };
  return { out: v.policy.sa, in: v.inbound[0] ?? null };
}

/**
 * Manual keying: an SA whose key did not change stays the same SA, sequence number, IV counter
 * and replay window included, whatever else changed (peer, name). A new SA object would start
 * again from sequence number 1, which the peer's replay window drops until the peer restarts,
 * and its IVs would no longer continue one counter: only a new key may start over.
 */
function inherit(to: PreparedVlink, live: { out: OutboundSa | null; in: InboundSa | null }): void {
  if (to.ike !== null) return;
  if (live.out !== null && sameKey(live.out, to.out)) to.out = Object.assign(live.out, { dst: to.out!.dst });
  if (live.in !== null && sameKey(live.in, to.in)) {
    to.in = Object.assign(live.in, { src: to.in!.src });
    to.in.replay.resize(to.cfg.replayWindow);
  }
}

/** Manual keying in place: the SAs whose keys changed are replaced, the others carry on (inherit). */
function swapManualSas(h: ReloadHost, v: Vlink, to: PreparedVlink): void {
  const live = liveSas(h, v.name);
  inherit(to, live);
  if (to.in !== live.in) {
    for (const sa of v.inbound.splice(0)) h.sad.remove(sa.spi);
    h.sad.add(to.in!, v.name);
    v.inbound.push(to.in!);
  }
  v.policy.sa = usableOut(to);
}
