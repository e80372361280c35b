// Reading one validated-to-be response for one name: what it says (answer, CNAME, NXDOMAIN,
// NODATA), which zone signed it, and whether its denial records prove what it claims.

import type { DecodedMessage } from '../wire/dns/message.js';
import { isSubdomain, type DnsName } from '../wire/dns/name.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { Rcode, RRType } from '../wire/dns/types.js';
import { findRRset, groupRRsets, type RRset } from './canonical.js';
import type { Denial, DenialQuery } from './denial.js';
import { nsecDenial } from './nsec.js';
import { nsec3Denial } from './nsec3.js';
import { verifyRRset, type ZoneKey } from './rrsig.js';
import { reason, type Reason } from './verdict.js';

export interface ValidationContext {
  nowSec: number;
  skewSec: number;
  iterationCap: number;
}

export type Hop =
  | { kind: 'answer'; set: RRset }
  | { kind: 'cname'; set: RRset; target: DnsName }
  | { kind: 'negative'; nxdomain: boolean };

/** What the response says about `name`/`type`. Only the answer section counts for data. */
export function interpret(m: DecodedMessage, name: DnsName, type: number): Hop {
  const answers = groupRRsets(m.answers);
  const set = findRRset(answers, name, type);
  if (set) return { kind: 'answer', set };
  if (type !== RRType.CNAME) {
    const c = findRRset(answers, name, RRType.CNAME);
    if (c && c.rrs[0]!.data.kind === 'NAME') return { kind: 'cname', set: c, target: c.rrs[0]!.data.target };
  }
  return { kind: 'negative', nxdomain: m.rcode === Rcode.NXDOMAIN };
}

/**
 * The zone the response claims signed what it says about `name`: the signer of the RRSIGs over
 * the answer, or over the authority section's denial records. Only a hint for the chain walk:
 * the walk still proves each zone cut, and verification still needs that zone's keys.
 */
export function signerHint(m: DecodedMessage, hop: Hop, name: DnsName): DnsName | null {
  const sigs: DnsRR[] = hop.kind === 'negative' ? m.authority.filter((r) => r.type === RRType.RRSIG) : hop.set.sigs;
  for (const s of sigs) if (s.data.kind === 'RRSIG' && isSubdomain(name, s.data.signer)) return s.data.signer;
  return null;
}

export interface DenialRecords {
  nsec: DnsRR[];
  nsec3: DnsRR[];
  /** Why a present NSEC/NSEC3 RRset did not verify, if one did not. */
  failure: Reason | null;
  ttl: number;
}

/** The authority section's NSEC and NSEC3 RRs that verify with the zone's keys. */
export function verifiedDenialRecords(m: DecodedMessage, zone: DnsName, keys: readonly ZoneKey[], c: ValidationContext): DenialRecords {
  const out: DenialRecords = { nsec: [], nsec3: [], failure: null, ttl: Infinity };
  for (const set of groupRRsets(m.authority)) {
    if (set.type !== RRType.NSEC && set.type !== RRType.NSEC3) continue;
    const v = verifyRRset(set, zone, keys, c.nowSec, c.skewSec);
    if (!v.ok) {
      out.failure ??= v.reason;
      continue;
    }
    out.ttl = Math.min(out.ttl, v.ttl);
    (set.type === RRType.NSEC ? out.nsec : out.nsec3).push(...set.rrs);
  }
  return out;
}

export function denialFrom(recs: DenialRecords, q: DenialQuery, iterationCap: number): Denial {
  let d: Denial;
  if (recs.nsec.length > 0) d = nsecDenial(q, recs.nsec);
  else if (recs.nsec3.length > 0) d = nsec3Denial(q, recs.nsec3, iterationCap);
  else d = { kind: 'fail', reason: recs.failure ?? reason('NSEC_MISSING', 'no signed NSEC or NSEC3 records in the response') };
  // A forged or stale denial record explains a failed proof better than "missing".
  if (d.kind === 'fail' && recs.failure) return { kind: 'fail', reason: recs.failure };
  return d;
}

/** RFC 2308 §5: the negative TTL is the lesser of the SOA's TTL and its MINIMUM field. */
export function negativeTtl(m: DecodedMessage, fallback = 60): number {
  const soa = m.authority.find((r) => r.type === RRType.SOA);
  if (!soa || soa.data.kind !== 'SOA') return fallback;
  return Math.min(soa.ttl, soa.data.minimum);
}
