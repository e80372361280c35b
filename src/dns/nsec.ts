// NSEC denial (RFC 4035 §5.4 with the RFC 6840 §4.1 delegation rule): a covering NSEC for a
// name that does not exist, plus one for the wildcard at its closest encloser; a matching NSEC
// whose bitmap lacks the type (and CNAME) for NODATA; empty non-terminals; wildcard NODATA.

import { compareNames, isSubdomain, nameEquals, nameToString, WILDCARD_LABEL, type DnsName } from '../wire/dns/name.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { RRType, typeToString } from '../wire/dns/types.js';
import type { Denial, DenialQuery } from './denial.js';
import { reason } from './verdict.js';

interface Nsec {
  owner: DnsName;
  next: DnsName;
  types: number[];
}

function toNsec(rrs: readonly DnsRR[]): Nsec[] {
  const out: Nsec[] = [];
  for (const r of rrs) if (r.data.kind === 'NSEC') out.push({ owner: r.name, next: r.data.next, types: r.data.types });
  return out;
}

/** A delegation point's NSEC (NS without SOA) or a DNAME's says nothing about names below it. */
function provesBelow(n: Nsec, name: DnsName): boolean {
  if (!isSubdomain(name, n.owner) || nameEquals(name, n.owner)) return true;
  if (n.types.includes(RRType.DNAME)) return false;
  return !(n.types.includes(RRType.NS) && !n.types.includes(RRType.SOA));
}

/** owner < name < next in canonical order; the last NSEC of a zone wraps to the apex. */
export function nsecCovers(n: { owner: DnsName; next: DnsName }, name: DnsName, zone: DnsName): boolean {
  if (!isSubdomain(name, zone)) return false;
  if (compareNames(n.owner, name) >= 0) return false;
  const wraps = compareNames(n.next, n.owner) <= 0;
  return wraps || compareNames(name, n.next) < 0;
}

function commonAncestor(a: DnsName, b: DnsName): DnsName {
  let n = 0;
  while (n < a.length && n < b.length && compareNames(a.slice(a.length - n - 1), b.slice(b.length - n - 1)) === 0) n++;
  return a.slice(a.length - n);
}

function covering(ns: Nsec[], name: DnsName, zone: DnsName): Nsec | undefined {
  return ns.find((n) => nsecCovers(n, name, zone) && provesBelow(n, name));
}

/** The closest encloser a covering NSEC implies (RFC 4035 §5.4 / RFC 6840 §4.1). */
function closestEncloser(n: Nsec, qname: DnsName, zone: DnsName): DnsName {
  const a = commonAncestor(qname, n.owner);
  const b = commonAncestor(qname, n.next);
  const ce = a.length > b.length ? a : b;
  return ce.length < zone.length ? zone : ce;
}

export function nsecDenial(q: DenialQuery, rrs: readonly DnsRR[]): Denial {
  const ns = toNsec(rrs);
  const qn = nameToString(q.qname);
  const match = ns.find((n) => nameEquals(n.owner, q.qname));
  if (match) {
    if (q.nxdomain) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NXDOMAIN for ${qn} but an NSEC shows it exists`) };
    if (match.types.includes(q.qtype) || match.types.includes(RRType.CNAME)) {
      return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NODATA for ${qn} ${typeToString(q.qtype)} but its NSEC lists the type or CNAME`) };
    }
    // At a delegation the parent's NSEC speaks only for DS (and the NS set itself).
    const delegation = match.types.includes(RRType.NS) && !match.types.includes(RRType.SOA) && !nameEquals(match.owner, q.zone);
    if (delegation && q.qtype !== RRType.DS) {
      return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `the NSEC at ${qn} is a delegation's: it cannot deny ${typeToString(q.qtype)}`) };
    }
    if (q.qtype === RRType.DS && match.types.includes(RRType.SOA) && !nameEquals(q.qname, q.zone)) {
      return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `the NSEC denying DS at ${qn} is the child zone's apex NSEC`) };
    }
    return { kind: 'nodata', types: match.types, wildcard: false };
  }
  const cover = covering(ns, q.qname, q.zone);
  if (!cover) return { kind: 'fail', reason: reason('NSEC_MISSING', `no NSEC matches or covers ${qn}`) };
  // An empty non-terminal: the name exists because something below it does.
  if (isSubdomain(cover.next, q.qname) && !nameEquals(cover.next, q.qname)) {
    if (q.nxdomain) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NXDOMAIN for ${qn} but an NSEC shows names below it`) };
    return { kind: 'nodata', types: [], wildcard: false };
  }
  const ce = closestEncloser(cover, q.qname, q.zone);
  const wild = [WILDCARD_LABEL, ...ce];
  const wildMatch = ns.find((n) => nameEquals(n.owner, wild));
  if (wildMatch) {
    if (q.nxdomain) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NXDOMAIN for ${qn} but the wildcard ${nameToString(wild)} exists`) };
    if (wildMatch.types.includes(q.qtype) || wildMatch.types.includes(RRType.CNAME)) {
      return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NODATA for ${qn} but wildcard ${nameToString(wild)} has the type`) };
    }
    return { kind: 'nodata', types: wildMatch.types, wildcard: true };
  }
  if (!covering(ns, wild, q.zone)) return { kind: 'fail', reason: reason('NSEC_MISSING', `no NSEC denies the wildcard ${nameToString(wild)} for ${qn}`) };
  if (!q.nxdomain) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NOERROR without data for ${qn}, but the NSECs prove it does not exist`) };
  return { kind: 'nxdomain' };
}

/** For a wildcard-expanded answer: an NSEC must show that qname itself does not exist (RFC 4035 §5.3.4). */
export function nsecProvesExpansion(qname: DnsName, zone: DnsName, rrs: readonly DnsRR[]): boolean {
  return covering(toNsec(rrs), qname, zone) !== undefined;
}
