// What `metrics_listen` serves: the node's state as Prometheus metrics, read at scrape time from
// the same objects the inspector shows (inspect.ts), so a scrape costs nothing on the packet path.
// Each part of the node is one source; a new part (DHCP leases, KX) adds its own source to
// METRIC_SOURCES below, in a file of its own, and nothing else here changes.

import type { OverlayNode } from './node.js';
import type { GuardState } from '../io/guard.js';
import { MetricsWriter } from './metrics-text.js';
import { DROP_REASONS } from '../dataplane/drop-reasons.js';
import { IKE_DROP_REASONS } from '../ike/drop-reasons.js';
import { hex32x } from '../wire/hex.js';
import type { InboundSa, OutboundSa } from '../dataplane/sa.js';

/** What a source reads besides the node: state the daemon fetched for this scrape. */
export interface ScrapeContext {
  node: OverlayNode;
  /** The guard as read back from the kernel; null without vn_prefixes or a guard implementation. */
  guard: GuardState | null;
  now: number;
}

export type MetricsSource = (w: MetricsWriter, c: ScrapeContext) => void;

const IKE_PEER_STATES = ['ESTABLISHED', 'CONNECTING', 'RESOLVING', 'WAITING', 'IDLE'] as const;
const DNS_VERDICTS = ['secure', 'insecure', 'bogus', 'indeterminate'] as const;

export function nodeMetrics(w: MetricsWriter, { node }: ScrapeContext): void {
  w.declare('iiptran_start_time_seconds', 'gauge', 'When this daemon started, in seconds since the epoch.')
    .add('iiptran_start_time_seconds', {}, node.startedAt / 1000);
  w.declare('iiptran_node_drops_total', 'counter', 'Packets dropped before a vlink was known (unknown SPI, malformed), by reason.');
  for (const r of DROP_REASONS) w.add('iiptran_node_drops_total', { reason: r }, node.nodeDrops[r]);
}

export function vlinkMetrics(w: MetricsWriter, { node }: ScrapeContext): void {
  const counters = [
    ['iiptran_vlink_tx_packets_total', 'txPackets', 'Inner packets read from the vlink TUN and sent protected.'],
    ['iiptran_vlink_tx_bytes_total', 'txBytes', 'Inner bytes read from the vlink TUN and sent protected.'],
    ['iiptran_vlink_rx_packets_total', 'rxPackets', 'Inner packets decrypted, checked and written to the vlink TUN.'],
    ['iiptran_vlink_rx_bytes_total', 'rxBytes', 'Inner bytes decrypted, checked and written to the vlink TUN.'],
    ['iiptran_vlink_icmp_frag_needed_total', 'icmpFragNeeded', 'ICMP fragmentation-needed messages sent back to VN senders.'],
    ['iiptran_vlink_probes_sent_total', 'probesTx', 'Liveness probes (ESP dummy packets) sent.'],
    ['iiptran_vlink_probes_received_total', 'probesRx', 'Liveness probes received.'],
    ['iiptran_vlink_peer_port_changes_total', 'peerPortChanges', 'Times the peer\'s UDP source port changed (NAT rebinding).'],
  ] as const;
  w.declare('iiptran_vlink_up', 'gauge', '1 when the vlink\'s carrier is on (peer heard within dead_ms, SA present).');
  w.declare('iiptran_vlink_mtu_bytes', 'gauge', 'The vlink TUN\'s MTU.');
  w.declare('iiptran_vlink_last_heard_seconds', 'gauge', 'Seconds since the last authentic packet from the peer (vlinks with liveness only).');
  for (const [name, , help] of counters) w.declare(name, 'counter', help);
  w.declare('iiptran_vlink_drops_total', 'counter', 'Packets dropped on a vlink, by reason (README "Drop reasons").');
  for (const v of node.vlinks.values()) {
    const l = { vlink: v.name };
    w.add('iiptran_vlink_up', l, v.carrier ? 1 : 0);
    w.add('iiptran_vlink_mtu_bytes', l, v.mtu);
    const live = node.livenessOf(v.name);
    if (live !== null) w.add('iiptran_vlink_last_heard_seconds', l, live.lastHeardMsAgo / 1000);
    for (const [name, field] of counters) w.add(name, l, v.stats[field]);
    for (const r of DROP_REASONS) w.add('iiptran_vlink_drops_total', { vlink: v.name, reason: r }, v.drops[r]);
  }
}

export function saMetrics(w: MetricsWriter, { node, now }: ScrapeContext): void {
  w.declare('iiptran_sa_packets_total', 'counter', 'Packets through an ESP SA (outbound: protected; inbound: delivered after every check).');
  w.declare('iiptran_sa_bytes_total', 'counter', 'Inner bytes through an ESP SA.');
  w.declare('iiptran_sa_age_seconds', 'gauge', 'Seconds since the SA was installed.');
  w.declare('iiptran_sa_replay_drops_total', 'counter', 'Inbound packets this SA dropped as replays.');
  w.declare('iiptran_sa_icv_drops_total', 'counter', 'Inbound packets this SA dropped for a bad ICV.');
  w.declare('iiptran_sa_exhausted', 'gauge', '1 when an outbound non-ESN SA used its last sequence number.');
  const one = (sa: OutboundSa | InboundSa, vlink: string) => {
    const l = { vlink, dir: sa.dir, spi: hex32x(sa.spi), suite: sa.suite, keying: sa.keying };
    w.add('iiptran_sa_packets_total', l, sa.stats.packets);
    w.add('iiptran_sa_bytes_total', l, sa.stats.bytes);
    w.add('iiptran_sa_age_seconds', l, Math.max(0, (now - sa.createdAt) / 1000));
    if (sa.dir === 'in') {
      w.add('iiptran_sa_replay_drops_total', l, sa.stats.replayDrops);
      w.add('iiptran_sa_icv_drops_total', l, sa.stats.icvDrops);
    } else {
      w.add('iiptran_sa_exhausted', l, sa.exhausted ? 1 : 0);
    }
  };
  for (const v of node.vlinks.values()) {
    if (v.policy.sa !== null) one(v.policy.sa, v.name);
    for (const s of v.inbound) one(s, v.name);
  }
}

export function ikeMetrics(w: MetricsWriter, { node }: ScrapeContext): void {
  const e = node.ike;
  w.declare('iiptran_ike_peer_state', 'gauge', 'IKE state of an ikev2 vlink: 1 for the state it is in, 0 for the others.');
  w.declare('iiptran_ike_peer_attempt', 'gauge', 'Consecutive IKE failures + 1 for an ikev2 vlink.');
  w.declare('iiptran_ike_sa_age_seconds', 'gauge', 'Seconds since each IKE SA was created.');
  w.declare('iiptran_ike_child_sas', 'gauge', 'CHILD_SAs held by the vlink\'s IKE SAs.');
  w.declare('iiptran_ike_rekeys_total', 'counter', 'Completed rekeys by kind (ike, child), in either role.');
  w.declare('iiptran_ike_messages_received_total', 'counter', 'IKE datagrams received.');
  w.declare('iiptran_ike_messages_sent_total', 'counter', 'IKE datagrams sent.');
  w.declare('iiptran_ike_drops_total', 'counter', 'IKE datagrams dropped, by reason (README "Drop reasons").');
  w.declare('iiptran_ike_half_open_sas', 'gauge', 'Responder IKE SAs waiting for IKE_AUTH.');
  w.declare('iiptran_ike_cookies_sent_total', 'counter', 'COOKIE notifications sent (RFC 7296 2.6).');
  w.declare('iiptran_ike_nat_keepalives_sent_total', 'counter', 'NAT keepalives sent from behind a NAT.');
  if (e === null) return;
  for (const p of e.view()) {
    const l = { vlink: p.vlink };
    for (const s of IKE_PEER_STATES) w.add('iiptran_ike_peer_state', { vlink: p.vlink, state: s }, p.state === s ? 1 : 0);
    w.add('iiptran_ike_peer_attempt', l, p.attempt);
    for (const sa of p.sas) w.add('iiptran_ike_sa_age_seconds', { vlink: p.vlink, role: sa.role, state: sa.state, spi_i: sa.spiI, spi_r: sa.spiR }, sa.ageSeconds);
    w.add('iiptran_ike_child_sas', l, p.sas.reduce((n, sa) => n + sa.children.length, 0));
    const r = e.stats.rekeys[p.vlink];
    w.add('iiptran_ike_rekeys_total', { vlink: p.vlink, kind: 'ike' }, r?.ike ?? 0);
    w.add('iiptran_ike_rekeys_total', { vlink: p.vlink, kind: 'child' }, r?.child ?? 0);
  }
  w.add('iiptran_ike_messages_received_total', {}, e.stats.rx);
  w.add('iiptran_ike_messages_sent_total', {}, e.stats.tx);
  for (const r of IKE_DROP_REASONS) w.add('iiptran_ike_drops_total', { reason: r }, e.stats.dropped[r] ?? 0);
  w.add('iiptran_ike_half_open_sas', {}, e.stats.halfOpen);
  w.add('iiptran_ike_cookies_sent_total', {}, e.stats.cookies.sent);
  w.add('iiptran_ike_nat_keepalives_sent_total', {}, e.stats.natKeepalives);
}

export function dnsMetrics(w: MetricsWriter, { node }: ScrapeContext): void {
  w.declare('iiptran_dns_peer_verdict', 'gauge', 'DNSSEC verdict of a named peer\'s last lookup: 1 for it, 0 for the others (all 0 before the first).');
  w.declare('iiptran_dns_peer_usable', 'gauge', '1 when the named peer\'s last answer is usable under the node\'s dnssec policy.');
  w.declare('iiptran_dns_peer_ttl_seconds', 'gauge', 'Seconds left of the named peer\'s answer.');
  w.declare('iiptran_dns_peer_lookup_error', 'gauge', '1 while the last lookup could not be used (show dns: lastError).');
  w.declare('iiptran_dns_stub_drops_total', 'counter', 'DNS replies the stub resolver dropped, and failed attempts, by reason.');
  const d = node.dns;
  if (d === null) return;
  for (const v of node.vlinks.values()) {
    const p = d.linkView(v.name);
    if (p === null) continue;
    const l = { vlink: v.name, name: p.name };
    for (const s of DNS_VERDICTS) w.add('iiptran_dns_peer_verdict', { ...l, verdict: s }, p.verdict === s ? 1 : 0);
    w.add('iiptran_dns_peer_usable', l, p.usable ? 1 : 0);
    if (p.ttl !== null) w.add('iiptran_dns_peer_ttl_seconds', l, p.ttl);
    w.add('iiptran_dns_peer_lookup_error', l, p.lastError === null ? 0 : 1);
  }
  const counters = d.view(node.vlinks.keys()).counters as Record<string, number>;
  for (const [reason, n] of Object.entries(counters)) w.add('iiptran_dns_stub_drops_total', { reason }, n);
}

export function guardMetrics(w: MetricsWriter, { node, guard }: ScrapeContext): void {
  w.declare('iiptran_guard_configured', 'gauge', '1 when vn_prefixes is set (the fail-closed guard is wanted).');
  w.declare('iiptran_guard_dropped_packets_total', 'counter', 'VN packets the guard\'s nftables table dropped, by hook.');
  w.declare('iiptran_guard_dropped_bytes_total', 'counter', 'VN bytes the guard\'s nftables table dropped, by hook.');
  w.add('iiptran_guard_configured', {}, node.guardSpec === null ? 0 : 1);
  if (guard === null) return;
  for (const hook of ['output', 'forward'] as const) {
    w.add('iiptran_guard_dropped_packets_total', { hook }, guard.drops[hook].packets);
    w.add('iiptran_guard_dropped_bytes_total', { hook }, guard.drops[hook].bytes);
  }
}

/**
 * Every source, in output order. DHCP leases (issue 14) and KX/IPSECA state plug in here: a
 * `MetricsSource` in its own file (e.g. metrics-dhcp.ts reading node.dhcp), added to this list.
 */
export const METRIC_SOURCES: readonly MetricsSource[] = [nodeMetrics, vlinkMetrics, saMetrics, ikeMetrics, dnsMetrics, guardMetrics];

export function renderMetrics(c: ScrapeContext, sources: readonly MetricsSource[] = METRIC_SOURCES): string {
  const w = new MetricsWriter();
  for (const s of sources) s(w, c);
  return w.text();
}
