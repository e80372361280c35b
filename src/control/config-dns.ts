// The `dns` section and named peers: which servers to ask, which trust anchors validate their
// answers, and how strict the node is about DNSSEC. A named peer's address comes from here, so
// a wrong anchor or server is a config error at check time, not a silent failure later.

import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { loadTrustAnchorFile, parseTrustAnchors, type TrustAnchor } from '../dns/anchors.js';
import { parseIpv4 } from '../wire/addr.js';
import type { DnsConfig } from './config-types.js';
import type { Path } from './yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from './yaml-validator.js';

const DNS_FIELDS = ['servers', 'trust_anchors', 'dnssec', 'timeout_ms'];
const DNSSEC_MODES = ['require', 'prefer', 'off'] as const;
export const DEFAULT_DNS_TIMEOUT_MS = 5000;
const SERVER_RE = /^([0-9.]+)(?::(\d{1,5}))?$/;
// RFC 1123 host names: LDH labels of 1..63, 253 octets in all; '_' is allowed for service-style
// owner names. Two labels at least, so a typo of an address or a bare "localhost" is not sent to DNS.
const LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A host name in canonical form (lower case, no trailing dot), or undefined if `s` is not one. */
export function hostName(s: string): string | undefined {
  const n = s.toLowerCase().replace(/\.$/, '');
  if (n.length === 0 || n.length > 253) return undefined;
  const labels = n.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL_RE.test(l))) return undefined;
  // All-numeric top label: a mistyped address, not a name (RFC 3696 §2).
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined;
  return n;
}

/** `peer`: an address as before, or a host name; '' marks an invalid one (already reported). */
export function readPeer(v: SchemaValidator, raw: unknown, path: Path): { peer: string; peerName?: string } {
  if (typeof raw === 'string' && parseIpv4(raw) === null && !raw.includes(':')) {
    const name = hostName(raw);
    if (name !== undefined) return { peer: '', peerName: name };
    if (!/^[0-9.]+$/.test(raw)) {
      v.err(path, `must be an IPv4 or IPv6 address (e.g. 192.0.2.1, 2001:db8::1) or a host name of two labels or more (e.g. b.overlay.test) (got ${describe(raw)})`);
      return { peer: '' };
    }
  }
  return { peer: v.ipUnicast(raw, path) ?? '' };
}

function readServer(v: SchemaValidator, raw: unknown, path: Path): { address: string; port: number } | undefined {
  const m = typeof raw === 'string' ? SERVER_RE.exec(raw) : null;
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (m === null || parseIpv4(m[1]!) === null || port < 1 || port > 65535) {
    v.err(path, `must be an IPv4 address with an optional :port, e.g. 192.0.2.53 or 192.0.2.53:5353 (got ${describe(raw)})`);
    return undefined;
  }
  return { address: m[1]!, port };
}

function readAnchors(v: SchemaValidator, o: Obj, baseDir: string): { anchors: TrustAnchor[]; from: string | null } {
  const path: Path = ['dns', 'trust_anchors'];
  const field = 'dns.trust_anchors';
  const raw = o.trust_anchors;
  try {
    if (typeof raw === 'string' && raw !== '') {
      const file = resolve(baseDir, raw);
      return { anchors: loadTrustAnchorFile(file, field), from: file };
    }
    if (Array.isArray(raw) && raw.length > 0 && raw.every((l) => typeof l === 'string')) {
      return { anchors: parseTrustAnchors((raw as string[]).join('\n'), field), from: 'inline' };
    }
    v.err(path, `must be a file of DS/DNSKEY records, or a list of such records inline, e.g. ["overlay.test. IN DS 12345 13 2 ab12..."] (got ${describe(raw)})`);
  } catch (e) {
    v.err(path, e instanceof ConfigError ? e.message.replace(/^dns\.trust_anchors:\s*/, '') : String(e));
  }
  return { anchors: [], from: null };
}

/** The `dns` mapping; undefined when absent or invalid (problems recorded). */
export function readDns(v: SchemaValidator, top: Obj, baseDir: string): DnsConfig | undefined {
  if (!v.present(top, 'dns')) return undefined;
  const o = v.mapping(top.dns, ['dns'], DNS_FIELDS);
  if (o === undefined) return undefined;
  const servers: DnsConfig['servers'] = [];
  if (v.required(o, 'servers', ['dns'], 'a list of DNS server addresses, e.g. [192.0.2.53]')) {
    if (!Array.isArray(o.servers) || o.servers.length === 0) v.err(['dns', 'servers'], `must be a non-empty list of server addresses (got ${Array.isArray(o.servers) ? 'an empty list' : describe(o.servers)})`);
    else (o.servers as unknown[]).forEach((s, i) => {
      const srv = readServer(v, s, ['dns', 'servers', i]);
      if (srv !== undefined) servers.push(srv);
    });
  }
  const dnssec = v.oneOf(o, 'dnssec', ['dns'], DNSSEC_MODES, 'require');
  let anchors: { anchors: TrustAnchor[]; from: string | null } = { anchors: [], from: null };
  if (v.present(o, 'trust_anchors')) anchors = readAnchors(v, o, baseDir);
  else if (dnssec !== 'off') v.err(['dns', 'trust_anchors'], `is required with dnssec: ${dnssec} (a file or list of DS/DNSKEY records for the zone that signs your peers' names); or set dnssec: off for a lab without DNSSEC`);
  const timeoutMs = v.integer(o, 'timeout_ms', ['dns'], 500, 60000, DEFAULT_DNS_TIMEOUT_MS);
  return { servers, trustAnchors: anchors.anchors, trustAnchorsFrom: anchors.from, dnssec, timeoutMs };
}

/**
 * KX delegation and IPSECA keys count only *secure* answers (RFC 2230 §2, the IPSECA draft), so
 * `peer_domain` and `auth: dns` need a dns section that validates.
 */
export function checkSecureDns(v: SchemaValidator, vlinks: readonly { index: number; vl: { peerDomain?: string; keying: { mode: string; auth?: string } | undefined } }[], dns: DnsConfig | undefined, dnsPresent: boolean): void {
  for (const { index, vl } of vlinks) {
    const uses: [string, string][] = [];
    if (vl.peerDomain !== undefined) uses.push(['peer_domain', `peer_domain (${vl.peerDomain})`]);
    if (vl.keying?.mode === 'ikev2' && vl.keying.auth === 'dns') uses.push(['keying.auth', 'auth: dns']);
    if (vl.peerDomain !== undefined && vl.keying !== undefined && vl.keying.mode !== 'ikev2') {
      v.err(['vlinks', index, 'peer_domain'], 'needs keying mode ikev2: KX names gateways to negotiate with (RFC 2230), which manual keys cannot do');
    }
    for (const [field, what] of uses) {
      const path: Path = ['vlinks', index, ...field.split('.')];
      if (dns === undefined && !dnsPresent) v.err(path, `${what} needs a dns section (servers and trust_anchors)`);
      else if (dns?.dnssec === 'off') v.err(path, `${what} counts only DNSSEC-secure answers, so it cannot work with dns.dnssec: off`);
    }
  }
}
