// IPSECA matching against keys and digests made by the openssl command line, never by our own
// code: every usage x selector x matching type combination, for an Ed25519 and a P-256 key,
// presented by the right and by the wrong peer; then the DNSSEC verdicts and the fallback to a
// configured peer_public_key. Live: `openssl genpkey`, `openssl pkey -pubout -outform DER`,
// `openssl dgst -sha256|-sha512 -binary`. Captured (OpenSSL 3.0.19, same commands) below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ipsecaAssociation, ipsecaOwner, ipsecaRecords, judgeIpseca, matchIpseca, peerKeyVerdict,
} from '../../src/dns/ipseca.js';
import type { LookupResult } from '../../src/dns/resolver.js';
import { reason } from '../../src/dns/verdict.js';
import { parseRR } from '../../src/wire/dns/parse-text.js';

interface KeyVec { name: string; spki: Buffer; sha256: Buffer; sha512: Buffer; pem: string }

/**
 * Captured with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem;
 * openssl pkey -in p256.pem -pubout -out p256.pub.pem;
 * openssl pkey -pubin -in p256.pub.pem -outform DER -out p256.spki.der;
 * openssl dgst -sha256 -binary p256.spki.der | xxd -p -c 100 (and -sha512).
 */
const CAPTURED: KeyVec = {
  name: 'captured P-256',
  pem: '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVdIt3Hexny1zUPXjciiKxhXBHdHa\neqFqy5T7f1z5yrJ+RBHOZYlK5iY2C4W6qCKnfOGhTQKG8IXoFxrw8vOSJw==\n-----END PUBLIC KEY-----\n',
  spki: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d0301070342000455d22ddc77b19f2d7350f5e372288ac615c11dd1da7aa16acb94fb7f5cf9cab27e4411ce65894ae626360b85baa822a77ce1a14d0286f085e8171af0f2f39227', 'hex'),
  sha256: Buffer.from('a4c4e217d4f87b54b9e202c8e71c19c11d16caead317d6a914c9fc4fa9c32443', 'hex'),
  sha512: Buffer.from('94b0a3680477a3b8a02962b3edee1305853e28f27514a4a822c23929dc53069333da70ce1d7f6cb8190692aec56aad9e7c48f30327eb10594b242787c5c9a736', 'hex'),
};

/** The same commands with `openssl genpkey -algorithm ed25519`. */
const CAPTURED_ED: KeyVec = {
  name: 'captured Ed25519',
  pem: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA578uZb/DZPzixyjaQlW4txmSJ7hoJ1qs3TpgZofeSMM=\n-----END PUBLIC KEY-----\n',
  spki: Buffer.from('302a300506032b6570032100e7bf2e65bfc364fce2c728da4255b8b7199227b868275aacdd3a606687de48c3', 'hex'),
  sha256: Buffer.from('d66b229b870b58e06b61a5366972964013fce96b2a71bc7a59a4c76a9ace1a24', 'hex'),
  sha512: Buffer.from('bf1ef246529023b7a2248446809d10ac943f80f5b1743976524336be7a2e81b0bdfac4e7bb6cf8b5f3af86f209edb511c57b7487c607e4db88b32661574d6510', 'hex'),
};

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A fresh key made and hashed by openssl alone. */
function opensslKey(dir: string, name: string, genArgs: string[]): KeyVec {
  const f = (x: string) => path.join(dir, `${name}.${x}`);
  execFileSync('openssl', ['genpkey', ...genArgs, '-out', f('pem')], { stdio: 'ignore' });
  execFileSync('openssl', ['pkey', '-in', f('pem'), '-pubout', '-outform', 'DER', '-out', f('der')], { stdio: 'ignore' });
  const dgst = (alg: string) => execFileSync('openssl', ['dgst', `-${alg}`, '-binary', f('der')]);
  return { name, spki: fs.readFileSync(f('der')), sha256: dgst('sha256'), sha512: dgst('sha512'), pem: fs.readFileSync(f('pem'), 'utf8') };
}

function keys(): KeyVec[] {
  if (!hasOpenssl) return [CAPTURED, CAPTURED_ED];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-ipseca-'));
  try {
    return [CAPTURED, CAPTURED_ED, opensslKey(dir, 'ed25519', ['-algorithm', 'ed25519']), opensslKey(dir, 'p256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'])];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const OWNER = '_500.gw.site-a.test.';

function answer(records: string[], verdict: LookupResult['verdict'] = 'secure'): LookupResult {
  return {
    name: OWNER, type: 65347, verdict, reason: verdict === 'secure' ? null : reason('DNSSEC_BOGUS', 'test'), status: 'answer',
    rrset: records.map((r) => parseRR(`${OWNER} 300 IN IPSECA ${r}`)), cnames: [], ttl: 300, cached: false,
  };
}

const dataFor = (k: KeyVec, m: number) => (m === 0 ? k.spki : m === 2 ? k.sha512 : k.sha256);

test('our SPKI and digests are openssl\'s, for keys openssl made (as IKE exports the key it was sent)', () => {
  for (const k of keys()) {
    const ours = createPublicKey(k.pem).export({ type: 'spki', format: 'der' });
    assert.deepEqual(ours, k.spki, k.name);
    assert.deepEqual(ipsecaAssociation(k.spki, 0), k.spki);
    assert.deepEqual(ipsecaAssociation(k.spki, 1), k.sha256, `${k.name} SHA-256`);
    assert.deepEqual(ipsecaAssociation(k.spki, 2), k.sha512, `${k.name} SHA-512`);
  }
  assert.throws(() => ipsecaAssociation(CAPTURED.spki, 3), /matching type 3 is unassigned/);
});

test('usage x selector x matching type: only 3 1 {0,1,2} is usable; it matches its own key and fails any other', () => {
  const ks = keys();
  let checked = 0;
  for (const [i, k] of ks.entries()) {
    const other = ks[(i + 1) % ks.length]!;
    for (let usage = 0; usage <= 4; usage++) {
      for (let selector = 0; selector <= 2; selector++) {
        for (let m = 0; m <= 3; m++) {
          const rec = `${usage} ${selector} ${m} ${dataFor(k, m).toString('hex')}`;
          const supported = usage === 3 && selector === 1 && m <= 2;
          const right = judgeIpseca(OWNER, answer([rec]), k.spki);
          const wrong = judgeIpseca(OWNER, answer([rec]), other.spki);
          if (supported) {
            assert.equal(right.outcome, 'use', `${k.name} ${rec.slice(0, 5)}: ${right.reason}`);
            assert.equal(right.matched, `3 1 ${m} ${dataFor(k, m).toString('hex').toUpperCase()}`);
            assert.equal(wrong.outcome, 'auth-failed', `${other.name} against ${k.name}'s ${rec.slice(0, 5)}`);
            assert.match(wrong.reason, new RegExp(`SPKI SHA-256 ${other.sha256.toString('hex')}\\) matches none of the 1 usable`));
          } else {
            for (const d of [right, wrong]) {
              assert.equal(d.outcome, 'unusable', `${rec.slice(0, 5)}: ${d.reason}`);
              assert.equal(d.case, 'no-usable-record');
              assert.equal(d.records[0]!.usable, false);
            }
            const why = right.records[0]!.reason!;
            if (usage < 3) assert.match(why, new RegExp(`^usage ${usage} \\((PKIX-TA|PKIX-EE|DANE-TA)\\) needs a certificate chain`));
            else if (usage > 3) assert.equal(why, `usage ${usage} is unassigned`);
            else if (selector === 0) assert.match(why, /^selector 0 \(full certificate\) needs a certificate/);
            else if (selector > 1) assert.equal(why, `selector ${selector} is unassigned`);
            else assert.equal(why, `matching type ${m} is unassigned`);
          }
          checked += 2;
        }
      }
    }
  }
  assert.equal(checked, ks.length * 5 * 3 * 4 * 2);
});

test('a set decides as a whole: unusable records are skipped, one match is enough, bad digest lengths are unusable', () => {
  const a = CAPTURED;
  const b = CAPTURED_ED;
  const set = ipsecaRecords(OWNER, answer([`0 0 1 ${a.sha256.toString('hex')}`, `3 0 1 ${a.sha256.toString('hex')}`, `3 1 2 ${b.sha512.toString('hex')}`, `3 1 1 ${a.sha256.toString('hex')}`]));
  assert.equal(set.state, 'usable');
  assert.deepEqual(set.records.map((r) => r.usable), [false, false, true, true]);
  assert.equal(matchIpseca(set, a.spki).outcome, 'use');
  assert.equal(matchIpseca(set, b.spki).outcome, 'use');
  assert.equal(matchIpseca(set, Buffer.concat([a.spki, Buffer.from([0])])).outcome, 'auth-failed');
  const short = ipsecaRecords(OWNER, answer([`3 1 1 ${a.sha256.subarray(1).toString('hex')}`, `3 1 2 ${a.sha256.toString('hex')}`, '3 1 0']));
  assert.equal(short.case, 'no-usable-record');
  assert.deepEqual(short.records.map((r) => r.reason), [
    'matching type 1 (SHA2-256) with 31 octets of association data, not 32',
    'matching type 2 (SHA2-512) with 32 octets of association data, not 64',
    'matching type 0 with empty association data',
  ]);
  assert.match(short.reason, /^none of the 3 secure IPSECA records at _500\.gw\.site-a\.test\. is usable \(3 1 1: matching type 1/);
});

test('verdicts: bogus aborts, insecure / indeterminate / proven absence are unusable, each saying which case applied', () => {
  const k = CAPTURED;
  const rec = `3 1 1 ${k.sha256.toString('hex')}`;
  const bogus = judgeIpseca(OWNER, answer([rec], 'bogus'), k.spki);
  assert.deepEqual([bogus.outcome, bogus.case], ['abort', 'bogus']);
  assert.match(bogus.reason, /^IPSECA at _500\.gw\.site-a\.test\. is bogus: 6 DNSSEC Bogus: test$/);
  const insecure = judgeIpseca(OWNER, answer([rec], 'insecure'), k.spki);
  assert.deepEqual([insecure.outcome, insecure.case], ['unusable', 'insecure']);
  assert.match(insecure.reason, /is insecure \(not DNSSEC-signed\)/);
  const indet = judgeIpseca(OWNER, { ...answer([], 'indeterminate'), status: 'error', reason: reason('NO_REACHABLE_AUTHORITY', 'timed out') }, k.spki);
  assert.deepEqual([indet.outcome, indet.case], ['unusable', 'indeterminate']);
  assert.match(indet.reason, /indeterminate: 22 No Reachable Authority: timed out/);
  for (const status of ['nxdomain', 'nodata'] as const) {
    const none = judgeIpseca(OWNER, { ...answer([]), status }, k.spki);
    assert.deepEqual([none.outcome, none.case], ['unusable', 'no-record']);
    assert.match(none.reason, /proven by DNSSEC/);
  }
});

test('peerKeyVerdict: a match is used (source ipseca); no match fails; bogus aborts; unusable falls back to peer_public_key or refuses', () => {
  const k = CAPTURED;
  const other = Buffer.concat([k.spki.subarray(0, -1), Buffer.from([k.spki.at(-1)! ^ 1])]);
  const good = answer([`3 1 1 ${k.sha256.toString('hex')}`]);
  const v1 = peerKeyVerdict(judgeIpseca(OWNER, good, k.spki), null, k.spki);
  assert.deepEqual([v1.accept, v1.abort, v1.source], [true, false, 'ipseca']);
  // A configured key does not rescue a secure mismatch: the zone's answer wins.
  const v2 = peerKeyVerdict(judgeIpseca(OWNER, good, other), other, other);
  assert.deepEqual([v2.accept, v2.abort, v2.source], [false, false, null]);
  assert.match(v2.log, /^AUTHENTICATION_FAILED: the peer's key/);
  const v3 = peerKeyVerdict(judgeIpseca(OWNER, answer([], 'bogus'), k.spki), k.spki, k.spki);
  assert.deepEqual([v3.accept, v3.abort], [false, true]);
  const insecure = judgeIpseca(OWNER, answer([`3 1 1 ${k.sha256.toString('hex')}`], 'insecure'), k.spki);
  const v4 = peerKeyVerdict(insecure, k.spki, k.spki);
  assert.deepEqual([v4.accept, v4.source], [true, 'config']);
  assert.match(v4.log, /insecure .*; the peer's key equals the configured peer_public_key/);
  const v5 = peerKeyVerdict(insecure, null, k.spki);
  assert.deepEqual([v5.accept, v5.abort], [false, false]);
  assert.match(v5.log, /^refused: IPSECA at .* is insecure .*, and no peer_public_key is configured$/);
  const v6 = peerKeyVerdict(insecure, other, k.spki);
  assert.deepEqual([v6.accept, v6.source], [false, null]);
  assert.match(v6.log, /not the configured peer_public_key/);
});

test('owner names: _500.<fqdn>, or _500.<reverse name> for an address-only gateway', () => {
  assert.equal(ipsecaOwner('gw.site-a.test'), '_500.gw.site-a.test.');
  assert.equal(ipsecaOwner('GW.Site-A.Test.'), '_500.gw.site-a.test.');
  assert.equal(ipsecaOwner('10.200.1.2'), '_500.2.1.200.10.in-addr.arpa.');
  assert.equal(ipsecaOwner({ family: 4, v4: 0xc0a80102 }), '_500.2.1.168.192.in-addr.arpa.');
  assert.match(ipsecaOwner('2001:db8::1'), /^_500\.1(\.0){23}\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa\.$/);
  assert.throws(() => ipsecaOwner('.'), /root is not a gateway name/);
  assert.throws(() => ipsecaOwner('a..b'), /empty label/);
});
