// `iiptran lab dns NAME show|break|unsign|restore`: what the lab DNS service serves, and the
// changes that make a host's answers bogus, the whole zone insecure, or everything secure again.
// Each change is re-signed and served (dns-service.ts `publish`) before the command returns.

import { IiptranError } from '../errors.js';
import { nodeFqdn } from './dns-model.js';
import { dnsFiles, publish, requireDns, servedSerials, zoneSpec, type PublishResult } from './dns-service.js';
import { BREAK_MODES, type BreakMode } from './dns-zone.js';
import { alive } from './detached.js';
import type { LabState } from './state.js';
import { resetSites } from './kx-dns-ops.js';
import { renderSites, sitesView, type SiteView } from './kx-dns-view.js';

/**
 * What a validator concludes for each state, checked with delv and unbound-host by
 * test/netns/lab-dns.test.ts (reason as delv words it).
 */
export const BREAK_EFFECT: Record<BreakMode, string> = {
  expired: "the host's A RRSIG is replaced by one from the same key whose validity ended a week ago: bogus, signature expired",
  badsig: "one base64 character of the host's A RRSIG is changed: bogus, the signature does not verify",
  nods: "the host becomes its own signed zone, delegated with no DS, and the NSEC that would prove the DS absent is removed: bogus, broken chain of trust (no DS and no proof of its absence)",
};

/** A node name, or its name in the zone (with or without the final dot). */
export function hostNode(s: LabState, arg: string): string {
  const { dns } = requireDns(s);
  const a = arg.toLowerCase().replace(/\.$/, '');
  const node = a.endsWith(`.${dns.zone}`) ? a.slice(0, -(dns.zone.length + 1)) : a;
  if (!s.model.nodes.some((n) => n.name === node)) {
    throw new IiptranError('IIPTRAN_ERR_USAGE', `"${arg}" is not a host of zone ${dns.zone}. (hosts: ${s.model.nodes.map((n) => nodeFqdn(dns, n.name)).join(', ')})`);
  }
  return node;
}

export interface DnsChange extends PublishResult {
  action: 'break' | 'unsign' | 'restore';
  host: string | null;
  mode: BreakMode | null;
  effect: string;
}

export async function breakHost(s: LabState, hostArg: string, mode: string): Promise<DnsChange> {
  const { dns, st } = requireDns(s);
  if (!(BREAK_MODES as readonly string[]).includes(mode)) throw new IiptranError('IIPTRAN_ERR_USAGE', `break mode must be one of ${BREAK_MODES.join(', ')} (got "${mode}")`);
  const node = hostNode(s, hostArg);
  if (!st.signed) throw new IiptranError('IIPTRAN_ERR_USAGE', `zone ${dns.zone}. is served unsigned (lab dns ${s.name} unsign): there is no signature to break; run \`iiptran lab dns ${s.name} restore\` first`);
  const r = await publish(s, (x) => {
    x.breaks[node] = mode as BreakMode;
  });
  return { ...r, action: 'break', host: nodeFqdn(dns, node), mode: mode as BreakMode, effect: BREAK_EFFECT[mode as BreakMode] };
}

export async function unsignZone(s: LabState): Promise<DnsChange> {
  const { dns } = requireDns(s);
  const r = await publish(s, (x) => {
    x.signed = false;
    x.breaks = {};
    if (x.kx !== undefined) resetSites(s, x.kx, true);
  });
  return { ...r, action: 'unsign', host: null, mode: null, effect: `zone ${dns.zone}. is served without signatures and ${dns.parent}. proves (signed NSEC) that it has no DS: insecure` };
}

export async function restoreZone(s: LabState): Promise<DnsChange> {
  const { dns } = requireDns(s);
  const r = await publish(s, (x) => {
    x.signed = true;
    x.breaks = {};
    if (x.kx !== undefined) resetSites(s, x.kx, false);
  });
  const sites = s.model.sites === undefined ? '' : ', every site\'s KX and IPSECA records as in the topology';
  return { ...r, action: 'restore', host: null, mode: null, effect: `zone ${dns.zone}. signed, its DS in ${dns.parent}., no host broken${sites}: secure` };
}

export interface DnsView {
  lab: string;
  zone: string;
  parent: string;
  server: { name: string; address: string; namespace: string; segment: string; pid: number | null; running: boolean; startMs: number | null };
  ttl: number;
  serial: number;
  /** SOA serial NSD answers now, per zone. */
  served: Record<string, number | null>;
  servedAt: string | null;
  signed: boolean;
  records: { name: string; node: string; address: string; state: string }[];
  breaks: Record<string, BreakMode>;
  anchor: string;
  files: ReturnType<typeof dnsFiles>;
  /** How to ask the independent validators, from a node's namespace. */
  check: { delv: string; unboundHost: string };
  /** A site lab: each site's KX records and gateways with their A and IPSECA records and states. */
  sites?: SiteView[];
}

export async function dnsView(s: LabState): Promise<DnsView> {
  const { dns, st } = requireDns(s);
  const spec = zoneSpec(s, st);
  const proc = s.processes.find((p) => p.role === 'nsd');
  const serials = await servedSerials(dns, st.zones);
  const f = dnsFiles(st.dir);
  const first = s.model.nodes[0]!.name;
  const q = `${nodeFqdn(dns, first)}`;
  return {
    lab: s.name,
    zone: dns.zone,
    parent: dns.parent,
    server: { name: dns.nsName, address: dns.address, namespace: dns.ns, segment: dns.network, pid: proc?.pid ?? null, running: proc !== undefined && alive(proc.pid), startMs: st.startMs ?? null },
    ttl: dns.ttl,
    serial: st.serial,
    served: Object.fromEntries(st.zones.map((z, i) => [z, serials[i] ?? null])),
    servedAt: st.servedAt,
    signed: st.signed,
    records: Object.entries(spec.records).map(([node, address]) => ({
      name: nodeFqdn(dns, node), node, address, state: !st.signed ? 'insecure (unsigned)' : st.breaks[node] ? `bogus (${st.breaks[node]})` : 'secure',
    })),
    breaks: st.breaks,
    anchor: st.anchor,
    files: f,
    check: {
      delv: `iiptran lab exec ${first} -- delv -a ${f.delv} +root=${dns.parent}. @${dns.address} ${q} A`,
      unboundHost: `iiptran lab exec ${first} -- unbound-host -v -f ${f.anchor} -C ${f.unbound} -t A ${q}`,
    },
    ...(st.kx === undefined ? {} : { sites: sitesView(s, st, first) }),
  };
}

export function renderDnsView(v: DnsView): string {
  const lines = [
    `lab ${v.lab}: zone ${v.zone}. (${v.signed ? 'signed' : 'UNSIGNED: insecure'}), parent ${v.parent}. (signed; its DS is every node's trust anchor)`,
    `server ${v.server.name} ${v.server.address} in ${v.server.namespace} on segment ${v.server.segment}: NSD ${v.server.running ? `running (pid ${v.server.pid}${v.server.startMs !== null ? `, serving ${v.server.startMs} ms after its start` : ''})` : 'NOT running'}`,
    `serial ${v.serial}, served: ${Object.entries(v.served).map(([z, n]) => `${z}. ${n ?? 'no answer'}`).join(', ')}; TTL ${v.ttl} s`,
    '',
    ...v.records.map((r) => `  ${r.name}.\tA ${r.address}\t${r.state}`),
    '',
    ...(v.sites === undefined ? [] : renderSites(v.sites)),
    `trust anchor: ${v.anchor}`,
    `check: ${v.check.delv}`,
    `       ${v.check.unboundHost}`,
  ];
  return lines.join('\n');
}
