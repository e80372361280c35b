// KX delegation (RFC 2230) over a validating lookup. Two questions, both answered only from
// *secure* data, whatever the node's dnssec policy (RFC 2230 §2 and §4: an unauthenticated
// KX record would let anyone redirect or impersonate a site):
//   initiator: which gateways may key for a domain? Its KX exchangers, most preferred first,
//     each with the addresses of a secure A lookup (resolveExchangers; failover in kx-selector.ts);
//   responder (§2.1): may the initiator at this address key for the name it claims? Only if an
//     exchanger of that name resolves securely to the address (proveKxDelegation). An address
//     identity is first turned into names by a secure PTR lookup.
// The lookup is injected: DnssecResolver.lookup in the node, a replay of captured replies in tests.

import type { Clock } from '../clock.js';
import { formatAddr, parseAddr } from '../wire/addr.js';
import { ipv4ToString } from '../wire/dns/present.js';
import { lowerName, nameToString, parseName } from '../wire/dns/name.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { RRType } from '../wire/dns/types.js';
import { reverseName } from '../wire/reverse-name.js';
import type { LookupResult } from './resolver.js';
import { reason, reasonToString, type Security } from './verdict.js';

/** DnssecResolver.lookup's shape (a string name). */
export type DnsLookup = (name: string, type: number) => Promise<LookupResult>;

export interface Exchanger {
  preference: number;
  /** Absolute, lower case: `gw1.site-a.test.`. */
  name: string;
  /** IPv4 addresses from a secure A lookup; empty unless usable. */
  addresses: string[];
  /** Verdict of the address lookup. */
  verdict: Security;
  usable: boolean;
  /** Why the exchanger cannot be used; null when usable. */
  reason: string | null;
}

export interface KxList {
  /** Absolute, lower case. */
  domain: string;
  /** Verdict of the KX lookup itself. */
  verdict: Security;
  /** A secure KX answer with at least one usable exchanger. */
  ok: boolean;
  /** Why not ok; null when ok. */
  reason: string | null;
  /** Most preferred first; equal preferences in name order, so every run picks the same one. */
  exchangers: Exchanger[];
  /** Seconds until the list must be read again (the smallest TTL involved, clamped). */
  ttl: number;
  fetchedAtMs: number;
  expiresAtMs: number;
}

export interface KxTiming {
  /** Floor for re-reading a good list, so a TTL of 0 cannot spin (default 5 s). */
  minTtlSec?: number;
  /** Ceiling, so a key rollover is seen within a day at most (default 86400 s). */
  maxTtlSec?: number;
  /** When to try again after a list that is not ok (default 10 s). */
  retrySec?: number;
}

/** Absolute lower-case presentation form; throws CodecError on a string that is not a name. */
export function canonicalName(s: string): string {
  return nameToString(lowerName(parseName(s.endsWith('.') ? s : `${s}.`)));
}

/** `site-a.test` for messages: as an operator writes it, without the root dot. */
const bare = (name: string) => (name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name);

async function ask(lookup: DnsLookup, name: string, type: number): Promise<LookupResult> {
  try {
    return await lookup(name, type);
  } catch (e) {
    // The resolver never rejects; an injected lookup might. That is no answer, never a crash.
    return { name, type, verdict: 'indeterminate', reason: reason('OTHER', `lookup failed: ${(e as Error).message}`), status: 'error', rrset: [], cnames: [], ttl: 0, cached: false };
  }
}

function why(r: LookupResult, what: string): string {
  if (r.verdict !== 'secure') return `${what} is ${r.verdict}${r.reason ? ` (${reasonToString(r.reason)})` : ''}`;
  if (r.status === 'nxdomain') return `${what}: the name does not exist (secure)`;
  if (r.status === 'nodata') return `${what}: no record (secure)`;
  return `${what}: no answer`;
}

async function addressesOf(lookup: DnsLookup, preference: number, name: string): Promise<Exchanger & { ttl: number }> {
  const r = await ask(lookup, name, RRType.A);
  const addresses = (r.rrset as DnsRR[]).flatMap((rr) => (rr.data.kind === 'A' ? [ipv4ToString(rr.data.address)] : []));
  const usable = r.verdict === 'secure' && r.status === 'answer' && addresses.length > 0;
  return {
    preference, name, verdict: r.verdict, usable, addresses: usable ? [...new Set(addresses)].sort() : [],
    reason: usable ? null : why(r, `address of ${name}`), ttl: r.ttl,
  };
}

/** The KX answer for `domain` with each exchanger's addresses; times not yet attached. */
async function fetchExchangers(lookup: DnsLookup, domain: string): Promise<Omit<KxList, 'fetchedAtMs' | 'expiresAtMs' | 'ttl'> & { ttl: number; goodTtl: number }> {
  const kx = await ask(lookup, domain, RRType.KX);
  if (kx.verdict !== 'secure' || kx.status !== 'answer') {
    return { domain, verdict: kx.verdict, ok: false, reason: why(kx, `KX of ${domain}`), exchangers: [], ttl: kx.ttl, goodTtl: 0 };
  }
  const best = new Map<string, number>();
  for (const rr of kx.rrset) {
    if (rr.data.kind !== 'PREF') continue;
    const name = nameToString(lowerName(rr.data.exchange));
    best.set(name, Math.min(best.get(name) ?? Infinity, rr.data.preference));
  }
  const ordered = [...best].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const resolved = await Promise.all(ordered.map(([name, pref]) =>
    name === '.'
      ? Promise.resolve({ preference: pref, name, verdict: 'secure' as Security, usable: false, addresses: [], reason: 'the root is no exchanger', ttl: kx.ttl })
      : addressesOf(lookup, pref, name)));
  const usable = resolved.filter((x) => x.usable);
  const exchangers = resolved.map(({ ttl: _ttl, ...x }) => x);
  const goodTtl = Math.min(kx.ttl, ...usable.map((x) => x.ttl));
  if (usable.length === 0) {
    const whys = exchangers.map((x) => `${x.name} (${x.preference}): ${x.reason}`).join('; ');
    return { domain, verdict: kx.verdict, ok: false, reason: exchangers.length ? `no exchanger of ${domain} has a secure address: ${whys}` : `KX of ${domain}: no record`, exchangers, ttl: kx.ttl, goodTtl: 0 };
  }
  return { domain, verdict: kx.verdict, ok: true, reason: null, exchangers, ttl: goodTtl, goodTtl };
}

/**
 * The initiator's view of `domain`: its exchangers, most preferred first, with secure addresses.
 * Never rejects; a failure is a list that is not ok, with the reason, to be read again soon.
 */
export async function resolveExchangers(lookup: DnsLookup, domain: string, clock: Clock, t: KxTiming = {}): Promise<KxList> {
  let name: string;
  try {
    name = canonicalName(domain);
  } catch (e) {
    const now = clock.now();
    return { domain, verdict: 'bogus', ok: false, reason: `not a domain name: ${(e as Error).message}`, exchangers: [], ttl: 0, fetchedAtMs: now, expiresAtMs: now };
  }
  const f = await fetchExchangers(lookup, name);
  const now = clock.now();
  const ttl = f.ok ? Math.min(Math.max(f.goodTtl, t.minTtlSec ?? 5), t.maxTtlSec ?? 86400) : t.retrySec ?? 10;
  const { goodTtl: _g, ...rest } = f;
  return { ...rest, ttl, fetchedAtMs: now, expiresAtMs: now + ttl * 1000 };
}

/** What the initiator claims to be in IKE_AUTH (its IDi). */
export type KxIdentity = { kind: 'fqdn'; name: string } | { kind: 'ipv4'; address: string };

export interface KxProof {
  proven: boolean;
  /** The name whose KX records were checked (the PTR target for an address identity); null before one was found. */
  domain: string | null;
  /** The exchanger that resolves to the initiator. */
  exchanger: { preference: number; name: string } | null;
  via: 'fqdn' | 'ptr';
  /** A bogus answer was met on the way (logs and counters tell it from a plain mismatch). */
  bogus: boolean;
  /** One sentence: "KX delegation for site-a.test proven: ..." or "... not proven: ...". */
  reason: string;
}

async function proveName(lookup: DnsLookup, domain: string, initiator: string): Promise<{ ok: boolean; detail: string; exchanger: KxProof['exchanger']; bogus: boolean }> {
  const f = await fetchExchangers(lookup, domain);
  const bogus = f.verdict === 'bogus' || f.exchangers.some((x) => x.verdict === 'bogus');
  const hit = f.exchangers.find((x) => x.usable && x.addresses.includes(initiator));
  if (hit) return { ok: true, bogus, exchanger: { preference: hit.preference, name: hit.name }, detail: `exchanger ${hit.name} (preference ${hit.preference}) resolves securely to ${initiator}` };
  if (f.exchangers.length === 0) return { ok: false, bogus, exchanger: null, detail: f.reason ?? `KX of ${domain}: no record` };
  const list = f.exchangers.map((x) => `${x.name} (${x.preference}) ${x.usable ? `has ${x.addresses.join(', ')}` : `is unusable: ${x.reason}`}`).join('; ');
  return { ok: false, bogus, exchanger: null, detail: `no exchanger of ${domain} resolves securely to ${initiator}: ${list}` };
}

/**
 * RFC 2230 §2.1, the responder's check: the initiator at `initiatorAddress` claims `id`. Proven
 * only when a secure KX record of the claimed name (or, for an address identity, of a name its
 * secure PTR records give) names an exchanger that resolves securely to that address.
 */
export async function proveKxDelegation(lookup: DnsLookup, id: KxIdentity, initiatorAddress: string): Promise<KxProof> {
  const claimed = id.kind === 'fqdn' ? bare(id.name) : id.address;
  const via = id.kind === 'fqdn' ? 'fqdn' : 'ptr';
  const fail = (domain: string | null, detail: string, bogus: boolean): KxProof =>
    ({ proven: false, domain, exchanger: null, via, bogus, reason: `KX delegation for ${claimed} not proven: ${detail}` });
  const from = parseAddr(initiatorAddress);
  if (from === null || from.family !== 4) return fail(null, `initiator address ${JSON.stringify(initiatorAddress)} is not IPv4`, false);
  const initiator = formatAddr(from);
  let names: string[];
  if (id.kind === 'fqdn') {
    try {
      names = [canonicalName(id.name)];
    } catch (e) {
      return fail(null, `not a domain name: ${(e as Error).message}`, false);
    }
  } else {
    const a = parseAddr(id.address);
    if (a === null || a.family !== 4) return fail(null, `identity ${JSON.stringify(id.address)} is not an IPv4 address`, false);
    const rev = reverseName(a);
    const ptr = await ask(lookup, rev, RRType.PTR);
    names = [...new Set((ptr.rrset as DnsRR[]).flatMap((rr) => (rr.data.kind === 'NAME' ? [nameToString(lowerName(rr.data.target))] : [])))].sort();
    if (ptr.verdict !== 'secure' || ptr.status !== 'answer' || names.length === 0) return fail(null, why(ptr, `PTR of ${rev}`), ptr.verdict === 'bogus');
  }
  const misses: string[] = [];
  let bogus = false;
  for (const domain of names) {
    const p = await proveName(lookup, domain, initiator);
    bogus ||= p.bogus;
    if (p.ok) {
      const through = id.kind === 'ipv4' ? ` (PTR ${domain})` : '';
      return { proven: true, domain, exchanger: p.exchanger, via, bogus: false, reason: `KX delegation for ${claimed}${through} proven: ${p.detail}` };
    }
    misses.push(id.kind === 'ipv4' ? `via PTR ${domain}: ${p.detail}` : p.detail);
  }
  return fail(names.length === 1 ? names[0]! : null, misses.join('; '), bogus);
}
