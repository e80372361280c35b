// IPSECA (draft-osterweil-dane-ipsec) for raw public keys in IKE_AUTH (RFC 7670): which records
// at a gateway's owner name are usable, whether the key a peer proved matches one, and what
// follows from the DNSSEC verdict:
//   secure, a usable record matches      -> use the key
//   secure, usable records, none matches -> AUTHENTICATION_FAILED
//   bogus                                -> do not start IKE, or abort the negotiation
//   insecure, indeterminate, no record,
//   or no usable record                  -> unusable: the configured peer_public_key, or refuse
// Usable means usage 3 (DANE-EE) with selector 1 (SPKI) and matching type 0, 1 or 2. Selector 0
// and usages 0-2 need certificates, which raw public keys do not have; as TLSA clients do (RFC
// 7671 §4), such records are skipped with a reason, and a set of only those is unusable.

import { createHash } from 'node:crypto';
import { CodecError } from '../errors.js';
import { parseAddr, type IpAddr } from '../wire/addr.js';
import { IpsecaMatching, IpsecaSelector, IpsecaUsage, ipsecaFieldName, type IpsecaRdata } from '../wire/dns/ipseca.js';
import { lowerName, nameToString, parseName } from '../wire/dns/name.js';
import { rdataToGenericString, rdataToString } from '../wire/dns/present.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { RRType } from '../wire/dns/types.js';
import { reverseName } from '../wire/reverse-name.js';
import type { LookupResult } from './resolver.js';
import { reasonToString, type Security } from './verdict.js';

/** IKE's port: the `_500` label of the owner name, in the draft's `_<port>.<name>` convention. */
export const IKE_PORT = 500;

/**
 * The owner name of a gateway's IPSECA records: `_500.<fqdn>.`, or for a gateway known only by
 * its address `_500.<reverse name>` (`_500.2.1.200.10.in-addr.arpa.`), as the draft's own
 * reverse-name example does. Throws CodecError on a string that is not a domain name.
 */
export function ipsecaOwner(gateway: string | IpAddr): string {
  const addr = typeof gateway === 'string' ? parseAddr(gateway) : gateway;
  if (addr !== null) return `_${IKE_PORT}.${reverseName(addr)}`;
  const text = gateway as string;
  const name = lowerName(parseName(text.endsWith('.') ? text : `${text}.`));
  if (name.length === 0) throw new CodecError('the root is not a gateway name');
  return `_${IKE_PORT}.${nameToString(name)}`;
}

/** One record of the set, judged on its own. */
export interface IpsecaRecordCheck {
  /** Presentation form: `3 1 1 5ED5...`. */
  record: string;
  usable: boolean;
  /** Why it cannot be used; null when usable. */
  reason: string | null;
}

export type IpsecaCase =
  | 'usable'
  | 'bogus'
  | 'insecure'
  | 'indeterminate'
  /** Secure proof that the owner has no IPSECA record. */
  | 'no-record'
  /** Secure records, none of them usable here. */
  | 'no-usable-record';

/** The records at one owner, judged before any key is known (an initiator fetches ahead). */
export interface IpsecaSet {
  owner: string;
  verdict: Security;
  case: IpsecaCase;
  /** usable: a match decides; bogus: do not start IKE; unusable: fall back or refuse. */
  state: 'usable' | 'bogus' | 'unusable';
  /** One sentence for the log, naming the case. */
  reason: string;
  records: IpsecaRecordCheck[];
  /** Seconds the answer may be used. */
  ttl: number;
  /** The usable records (internal to matching). */
  usable: IpsecaRdata[];
}

export type IpsecaOutcome = 'use' | 'auth-failed' | 'abort' | 'unusable';

export interface IpsecaDecision {
  outcome: IpsecaOutcome;
  owner: string;
  verdict: Security;
  case: IpsecaCase | 'match' | 'no-match';
  reason: string;
  /** The record that matched the key, presentation form. */
  matched: string | null;
  records: IpsecaRecordCheck[];
  ttl: number;
}

const DIGEST_LEN: Record<number, number> = { [IpsecaMatching.SHA256]: 32, [IpsecaMatching.SHA512]: 64 };

/** Why a record cannot authenticate a raw public key, or null when it can. */
export function ipsecaUnusableReason(r: IpsecaRdata): string | null {
  if (r.usage !== IpsecaUsage.DANE_EE) {
    return r.usage <= IpsecaUsage.DANE_TA
      ? `usage ${r.usage} (${ipsecaFieldName('usage', r.usage)}) needs a certificate chain; IKE here authenticates raw public keys (RFC 7670), so only usage 3 (DANE-EE) applies`
      : `usage ${r.usage} is unassigned`;
  }
  if (r.selector === IpsecaSelector.CERT) return 'selector 0 (full certificate) needs a certificate; IKE here has raw public keys only (RFC 7670), so only selector 1 (SubjectPublicKeyInfo) applies';
  if (r.selector !== IpsecaSelector.SPKI) return `selector ${r.selector} is unassigned`;
  if (r.matchingType === IpsecaMatching.FULL) return r.data.length > 0 ? null : 'matching type 0 with empty association data';
  const want = DIGEST_LEN[r.matchingType];
  if (want === undefined) return `matching type ${r.matchingType} is unassigned`;
  if (r.data.length !== want) return `matching type ${r.matchingType} (${ipsecaFieldName('matchingType', r.matchingType)}) with ${r.data.length} octets of association data, not ${want}`;
  return null;
}

/** The association data a key gives for a matching type (selector 1: the DER SPKI). */
export function ipsecaAssociation(spki: Buffer, matchingType: number): Buffer {
  switch (matchingType) {
    case IpsecaMatching.FULL: return Buffer.from(spki);
    case IpsecaMatching.SHA256: return createHash('sha256').update(spki).digest();
    case IpsecaMatching.SHA512: return createHash('sha512').update(spki).digest();
    default: throw new RangeError(`matching type ${matchingType} is unassigned`);
  }
}

const show = (r: IpsecaRdata) => rdataToString(RRType.IPSECA, { kind: 'IPSECA', ...r });
const dnsWhy = (l: Pick<LookupResult, 'reason'>) => (l.reason ? `: ${reasonToString(l.reason)}` : '');

/** Judges the answer of an IPSECA lookup at `owner`, before any key is known. */
export function ipsecaRecords(owner: string, lookup: Pick<LookupResult, 'verdict' | 'reason' | 'status' | 'rrset' | 'ttl'>): IpsecaSet {
  const base = { owner, verdict: lookup.verdict, records: [] as IpsecaRecordCheck[], ttl: lookup.ttl, usable: [] as IpsecaRdata[] };
  switch (lookup.verdict) {
    case 'bogus':
      return { ...base, case: 'bogus', state: 'bogus', reason: `IPSECA at ${owner} is bogus${dnsWhy(lookup)}` };
    case 'insecure':
      return { ...base, case: 'insecure', state: 'unusable', reason: `IPSECA at ${owner} is insecure (not DNSSEC-signed)${dnsWhy(lookup)}` };
    case 'indeterminate':
      return { ...base, case: 'indeterminate', state: 'unusable', reason: `IPSECA at ${owner} is indeterminate${dnsWhy(lookup)}` };
    case 'secure':
      break;
  }
  if (lookup.status === 'nxdomain' || lookup.status === 'nodata') {
    return { ...base, case: 'no-record', state: 'unusable', reason: `no IPSECA record at ${owner} (${lookup.status === 'nxdomain' ? 'the name does not exist' : 'no record of that type'}, proven by DNSSEC)` };
  }
  const rdatas = (lookup.rrset as DnsRR[]).flatMap((rr) => (rr.type === RRType.IPSECA && rr.data.kind === 'IPSECA' ? [rr.data] : []));
  if (lookup.status !== 'answer' || rdatas.length === 0) {
    return { ...base, case: 'indeterminate', state: 'unusable', reason: `IPSECA lookup at ${owner} gave no records (status ${lookup.status})` };
  }
  const records = rdatas.map((r) => {
    const why = ipsecaUnusableReason(r);
    return { record: show(r), usable: why === null, reason: why };
  });
  const usable = rdatas.filter((_, i) => records[i]!.usable).map(({ usage, selector, matchingType, data }) => ({ usage, selector, matchingType, data }));
  if (usable.length === 0) {
    const whys = rdatas.map((r, i) => `${r.usage} ${r.selector} ${r.matchingType}: ${records[i]!.reason}`).join('; ');
    return { ...base, records, case: 'no-usable-record', state: 'unusable', reason: `none of the ${records.length} secure IPSECA records at ${owner} is usable (${whys})` };
  }
  return { ...base, records, usable, case: 'usable', state: 'usable', reason: `${usable.length} usable secure IPSECA record${usable.length > 1 ? 's' : ''} at ${owner}` };
}

/** Does the key the peer proved (DER SubjectPublicKeyInfo) match the set? */
export function matchIpseca(set: IpsecaSet, spki: Buffer): IpsecaDecision {
  const base = { owner: set.owner, verdict: set.verdict, records: set.records, ttl: set.ttl, matched: null };
  if (set.state === 'bogus') return { ...base, outcome: 'abort', case: 'bogus', reason: set.reason };
  if (set.state === 'unusable') return { ...base, outcome: 'unusable', case: set.case, reason: set.reason };
  const hit = set.usable.find((r) => ipsecaAssociation(spki, r.matchingType).equals(r.data));
  const fp = ipsecaAssociation(spki, IpsecaMatching.SHA256).toString('hex');
  if (hit) {
    return { ...base, outcome: 'use', case: 'match', matched: show(hit), reason: `the peer's key (SPKI SHA-256 ${fp}) matches secure IPSECA ${show(hit)} at ${set.owner}` };
  }
  return { ...base, outcome: 'auth-failed', case: 'no-match', reason: `the peer's key (SPKI SHA-256 ${fp}) matches none of the ${set.usable.length} usable secure IPSECA records at ${set.owner}` };
}

/** ipsecaRecords then matchIpseca: the responder's path, once the peer's key is known. */
export function judgeIpseca(owner: string, lookup: Pick<LookupResult, 'verdict' | 'reason' | 'status' | 'rrset' | 'ttl'>, spki: Buffer): IpsecaDecision {
  return matchIpseca(ipsecaRecords(owner, lookup), spki);
}

/** What IKE_AUTH does with a decision, given the vlink's configured peer_public_key (or none). */
export interface PeerKeyVerdict {
  /** The key may speak for the peer. */
  accept: boolean;
  /** Bogus DNS: abort the negotiation (as initiator: do not start it). */
  abort: boolean;
  /** Where the accepted key came from, for `show ike` (peerPublicKey.source). */
  source: 'ipseca' | 'config' | null;
  /** One sentence for the log, naming the case. */
  log: string;
}

export function peerKeyVerdict(d: IpsecaDecision, configured: Buffer | null, spki: Buffer): PeerKeyVerdict {
  switch (d.outcome) {
    case 'use':
      return { accept: true, abort: false, source: 'ipseca', log: d.reason };
    case 'auth-failed':
      return { accept: false, abort: false, source: null, log: `AUTHENTICATION_FAILED: ${d.reason}` };
    case 'abort':
      return { accept: false, abort: true, source: null, log: `aborted: ${d.reason}` };
    case 'unusable':
      if (configured === null) return { accept: false, abort: false, source: null, log: `refused: ${d.reason}, and no peer_public_key is configured` };
      return configured.equals(spki)
        ? { accept: true, abort: false, source: 'config', log: `${d.reason}; the peer's key equals the configured peer_public_key` }
        : { accept: false, abort: false, source: null, log: `AUTHENTICATION_FAILED: ${d.reason}, and the peer's key is not the configured peer_public_key` };
  }
}

/** An IPSECA record to publish for a gateway's key: what `iiptran genauthkey --ipseca` prints. */
export interface IpsecaPublication {
  owner: string;
  rdata: IpsecaRdata;
  /** `_500.gw.site-a.test. IN IPSECA 3 1 1 <HEX>`: the draft's presentation form. */
  presentation: string;
  /** `_500.gw.site-a.test. IN TYPE65347 \# 35 <hex>`: RFC 3597 form, which NSD, Knot, BIND and ldns load. */
  generic: string;
}

/**
 * The DANE-EE record (usage 3, selector 1) for a key given as DER SubjectPublicKeyInfo; matching
 * type 1 (SHA-256) unless asked otherwise. No TTL: the zone's default applies.
 */
export function ipsecaPublication(gateway: string | IpAddr, spki: Buffer, matchingType: number = IpsecaMatching.SHA256): IpsecaPublication {
  const owner = ipsecaOwner(gateway);
  const rdata: IpsecaRdata = { usage: IpsecaUsage.DANE_EE, selector: IpsecaSelector.SPKI, matchingType, data: ipsecaAssociation(spki, matchingType) };
  const d = { kind: 'IPSECA' as const, ...rdata };
  return { owner, rdata, presentation: `${owner} IN IPSECA ${rdataToString(RRType.IPSECA, d)}`, generic: `${owner} IN TYPE${RRType.IPSECA} ${rdataToGenericString(d)}` };
}
