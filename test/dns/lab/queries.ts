// The queries the vectors capture and the cross-check asks, with the verdict we expect and,
// for non-secure ones, the RFC 8914 code. `cross: false` would leave a case out of the
// comparison; `delv` marks where BIND 9.18 parts from unbound-host and us: an NXDOMAIN in an
// NSEC3 opt-out span (BIND: secure, although the span may hide an unsigned delegation) and
// ED448 (BIND implements it; unbound-host 1.17 here and we do not, so the zone is insecure).

export interface LabQuery {
  name: string;
  type: string;
  verdict: 'secure' | 'insecure' | 'bogus' | 'indeterminate';
  status: 'answer' | 'nxdomain' | 'nodata';
  code?: number;
  what: string;
  cross?: boolean;
  /** delv's verdict where BIND judges differently from unbound and us (asserted, so a change shows). */
  delv?: 'secure' | 'insecure' | 'bogus';
}

export const LAB_QUERIES: LabQuery[] = [
  { name: 'b.overlay.test', type: 'A', verdict: 'secure', status: 'answer', what: 'secure answer (ECDSAP256SHA256, NSEC)' },
  { name: 'site-b.overlay.test', type: 'KX', verdict: 'secure', status: 'answer', what: 'KX' },
  { name: '_500.b.overlay.test', type: 'TYPE65347', verdict: 'secure', status: 'answer', what: 'IPSECA as RFC 3597 bytes' },
  { name: 'v6.overlay.test', type: 'AAAA', verdict: 'secure', status: 'answer', what: 'AAAA' },
  { name: 'txt.overlay.test', type: 'TXT', verdict: 'secure', status: 'answer', what: 'TXT' },
  { name: 'x.wild.overlay.test', type: 'A', verdict: 'secure', status: 'answer', what: 'wildcard answer (NSEC)' },
  { name: 'www.overlay.test', type: 'A', verdict: 'secure', status: 'answer', what: 'CNAME chain across zones' },
  { name: 'toplain.overlay.test', type: 'A', verdict: 'insecure', status: 'answer', code: 0, what: 'CNAME into an unsigned zone' },
  { name: 'nope.overlay.test', type: 'A', verdict: 'secure', status: 'nxdomain', what: 'NXDOMAIN with NSEC' },
  { name: 'a.overlay.test', type: 'TXT', verdict: 'secure', status: 'nodata', what: 'NODATA with NSEC' },
  { name: 'a.alg8.test', type: 'A', verdict: 'secure', status: 'answer', what: 'RSASHA256 (8)' },
  { name: 'a.alg14.test', type: 'A', verdict: 'secure', status: 'answer', what: 'ECDSAP384SHA384 (14), DS digest 4' },
  { name: 'a.alg15.test', type: 'A', verdict: 'secure', status: 'answer', what: 'ED25519 (15)' },
  { name: 'a.alg16.test', type: 'A', verdict: 'insecure', status: 'answer', code: 1, what: 'ED448 (16): unsupported, insecure', delv: 'secure' },
  { name: 'a.n3.test', type: 'A', verdict: 'secure', status: 'answer', what: 'NSEC3 zone, positive' },
  { name: 'nope.n3.test', type: 'A', verdict: 'insecure', status: 'nxdomain', code: 0, what: 'NXDOMAIN in an NSEC3 opt-out span', delv: 'secure' },
  { name: 'a.n3.test', type: 'TXT', verdict: 'secure', status: 'nodata', what: 'NODATA with NSEC3' },
  { name: 'x.w.n3.test', type: 'A', verdict: 'insecure', status: 'answer', code: 0, what: 'wildcard answer (NSEC3 opt-out span)' },
  { name: 'a.sub.n3.test', type: 'A', verdict: 'insecure', status: 'answer', code: 0, what: 'unsigned delegation in an opt-out span' },
  { name: 'nope.n3iter.test', type: 'A', verdict: 'insecure', status: 'nxdomain', code: 27, what: 'NSEC3 with 200 iterations (RFC 9276)' },
  { name: 'a.plain.test', type: 'A', verdict: 'insecure', status: 'answer', code: 0, what: 'unsigned zone, DS absence proven' },
  { name: 'nope.plain.test', type: 'A', verdict: 'insecure', status: 'nxdomain', code: 0, what: 'NXDOMAIN in an unsigned zone' },
  { name: 'a.nods.test', type: 'A', verdict: 'insecure', status: 'answer', code: 0, what: 'signed child, no DS, absence proven' },
  { name: 'a.nodsbad.test', type: 'A', verdict: 'bogus', status: 'answer', code: 12, what: 'no DS and no proof of its absence' },
  { name: 'a.expired.test', type: 'A', verdict: 'bogus', status: 'answer', code: 7, what: 'expired signatures' },
  { name: 'a.future.test', type: 'A', verdict: 'bogus', status: 'answer', code: 8, what: 'signatures not yet valid' },
  { name: 'a.badsig.test', type: 'A', verdict: 'bogus', status: 'answer', code: 6, what: 'corrupted RRSIG' },
  { name: 'bare.badsig.test', type: 'A', verdict: 'bogus', status: 'answer', code: 10, what: 'stripped RRSIG' },
  { name: 'tag.badsig.test', type: 'A', verdict: 'bogus', status: 'answer', code: 9, what: 'RRSIG key tag names no key' },
  { name: 'b.badsig.test', type: 'MX', verdict: 'bogus', status: 'nodata', code: 6, what: 'forged NSEC (bitmap altered)' },
  { name: 'b.badsig.test', type: 'A', verdict: 'secure', status: 'answer', what: 'the same zone, an intact RRset' },
  { name: 'a.wrongtag.test', type: 'A', verdict: 'bogus', status: 'answer', code: 9, what: 'DS key tag matches no DNSKEY' },
];
