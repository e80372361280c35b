// The validating resolver: lookup(name, type) → a verdict with an RFC 8914 reason, the RRset,
// and how long it may be used. Stages per lookup:
//   1. cache (validated results, bounded by TTL, RRSIG original TTL and signature expiry);
//   2. ask the stub (DO+CD), read what the reply says about the name (interpret);
//   3. find the zone that must have signed it and its keys (chain.ts);
//   4. verify the answer's RRSIGs, or the denial's NSEC/NSEC3 proof; a wildcard expansion also
//      needs its proof that the name itself does not exist;
//   5. a CNAME: judge it, then follow its target (up to MAX_CNAMES); the weakest link wins.
// It never rejects, and returns within `timeoutMs`: a network failure is an indeterminate verdict.

import { lowerName, nameToString, parseName, rrsigLabelCount, type DnsName } from '../wire/dns/name.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { typeToString } from '../wire/dns/types.js';
import type { TrustAnchor } from './anchors.js';
import { TtlCache } from './cache.js';
import { ChainOfTrust } from './chain.js';
import type { Clock } from '../clock.js';
import { nsecProvesExpansion } from './nsec.js';
import { DEFAULT_NSEC3_ITERATION_CAP, nsec3ProvesExpansion } from './nsec3.js';
import { denialFrom, interpret, negativeTtl, signerHint, verifiedDenialRecords, type ValidationContext } from './response.js';
import { verifyRRset } from './rrsig.js';
import type { Fetcher } from './stub.js';
import { reason, weaker, type Judged, type Reason, type Security } from './verdict.js';

export type LookupStatus = 'answer' | 'nxdomain' | 'nodata' | 'error';

export interface LookupResult {
  /** Presentation form of the name asked. */
  name: string;
  type: number;
  verdict: Security;
  /** Null only for secure. */
  reason: Reason | null;
  status: LookupStatus;
  /** The RRs of the asked type at the end of the CNAME chain (empty unless status is answer). */
  rrset: DnsRR[];
  /** CNAMEs followed, in order. */
  cnames: DnsRR[];
  /** Seconds the result may still be used. */
  ttl: number;
  cached: boolean;
}

export interface ResolverOptions {
  fetcher: Fetcher;
  clock: Clock;
  anchors: readonly TrustAnchor[];
  /** Seconds of clock error allowed on each side of a signature's validity window (default 300, max 3600). */
  skewSec?: number;
  iterationCap?: number;
  /** Bound on a whole lookup, chain walk included (default 5000 ms). */
  timeoutMs?: number;
  cacheEntries?: number;
}

export const MAX_CNAMES = 8;
const MAX_SKEW = 3600;
/** Bogus results are remembered briefly (a retry storm helps nobody); indeterminate ones not at all. */
const BOGUS_TTL = 5;

interface HopResult {
  judged: Judged;
  status: LookupStatus;
  rrs: DnsRR[];
  cname: DnsRR | null;
  target: DnsName | null;
  ttl: number;
}

export class DnssecResolver {
  private readonly chain: ChainOfTrust;
  private readonly cache: TtlCache<LookupResult>;
  private readonly inflight = new Map<string, Promise<LookupResult>>();
  private readonly skewSec: number;
  private readonly iterationCap: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: ResolverOptions) {
    this.skewSec = Math.min(Math.max(0, o.skewSec ?? 300), MAX_SKEW);
    this.iterationCap = o.iterationCap ?? DEFAULT_NSEC3_ITERATION_CAP;
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.cache = new TtlCache(o.clock, o.cacheEntries ?? 2000);
    this.chain = new ChainOfTrust(o.fetcher, o.clock, o.anchors, () => this.ctx());
  }

  private ctx(): ValidationContext {
    return { nowSec: Math.floor(this.o.clock.now() / 1000), skewSec: this.skewSec, iterationCap: this.iterationCap };
  }

  /** `fresh` skips the cached answer (not the cached keys): a named peer that claims to have moved. */
  async lookup(name: DnsName | string, type: number, opts?: { fresh?: boolean }): Promise<LookupResult> {
    let qname: DnsName;
    try {
      qname = lowerName(typeof name === 'string' ? parseName(name.endsWith('.') ? name : name + '.') : name);
    } catch (e) {
      return this.failed(String(name), type, 'bogus', reason('INVALID_DATA', `not a domain name: ${(e as Error).message}`));
    }
    const key = `${nameToString(qname)} ${type}`;
    const hit = opts?.fresh === true ? undefined : this.cache.get(key);
    if (hit) return { ...hit.value, ttl: hit.ttlLeft, cached: true };
    let p = this.inflight.get(key);
    if (!p) {
      p = this.bounded(qname, type).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /** Cached results, for `show dns`. */
  cached(): { key: string; value: LookupResult; ttlLeft: number }[] {
    return this.cache.entries();
  }

  clearCache(): void {
    this.cache.clear();
    this.chain.clear();
  }

  private failed(name: string, type: number, verdict: Security, r: Reason): LookupResult {
    return { name, type, verdict, reason: r, status: 'error', rrset: [], cnames: [], ttl: 0, cached: false };
  }

  private bounded(qname: DnsName, type: number): Promise<LookupResult> {
    const what = `${nameToString(qname)} ${typeToString(type)}`;
    return new Promise((resolve) => {
      const timer = this.o.clock.setTimeout(() =>
        resolve(this.failed(nameToString(qname), type, 'indeterminate', reason('NO_REACHABLE_AUTHORITY', `lookup of ${what} timed out after ${this.timeoutMs} ms`))),
      this.timeoutMs);
      const cancel = () => this.o.clock.clearTimeout(timer);
      this.resolveChain(qname, type)
        .catch((e: unknown) => this.failed(nameToString(qname), type, 'indeterminate', reason('OTHER', `internal error: ${(e as Error).message}`)))
        .then((r) => {
          cancel();
          const ttl = r.verdict === 'bogus' ? Math.min(r.ttl, BOGUS_TTL) : r.verdict === 'indeterminate' ? 0 : r.ttl;
          this.cache.set(`${nameToString(qname)} ${type}`, r, ttl);
          resolve(r);
        });
    });
  }

  private async resolveChain(qname: DnsName, type: number): Promise<LookupResult> {
    let judged: Judged = { security: 'secure', reason: null };
    const cnames: DnsRR[] = [];
    let cur = qname;
    let ttl = Infinity;
    for (let i = 0; i <= MAX_CNAMES; i++) {
      const h = await this.hop(cur, type);
      judged = weaker(judged, h.judged);
      ttl = Math.min(ttl, h.ttl);
      if (h.cname && h.target && h.status === 'answer') {
        cnames.push(h.cname);
        if (cnames.some((c, j) => j < cnames.length - 1 && nameToString(c.name).toLowerCase() === nameToString(h.target!).toLowerCase()) || nameToString(h.target).toLowerCase() === nameToString(qname).toLowerCase()) {
          return { ...this.failed(nameToString(qname), type, 'bogus', reason('INVALID_DATA', `CNAME loop at ${nameToString(cur)}`)), cnames };
        }
        cur = h.target;
        continue;
      }
      const r: LookupResult = { name: nameToString(qname), type, verdict: judged.security, reason: judged.reason, status: h.status, rrset: h.rrs, cnames, ttl: Number.isFinite(ttl) ? ttl : 0, cached: false };
      return r;
    }
    return { ...this.failed(nameToString(qname), type, 'indeterminate', reason('OTHER', `more than ${MAX_CNAMES} CNAMEs from ${nameToString(qname)}`)), cnames };
  }

  /** One name, one reply: fetch, interpret, walk the chain, verify. */
  private async hop(name: DnsName, type: number): Promise<HopResult> {
    const r = await this.o.fetcher.query(name, type);
    if (!r.ok) return { judged: { security: 'indeterminate', reason: r.reason }, status: 'error', rrs: [], cname: null, target: null, ttl: 0 };
    const m = r.message;
    const hop = interpret(m, name, type);
    const zs = await this.chain.zoneFor(name, signerHint(m, hop, name));
    const status: LookupStatus = hop.kind === 'negative' ? (hop.nxdomain ? 'nxdomain' : 'nodata') : 'answer';
    const rrs = hop.kind === 'answer' ? hop.set.rrs : [];
    const cname = hop.kind === 'cname' ? hop.set.rrs[0]! : null;
    const target = hop.kind === 'cname' ? hop.target : null;
    const dataTtl = hop.kind === 'negative' ? negativeTtl(m) : Math.min(...hop.set.rrs.map((x) => x.ttl));
    const out = (security: Security, why: Reason | null, ttl: number): HopResult => ({ judged: { security, reason: why }, status, rrs, cname, target, ttl });
    if (zs.security !== 'secure') return out(zs.security, zs.reason, zs.security === 'insecure' ? Math.min(dataTtl, zs.ttl) : 0);
    const c = this.ctx();
    if (hop.kind === 'negative') {
      const recs = verifiedDenialRecords(m, zs.zone, zs.keys, c);
      const d = denialFrom(recs, { qname: name, qtype: type, zone: zs.zone, nxdomain: hop.nxdomain }, c.iterationCap);
      const ttl = Math.min(dataTtl, recs.ttl, zs.ttl);
      switch (d.kind) {
        case 'nxdomain':
        case 'nodata':
          return out('secure', null, ttl);
        case 'optout':
          return out('insecure', reason('OTHER', `${nameToString(name)} lies in an NSEC3 opt-out span`), ttl);
        case 'insecure':
          return out('insecure', d.reason, ttl);
        case 'fail':
          return out('bogus', d.reason, 0);
      }
    }
    const v = verifyRRset(hop.set, zs.zone, zs.keys, c.nowSec, c.skewSec);
    if (!v.ok) return out('bogus', v.reason, 0);
    let ttl = Math.min(v.ttl, zs.ttl);
    if (v.labels < rrsigLabelCount(name)) {
      // Wildcard expansion (RFC 4035 §5.3.4): the name itself must be proven not to exist.
      const recs = verifiedDenialRecords(m, zs.zone, zs.keys, c);
      ttl = Math.min(ttl, recs.ttl);
      if (recs.nsec.length > 0) {
        if (!nsecProvesExpansion(name, zs.zone, recs.nsec)) return out('bogus', reason('NSEC_MISSING', `wildcard answer for ${nameToString(name)} without an NSEC proving the name absent`), 0);
      } else {
        const d = nsec3ProvesExpansion(name, v.labels, zs.zone, recs.nsec3, c.iterationCap);
        if (d?.kind === 'insecure') return out('insecure', d.reason, ttl);
        if (d?.kind === 'optout') return out('insecure', reason('OTHER', `wildcard answer for ${nameToString(name)} from an NSEC3 opt-out span`), ttl);
        if (d?.kind === 'fail') return out('bogus', recs.failure ?? d.reason, 0);
      }
    }
    return out('secure', null, ttl);
  }
}
