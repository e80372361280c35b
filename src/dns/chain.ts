// The chain of trust (RFC 4035 §5): from the deepest trust anchor above a name down to the zone
// that holds it, asking for each DS and DNSKEY RRset itself. Each step down is one of
//   - a signed DS RRset: the child's DNSKEY RRset must be signed by a key that one of the DS
//     (supported algorithm and digest) matches; the child becomes the current zone;
//   - a proven absence of DS at a delegation (NSEC/NSEC3 with NS, or NSEC3 opt-out): insecure;
//   - a proven absence of a zone cut (no NS in the bitmap, an empty non-terminal): continue;
//   - a proven NXDOMAIN: stop, the current zone answers for everything below;
//   - anything else (no proof, bad signatures, no reply) is bogus or indeterminate, never
//     insecure: a failed DS lookup must not downgrade the chain.
// Results are cached by the validated TTLs.

import { isSubdomain, lowerName, nameEquals, nameToString, suffixName, type DnsName } from '../wire/dns/name.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { RRType } from '../wire/dns/types.js';
import { anchorFor, type TrustAnchor } from './anchors.js';
import { TtlCache } from './cache.js';
import { findRRset, groupRRsets, nameKey } from './canonical.js';
import type { Clock } from '../clock.js';
import { dsDigest, SUPPORTED_ALGORITHMS, SUPPORTED_DIGESTS } from './crypto.js';
import { denialFrom, interpret, verifiedDenialRecords, type ValidationContext } from './response.js';
import { dnskeyRdata, verifyRRset, zoneKeysOf, type ZoneKey } from './rrsig.js';
import type { Fetcher } from './stub.js';
import { reason, type Reason } from './verdict.js';

export type ZoneState =
  | { security: 'secure'; zone: DnsName; keys: ZoneKey[]; ttl: number }
  | { security: 'insecure' | 'bogus' | 'indeterminate'; reason: Reason; ttl: number };

type Step =
  | { kind: 'ds'; ds: DnsRR[]; ttl: number }
  | { kind: 'no-cut'; ttl: number }
  | { kind: 'nxdomain'; ttl: number }
  | { kind: 'stop'; state: ZoneState };

/** How long a failure is remembered, so a bogus zone is not asked again for every lookup. */
const FAILURE_TTL = 5;

export class ChainOfTrust {
  private readonly keys: TtlCache<ZoneState>;
  private readonly steps: TtlCache<Step>;

  constructor(
    private readonly fetcher: Fetcher,
    private readonly clock: Clock,
    private readonly anchors: readonly TrustAnchor[],
    private readonly ctx: () => ValidationContext,
  ) {
    this.keys = new TtlCache(clock);
    this.steps = new TtlCache(clock);
  }

  /**
   * The state of the zone that holds `target`: secure with its keys, or why not. `hint` (a
   * signer name from the response) bounds the walk; without one it goes down to `target`.
   */
  async zoneFor(target: DnsName, hint: DnsName | null): Promise<ZoneState> {
    const anchor = anchorFor(this.anchors, target);
    if (!anchor) return { security: 'insecure', reason: reason('OTHER', `no trust anchor above ${nameToString(target)}`), ttl: 3600 };
    const stop = hint && isSubdomain(target, hint) && isSubdomain(hint, anchor.zone) ? hint : target;
    let state = await this.anchorKeys(anchor);
    if (state.security !== 'secure') return state;
    for (let depth = anchor.zone.length + 1; depth <= stop.length; depth++) {
      const child = suffixName(stop, depth);
      const step = await this.step(child, state.zone, state.keys);
      if (step.kind === 'stop') return step.state;
      if (step.kind === 'nxdomain') break;
      if (step.kind === 'no-cut') continue;
      const next = await this.childKeys(child, step.ds);
      if (next.security !== 'secure') return next;
      state = next;
    }
    return state;
  }

  private async anchorKeys(a: TrustAnchor): Promise<ZoneState> {
    const k = `anchor ${nameKey(a.zone)}`;
    const hit = this.keys.get(k);
    if (hit) return hit.value;
    const s = a.ds.length > 0 ? await this.keysFromDs(a.zone, a.ds) : await this.keysFromAnchorKeys(a);
    this.keys.set(k, s, s.security === 'secure' || s.security === 'insecure' ? s.ttl : FAILURE_TTL);
    return s;
  }

  private async childKeys(zone: DnsName, ds: DnsRR[]): Promise<ZoneState> {
    const k = `zone ${nameKey(zone)}`;
    const hit = this.keys.get(k);
    if (hit) return hit.value;
    const s = await this.keysFromDs(zone, ds);
    this.keys.set(k, s, s.security === 'secure' || s.security === 'insecure' ? s.ttl : FAILURE_TTL);
    return s;
  }

  private async fetchDnskeys(zone: DnsName): Promise<{ set: ReturnType<typeof findRRset> } | { state: ZoneState }> {
    const r = await this.fetcher.query(zone, RRType.DNSKEY);
    if (!r.ok) return { state: { security: 'indeterminate', reason: r.reason, ttl: 0 } };
    const set = findRRset(groupRRsets(r.message.answers), zone, RRType.DNSKEY);
    if (!set) return { state: { security: 'bogus', reason: reason('DNSKEY_MISSING', `no DNSKEY RRset at ${nameToString(zone)}`), ttl: FAILURE_TTL } };
    return { set };
  }

  /** RFC 4035 §5.2: a DNSKEY that a DS matches must sign the zone's DNSKEY RRset. */
  private async keysFromDs(zone: DnsName, ds: DnsRR[]): Promise<ZoneState> {
    const z = nameToString(zone);
    const usable = ds.filter((d) => d.data.kind === 'DS' && SUPPORTED_ALGORITHMS.has(d.data.algorithm) && SUPPORTED_DIGESTS.has(d.data.digestType));
    if (usable.length === 0) {
      const algOk = ds.some((d) => d.data.kind === 'DS' && SUPPORTED_ALGORITHMS.has(d.data.algorithm));
      return { security: 'insecure', ttl: 3600, reason: algOk ? reason('UNSUPPORTED_DS_DIGEST', `no DS for ${z} uses digest 2 or 4`) : reason('UNSUPPORTED_DNSKEY_ALGORITHM', `no DS for ${z} uses algorithm 8, 13, 14 or 15`) };
    }
    const f = await this.fetchDnskeys(zone);
    if ('state' in f) return f.state;
    const set = f.set!;
    const all = zoneKeysOf(set.rrs);
    const matched = all.filter((k) =>
      usable.some((d) => {
        if (d.data.kind !== 'DS' || d.data.keyTag !== k.tag || d.data.algorithm !== k.algorithm) return false;
        const dig = dsDigest(d.data.digestType, zone, dnskeyRdata(k.rr));
        return dig !== null && dig.equals(d.data.digest);
      }),
    );
    if (matched.length === 0) return { security: 'bogus', ttl: FAILURE_TTL, reason: reason('DNSKEY_MISSING', `no DNSKEY of ${z} matches its DS (tags ${usable.map((d) => (d.data.kind === 'DS' ? d.data.keyTag : 0)).join(', ')})`) };
    if (matched.every((k) => (k.flags & 0x0100) === 0)) return { security: 'bogus', ttl: FAILURE_TTL, reason: reason('NO_ZONE_KEY_BIT', `the DNSKEY of ${z} that matches the DS lacks the Zone Key flag`) };
    const c = this.ctx();
    const v = verifyRRset(set, zone, matched, c.nowSec, c.skewSec);
    if (!v.ok) return { security: 'bogus', reason: v.reason, ttl: FAILURE_TTL };
    return { security: 'secure', zone: lowerName(zone), keys: all, ttl: v.ttl };
  }

  private async keysFromAnchorKeys(a: TrustAnchor): Promise<ZoneState> {
    const z = nameToString(a.zone);
    const anchorKeys = zoneKeysOf(a.dnskeys).filter((k) => SUPPORTED_ALGORITHMS.has(k.algorithm));
    if (anchorKeys.length === 0) return { security: 'insecure', ttl: 3600, reason: reason('UNSUPPORTED_DNSKEY_ALGORITHM', `no anchor key for ${z} uses algorithm 8, 13, 14 or 15`) };
    const f = await this.fetchDnskeys(a.zone);
    if ('state' in f) return f.state;
    const set = f.set!;
    const all = zoneKeysOf(set.rrs);
    const trusted = all.filter((k) => anchorKeys.some((t) => t.algorithm === k.algorithm && t.publicKey.equals(k.publicKey)));
    if (trusted.length === 0) return { security: 'bogus', ttl: FAILURE_TTL, reason: reason('DNSKEY_MISSING', `the DNSKEY RRset of ${z} holds none of the anchor keys`) };
    const c = this.ctx();
    const v = verifyRRset(set, a.zone, trusted, c.nowSec, c.skewSec);
    if (!v.ok) return { security: 'bogus', reason: v.reason, ttl: FAILURE_TTL };
    return { security: 'secure', zone: lowerName(a.zone), keys: all, ttl: v.ttl };
  }

  /** One step down: what the parent `zone` says about DS at `child`. */
  private async step(child: DnsName, zone: DnsName, keys: ZoneKey[]): Promise<Step> {
    const k = `ds ${nameKey(child)}`;
    const hit = this.steps.get(k);
    if (hit) return hit.value;
    const s = await this.computeStep(child, zone, keys);
    const ttl = s.kind === 'stop' ? (s.state.security === 'insecure' ? s.state.ttl : s.state.security === 'secure' ? s.state.ttl : FAILURE_TTL) : s.ttl;
    if (!(s.kind === 'stop' && s.state.security === 'indeterminate')) this.steps.set(k, s, ttl);
    return s;
  }

  private async computeStep(child: DnsName, zone: DnsName, keys: ZoneKey[]): Promise<Step> {
    const c = this.ctx();
    const cn = nameToString(child);
    const r = await this.fetcher.query(child, RRType.DS);
    if (!r.ok) return { kind: 'stop', state: { security: 'indeterminate', reason: r.reason, ttl: 0 } };
    const hop = interpret(r.message, child, RRType.DS);
    const bogus = (why: Reason): Step => ({ kind: 'stop', state: { security: 'bogus', reason: why, ttl: FAILURE_TTL } });
    if (hop.kind === 'answer' || hop.kind === 'cname') {
      const v = verifyRRset(hop.set, zone, keys, c.nowSec, c.skewSec);
      if (!v.ok) return bogus(v.reason);
      return hop.kind === 'answer' ? { kind: 'ds', ds: hop.set.rrs, ttl: v.ttl } : { kind: 'no-cut', ttl: v.ttl };
    }
    const recs = verifiedDenialRecords(r.message, zone, keys, c);
    const d = denialFrom(recs, { qname: child, qtype: RRType.DS, zone, nxdomain: hop.nxdomain }, c.iterationCap);
    const ttl = Math.min(recs.ttl, 3600);
    switch (d.kind) {
      case 'nxdomain': return { kind: 'nxdomain', ttl };
      case 'nodata':
        if (d.types.includes(RRType.NS) && !nameEquals(child, zone)) {
          return { kind: 'stop', state: { security: 'insecure', ttl, reason: reason('OTHER', `${cn} is delegated without DS (proven by the parent's denial)`) } };
        }
        return { kind: 'no-cut', ttl };
      case 'optout':
        return { kind: 'stop', state: { security: 'insecure', ttl, reason: reason('OTHER', `${cn} lies in an NSEC3 opt-out span: an unsigned delegation`) } };
      case 'insecure':
        return { kind: 'stop', state: { security: 'insecure', ttl, reason: d.reason } };
      case 'fail':
        return bogus({ ...d.reason, detail: `no DS for ${cn} and no valid proof of its absence: ${d.reason.detail}` });
    }
  }

  /** Cached zone states, for `show dns`. */
  cachedZones(): { key: string; value: ZoneState; ttlLeft: number }[] {
    return this.keys.entries();
  }

  clear(): void {
    this.keys.clear();
    this.steps.clear();
  }
}
