// Renders the control socket's JSON views (control/inspect.ts) as text for `iiptran show`.

import { table } from '../lab/table.js';
import { peerStateText } from '../ike/view.js';
import { renderDhcp } from './dhcp-inspector.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function drops(d: Obj): string {
  const e = Object.entries(d);
  return e.length === 0 ? '-' : e.map(([k, v]) => `${k}=${v}`).join(' ');
}

function outerStr(o: Obj | null): string {
  if (o === null) return '-';
  return `${o.src} > ${o.dst} ${o.proto === 41 ? 'ipv6' : 'ipip'}/${o.encap === 'udp' ? `udp:${o.dport}` : 'esp'}`;
}

/** A named peer in one cell: "b.overlay.test = 192.0.2.2 (secure, 25s)" or why it has no address. */
/** A KX domain in one cell: "site-b.test via gw1.site-b.test. (10) = 10.200.1.2", or why none. */
function kxCell(k: Obj): string {
  const x = (k.exchangers as Obj[]).find((e) => e.inUse);
  return x === undefined ? `${k.domain}: ${k.why}` : `${k.domain} via ${x.name} (${x.preference}) = ${x.addresses[0] ?? '?'}; ${k.why}`;
}

function dnsCell(l: Obj): string {
  if (l.kx != null) return kxCell(l.kx);
  const d: Obj | null = l.dns ?? null;
  if (d === null) return '-';
  const state = d.lastError !== null ? `${d.address === null ? '' : `${d.address}; `}${d.lastError}` : `${d.address ?? '?'} (${d.verdict}${d.ttl === null ? '' : `, ${d.ttl}s`})`;
  return `${d.name} = ${state}`;
}

/** The data path in one cell: "native tso+uso gso+gro fast" (crypto, TUN offloads, UDP offloads, the native fast path on). */
function pathCell(p: Obj | undefined): string {
  if (p == null) return '-';
  const tun = p.tunOffload ? `tso${p.uso ? '+uso' : ''}` : 'no-tso';
  const udp = [p.udpGso ? 'gso' : '', p.udpGro ? 'gro' : ''].filter(Boolean).join('+') || 'no-gso';
  const fast = (p.fastOut as Obj | null | undefined)?.on === true ? ' fast' : '';
  return `${p.crypto} ${tun} ${udp}${fast}`;
}

function tunDropsCell(d: Obj | null | undefined): string {
  return d == null ? '-' : `tx=${d.tx} rx=${d.rx}`;
}

export function renderLinks(v: Obj): string {
  const named = (v.links as Obj[]).some((l) => l.dns != null || l.kx != null);
  const head = ['VLINK', 'STATE', 'ADDRESS', 'MTU', 'OUTER HEADER', 'SPI OUT', 'SPI IN', 'TX PKTS', 'RX PKTS', 'DROPS', 'PATH', 'TUN DROPS'];
  return table(
    named ? [...head, 'PEER NAME'] : head,
    v.links.map((l: Obj) => {
      // An IPv6 vlink shows its address6 (or link-local address) beside the IPv4 one.
      const address = l.linkLocal == null ? l.address : `${l.address} ${l.address6 ?? `${l.linkLocal}/64`}`;
      const row = [l.name, l.state, address, l.mtu, outerStr(l.outer), l.spiOut, l.spiIn.join(','), l.txPackets, l.rxPackets, drops(l.drops),
        pathCell(l.path), tunDropsCell(l.tunDrops)];
      return named ? [...row, dnsCell(l)] : row;
    }),
  );
}

export function renderDns(v: Obj): string {
  if (!v.configured) return 'no dns section: every vlink names its peer by address';
  const peers = (v.peers as Obj[]).map((p) => [p.vlink, p.name, p.resolve, p.address ?? '-', (p.addresses as string[]).join(',') || '-', p.verdict ?? '-', p.ttl ?? '-',
    p.nextRefreshInSeconds ?? '-', p.lastError ?? p.reason ?? '']);
  const cache = (v.cache as Obj[]).map((c) => [c.name, c.type, c.verdict, c.status, c.ttl, (c.answers as string[]).join(' | ') || '-', c.reason ?? '']);
  const counters = Object.entries(v.counters as Record<string, number>).map(([k, n]) => `${k}=${n}`).join(' ');
  return [
    `servers ${(v.servers as string[]).join(', ')}; dnssec ${v.dnssec}; trust anchors ${(v.trustAnchors?.zones ?? []).join(', ') || 'none'} (${v.trustAnchors?.from ?? '-'})`,
    table(['VLINK', 'NAME', 'RESOLVE', 'IN USE', 'ADDRESSES', 'VERDICT', 'TTL', 'REFRESH IN', 'PROBLEM / REASON'], peers),
    'cache:',
    table(['NAME', 'TYPE', 'VERDICT', 'STATUS', 'TTL', 'ANSWERS', 'REASON'], cache),
    `stub: ${counters || 'no drops'}`,
  ].join('\n');
}

export function renderPolicies(v: Obj): string {
  return (
    table(
      ['ID', 'SELECTOR (outer header only)', 'ACTION', 'VLINK', 'SA'],
      v.policies.map((p: Obj) => [p.id, `${p.selector.src} > ${p.selector.dst} proto ${p.selector.proto}`, p.action, p.vlink, p.sa]),
    ) + `\ndefault: ${v.default} (no policy matches: packet dropped, never sent in clear)`
  );
}

export function renderSas(v: Obj): string {
  return table(
    ['DIR', 'SPI', 'VLINK', 'SUITE', 'SELECTOR', 'SEQ', 'PACKETS', 'BYTES', 'REPLAY DROPS', 'ICV DROPS', 'AGE', 'KEYING'],
    v.sas.map((s: Obj) => [
      s.dir,
      s.spi,
      s.vlink,
      s.suite + (s.esn ? '+esn' : ''),
      `${s.selector.src} > ${s.selector.dst} proto 4`,
      s.seq + (s.exhausted ? ' EXHAUSTED' : ''),
      s.packets,
      s.bytes,
      s.replayDrops,
      s.icvDrops,
      `${s.ageSeconds}s`,
      s.keying,
    ]),
  );
}

export function renderCounters(v: Obj): string {
  const names: string[] = Object.keys(v.vlinks);
  const rows = (v.reasons as string[]).map((r) => [r, v.node_drops[r], ...names.map((n) => v.vlinks[n][r])]);
  const stats = ['txPackets', 'txBytes', 'rxPackets', 'rxBytes', 'icmpFragNeeded', 'tsoSplit', 'tunTxDropped', 'tunRxDropped']
    .map((s) => [s, '-', ...names.map((n) => v.vlinks[n][s] ?? '-')]);
  return table(['COUNTER', '(node)', ...names], [...stats, ...rows]);
}

/** A multipath route's path as the ROUTE column shows it: which of how many, and its weight. */
function pathTag(i: number, n: number, h: Obj): string {
  if (n === 1) return '';
  return ` [${i + 1}/${n}${h.weight === 1 ? '' : ` w${h.weight}`}${h.flags.includes('dead') ? ' dead' : ''}]`;
}

/** One row per path: an ordinary route is one row, a multipath (ECMP) route one per next hop. */
export function renderRoutes(v: Obj): string {
  if (v.routes.length === 0) return 'no routes leave by a vlink';
  const rows: (string | number | null | undefined)[][] = [];
  for (const r of v.routes as Obj[]) {
    // Views from a daemon older than `nexthops` carry the single path on the route itself.
    const hops: Obj[] = r.nexthops ?? [r];
    hops.forEach((h, i) => rows.push([
      r.dst + pathTag(i, hops.length, h),
      h.gateway ?? h.dev,
      r.protocol,
      h.vlink,
      h.state,
      outerStr(h.outer),
      h.policy === null ? '-' : `#${h.policy.id} ${h.policy.action}`,
      h.saOut?.spi,
      h.saOut?.suite,
      h.saOut?.packets,
      h.saOut?.bytes,
      h.saIn?.spi,
      h.saIn?.packets,
      h.saIn?.replayDrops,
    ]));
  }
  return table(
    ['ROUTE', 'VIA', 'PROTO', 'VLINK', 'STATE', 'OUTER HEADER', 'POLICY', 'SA OUT', 'SUITE', 'PKTS OUT', 'BYTES OUT', 'SA IN', 'PKTS IN', 'REPLAY DROPS'],
    rows,
  );
}

function ikeSuite(i: Obj | null): string {
  if (i === null) return '-';
  return [i.encr, i.integ, i.prf, i.dh].filter((x) => x !== null).join('/');
}

/** Behind which end the NAT sits, as the peer column's suffix. */
function natTag(n: Obj | null | undefined): string {
  if (n === null || n === undefined || !n.detected) return '';
  return n.local && n.remote ? ' (NAT both)' : n.local ? ' (NAT here)' : ' (NAT peer)';
}

/** A CHILD_SA's rekey timer, or what its rekey is doing (rekey.ts). */
function childRekeyText(c: Obj): string {
  if (c.rekeyState === undefined || c.rekeyState === 'active') return c.rekeyInSeconds == null ? '' : ` (rekey in ${c.rekeyInSeconds}s)`;
  return ` (${c.rekeyState})`;
}

export function renderIke(v: Obj): string {
  if (v.peers.length === 0) return 'no vlink uses ikev2 keying';
  const rows: (string | number)[][] = [];
  for (const p of v.peers as Obj[]) {
    const peer = p.kx != null ? `${kxCell(p.kx)}` : p.peerName == null ? p.peer : `${p.peerName} (${p.peer || 'unresolved'}${p.dns?.verdict == null ? '' : `, ${p.dns.verdict}`})`;
    if (p.sas.length === 0) rows.push([p.vlink, peer, p.role, peerStateText(p as never), '-', '-', '-', '-', '-', p.lastError ?? '']);
    for (const s of p.sas as Obj[]) {
      const kids = (s.children as Obj[]).map((c) => `in ${c.spiIn} out ${c.spiOut} ${c.suite}${c.esn ? '+esn' : ''}${c.mode === 'tunnel-any' ? ' tunnel-any' : ''}${Array.isArray(c.protocols) && !c.protocols.includes(41) && c.mode !== 'tunnel-any' ? ' ipv4-only' : ''}${childRekeyText(c)}`).join('; ');
      const st = s.state === 'CONNECTING' && s.role === 'initiator' && p.attempt > 1 ? `CONNECTING (attempt ${p.attempt})` : s.state;
      rows.push([p.vlink, `${s.peer}:${s.peerPort}${natTag(s.nat)}`, s.role, st, `${s.spiI}_i ${s.spiR}_r`, ikeSuite(s.ike), `${s.ageSeconds}s${s.rekeyInSeconds == null ? '' : ` (rekey in ${s.rekeyInSeconds}s)`}`,
        `${s.localId} <> ${s.remoteId}${s.peerPublicKey == null ? '' : ` (key ${s.peerPublicKey.type} sha256:${String(s.peerPublicKey.sha256).slice(0, 16)})`}`, kids === '' ? '-' : kids, s.lastError ?? p.lastError ?? '']);
    }
  }
  const d = Object.entries(v.stats.dropped as Record<string, number>).map(([k, n]) => `${k}=${n}`).join(' ');
  return table(['VLINK', 'PEER', 'ROLE', 'STATE', 'IKE SPIS', 'IKE SUITE', 'AGE', 'IDS', 'CHILD SAS', 'LAST ERROR'], rows) +
    `
IKE messages: ${v.stats.rx} received, ${v.stats.tx} sent${d === '' ? '' : `, dropped: ${d}`}` +
    (v.stats.cookies === undefined ? '' : `\nhalf-open IKE SAs: ${v.stats.halfOpen}${v.stats.cookieMode ? ' (COOKIE mode)' : ''}; cookies sent ${v.stats.cookies.sent}, accepted ${v.stats.cookies.accepted}, rejected ${v.stats.cookies.rejected}; NAT keepalives sent ${v.stats.natKeepalives}`);
}

export function renderGuard(v: Obj): string {
  if (!v.configured) return 'no guard: vn_prefixes is not set, so VN traffic is not fail-closed while the daemon is down';
  const k: Obj | null = v.kernel;
  const yes = (b: boolean) => (b ? 'yes' : 'NO');
  const rows = (v.prefixes as string[]).map((p) => [p, yes(k !== null && k.routes.includes(p)), yes(k !== null && k.prefixes.includes(p))]);
  for (const p of (k?.prefixes ?? []) as string[]) if (!v.prefixes.includes(p)) rows.push([`${p} (not configured)`, yes(k!.routes.includes(p)), 'yes']);
  const d = v.drops;
  return [
    `guard ${v.installed ? 'installed' : 'NOT INSTALLED as configured'}: VN traffic leaves by a vlink or not at all, also while the daemon is down`,
    table(['PREFIX', `UNREACHABLE ROUTE (metric ${v.metric}, proto ${v.routeProtocol})`, 'IN NFT SET'], rows),
    `nft table ${v.table}: ${k === null || !k.table ? 'MISSING' : 'present'}; allowed output interfaces: ${((k?.allowed ?? v.allowed) as string[]).join(', ')}`,
    `dropped: ${d.packets} packets (output ${d.output.packets}, forward ${d.forward.packets}), ${d.output.bytes + d.forward.bytes} bytes`,
  ].join('\n');
}

export const RENDERERS: Record<string, (v: Obj) => string> = {
  dns: renderDns,
  dhcp: renderDhcp,
  guard: renderGuard,
  ike: renderIke,
  links: renderLinks,
  policies: renderPolicies,
  sas: renderSas,
  counters: renderCounters,
  routes: renderRoutes,
};
