// The `dns:` section of a topology file: a lab DNS service (NSD serving a DNSSEC-signed zone
// with an A record per node) and how the nodes use it. Syntax and defaults only; where the
// server sits and what it serves are derived in dns-model.ts.

import type { Path } from '../control/yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from '../control/yaml-validator.js';

export type DnssecMode = 'require' | 'prefer' | 'off';
export type PeerResolve = 'dynamic' | 'once';

export const DNSSEC_MODES: readonly DnssecMode[] = ['require', 'prefer', 'off'];
export const DNS_FIELDS = ['zone', 'ttl', 'dnssec', 'segment', 'peer_resolve', 'named_peers'];
/** The DNS server's namespace is iil-<lab>-dns and its directory <lab dir>/dns: no element may be called that. */
export const DNS_RESERVED_NAME = 'dns';

export interface TopoDns {
  /** Without the trailing dot, lower case, e.g. overlay.test. */
  zone: string;
  /** TTL of every record the lab serves (A, SOA, NS, DNSKEY, DS, and the negative TTL). */
  ttl: number;
  /** Default of every node's `dns.dnssec` (a node may override it). */
  dnssec: DnssecMode;
  /** The segment the server is attached to; default the first segment. */
  segment: string;
  peerResolve: PeerResolve;
  /** false: the service runs and nodes get its A records, but vlinks keep peer addresses. */
  namedPeers: boolean;
}

export const DNS_DEFAULTS = { ttl: 30, dnssec: 'require' as DnssecMode, peerResolve: 'dynamic' as PeerResolve, namedPeers: true };

const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `zone` is not usable as the lab's zone, or null. */
export function zoneProblem(zone: string): string | null {
  const labels = zone.split('.');
  if (zone.length > 200) return 'is longer than 200 characters (node names are prepended to it)';
  if (labels.length < 2) return 'needs at least two labels, e.g. overlay.test: the lab also serves its parent (test.), whose DS is the nodes\' trust anchor';
  const bad = labels.find((l) => !LABEL_RE.test(l));
  if (bad !== undefined) return `label "${bad}" must be 1..63 of a-z 0-9 "-", not starting or ending with "-"`;
  if (labels[0] === 'ns') return 'must not start with "ns": the server is named ns.<parent zone>';
  return null;
}

/** Parses `dns:`; `segments` are the declared segment names in file order. */
export function parseDnsSection(v: SchemaValidator, raw: unknown, segments: string[]): TopoDns | null {
  const path: Path = ['dns'];
  const o: Obj | undefined = v.mapping(raw, path, DNS_FIELDS);
  if (o === undefined) return null;
  let zone = '';
  if (!v.present(o, 'zone')) v.err([...path, 'zone'], 'is required (the zone the lab serves, e.g. overlay.test)');
  else if (typeof o['zone'] !== 'string') v.err([...path, 'zone'], `must be a domain name like overlay.test (got ${describe(o['zone'])})`);
  else {
    zone = o['zone'].toLowerCase().replace(/\.$/, '');
    const p = zoneProblem(zone);
    if (p !== null) v.err([...path, 'zone'], `${p} (got ${JSON.stringify(o['zone'])})`);
  }
  const ttl = v.integer(o, 'ttl', path, 1, 86400, DNS_DEFAULTS.ttl);
  const dnssec = v.oneOf(o, 'dnssec', path, DNSSEC_MODES, DNS_DEFAULTS.dnssec);
  const peerResolve = v.oneOf(o, 'peer_resolve', path, ['dynamic', 'once'] as const, DNS_DEFAULTS.peerResolve);
  const namedPeers = v.boolean(o, 'named_peers', path, DNS_DEFAULTS.namedPeers);
  let segment = segments[0] ?? '';
  if (v.present(o, 'segment')) {
    if (typeof o['segment'] !== 'string' || !segments.includes(o['segment'])) {
      v.err([...path, 'segment'], `must name a declared segment (${segments.join(', ') || 'none declared'}) (got ${describe(o['segment'])})`);
    } else segment = o['segment'];
  } else if (segments.length === 0) v.err(path, 'the DNS server is attached to a segment, and this topology declares none; add one under segments');
  return { zone, ttl, dnssec, segment, peerResolve, namedPeers };
}
