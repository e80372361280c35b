// KX delegation on real signed bytes: the replies NSD sent for the ldns-signed lab zones
// (kx-vectors.json, make-kx-vectors.ts), replayed through our resolver with the clock pinned.
// The initiator's exchanger list (order, secure addresses only, TTL expiry), and the responder's
// RFC 2230 §2.1 proof for FQDN and address identities, impostors and forged replies included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proveKxDelegation, resolveExchangers, type DnsLookup } from '../../src/dns/kx.js';
import { KxPeer } from '../../src/dns/kx-selector.js';
import { Message } from '../../src/wire/dns/message.js';
import { RRType, typeFromString } from '../../src/wire/dns/types.js';
import { KX_QUERIES } from './lab/kx-queries.js';
import { kxReplay, kxVectors } from './kx-replay.js';

const INSECURE_PLAIN = "0 Other: plain.test. is delegated without DS (proven by the parent's denial)";

test('every captured KX, A, IPSECA and PTR question gets its expected verdict, status and record count', async () => {
  const { resolver } = kxReplay();
  for (const q of KX_QUERIES) {
    const r = await resolver.lookup(q.name, typeFromString(q.type)!);
    assert.equal(r.verdict, q.verdict, `${q.name} ${q.type} (${q.what}): ${r.reason?.detail}`);
    assert.equal(r.status, q.status, `${q.name} ${q.type}`);
    if (q.verdict !== 'secure') assert.equal(r.reason?.code, q.code, `${q.name} ${q.type}: ${r.reason?.detail}`);
    if (q.count !== undefined) assert.equal(r.rrset.length, q.count, `${q.name} ${q.type} records`);
  }
  assert.equal(kxVectors.verdicts.length, KX_QUERIES.length, 'the capture answered every question');
});

test('initiator: exchangers most preferred first, each with secure addresses; an unsigned one is listed, not usable', async () => {
  const { lookup, clock } = kxReplay();
  const l = await resolveExchangers(lookup, 'Site-A.overlay.test', clock);
  assert.equal(l.domain, 'site-a.overlay.test.');
  assert.deepEqual([l.ok, l.verdict, l.reason], [true, 'secure', null]);
  assert.deepEqual(l.exchangers.map((x) => [x.preference, x.name, x.usable, x.addresses.join(',')]), [
    [10, 'a.overlay.test.', true, '10.200.1.1'],
    [20, 'a2.overlay.test.', true, '10.200.1.12'],
    [30, 'a.plain.test.', false, ''],
  ]);
  assert.equal(l.exchangers[2]!.reason, `address of a.plain.test. is insecure (${INSECURE_PLAIN})`);
  assert.ok(l.ttl > 0 && l.ttl <= 300, `ttl ${l.ttl}`);
  assert.equal(l.expiresAtMs - l.fetchedAtMs, l.ttl * 1000);
  const tie = await resolveExchangers(lookup, 'site-tie.overlay.test', clock);
  assert.deepEqual(tie.exchangers.map((x) => [x.preference, x.name]), [[10, 'a.overlay.test.'], [10, 'b.overlay.test.']], 'equal preferences in name order');
});

test('initiator: only secure answers count; each failure says why and is read again after retrySec', async () => {
  const { lookup, clock } = kxReplay();
  const cases: [string, string, string][] = [
    ['site.plain.test', 'insecure', `KX of site.plain.test. is insecure (${INSECURE_PLAIN})`],
    ['site.badsig.test', 'bogus', 'KX of site.badsig.test. is bogus (6 DNSSEC Bogus: RRSIG over site.badsig.test. KX (key '],
    ['b.overlay.test', 'secure', 'KX of b.overlay.test.: no record (secure)'],
    ['nope.overlay.test', 'secure', 'KX of nope.overlay.test.: the name does not exist (secure)'],
    ['site-bx.overlay.test', 'secure', 'no exchanger of site-bx.overlay.test. has a secure address: a.badsig.test. (10): address of a.badsig.test. is bogus (6 DNSSEC Bogus'],
    ['site-gone.overlay.test', 'secure', 'no exchanger of site-gone.overlay.test. has a secure address: gone.overlay.test. (10): address of gone.overlay.test.: the name does not exist (secure)'],
  ];
  for (const [domain, verdict, why] of cases) {
    const l = await resolveExchangers(lookup, domain, clock, { retrySec: 7 });
    assert.equal(l.ok, false, domain);
    assert.equal(l.verdict, verdict, domain);
    assert.ok(l.reason?.startsWith(why), `${domain}: ${l.reason}`);
    assert.equal(l.expiresAtMs - l.fetchedAtMs, 7000);
  }
  // A lookup that treats insecure data as good enough (dnssec: prefer) changes nothing: the verdict decides.
  const prefer: DnsLookup = async (n, t) => ({ ...(await lookup(n, t)), reason: null });
  assert.equal((await resolveExchangers(prefer, 'site.plain.test', clock)).ok, false);
  const bad = await resolveExchangers(lookup, 'a..b', clock);
  assert.match(bad.reason!, /^not a domain name: .*empty label/);
  const throwing: DnsLookup = () => Promise.reject(new Error('socket closed'));
  const t = await resolveExchangers(throwing, 'site-a.overlay.test', clock);
  assert.deepEqual([t.ok, t.verdict], [false, 'indeterminate']);
  assert.match(t.reason!, /lookup failed: socket closed/);
});

test('KxPeer reads the records again only when their TTL has run out; a TTL of 0 is floored', async () => {
  const r = kxReplay();
  const peer = new KxPeer({ domain: 'site-a.overlay.test', lookup: r.lookup, clock: r.clock });
  assert.equal(peer.stale(), true);
  const [x, y] = await Promise.all([peer.target(), peer.target()]);
  assert.equal(x?.name, 'a.overlay.test.');
  assert.equal(y?.name, 'a.overlay.test.');
  const first = r.asked.length;
  assert.equal(first, 4, `one KX and three A lookups, shared by both callers: ${r.asked.join(', ')}`);
  const ttl = peer.list!.ttl;
  r.clock.advance(ttl * 1000 - 1);
  await peer.refresh();
  assert.equal(r.asked.length, first, 'not yet stale');
  assert.equal(peer.nextWakeAtMs(), peer.list!.expiresAtMs);
  r.clock.advance(1);
  assert.equal(peer.stale(), true);
  await peer.refresh();
  assert.equal(r.asked.length, 2 * first, 're-read at expiry');
  await peer.refresh(true);
  assert.equal(r.asked.length, 3 * first, 'forced');
  // A zero TTL (a record about to change) would make the node spin: it waits minTtlSec instead.
  const zero: DnsLookup = async (n, t) => ({ ...(await r.lookup(n, t)), ttl: 0 });
  const z = await resolveExchangers(zero, 'site-a.overlay.test', r.clock, { minTtlSec: 3 });
  assert.equal(z.ttl, 3);
  const capped = await resolveExchangers(r.lookup, 'site-a.overlay.test', r.clock, { maxTtlSec: 60 });
  assert.equal(capped.ttl, 60);
});

test('KxPeer: when a re-read turns bogus, no exchanger is offered any more', async () => {
  let breakIt = false;
  const r = kxReplay({ edit: (key, reply) => (breakIt && key === `site-a.overlay.test. ${RRType.KX}` ? flipSignature(reply, RRType.KX) : reply) });
  const peer = new KxPeer({ domain: 'site-a.overlay.test', lookup: r.lookup, clock: r.clock });
  assert.equal((await peer.target())?.name, 'a.overlay.test.');
  breakIt = true;
  r.clock.advance(peer.list!.ttl * 1000);
  r.resolver.clearCache();
  assert.equal(await peer.target(), null);
  assert.equal(peer.list!.verdict, 'bogus');
  assert.match(peer.view('a.overlay.test.').why, /^KX of site-a\.overlay\.test\. is bogus/);
});

/** Flips a bit at the end of the answer's RRSIG over `covered`: inside its signature. */
function flipSignature(reply: Buffer, covered: number): Buffer {
  const m = Message.decode(reply);
  assert.ok(m.ok);
  const sig = m.message.answers.find((rr) => rr.data.kind === 'RRSIG' && rr.data.typeCovered === covered);
  assert.ok(sig, 'the reply has the RRSIG');
  const out = Buffer.from(reply);
  out[sig.wire.byteOffset - reply.byteOffset + sig.wire.length - 1]! ^= 0x01;
  return out;
}

test('responder: an FQDN identity is proven by an exchanger that resolves securely to the initiator', async () => {
  const { lookup } = kxReplay();
  const a = await proveKxDelegation(lookup, { kind: 'fqdn', name: 'site-a.overlay.test' }, '10.200.1.1');
  assert.deepEqual([a.proven, a.domain, a.exchanger, a.via], [true, 'site-a.overlay.test.', { preference: 10, name: 'a.overlay.test.' }, 'fqdn']);
  assert.equal(a.reason, 'KX delegation for site-a.overlay.test proven: exchanger a.overlay.test. (preference 10) resolves securely to 10.200.1.1');
  const a2 = await proveKxDelegation(lookup, { kind: 'fqdn', name: 'site-a.overlay.test.' }, '10.200.1.12');
  assert.deepEqual(a2.exchanger, { preference: 20, name: 'a2.overlay.test.' });
});

test('responder: impostors, unsigned and bogus data are not proof, and the log sentence says why', async () => {
  const { lookup } = kxReplay();
  const cases: [string, string, string, boolean][] = [
    ['site-a.overlay.test', '10.200.1.9', 'no exchanger of site-a.overlay.test. resolves securely to 10.200.1.9: a.overlay.test. (10) has 10.200.1.1; a2.overlay.test. (20) has 10.200.1.12; a.plain.test. (30) is unusable: address of a.plain.test. is insecure', false],
    ['site-a.overlay.test', '10.200.2.1', 'no exchanger of site-a.overlay.test. resolves securely to 10.200.2.1', false],
    ['site.plain.test', '10.200.2.1', 'KX of site.plain.test. is insecure', false],
    ['site.badsig.test', '10.200.10.2', 'KX of site.badsig.test. is bogus (6 DNSSEC Bogus', true],
    ['site-bx.overlay.test', '10.200.10.1', 'no exchanger of site-bx.overlay.test. resolves securely to 10.200.10.1: a.badsig.test. (10) is unusable: address of a.badsig.test. is bogus', true],
    ['b.overlay.test', '10.200.1.2', 'KX of b.overlay.test.: no record (secure)', false],
  ];
  for (const [name, from, why, bogus] of cases) {
    const p = await proveKxDelegation(lookup, { kind: 'fqdn', name }, from);
    assert.equal(p.proven, false, `${name} from ${from}`);
    assert.ok(p.reason.startsWith(`KX delegation for ${name} not proven: ${why}`), p.reason);
    assert.equal(p.bogus, bogus, `${name}: bogus`);
  }
  const v6 = await proveKxDelegation(lookup, { kind: 'fqdn', name: 'site-a.overlay.test' }, '2001:db8::1');
  assert.equal(v6.reason, 'KX delegation for site-a.overlay.test not proven: initiator address "2001:db8::1" is not IPv4');
});

test('responder: an address identity is named by a secure PTR lookup first', async () => {
  const { lookup } = kxReplay();
  const ok = await proveKxDelegation(lookup, { kind: 'ipv4', address: '10.200.1.12' }, '10.200.1.12');
  assert.deepEqual([ok.proven, ok.domain, ok.via], [true, 'site-a.overlay.test.', 'ptr']);
  assert.equal(ok.reason, 'KX delegation for 10.200.1.12 (PTR site-a.overlay.test.) proven: exchanger a2.overlay.test. (preference 20) resolves securely to 10.200.1.12');
  // The impostor's own PTR record claims site-a: the KX records of site-a still do not name it.
  const imp = await proveKxDelegation(lookup, { kind: 'ipv4', address: '10.200.1.9' }, '10.200.1.9');
  assert.equal(imp.proven, false);
  assert.match(imp.reason, /^KX delegation for 10\.200\.1\.9 not proven: via PTR site-a\.overlay\.test\.: no exchanger of site-a\.overlay\.test\. resolves securely to 10\.200\.1\.9/);
  const noKx = await proveKxDelegation(lookup, { kind: 'ipv4', address: '10.200.1.2' }, '10.200.1.2');
  assert.equal(noKx.reason, 'KX delegation for 10.200.1.2 not proven: via PTR b.overlay.test.: KX of b.overlay.test.: no record (secure)');
  const noPtr = await proveKxDelegation(lookup, { kind: 'ipv4', address: '10.200.1.3' }, '10.200.1.3');
  assert.equal(noPtr.reason, 'KX delegation for 10.200.1.3 not proven: PTR of 3.1.200.10.in-addr.arpa.: the name does not exist (secure)');
  // Without the reverse zone's anchor the PTR answer cannot be secure, so nothing is proven.
  const noAnchor = kxReplay({ anchors: kxVectors.anchorDs });
  const na = await proveKxDelegation(noAnchor.lookup, { kind: 'ipv4', address: '10.200.1.1' }, '10.200.1.1');
  assert.equal(na.proven, false);
  assert.match(na.reason, /^KX delegation for 10\.200\.1\.1 not proven: PTR of 1\.1\.200\.10\.in-addr\.arpa\. is (insecure|indeterminate)/);
});

test('responder: a forged exchanger address (signature no longer verifies) proves nothing', async () => {
  const { lookup } = kxReplay({
    edit: (key, reply) => {
      if (key !== `a.overlay.test. ${RRType.A}`) return reply;
      const at = reply.indexOf(Buffer.from([10, 200, 1, 1]));
      assert.ok(at > 0);
      const out = Buffer.from(reply);
      out[at + 3] = 9;
      return out;
    },
  });
  const p = await proveKxDelegation(lookup, { kind: 'fqdn', name: 'site-a.overlay.test' }, '10.200.1.9');
  assert.equal(p.proven, false);
  assert.equal(p.bogus, true);
  assert.match(p.reason, /a\.overlay\.test\. \(10\) is unusable: address of a\.overlay\.test\. is bogus \(6 DNSSEC Bogus/);
});
