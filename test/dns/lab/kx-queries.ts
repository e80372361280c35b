// The KX, exchanger address, IPSECA and PTR questions the KX/IPSECA logic asks of the lab zones
// (zones.ts), with the verdict each must get. make-kx-vectors.ts captures their replies for the
// unit tests; test/netns/kx-ipseca-crosscheck.test.ts asks unbound-host and delv the same.
// Anchors: test.'s DS and, for the reverse zone, its own DS (zones.ts REVERSE_ZONE).

import type { LabQuery } from './queries.js';

export interface KxQuery extends LabQuery {
  /** Records in the answer, when there is one. */
  count?: number;
}

const q = (name: string, type: string, verdict: KxQuery['verdict'], status: KxQuery['status'], what: string, extra: Partial<KxQuery> = {}): KxQuery =>
  ({ name, type, verdict, status, what, ...extra });

export const KX_QUERIES: KxQuery[] = [
  q('site-a.overlay.test', 'KX', 'secure', 'answer', 'good: exchangers at 10, 20 and 30 (the last one unsigned)', { count: 3 }),
  q('site-b.overlay.test', 'KX', 'secure', 'answer', 'good: one exchanger', { count: 1 }),
  q('site-bx.overlay.test', 'KX', 'secure', 'answer', 'secure KX whose exchanger address is bogus', { count: 1 }),
  q('site-tie.overlay.test', 'KX', 'secure', 'answer', 'two exchangers at the same preference', { count: 2 }),
  q('site-gone.overlay.test', 'KX', 'secure', 'answer', 'exchanger name that does not exist', { count: 1 }),
  q('b.overlay.test', 'KX', 'secure', 'nodata', 'a name without KX (NODATA)'),
  q('nope.overlay.test', 'KX', 'secure', 'nxdomain', 'no such name (NXDOMAIN)'),
  q('site.plain.test', 'KX', 'insecure', 'answer', 'unsigned: KX in an unsigned zone', { code: 0, count: 1 }),
  q('site.badsig.test', 'KX', 'bogus', 'answer', 'bogus: KX with a corrupted RRSIG', { code: 6 }),
  q('a.overlay.test', 'A', 'secure', 'answer', 'exchanger address', { count: 1 }),
  q('a2.overlay.test', 'A', 'secure', 'answer', 'second exchanger address', { count: 1 }),
  q('b.overlay.test', 'A', 'secure', 'answer', 'exchanger address', { count: 1 }),
  q('a.plain.test', 'A', 'insecure', 'answer', 'unsigned exchanger address', { code: 0, count: 1 }),
  q('a.badsig.test', 'A', 'bogus', 'answer', 'bogus exchanger address', { code: 6 }),
  q('b.badsig.test', 'A', 'secure', 'answer', 'exchanger of the bogus KX', { count: 1 }),
  q('gone.overlay.test', 'A', 'secure', 'nxdomain', 'exchanger that does not exist'),
  q('_500.a.overlay.test', 'IPSECA', 'secure', 'answer', 'good: 3 1 1 and an unusable 1 0 1', { count: 2 }),
  q('_500.a2.overlay.test', 'IPSECA', 'secure', 'answer', 'good: 3 1 2 (SHA-512)', { count: 1 }),
  q('_500.c.overlay.test', 'IPSECA', 'secure', 'answer', 'good: 3 1 0 (the full SPKI)', { count: 1 }),
  q('_500.b.overlay.test', 'IPSECA', 'secure', 'answer', 'the record of dns.md (a key the tests do not hold)', { count: 1 }),
  q('_500.wrong.overlay.test', 'IPSECA', 'secure', 'answer', 'wrong: the digest of another key', { count: 1 }),
  q('_500.certonly.overlay.test', 'IPSECA', 'secure', 'answer', 'only records that need certificates (3 0 1, 2 1 1)', { count: 2 }),
  q('_500.nope.overlay.test', 'IPSECA', 'secure', 'nxdomain', 'no IPSECA (NXDOMAIN)'),
  q('_500.a.plain.test', 'IPSECA', 'insecure', 'answer', 'unsigned: IPSECA in an unsigned zone', { code: 0, count: 1 }),
  q('_500.b.badsig.test', 'IPSECA', 'bogus', 'answer', 'bogus: IPSECA with a corrupted RRSIG', { code: 6 }),
  q('_500.1.1.200.10.in-addr.arpa', 'IPSECA', 'secure', 'answer', 'an address-only gateway under its reverse name', { count: 1 }),
  q('1.1.200.10.in-addr.arpa', 'PTR', 'secure', 'answer', 'address identity of a site-a exchanger', { count: 1 }),
  q('12.1.200.10.in-addr.arpa', 'PTR', 'secure', 'answer', 'address identity of the second exchanger', { count: 1 }),
  q('2.1.200.10.in-addr.arpa', 'PTR', 'secure', 'answer', 'address identity of a name without KX', { count: 1 }),
  q('9.1.200.10.in-addr.arpa', 'PTR', 'secure', 'answer', 'an impostor whose PTR claims site-a', { count: 1 }),
  q('3.1.200.10.in-addr.arpa', 'PTR', 'secure', 'nxdomain', 'an address without PTR'),
];

/** Both anchors, as one text for parseTrustAnchors and unbound-host -f. */
export function kxAnchors(v: { anchorDs: string; reverseDs: string }): string {
  return `${v.anchorDs}\n${v.reverseDs}\n`;
}
