// IPSECA on real signed bytes: the records ldns-signzone signed and NSD served (kx-vectors.json),
// validated by our resolver and matched against the lab gateways' keys (lab/keys.ts): good,
// wrong, certificate-only, absent, unsigned, bogus, and an address-only gateway's reverse name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipsecaOwner, ipsecaRecords, judgeIpseca, peerKeyVerdict } from '../../src/dns/ipseca.js';
import { Message } from '../../src/wire/dns/message.js';
import { rrToGenericString, rrToString } from '../../src/wire/dns/present.js';
import { parseRR } from '../../src/wire/dns/parse-text.js';
import { encodeRdata } from '../../src/wire/dns/rdata.js';
import { RRType } from '../../src/wire/dns/types.js';
import { labKey } from './lab/keys.js';
import { kxReplay, kxVectors } from './kx-replay.js';

async function judge(gateway: string, key: string) {
  const { resolver } = kxReplay();
  const owner = ipsecaOwner(gateway);
  return judgeIpseca(owner, await resolver.lookup(owner, RRType.IPSECA), labKey(key).spki);
}

test('signed IPSECA records decode typed, print both ways and re-encode to the bytes that were signed', () => {
  let n = 0;
  for (const e of kxVectors.exchanges) {
    const m = Message.decode(Buffer.from(e.response, 'hex'));
    assert.ok(m.ok);
    for (const rr of m.message.answers.filter((r) => r.type === RRType.IPSECA)) {
      n++;
      assert.equal(rr.data.kind, 'IPSECA');
      assert.deepEqual(encodeRdata(rr.data), rr.rdata);
      assert.deepEqual(parseRR(rrToString(rr)).data, rr.data);
      assert.deepEqual(parseRR(rrToGenericString(rr)).data, rr.data);
      assert.match(rrToString(rr), /\tIPSECA\t\d+ \d+ \d+ [0-9A-F]+$/);
    }
  }
  assert.ok(n >= 10, `${n} IPSECA records captured`);
});

test('good: the gateway key matches its secure record (3 1 1, 3 1 2, 3 1 0), and no other key does', async () => {
  const a = await judge('a.overlay.test', 'a');
  assert.deepEqual([a.outcome, a.verdict, a.owner], ['use', 'secure', '_500.a.overlay.test.']);
  assert.equal(a.matched, `3 1 1 ${labKey('a').sha256.toString('hex').toUpperCase()}`);
  assert.deepEqual(a.records.map((r) => `${r.record.slice(0, 5)} ${r.usable}`).sort(), ['1 0 1 false', '3 1 1 true'], 'an unusable 1 0 1 beside it');
  assert.equal((await judge('a2.overlay.test', 'a2')).matched?.slice(0, 5), '3 1 2');
  assert.equal((await judge('c.overlay.test', 'c')).matched?.slice(0, 5), '3 1 0');
  const other = await judge('a.overlay.test', 'a2');
  assert.equal(other.outcome, 'auth-failed');
  assert.equal(other.reason, `the peer's key (SPKI SHA-256 ${labKey('a2').sha256.toString('hex')}) matches none of the 1 usable secure IPSECA records at _500.a.overlay.test.`);
});

test('wrong: a secure record for another key is AUTHENTICATION_FAILED, even with the right key configured', async () => {
  const d = await judge('wrong.overlay.test', 'wrong');
  assert.equal(d.outcome, 'auth-failed');
  const v = peerKeyVerdict(d, labKey('wrong').spki, labKey('wrong').spki);
  assert.deepEqual([v.accept, v.abort], [false, false]);
  assert.match(v.log, /^AUTHENTICATION_FAILED: the peer's key .* at _500\.wrong\.overlay\.test\.$/);
});

test('unusable: certificate-only records, a proven absence and an unsigned zone fall back to peer_public_key or refuse', async () => {
  const cert = await judge('certonly.overlay.test', 'a');
  assert.deepEqual([cert.outcome, cert.case], ['unusable', 'no-usable-record']);
  assert.match(cert.reason, /^none of the 2 secure IPSECA records at _500\.certonly\.overlay\.test\. is usable \(2 1 1: usage 2 \(DANE-TA\) needs a certificate chain.*; 3 0 1: selector 0 \(full certificate\) needs a certificate/);
  const none = await judge('nope.overlay.test', 'a');
  assert.deepEqual([none.outcome, none.case], ['unusable', 'no-record']);
  const plain = await judge('a.plain.test', 'a');
  assert.deepEqual([plain.outcome, plain.case, plain.verdict], ['unusable', 'insecure', 'insecure']);
  assert.match(plain.reason, /^IPSECA at _500\.a\.plain\.test\. is insecure \(not DNSSEC-signed\): 0 Other: plain\.test\. is delegated without DS/);
  const key = labKey('a').spki;
  assert.deepEqual(peerKeyVerdict(plain, key, key).source, 'config');
  assert.match(peerKeyVerdict(plain, null, key).log, /^refused: IPSECA at _500\.a\.plain\.test\. is insecure .*, and no peer_public_key is configured$/);
});

test('bogus: a record whose signature fails aborts, even though its data would match', async () => {
  const d = await judge('b.badsig.test', 'a');
  assert.deepEqual([d.outcome, d.verdict], ['abort', 'bogus']);
  assert.match(d.reason, /^IPSECA at _500\.b\.badsig\.test\. is bogus: 6 DNSSEC Bogus: RRSIG over _500\.b\.badsig\.test\. IPSECA/);
  assert.equal(peerKeyVerdict(d, labKey('a').spki, labKey('a').spki).abort, true);
  // Fetched ahead by an initiator, before any key is known: bogus means do not start IKE.
  const { resolver } = kxReplay();
  const set = ipsecaRecords('_500.b.badsig.test.', await resolver.lookup('_500.b.badsig.test.', RRType.IPSECA));
  assert.equal(set.state, 'bogus');
});

test('an address-only gateway publishes under _500.<reverse name>, validated through the reverse zone\'s anchor', async () => {
  const d = await judge('10.200.1.1', 'a');
  assert.deepEqual([d.owner, d.outcome], ['_500.1.1.200.10.in-addr.arpa.', 'use']);
  const { resolver } = kxReplay({ anchors: kxVectors.anchorDs });
  const r = await resolver.lookup(d.owner, RRType.IPSECA);
  assert.notEqual(r.verdict, 'secure', 'without its anchor the reverse zone is not secure');
  assert.equal(judgeIpseca(d.owner, r, labKey('a').spki).outcome, 'unusable');
});
