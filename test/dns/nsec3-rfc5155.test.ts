// NSEC3 against the published example of RFC 5155: the Appendix A hashes (salt aabbccdd, 12
// iterations) and the denial proofs of the Appendix B responses, built from their records and
// put through our codec. The example is signed with algorithm 7, which we do not implement,
// so the proofs are checked as proofs (the records taken as verified), as RFC 5155 §8 does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nsec3Hash } from '../../src/dns/crypto.js';
import { nsec3Denial, nsec3ProvesExpansion } from '../../src/dns/nsec3.js';
import { Message, emptyMessage, parseName, parseRR, toBase32Hex, RRType, nameToString, type DnsRR } from '../../src/wire/dns/index.js';

const SALT = Buffer.from('aabbccdd', 'hex');
const ZONE = parseName('example.');

const HASHES: Record<string, string> = {
  'example': '0p9mhaveqvm6t7vbl5lop2u3t2rp3tom',
  'a.example': '35mthgpgcu1qg68fab165klnsnk3dpvl',
  'ai.example': 'gjeqe526plbf1g8mklp59enfd789njgi',
  'ns1.example': '2t7b4g4vsa5smi47k61mv5bv1a22bojr',
  'ns2.example': 'q04jkcevqvmu85r014c7dkba38o0ji5r',
  'w.example': 'k8udemvp1j2f7eg6jebps17vp3n8i58h',
  '*.w.example': 'r53bq7cc2uvmubfu5ocmm6pers9tk9en',
  'x.w.example': 'b4um86eghhds6nea196smvmlo4ors995',
  'y.w.example': 'ji6neoaepv8b5o6k4ev33abha8ht9fgc',
  'x.y.w.example': '2vptu5timamqttgl4luu9kg21e0aor3s',
  'xx.example': 't644ebqk9bibcna874givr6joj62mlhv',
};

// NSEC3 RRs of the Appendix A zone that the Appendix B responses carry (all with opt-out set).
const N = (owner: string, rest: string) => parseRR(`${owner}.example. 3600 IN NSEC3 1 1 12 aabbccdd ${rest}`);
const APEX = N('0p9mhaveqvm6t7vbl5lop2u3t2rp3tom', '2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG');
const NS1 = N('2t7b4g4vsa5smi47k61mv5bv1a22bojr', '2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG');
const A_DELEG = N('35mthgpgcu1qg68fab165klnsnk3dpvl', 'b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG');
const XW = N('b4um86eghhds6nea196smvmlo4ors995', 'gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG');
const YW = N('ji6neoaepv8b5o6k4ev33abha8ht9fgc', 'k8udemvp1j2f7eg6jebps17vp3n8i58h');
const W = N('k8udemvp1j2f7eg6jebps17vp3n8i58h', 'kohar7mbb8dc2ce8a9qvl8hon4k53uhi');
const NS2 = N('q04jkcevqvmu85r014c7dkba38o0ji5r', 'r53bq7cc2uvmubfu5ocmm6pers9tk9en A RRSIG');
const WILD = N('r53bq7cc2uvmubfu5ocmm6pers9tk9en', 't644ebqk9bibcna874givr6joj62mlhv MX RRSIG');

/** The records as a reply would carry them, through our encoder and decoder. */
function wire(rrs: DnsRR[]): DnsRR[] {
  const m = emptyMessage(1);
  m.qr = true;
  m.authority = rrs;
  const d = Message.decode(Message.encode(m));
  assert.ok(d.ok);
  return d.message.authority;
}

const q = (name: string, type: number, nxdomain: boolean) => ({ qname: parseName(name), qtype: type, zone: ZONE, nxdomain });

test('Appendix A: our NSEC3 hashes equal the published ones', () => {
  for (const [name, h] of Object.entries(HASHES)) assert.equal(toBase32Hex(nsec3Hash(parseName(name + '.'), SALT, 12)), h, name);
});

test('B.1 name error: closest encloser x.w.example, next closer and wildcard covered (opt-out: insecure)', () => {
  const d = nsec3Denial(q('a.c.x.w.example.', RRType.A, true), wire([APEX, XW, A_DELEG]));
  // Every NSEC3 of the example has the opt-out flag, so the name error cannot rule out an unsigned delegation.
  assert.equal(d.kind, 'optout');
  // The same records with opt-out cleared prove a plain name error.
  const clear = [APEX, XW, A_DELEG].map((r) => ({ ...r, data: { ...(r.data as Extract<DnsRR['data'], { kind: 'NSEC3' }>), flags: 0 } }));
  assert.equal(nsec3Denial(q('a.c.x.w.example.', RRType.A, true), wire(clear)).kind, 'nxdomain');
  // Without the record covering the wildcard the proof fails.
  const f = nsec3Denial(q('a.c.x.w.example.', RRType.A, true), wire(clear.slice(0, 2)));
  assert.equal(f.kind, 'fail');
  assert.equal(f.kind === 'fail' && f.reason.code, 12);
});

test('B.2 no data: the NSEC3 matching ns1.example lacks MX and CNAME', () => {
  const d = nsec3Denial(q('ns1.example.', RRType.MX, false), wire([NS1]));
  assert.equal(d.kind, 'nodata');
  // It has A, so it cannot deny A.
  assert.equal(nsec3Denial(q('ns1.example.', RRType.A, false), wire([NS1])).kind, 'fail');
});

test('B.2.1 no data at the empty non-terminal y.w.example', () => {
  const d = nsec3Denial(q('y.w.example.', RRType.A, false), wire([YW]));
  assert.deepEqual(d, { kind: 'nodata', types: [], wildcard: false });
});

test('B.3 referral to the opt-out unsigned zone c.example: DS absence is opt-out', () => {
  const d = nsec3Denial(q('c.example.', RRType.DS, false), wire([APEX, A_DELEG]));
  assert.equal(d.kind, 'optout');
});

test('B.4 wildcard expansion: a.z.w.example from *.w.example, next closer z.w.example covered', () => {
  // The published record has opt-out set: the expansion is proven but only insecurely (as unbound and BIND judge it).
  assert.deepEqual(nsec3ProvesExpansion(parseName('a.z.w.example.'), 2, ZONE, wire([NS2])), { kind: 'optout' });
  const clear = { ...NS2, data: { ...(NS2.data as Extract<DnsRR['data'], { kind: 'NSEC3' }>), flags: 0 } };
  assert.equal(nsec3ProvesExpansion(parseName('a.z.w.example.'), 2, ZONE, wire([clear])), null);
  const miss = nsec3ProvesExpansion(parseName('a.z.w.example.'), 2, ZONE, wire([XW]));
  assert.equal(miss?.kind, 'fail');
});

test('B.5 wildcard no data: *.w.example exists without AAAA', () => {
  const d = nsec3Denial(q('a.z.w.example.', RRType.AAAA, false), wire([W, NS2, WILD]));
  assert.deepEqual(d, { kind: 'nodata', types: [RRType.MX, RRType.RRSIG], wildcard: true });
  // The wildcard has MX: MX cannot be denied.
  assert.equal(nsec3Denial(q('a.z.w.example.', RRType.MX, false), wire([W, NS2, WILD])).kind, 'fail');
});

test('B.6 DS at the apex answered by the zone itself: the apex NSEC3 has no DS', () => {
  const d = nsec3Denial(q('example.', RRType.DS, false), wire([APEX]));
  assert.equal(d.kind, 'nodata');
});

test('RFC 9276: iterations above the cap are insecure, not bogus', () => {
  const d = nsec3Denial(q('ns1.example.', RRType.MX, false), wire([NS1]), 10);
  assert.equal(d.kind, 'insecure');
  assert.equal(d.kind === 'insecure' && d.reason.code, 27);
  assert.equal(nameToString(APEX.name), '0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.');
});
