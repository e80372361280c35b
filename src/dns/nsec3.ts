// NSEC3 denial (RFC 5155 §8, RFC 9276): the closest encloser proof, the next closer name
// covered, the wildcard covered or matched, opt-out. Iterations above the cap make the proof
// insecure rather than bogus (RFC 9276 §3.2), and unknown hash algorithms are ignored.

import { fromBase32Hex } from '../wire/dns/base32hex.js';
import { nameEquals, nameToString, WILDCARD_LABEL, type DnsName } from '../wire/dns/name.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { RRType, typeToString } from '../wire/dns/types.js';
import { nsec3Hash } from './crypto.js';
import type { Denial, DenialQuery } from './denial.js';
import { reason } from './verdict.js';

/** RFC 9276 §3.2 lets validators treat more iterations as insecure; 100 is the figure it discusses. */
export const DEFAULT_NSEC3_ITERATION_CAP = 100;
const NSEC3_OPTOUT = 0x01;

interface Nsec3 {
  hash: Buffer;
  next: Buffer;
  salt: Buffer;
  iterations: number;
  optOut: boolean;
  types: number[];
}

function toNsec3(rrs: readonly DnsRR[], zone: DnsName): Nsec3[] {
  const out: Nsec3[] = [];
  for (const r of rrs) {
    const d = r.data;
    if (d.kind !== 'NSEC3' || d.hashAlgorithm !== 1 || r.name.length !== zone.length + 1) continue;
    if (!nameEquals(r.name.slice(1), zone)) continue;
    const hash = fromBase32Hex(r.name[0]!.toString('latin1'));
    if (!hash || hash.length !== d.nextHashed.length) continue;
    out.push({ hash, next: d.nextHashed, salt: d.salt, iterations: d.iterations, optOut: (d.flags & NSEC3_OPTOUT) !== 0, types: d.types });
  }
  return out;
}

class Hasher {
  private readonly memo = new Map<string, Buffer>();
  constructor(readonly salt: Buffer, readonly iterations: number) {}
  of(name: DnsName): Buffer {
    const k = nameToString(name).toLowerCase();
    let h = this.memo.get(k);
    if (!h) this.memo.set(k, (h = nsec3Hash(name, this.salt, this.iterations)));
    return h;
  }
}

function covers(n: Nsec3, h: Buffer): boolean {
  const afterOwner = Buffer.compare(h, n.hash) > 0;
  const beforeNext = Buffer.compare(h, n.next) < 0;
  return Buffer.compare(n.next, n.hash) > 0 ? afterOwner && beforeNext : afterOwner || beforeNext;
}

interface Encloser {
  ce: DnsName;
  nextCloser: DnsName;
}

/**
 * Closest provable encloser of `qname` (RFC 5155 §8.3): the longest ancestor with a matching
 * NSEC3 that is not a delegation's (NS without SOA) or a DNAME's, and the next closer name.
 */
function closestEncloser(qname: DnsName, zone: DnsName, ns: Nsec3[], hasher: Hasher): Encloser | null {
  for (let i = 1; qname.length - i >= zone.length; i++) {
    const cand = qname.slice(i);
    const m = ns.find((n) => n.hash.equals(hasher.of(cand)));
    if (!m) continue;
    if (m.types.includes(RRType.DNAME) || (m.types.includes(RRType.NS) && !m.types.includes(RRType.SOA))) return null;
    return { ce: cand, nextCloser: qname.slice(i - 1) };
  }
  return null;
}

export function nsec3Denial(q: DenialQuery, rrs: readonly DnsRR[], iterationCap = DEFAULT_NSEC3_ITERATION_CAP): Denial {
  const qn = nameToString(q.qname);
  const all = toNsec3(rrs, q.zone);
  if (all.length === 0) return { kind: 'fail', reason: reason('NSEC_MISSING', `no usable NSEC3 for ${qn} in zone ${nameToString(q.zone)}`) };
  const first = all[0]!;
  if (first.iterations > iterationCap) {
    return { kind: 'insecure', reason: reason('UNSUPPORTED_NSEC3_ITERATIONS', `NSEC3 with ${first.iterations} iterations, above the cap of ${iterationCap}`) };
  }
  // One parameter set per zone (RFC 5155 §7.2.2): ignore records that disagree with the first.
  const ns = all.filter((n) => n.iterations === first.iterations && n.salt.equals(first.salt));
  const hasher = new Hasher(first.salt, first.iterations);
  const find = (name: DnsName) => ns.find((n) => n.hash.equals(hasher.of(name)));
  const cover = (name: DnsName) => ns.find((n) => covers(n, hasher.of(name)));

  const match = find(q.qname);
  if (match) {
    if (q.nxdomain) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NXDOMAIN for ${qn} but an NSEC3 matches it`) };
    if (match.types.includes(q.qtype) || match.types.includes(RRType.CNAME)) {
      return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NODATA for ${qn} ${typeToString(q.qtype)} but its NSEC3 lists the type or CNAME`) };
    }
    const delegation = match.types.includes(RRType.NS) && !match.types.includes(RRType.SOA);
    if (delegation && q.qtype !== RRType.DS) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `the NSEC3 for ${qn} is a delegation's`) };
    if (q.qtype === RRType.DS && match.types.includes(RRType.SOA) && !nameEquals(q.qname, q.zone)) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `the NSEC3 denying DS at ${qn} is the child apex's`) };
    return { kind: 'nodata', types: match.types, wildcard: false };
  }
  const enc = closestEncloser(q.qname, q.zone, ns, hasher);
  if (!enc) return { kind: 'fail', reason: reason('NSEC_MISSING', `no closest encloser proof for ${qn}`) };
  const nc = cover(enc.nextCloser);
  if (!nc) return { kind: 'fail', reason: reason('NSEC_MISSING', `no NSEC3 covers the next closer name ${nameToString(enc.nextCloser)}`) };
  // RFC 5155 §8.6: an opt-out span may hide an unsigned delegation; only DS may rely on it, and then it proves insecurity.
  if (q.qtype === RRType.DS && !q.nxdomain && nc.optOut) return { kind: 'optout' };
  const wild = [WILDCARD_LABEL, ...enc.ce];
  const wm = find(wild);
  if (wm) {
    if (q.nxdomain) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NXDOMAIN for ${qn} but the wildcard ${nameToString(wild)} exists`) };
    if (wm.types.includes(q.qtype) || wm.types.includes(RRType.CNAME)) return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NODATA for ${qn} but the wildcard has the type`) };
    return { kind: 'nodata', types: wm.types, wildcard: true };
  }
  if (!cover(wild)) return { kind: 'fail', reason: reason('NSEC_MISSING', `no NSEC3 covers the wildcard ${nameToString(wild)}`) };
  if (!q.nxdomain) {
    // NODATA for a name that does not exist: only an opt-out span can explain it (an unsigned delegation's child).
    if (nc.optOut) return { kind: 'optout' };
    return { kind: 'fail', reason: reason('DNSSEC_BOGUS', `NOERROR without data for ${qn}, but the NSEC3s prove it does not exist`) };
  }
  return nc.optOut ? { kind: 'optout' } : { kind: 'nxdomain' };
}

/**
 * For a wildcard-expanded answer whose RRSIG has `labels` labels: the next closer name (one
 * label more than the wildcard's parent) must be covered (RFC 5155 §8.8). Returns null when
 * proven; optout or insecure when the proof cannot be secure; a failing Denial otherwise.
 */
export function nsec3ProvesExpansion(qname: DnsName, labels: number, zone: DnsName, rrs: readonly DnsRR[], iterationCap = DEFAULT_NSEC3_ITERATION_CAP): Denial | null {
  const ns = toNsec3(rrs, zone);
  if (ns.length === 0) return { kind: 'fail', reason: reason('NSEC_MISSING', `no NSEC3 proves the wildcard expansion of ${nameToString(qname)}`) };
  if (ns[0]!.iterations > iterationCap) {
    return { kind: 'insecure', reason: reason('UNSUPPORTED_NSEC3_ITERATIONS', `NSEC3 with ${ns[0]!.iterations} iterations, above the cap of ${iterationCap}`) };
  }
  const hasher = new Hasher(ns[0]!.salt, ns[0]!.iterations);
  const nextCloser = qname.slice(qname.length - labels - 1);
  const h = hasher.of(nextCloser);
  const c = ns.find((n) => covers(n, h));
  if (!c) return { kind: 'fail', reason: reason('NSEC_MISSING', `no NSEC3 covers ${nameToString(nextCloser)} for the wildcard expansion`) };
  // An opt-out span may hide an unsigned delegation at the next closer name, which would have
  // answered instead of the wildcard: unbound and BIND call such an answer insecure, and so do we.
  return c.optOut ? { kind: 'optout' } : null;
}

export { Hasher as Nsec3Hasher, covers as nsec3Covers };
