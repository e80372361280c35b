// Trust anchors: DS or DNSKEY records in zone-file syntax (the lines unbound-host -f and
// ldns-key2ds print), inline or from a file. Several zones may have anchors, nested or not;
// a lookup starts from the deepest anchor above its name.

import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import { isSubdomain, nameEquals, nameToString, type DnsName } from '../wire/dns/name.js';
import { parseZoneText } from '../wire/dns/parse-text.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { RRType } from '../wire/dns/types.js';

export interface TrustAnchor {
  zone: DnsName;
  ds: DnsRR[];
  dnskeys: DnsRR[];
}

/** Parses anchor lines; throws ConfigError naming `field` on anything but DS/DNSKEY records. */
export function parseTrustAnchors(text: string, field = 'dns.trust_anchors'): TrustAnchor[] {
  let rrs: DnsRR[];
  try {
    rrs = parseZoneText(text);
  } catch (e) {
    throw new ConfigError(field, `not a DS or DNSKEY record: ${(e as Error).message}`);
  }
  if (rrs.length === 0) throw new ConfigError(field, 'no DS or DNSKEY record');
  const out: TrustAnchor[] = [];
  for (const rr of rrs) {
    if (rr.type !== RRType.DS && rr.type !== RRType.DNSKEY) {
      throw new ConfigError(field, `${nameToString(rr.name)}: only DS and DNSKEY records are trust anchors (got type ${rr.type})`);
    }
    if (rr.data.kind === 'DNSKEY' && (rr.data.flags & 0x0100) === 0) {
      throw new ConfigError(field, `${nameToString(rr.name)}: DNSKEY without the Zone Key flag cannot be an anchor`);
    }
    let a = out.find((x) => nameEquals(x.zone, rr.name));
    if (!a) out.push((a = { zone: rr.name, ds: [], dnskeys: [] }));
    (rr.type === RRType.DS ? a.ds : a.dnskeys).push(rr);
  }
  return out;
}

export function loadTrustAnchorFile(path: string, field = 'dns.trust_anchors'): TrustAnchor[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(field, `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseTrustAnchors(text, field);
}

/** The deepest anchor at or above `name`, or null. */
export function anchorFor(anchors: readonly TrustAnchor[], name: DnsName): TrustAnchor | null {
  let best: TrustAnchor | null = null;
  for (const a of anchors) if (isSubdomain(name, a.zone) && (!best || a.zone.length > best.zone.length)) best = a;
  return best;
}
