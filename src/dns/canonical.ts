// Canonical form and order (RFC 4034 §6, RFC 6840 §5.1): RRsets grouped from a message, their
// canonical RDATA, and the exact bytes an RRSIG signs (RFC 4034 §3.1.8.1).

import { encodeRdata, type Rdata } from '../wire/dns/rdata.js';
import {
  compareNames, lowerName, nameToWire, nameToString, suffixName, WILDCARD_LABEL, type DnsName,
} from '../wire/dns/name.js';
import type { DnsRR } from '../wire/dns/rr.js';
import { RRType } from '../wire/dns/types.js';

export interface RRset {
  name: DnsName;
  type: number;
  class: number;
  rrs: DnsRR[];
  /** RRSIGs at the same owner covering this type. */
  sigs: DnsRR[];
}

/** RDATA with the embedded names lower-cased for the types RFC 4034 §6.2 lists (NSEC not among them, RFC 6840 §5.1). */
export function canonicalRdata(d: Rdata): Buffer {
  switch (d.kind) {
    case 'NAME': return encodeRdata({ ...d, target: lowerName(d.target) });
    case 'SOA': return encodeRdata({ ...d, mname: lowerName(d.mname), rname: lowerName(d.rname) });
    case 'PREF': return encodeRdata({ ...d, exchange: lowerName(d.exchange) });
    case 'SRV': return encodeRdata({ ...d, target: lowerName(d.target) });
    case 'RRSIG': return encodeRdata({ ...d, signer: lowerName(d.signer) });
    default: return encodeRdata(d);
  }
}

export function nameKey(n: DnsName): string {
  return nameToString(lowerName(n));
}

/** Groups RRs into RRsets (by owner, type, class) and attaches the RRSIGs that cover each. */
export function groupRRsets(rrs: readonly DnsRR[]): RRset[] {
  const sets = new Map<string, RRset>();
  const sigs: DnsRR[] = [];
  for (const rr of rrs) {
    if (rr.type === RRType.OPT) continue;
    if (rr.type === RRType.RRSIG) {
      sigs.push(rr);
      continue;
    }
    const k = `${nameKey(rr.name)}/${rr.type}/${rr.class}`;
    let s = sets.get(k);
    if (!s) sets.set(k, (s = { name: rr.name, type: rr.type, class: rr.class, rrs: [], sigs: [] }));
    s.rrs.push(rr);
  }
  for (const sig of sigs) {
    if (sig.data.kind !== 'RRSIG') continue;
    const s = sets.get(`${nameKey(sig.name)}/${sig.data.typeCovered}/${sig.class}`);
    if (s) s.sigs.push(sig);
  }
  return [...sets.values()];
}

export function findRRset(sets: readonly RRset[], name: DnsName, type: number): RRset | undefined {
  return sets.find((s) => s.type === type && compareNames(s.name, name) === 0 && s.name.length === name.length);
}

/**
 * The data an RRSIG signs: its RDATA without the signature (signer lower-cased), then each RR
 * in canonical form and order with the original TTL, duplicates removed. When the RRSIG's
 * Labels is below the owner's label count, the owner is the wildcard it was expanded from.
 */
export function signedData(set: RRset, sig: Extract<Rdata, { kind: 'RRSIG' }>): Buffer {
  const sigRdata = canonicalRdata(sig);
  const head = sigRdata.subarray(0, sigRdata.length - sig.signature.length);
  let owner: DnsName = lowerName(set.name);
  if (sig.labels < owner.length) owner = [WILDCARD_LABEL, ...suffixName(owner, sig.labels)];
  const ownerWire = nameToWire(owner);
  const rdatas = set.rrs.map((r) => canonicalRdata(r.data)).sort(Buffer.compare);
  const parts: Buffer[] = [head];
  let prev: Buffer | null = null;
  for (const rd of rdatas) {
    if (prev && prev.equals(rd)) continue;
    prev = rd;
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(set.type, 0);
    fixed.writeUInt16BE(set.class, 2);
    fixed.writeUInt32BE(sig.originalTtl, 4);
    fixed.writeUInt16BE(rd.length, 8);
    parts.push(ownerWire, fixed, rd);
  }
  return Buffer.concat(parts);
}
