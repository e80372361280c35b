// The lab DNS service's zones, without root: the sources as text, and the real ldns pipeline
// (keys, signing, the deliberate breaks) checked offline by ldns-verify-zone, which must find
// the signed zone complete and each break exactly where it was made.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { ModelDns } from '../../src/lab/dns-model.js';
import { corruptRrsig, delvAnchor, dropNsec, labZoneSource, nsdConf, parentZoneSource, servedZones, spliceRrsig, unboundConf, withTtl, type ZoneSpec } from '../../src/lab/dns-zone.js';
import { buildZoneFiles, parentAnchor } from '../../src/lab/dns-sign.js';
import { requirePrograms } from '../netns/helpers.js';

const DNS: ModelDns = {
  zone: 'overlay.test', parent: 'test', ttl: 30, dnssec: 'require', peerResolve: 'dynamic', namedPeers: true, nsName: 'ns.test',
  ns: 'iil-t-dns', network: 'lan', address: '10.200.1.4', prefixLen: 24, gateway: null,
};
const RECORDS = { a: '10.200.1.1', b: '10.200.1.2', c: '10.200.1.3' };
const spec = (over: Partial<ZoneSpec> = {}): ZoneSpec => ({ serial: 7, signed: true, records: RECORDS, breaks: {}, ...over });

test('sources: an A record per node at the lab TTL, the parent with glue, delegation and DS', () => {
  const z = labZoneSource(DNS, spec());
  assert.match(z, /^\$ORIGIN overlay\.test\.\n\$TTL 30\n@ SOA ns\.test\. hostmaster\.test\. 7 3600 600 86400 30\n@ NS ns\.test\.\n/);
  assert.match(z, /^a A 10\.200\.1\.1\nb A 10\.200\.1\.2\nc A 10\.200\.1\.3\n$/m);
  assert.match(labZoneSource(DNS, spec({ breaks: { b: 'nods' } })), /^b NS ns\.test\.$/m);
  const p = parentZoneSource(DNS, 7, 'overlay.test.\t3600\tIN\tDS\t1234 13 2 abcd');
  assert.match(p, /^ns A 10\.200\.1\.4\noverlay NS ns\.test\.\noverlay\.test\.\t30\tIN\tDS\t1234\t13\t2\tabcd\n$/m);
  assert.doesNotMatch(parentZoneSource(DNS, 7, null), /DS/);
  assert.equal(withTtl('test. 3600 IN DS 1 13 2 ab', 5), 'test.\t5\tIN\tDS\t1\t13\t2\tab');
  assert.deepEqual(servedZones(DNS, spec({ breaks: { c: 'nods', a: 'badsig', b: 'nods' } })), ['test', 'overlay.test', 'b.overlay.test', 'c.overlay.test']);
  assert.deepEqual(servedZones(DNS, spec({ signed: false })), ['test', 'overlay.test']);
  assert.match(nsdConf('/d', '10.200.1.4', ['test', 'overlay.test']), /ip-address: 10\.200\.1\.4\n[\s\S]*database: ""[\s\S]*control-interface: "\/d\/run\/nsd\.ctl"\nzone:\n {2}name: "test\."\n {2}zonefile: "test\.zone"\nzone:\n {2}name: "overlay\.test\."/);
  assert.equal(delvAnchor('test.\t3600\tIN\tDS\t17472 13 2 0566ab'), 'trust-anchors {\n  test. static-ds 17472 13 2 "0566ab";\n};\n');
  assert.match(unboundConf(DNS), /local-zone: "test\." nodefault\nstub-zone:\n {2}name: "test\."\n {2}stub-addr: 10\.200\.1\.4/);
});

test('edits touch only the RRset they name, and say when they found nothing', () => {
  const signed = 'b.overlay.test.\t30\tIN\tA\t10.200.1.2\nb.overlay.test.\t30\tIN\tRRSIG\tA 13 3 30 2 1 5 overlay.test. AAAAAAAAAAAAAAAA\nb.overlay.test.\t30\tIN\tNSEC\tc.overlay.test. A RRSIG NSEC\nb.overlay.test.\t30\tIN\tRRSIG\tNSEC 13 3 30 2 1 5 overlay.test. QQQQ\n';
  const c = corruptRrsig(signed, 'b.overlay.test', 'A');
  assert.equal(c.changed, 1);
  assert.match(c.text, /RRSIG\tA\t13\t3\t30\t2\t1\t5\toverlay\.test\.\tAAAAAAAAAABAAAAA/);
  assert.match(c.text, /QQQQ/);
  assert.equal(corruptRrsig(signed, 'x.overlay.test', 'A').changed, 0);
  const donor = signed.replace('A 13 3 30 2 1', 'A 13 3 30 9 8');
  assert.match(spliceRrsig(signed, donor, 'b.overlay.test', 'A').text, /A 13 3 30 9 8/);
  const d = dropNsec(signed, 'b.overlay.test');
  assert.equal(d.changed, 2);
  assert.doesNotMatch(d.text, /NSEC/);
  assert.match(d.text, /IN\tA\t10\.200\.1\.2/);
});

const ldns = requirePrograms(['ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'ldns-verify-zone']);

function verify(file: string): string {
  try {
    return execFileSync('ldns-verify-zone', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout: string; stderr: string };
    return err.stdout + err.stderr;
  }
}

test('ldns pipeline: signed and complete; each break where it was made; keys and anchor kept across changes', { skip: ldns }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-dnszone-'));
  try {
    const now = Math.floor(Date.now() / 1000);
    const live = (z: string) => path.join(dir, 'live', `${z}.zone`);
    const read = (z: string) => fs.readFileSync(live(z), 'utf8');
    assert.deepEqual(await buildZoneFiles(dir, DNS, spec({ serial: 1 }), now), ['test', 'overlay.test']);
    assert.match(verify(live('overlay.test')), /Zone is verified and complete/);
    assert.match(verify(live('test')), /Zone is verified and complete/);
    assert.match(read('test'), /^overlay\.test\.\t30\tIN\tDS\t/m);
    assert.match(read('test'), /^overlay\.test\.\t30\tIN\tNSEC\ttest\. NS DS RRSIG NSEC/m);
    assert.match(read('overlay.test'), /^b\.overlay\.test\.\t30\tIN\tA\t10\.200\.1\.2$/m);
    assert.match(read('overlay.test'), /^overlay\.test\.\t30\tIN\tDNSKEY\t257 /m, 'DNSKEY at the lab TTL');
    const anchor = await parentAnchor(dir, DNS);
    assert.match(anchor, /^test\.\t\d+\tIN\tDS\t\d+ 13 2 [0-9a-f]{64}$/);
    const ds = /^overlay\.test\.\t30\tIN\tDS\t.*$/m.exec(read('test'))![0];

    await buildZoneFiles(dir, DNS, spec({ serial: 2, breaks: { b: 'expired' } }), now);
    const exp = verify(live('overlay.test'));
    assert.match(exp, /DNSSEC signature has expired for b\.overlay\.test\.\s+A/);
    assert.equal(exp.match(/^Error/gm)!.length, 1, exp);

    await buildZoneFiles(dir, DNS, spec({ serial: 3, breaks: { b: 'badsig' } }), now);
    const bad = verify(live('overlay.test'));
    assert.match(bad, /Bogus DNSSEC signature for b\.overlay\.test\.\s+A/);
    assert.equal(bad.match(/^Error/gm)!.length, 1, bad);

    assert.deepEqual(await buildZoneFiles(dir, DNS, spec({ serial: 4, breaks: { b: 'nods' } }), now), ['test', 'overlay.test', 'b.overlay.test']);
    assert.match(read('overlay.test'), /^b\.overlay\.test\.\t30\tIN\tNS\tns\.test\.$/m);
    assert.doesNotMatch(read('overlay.test'), /^b\.overlay\.test\.\t\d+\tIN\t(NSEC|RRSIG\tNSEC)/m, 'no proof that b has no DS');
    assert.match(verify(live('b.overlay.test')), /Zone is verified and complete/);
    assert.match(read('b.overlay.test'), /^b\.overlay\.test\.\t30\tIN\tA\t10\.200\.1\.2$/m);

    await buildZoneFiles(dir, DNS, spec({ serial: 5, signed: false }), now);
    assert.doesNotMatch(read('overlay.test'), /RRSIG|DNSKEY/);
    assert.doesNotMatch(read('test'), /\tDS\t/);
    assert.match(read('test'), /^overlay\.test\.\t30\tIN\tNSEC\ttest\. NS RRSIG NSEC $/m, 'the parent proves there is no DS');

    await buildZoneFiles(dir, DNS, spec({ serial: 6, records: { ...RECORDS, b: '10.200.1.5' } }), now);
    assert.match(verify(live('overlay.test')), /Zone is verified and complete/);
    assert.match(read('overlay.test'), /^b\.overlay\.test\.\t30\tIN\tA\t10\.200\.1\.5$/m);
    assert.match(read('overlay.test'), /SOA\tns\.test\. hostmaster\.test\. 6 /);
    assert.equal(/^overlay\.test\.\t30\tIN\tDS\t.*$/m.exec(read('test'))![0], ds, 'same keys, same DS');
    assert.equal(await parentAnchor(dir, DNS), anchor, 'same trust anchor');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
