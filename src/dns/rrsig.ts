// Verifying one RRset against a zone's DNSKEYs (RFC 4035 §5.3): each RRSIG's signer, type,
// labels, key tag and algorithm must fit, its validity window must hold the current time
// (serial-number arithmetic, RFC 4034 §3.1.5, with a bounded skew), and the signature must
// verify. When none does, the reason is that of the RRSIG that got furthest.

import { isSubdomain, nameEquals, nameToString, type DnsName } from '../wire/dns/name.js';
import { typeToString } from '../wire/dns/types.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { signedData, type RRset } from './canonical.js';
import { DNSKEY_REVOKE, DNSKEY_ZONE, keyTag, SUPPORTED_ALGORITHMS, verifySignature } from './crypto.js';
import { reason, type Reason } from './verdict.js';

export interface ZoneKey {
  rr: DnsRR;
  tag: number;
  algorithm: number;
  flags: number;
  publicKey: Buffer;
}

export function zoneKeysOf(dnskeys: readonly DnsRR[]): ZoneKey[] {
  const out: ZoneKey[] = [];
  for (const rr of dnskeys) {
    const d = rr.data;
    if (d.kind !== 'DNSKEY' || d.protocol !== 3) continue;
    out.push({ rr, tag: keyTag(encodeKey(rr)), algorithm: d.algorithm, flags: d.flags, publicKey: d.publicKey });
  }
  return out;
}

function encodeKey(rr: DnsRR): Buffer {
  const d = rr.data;
  if (d.kind !== 'DNSKEY') return Buffer.alloc(0);
  const b = Buffer.alloc(4 + d.publicKey.length);
  b.writeUInt16BE(d.flags, 0);
  b[2] = d.protocol;
  b[3] = d.algorithm;
  d.publicKey.copy(b, 4);
  return b;
}

export { encodeKey as dnskeyRdata };

export interface VerifyOk {
  ok: true;
  /** Seconds the verified data may be cached: min of the RR TTLs, the original TTL and time to expiry. */
  ttl: number;
  /** Labels of the signature that verified; below the owner's count means wildcard expansion. */
  labels: number;
  signer: DnsName;
}

export type VerifyResult = VerifyOk | { ok: false; reason: Reason };

/** a - b in 32-bit serial arithmetic (RFC 1982), as a signed number. */
function serialDiff(a: number, b: number): number {
  return ((a - b) | 0);
}

/**
 * Verifies `set` with `keys` of `zone` at `nowSec` (Unix seconds). `skewSec` widens the window on
 * both sides to absorb clock error between us and the signer.
 */
export function verifyRRset(set: RRset, zone: DnsName, keys: readonly ZoneKey[], nowSec: number, skewSec: number): VerifyResult {
  if (set.sigs.length === 0) return { ok: false, reason: reason('RRSIGS_MISSING', `no RRSIG over ${describe(set)}`) };
  let best: { rank: number; reason: Reason } = { rank: -1, reason: reason('DNSKEY_MISSING', `no RRSIG over ${describe(set)} fits a key of the zone`) };
  const fail = (rank: number, r: Reason) => {
    if (rank > best.rank) best = { rank, reason: r };
  };
  const minRRttl = Math.min(...set.rrs.map((r) => r.ttl));
  const now32 = nowSec >>> 0;
  for (const s of set.sigs) {
    const sig = s.data;
    if (sig.kind !== 'RRSIG') continue;
    if (!nameEquals(sig.signer, zone) || !isSubdomain(set.name, zone)) {
      fail(0, reason('DNSSEC_BOGUS', `RRSIG over ${describe(set)} names signer outside the zone`));
      continue;
    }
    if (sig.labels > set.name.length) {
      fail(0, reason('DNSSEC_BOGUS', `RRSIG over ${describe(set)} has Labels ${sig.labels} above the owner's ${set.name.length}`));
      continue;
    }
    if (!SUPPORTED_ALGORITHMS.has(sig.algorithm)) {
      fail(0, reason('UNSUPPORTED_DNSKEY_ALGORITHM', `RRSIG over ${describe(set)} uses algorithm ${sig.algorithm}`));
      continue;
    }
    const candidates = keys.filter((k) => k.tag === sig.keyTag && k.algorithm === sig.algorithm && (k.flags & DNSKEY_ZONE) !== 0 && (k.flags & DNSKEY_REVOKE) === 0);
    if (candidates.length === 0) {
      fail(1, reason('DNSKEY_MISSING', `no DNSKEY with tag ${sig.keyTag} algorithm ${sig.algorithm} for RRSIG over ${describe(set)}`));
      continue;
    }
    if (serialDiff(now32, sig.expiration) > skewSec) {
      fail(2, reason('SIGNATURE_EXPIRED', `RRSIG over ${describe(set)} (key ${sig.keyTag}) expired at ${sig.expiration}`));
      continue;
    }
    if (serialDiff(sig.inception, now32) > skewSec) {
      fail(2, reason('SIGNATURE_NOT_YET_VALID', `RRSIG over ${describe(set)} (key ${sig.keyTag}) valid from ${sig.inception}`));
      continue;
    }
    const data = signedData(set, sig);
    if (!candidates.some((k) => verifySignature(sig.algorithm, k.publicKey, data, sig.signature))) {
      fail(3, reason('DNSSEC_BOGUS', `RRSIG over ${describe(set)} (key ${sig.keyTag}) does not verify`));
      continue;
    }
    const toExpiry = Math.max(0, serialDiff(sig.expiration, now32));
    return { ok: true, ttl: Math.min(minRRttl, sig.originalTtl, toExpiry), labels: sig.labels, signer: sig.signer };
  }
  return { ok: false, reason: best.reason };
}

function describe(set: RRset): string {
  return `${nameToString(set.name)} ${typeToString(set.type)}`;
}
