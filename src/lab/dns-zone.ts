// The lab DNS service's data as text, no I/O: the zone sources (the lab zone with an A record
// per node, its parent holding the DS, and a sub-zone per host broken with `nods`), the edits
// that break a signed zone on purpose, NSD's config and the trust anchor in the forms the
// validators read. dns-sign.ts runs ldns over these; dns-service.ts serves them.

import type { ModelDns } from './dns-model.js';
import { siteSubzones, siteZoneLines, type SitesSpec } from './kx-zone.js';

export type BreakMode = 'expired' | 'badsig' | 'nods';
export const BREAK_MODES: readonly BreakMode[] = ['expired', 'badsig', 'nods'];

/** What the zone should look like now: everything `lab dns` and `lab readdress` change. */
export interface ZoneSpec {
  serial: number;
  /** false: `lab dns unsign`: the zone is served unsigned and the parent proves it has no DS. */
  signed: boolean;
  /** Node name -> its A record's address. */
  records: Record<string, string>;
  /** Node name -> how its answers are made bogus. */
  breaks: Record<string, BreakMode>;
  /** A site lab's KX, A and IPSECA records and their changes (kx-zone.ts). */
  sites?: SitesSpec;
}

const fqdn = (name: string) => `${name}.`;

export function zoneHeader(origin: string, dns: ModelDns, serial: number): string {
  // Every TTL, the negative one (SOA minimum) included, is the lab's TTL: a validator caches
  // DS and DNSKEY no longer than that, so unsign/restore take effect within one TTL.
  return `$ORIGIN ${fqdn(origin)}\n$TTL ${dns.ttl}\n@ SOA ${fqdn(dns.nsName)} hostmaster.${fqdn(dns.parent)} ${serial} 3600 600 86400 ${dns.ttl}\n@ NS ${fqdn(dns.nsName)}\n`;
}

/** The lab zone: an A record per node, or a delegation for each host broken with `nods`. */
export function labZoneSource(dns: ModelDns, spec: ZoneSpec): string {
  let out = zoneHeader(dns.zone, dns, spec.serial);
  for (const [node, addr] of Object.entries(spec.records).sort(([a], [b]) => a.localeCompare(b))) {
    out += spec.signed && spec.breaks[node] === 'nods' ? `${node} NS ${fqdn(dns.nsName)}\n` : `${node} A ${addr}\n`;
  }
  return spec.sites === undefined ? out : out + siteZoneLines(dns, spec.sites);
}

/** A `nods` host's own zone: the host's A record at its apex, signed with keys no DS vouches for. */
export function hostZoneSource(dns: ModelDns, node: string, addr: string, serial: number): string {
  return zoneHeader(`${node}.${dns.zone}`, dns, serial) + `@ A ${addr}\n`;
}

/** The parent: the server's glue, the delegation, and (signed) the lab zone's DS. */
export function parentZoneSource(dns: ModelDns, serial: number, ds: string | null): string {
  const label = dns.zone.slice(0, dns.zone.length - dns.parent.length - 1);
  let out = zoneHeader(dns.parent, dns, serial) + `ns A ${dns.address}\n${label} NS ${fqdn(dns.nsName)}\n`;
  if (ds !== null) out += withTtl(ds, dns.ttl) + '\n';
  return out;
}

/** A DS or DNSKEY line (owner TTL class type rdata) with its TTL replaced. */
export function withTtl(line: string, ttl: number): string {
  const f = line.trim().split(/\s+/);
  if (/^\d+$/.test(f[1] ?? '')) f[1] = String(ttl);
  return f.join('\t');
}

/** The zones served, parent first, then the lab zone, then one per `nods` host. */
export function servedZones(dns: ModelDns, spec: ZoneSpec): string[] {
  const hosts = spec.signed ? Object.keys(spec.breaks).filter((n) => spec.breaks[n] === 'nods').sort() : [];
  const sub = spec.sites === undefined ? [] : siteSubzones(dns, spec.sites, spec.serial).map((z) => z.zone);
  return [dns.parent, dns.zone, ...hosts.map((h) => `${h}.${dns.zone}`), ...sub];
}

/** A signed zone file's records split into fields (ldns-signzone writes one RR per line, tab separated). */
function editRecords(text: string, fn: (f: string[], line: string) => string | null): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith(';')) {
      out.push(line);
      continue;
    }
    const r = fn(line.split(/\s+/), line);
    if (r !== null) out.push(r);
  }
  return out.join('\n');
}

const isRrsigOver = (f: string[], owner: string, type: string) => f[0]?.toLowerCase() === fqdn(owner) && f[3] === 'RRSIG' && f[4] === type;

/**
 * `badsig`: one base64 character of the RRSIG over owner's `type` RRset changed, so the
 * signature no longer verifies while everything else in the zone stays valid.
 */
export function corruptRrsig(signed: string, owner: string, type: string): { text: string; changed: number } {
  let changed = 0;
  const text = editRecords(signed, (f, line) => {
    if (!isRrsigOver(f, owner, type)) return line;
    const sig = f[f.length - 1]!;
    f[f.length - 1] = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    changed++;
    return f.join('\t');
  });
  return { text, changed };
}

/**
 * `expired`: the RRSIG over owner's `type` RRset taken from `donor`, the same zone signed by
 * the same key with a validity window that has ended. It verifies, but is expired.
 */
export function spliceRrsig(signed: string, donor: string, owner: string, type: string): { text: string; changed: number } {
  const replacement = donor.split('\n').find((l) => isRrsigOver(l.split(/\s+/), owner, type));
  let changed = 0;
  const text = editRecords(signed, (f, line) => {
    if (!isRrsigOver(f, owner, type) || replacement === undefined) return line;
    changed++;
    return replacement;
  });
  return { text, changed };
}

/**
 * `nods`: the NSEC at owner (a delegation without DS) and its RRSIG removed, so nothing proves
 * that the DS is absent: the delegation is neither secure nor provably insecure, hence bogus.
 */
export function dropNsec(signed: string, owner: string): { text: string; changed: number } {
  let changed = 0;
  const text = editRecords(signed, (f, line) => {
    const at = f[0]?.toLowerCase() === fqdn(owner);
    if (at && (f[3] === 'NSEC' || (f[3] === 'RRSIG' && f[4] === 'NSEC'))) {
      changed++;
      return null;
    }
    return line;
  });
  return { text, changed };
}

/** NSD's config: no privilege drop, no database, every path in the lab's dns directory, a control socket there. */
export function nsdConf(dir: string, address: string, zones: string[]): string {
  return [
    '# generated by iiptran lab: the lab DNS service (README, "Lab DNS service")',
    'server:', `  ip-address: ${address}`, '  username: ""', '  chroot: ""', '  database: ""', `  zonesdir: "${dir}/live"`,
    `  pidfile: "${dir}/run/nsd.pid"`, `  zonelistfile: "${dir}/run/zone.list"`, `  xfrdfile: "${dir}/run/xfrd.state"`, `  xfrdir: "${dir}/run"`,
    '  server-count: 1', '  verbosity: 1',
    'remote-control:', '  control-enable: yes', `  control-interface: "${dir}/run/nsd.ctl"`,
    ...zones.flatMap((z) => ['zone:', `  name: "${z}."`, `  zonefile: "${z}.zone"`]),
    '',
  ].join('\n');
}

/** delv's `-a` file for a DS line (`owner TTL IN DS tag alg type digest`). */
export function delvAnchor(ds: string): string {
  const [owner, , , , tag, alg, dt, ...digest] = ds.trim().split(/\s+/);
  return `trust-anchors {\n  ${owner} static-ds ${tag} ${alg} ${dt} "${digest.join('')}";\n};\n`;
}

/**
 * unbound-host's `-C` file: the parent is a stub zone at the lab server, and a parent under one
 * of unbound's built-in local zones (test., invalid., ...) is released from it.
 */
export function unboundConf(dns: ModelDns): string {
  const top = dns.parent.split('.').at(-1)!;
  return `server:\n  local-zone: "${top}." nodefault\nstub-zone:\n  name: "${dns.parent}."\n  stub-addr: ${dns.address}\n`;
}
