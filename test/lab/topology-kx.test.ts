// Sites in topology files (issue #8): the `sites:` section and its errors, the model (a vlink to a
// site with two gateways is one TUN at the initiating end and one per gateway, standby for the
// less preferred), node configs with peer_domain and auth: dns and nothing about the peers, the
// plan (no public key leaves its node), and the zone: KX, A and IPSECA records, the changes
// `lab dns` makes, checked offline by ldns-verify-zone after the real ldns pipeline.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { TopologyError, loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { flatActions, planLab, type Action } from '../../src/lab/plan.js';
import { nodePaths } from '../../src/lab/state.js';
import { nodeConfigYaml } from '../../src/lab/node-config.js';
import { labZoneSource, servedZones, type ZoneSpec } from '../../src/lab/dns-zone.js';
import { buildZoneFiles } from '../../src/lab/dns-sign.js';
import { ipsecaRdata, modelKx, sitesSpec, type KxDnsState } from '../../src/lab/kx-dns-state.js';
import { breakSiteRrsigs, siteSubzones } from '../../src/lab/kx-zone.js';
import { expectedUp } from '../../src/lab/kx-sites.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { checkNodeConfig } from '../../src/control/config-check.js';
import { requirePrograms } from '../netns/helpers.js';

const KX_YAML = path.join(REPO_ROOT, 'topologies', 'kx.yaml');
const base = (over = '') => `name: t\nrouting: bird\nkeying: ikev2\ndns: { zone: overlay.test }\nsegments: { lan: {} }\n${over}`;
const errors = (text: string): string[] => {
  try {
    parseTopology(text);
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e.problems.map((p) => `${p.field}: ${p.problem}`);
  }
  return [];
};

test('kx.yaml: three sites, site-b with b1 (10) and b2 (20); ike_auth dns; a vlink to site-b is one TUN at a, one per gateway at site-b', () => {
  const t = loadTopology(KX_YAML);
  assert.equal(t.ikeAuth, 'dns');
  assert.deepEqual(t.sites!.map((s) => `${s.name}: ${s.gateways.map((g) => `${g.node} ${g.preference}`).join(', ')}`), ['site-a: a 10', 'site-b: b1 10, b2 20', 'site-c: c 10']);
  const m = buildModel(t);
  assert.deepEqual(m.sites!.map((s) => [s.domain, s.gateways.map((g) => g.fqdn)]), [
    ['site-a.overlay.test', ['a.site-a.overlay.test']],
    ['site-b.overlay.test', ['b1.site-b.overlay.test', 'b2.site-b.overlay.test']],
    ['site-c.overlay.test', ['c.site-c.overlay.test']],
  ]);
  assert.deepEqual(m.vlinks.map((v) => `${v.index} ${v.a}-${v.b}${v.kx!.standby ? ' standby' : ''}`), ['0 a-b1', '0 a-b2 standby', '1 c-b1', '1 c-b2 standby', '2 a-c']);
  assert.deepEqual(m.vlinks.filter(expectedUp).map((v) => `${v.a}-${v.b}`), ['a-b1', 'c-b1', 'a-c']);
  const ends = (n: string) => m.nodes.find((x) => x.name === n)!.vlinks.map((e) => `${e.ifname} ${e.address} ${e.ikeRole} ${e.kx!.localDomain} -> ${e.kx!.peerDomain}`);
  assert.deepEqual(ends('a'), ['vl-site-b 10.255.0.0/31 initiator site-a.overlay.test -> site-b.overlay.test', 'vl-site-c 10.255.0.4/31 initiator site-a.overlay.test -> site-c.overlay.test']);
  // b1 and b2 hold the same /31 end: a's peer address is the same whichever answers.
  for (const b of ['b1', 'b2']) assert.deepEqual(ends(b), ['vl-site-a 10.255.0.1/31 responder site-b.overlay.test -> site-a.overlay.test', 'vl-site-c 10.255.0.3/31 responder site-b.overlay.test -> site-c.overlay.test']);
  assert.deepEqual(ends('c'), ['vl-site-b 10.255.0.2/31 initiator site-c.overlay.test -> site-b.overlay.test', 'vl-site-a 10.255.0.5/31 responder site-c.overlay.test -> site-a.overlay.test']);
});

test('node configs: peer_domain, auth dns with only the own private key, local_id the own site, the trust anchor; no peer key, address or name', () => {
  const m = buildModel(loadTopology(KX_YAML));
  for (const n of m.nodes) {
    const y = nodeConfigYaml(m, n, '/run/x.sock', true);
    assert.match(y, /^dns:\n {2}servers: \[10\.200\.1\.5\]\n {2}trust_anchors: keys\/trust-anchor\.ds\n {2}dnssec: require$/m);
    assert.doesNotMatch(y, /peer_public_key|psk_file|^ {4}peer:|\.pub\b/m, `${n.name} knows nothing about its peers`);
    for (const other of m.nodes.filter((o) => o !== n)) assert.ok(!y.includes(other.underlayAddr), `${n.name}'s config has ${other.name}'s address`);
    assert.equal(y.match(new RegExp(`private_key: keys/${n.name}\\.key`, 'g'))!.length, n.vlinks.length);
  }
  const a = nodeConfigYaml(m, m.nodes[0]!, '/run/x.sock', true);
  assert.match(a, / {2}- name: vl-site-b\n {4}peer_domain: site-b\.overlay\.test\n {4}encap: udp\n {4}address: 10\.255\.0\.0\/31\n[\s\S]*? {6}mode: ikev2\n {6}auth: dns\n {6}private_key: keys\/a\.key\n {6}role: initiator\n {6}local_id: site-a\.overlay\.test\n {6}remote_id: site-b\.overlay\.test\n/);
});

test('node configs pass the daemon\'s own check (check-config) with only the node\'s key and the anchor on disk', () => {
  const m = buildModel(loadTopology(KX_YAML));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-kxcfg-'));
  try {
    for (const n of m.nodes) {
      fs.mkdirSync(path.join(dir, n.name, 'keys'), { recursive: true });
      const { privateKey } = generateKeyPairSync('ed25519');
      fs.writeFileSync(path.join(dir, n.name, 'keys', `${n.name}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      fs.writeFileSync(path.join(dir, n.name, 'keys', 'trust-anchor.ds'), `test. 3600 IN DS 17472 13 2 ${'ab'.repeat(32)}\n`);
      const file = path.join(dir, n.name, 'node.yaml');
      fs.writeFileSync(file, nodeConfigYaml(m, n, path.join(dir, n.name, 'x.sock'), true));
      const c = checkNodeConfig(file);
      assert.deepEqual(c.cfg.vlinks.map((v) => [v.name, v.peerDomain, v.keying.mode === 'ikev2' ? v.keying.auth : '']), n.vlinks.map((e) => [e.ifname, e.kx!.peerDomain, 'dns']));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('plan: one Ed25519 pair per node whose public half stays in its own keys/ (the zone publishes it as IPSECA)', () => {
  const m = buildModel(loadTopology(KX_YAML));
  const steps = planLab(m, { labDir: '/run/iiptran/lab/kx', cli: '/x', nodeBin: '/n', nodePaths: (n) => nodePaths('kx', m, n), liveness: true });
  const keys = flatActions(steps).filter((a): a is Extract<Action, { kind: 'authkey' }> => a.kind === 'authkey');
  assert.deepEqual(keys.map((k) => [k.node, k.publicPaths]), m.nodes.map((n) => [n.name, [`/run/iiptran/lab/kx/${n.name}/keys/${n.name}.pub`]]));
  assert.equal(flatActions(steps).filter((a) => a.kind === 'psk').length, 0);
  assert.match(steps.find((s) => s.name === 'keys')!.title, /with KX and IPSECA records for 3 sites/);
});

test('impostors: claim a site, get its name and an IPSECA, but no KX record, and only their own end', () => {
  const text = fs.readFileSync(KX_YAML, 'utf8').replace('site-a: { gateways: { a: 10 } }', 'site-a: { gateways: { a: 10 }, impostors: [x] }').replace('  c: {}\n', '  c: {}\n  x: {}\n').replace('  - [c, lan]\n', '  - [c, lan]\n  - [x, lan]\n') + '  - [x, site-b]\n';
  const m = buildModel(parseTopology(text));
  const xv = m.vlinks.filter((v) => v.a === 'x');
  assert.deepEqual(xv.map((v) => [v.b, v.kx!.impostor, v.kx!.ifB, expectedUp(v)]), [['b1', true, null, false]]);
  assert.deepEqual(m.nodes.find((n) => n.name === 'x')!.vlinks.map((e) => `${e.ifname} ${e.kx!.localDomain} -> ${e.kx!.peerDomain} ${e.ikeRole}`), ['vl-site-b site-a.overlay.test -> site-b.overlay.test initiator']);
  assert.equal(m.nodes.find((n) => n.name === 'b1')!.vlinks.length, 2, 'b1 answers x on its vlink to site-a');
  assert.deepEqual(m.sites![0]!.impostors, [{ node: 'x', fqdn: 'x.site-a.overlay.test' }]);
});

test('errors: every rule of sites names its field', () => {
  const three = 'nodes: { a: {}, b1: {}, b2: {} }\nunderlay: [[a, lan], [b1, lan], [b2, lan]]\n';
  const sites = 'sites:\n  site-a: { gateways: { a: 10 } }\n  site-b: { gateways: { b1: 10, b2: 20 } }\n';
  assert.deepEqual(errors(base(three + sites + 'vlinks: [[a, site-b]]\n')), []);
  assert.deepEqual(errors(base(three + sites + 'vlinks: full-mesh\n')), ['vlinks: must be a list with sites (full-mesh would join gateways of one site, and each gateway of a site separately); name a site with several gateways, e.g. - [a, site-b]']);
  assert.match(errors(base(three + sites + 'vlinks: [[a, b1]]\n'))[0]!, /^vlinks\[0\]: names b1, a gateway of site site-b, which has 2; name the site \(site-b\) instead/);
  assert.match(errors(base(three + sites + 'vlinks: [[b1, b2]]\n')).join('\n'), /joins two ends of site site-b/);
  assert.match(errors(base(three + sites + 'vlinks: [[a, site-b], [site-b, site-a]]\n')).join('\n'), /vlinks\[1\]: duplicate vlink between site-b and site-a \(vlinks\[0\]\)/);
  assert.match(errors(base(three + sites + 'vlinks: [[a, site-x]]\n')).join('\n'), /vlinks\[0\]\[1\]: "site-x" is not a declared node or site/);
  const four = 'nodes: { a1: {}, a2: {}, b1: {}, b2: {} }\nunderlay: [[a1, lan], [a2, lan], [b1, lan], [b2, lan]]\nsites:\n  site-a: { gateways: { a1: 10, a2: 20 } }\n  site-b: { gateways: { b1: 10, b2: 20 } }\nvlinks: [[site-a, site-b]]\n';
  assert.match(errors(base(four)).join('\n'), /joins sites site-a and site-b, which both have several gateways/);
  const bad = errors(base('nodes: { a: {}, b: {}, c: { routing: static } }\nunderlay: [[a, lan], [b, lan], [c, lan]]\nike_auth: pubkey\nsites:\n  a: { gateways: { a: 10 } }\n  s-b: { gateways: { b: 70000 }, impostors: [a, q] }\n  s-c: {}\nvlinks: [[a, b]]\n'));
  for (const re of [
    /^ike_auth: must be dns with sites/,
    /^sites\.s-b\.gateways\.b: must be the KX preference, an integer 0\.\.65535/,
    /^sites\.s-b\.impostors\[0\]: node a is already a gateway of site a/,
    /^sites\.s-b\.impostors\[1\]: "q" is not a declared node/,
    /^sites\.s-c\.gateways: is required/,
    /^sites\.a: name "a" is already used by a node/,
    /^nodes\.b: is in no site/,
    /^nodes\.c: needs OSPF routing \(bird or frr\) with sites, not static/,
  ]) assert.ok(bad.some((p) => re.test(p)), `${re} in:\n${bad.join('\n')}`);
  assert.match(errors('name: t\nkeying: ikev2\nike_auth: dns\nnodes: { a: {}, b: {} }\nsegments: { lan: {} }\nunderlay: [[a, lan], [b, lan]]\nvlinks: full-mesh\n').join('\n'), /ike_auth: dns \(keys published only as IPSECA\) needs a sites: section/);
  assert.match(errors('name: t\nrouting: bird\nnodes: { a: {} }\nsegments: { lan: {} }\nunderlay: [[a, lan]]\nsites: { s: { gateways: { a: 1 } } }\nvlinks: []\n').join('\n'), /sites: needs a dns: section[\s\S]*sites: needs keying: ikev2/);
});

/** kx.yaml's sites with made-up keys, and the changes `lab dns` makes. */
function kxSpec(change: (k: KxDnsState) => void = () => {}): { m: ReturnType<typeof buildModel>; spec: (serial: number) => ZoneSpec; rdata: Record<string, string> } {
  const m = buildModel(loadTopology(KX_YAML));
  const rdata: Record<string, string> = {};
  const k: KxDnsState = { kx: modelKx(m), kxBogus: [], unsignedSites: [], hosts: {}, ipseca: {} };
  for (const s of m.sites!) {
    for (const g of s.gateways) {
      rdata[g.node] = ipsecaRdata(g.fqdn, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));
      k.hosts[g.fqdn] = { node: g.node, site: s.name, rdata: rdata[g.node]! };
    }
  }
  change(k);
  const records = Object.fromEntries(m.nodes.map((n) => [n.name, n.underlayAddr]));
  return { m, rdata, spec: (serial) => ({ serial, signed: true, records, breaks: {}, sites: sitesSpec(m, k) }) };
}

test('zone source: KX per site, A and IPSECA (RFC 3597 form) per gateway; changes land where they are made', () => {
  const { m, spec, rdata } = kxSpec();
  const z = labZoneSource(m.dns!, spec(1));
  assert.match(z, /^site-b\.overlay\.test\. KX 10 b1\.site-b\.overlay\.test\.\nsite-b\.overlay\.test\. KX 20 b2\.site-b\.overlay\.test\.\nb1\.site-b\.overlay\.test\. A 10\.200\.1\.2\n_500\.b1\.site-b\.overlay\.test\. TYPE65347 \\# 35 030101[0-9a-f]{64}\n/m);
  assert.ok(z.includes(`_500.b1.site-b.overlay.test. TYPE65347 ${rdata['b1']}`));
  const changed = kxSpec((k) => {
    k.kx['site-b'] = [{ preference: 20, exchanger: 'b2.site-b.overlay.test' }];
    k.unsignedSites = ['site-c'];
    k.ipseca['b2.site-b.overlay.test'] = { mode: 'unsign' };
    k.ipseca['a.site-a.overlay.test'] = { mode: 'absent' };
  });
  const c = labZoneSource(changed.m.dns!, changed.spec(2));
  assert.doesNotMatch(c, /KX 10 b1/);
  assert.match(c, /^site-c\.overlay\.test\. NS ns\.test\.$/m);
  assert.doesNotMatch(c, /c\.site-c\.overlay\.test\. A/);
  assert.match(c, /^_500\.b2\.site-b\.overlay\.test\. NS ns\.test\.$/m);
  assert.match(c, /^a\.site-a\.overlay\.test\. A 10\.200\.1\.1$/m);
  assert.doesNotMatch(c, /_500\.a\.site-a/);
  assert.deepEqual(servedZones(changed.m.dns!, changed.spec(2)), ['test', 'overlay.test', 'site-c.overlay.test', '_500.b2.site-b.overlay.test']);
  const sub = siteSubzones(changed.m.dns!, changed.spec(2).sites!, 2);
  assert.match(sub[0]!.text, /^@ KX 10 c\.site-c\.overlay\.test\.\nc\.site-c\.overlay\.test\. A 10\.200\.1\.4\n_500\.c\.site-c\.overlay\.test\. TYPE65347 \\# 35 /m);
  assert.match(sub[1]!.text, /^\$ORIGIN _500\.b2\.site-b\.overlay\.test\.\n[\s\S]*^@ TYPE65347 \\# 35 030101/m);
  const signed = '_500.b1.site-b.overlay.test.\t30\tIN\tRRSIG\tTYPE65347 13 5 30 2 1 5 overlay.test. AAAAAAAAAAAAAAAA\nsite-b.overlay.test.\t30\tIN\tRRSIG\tKX 13 3 30 2 1 5 overlay.test. AAAAAAAAAAAAAAAA\n';
  const bogus = kxSpec((k) => {
    k.kxBogus = ['site-b'];
    k.ipseca['b1.site-b.overlay.test'] = { mode: 'bogus' };
    k.ipseca['c.site-c.overlay.test'] = { mode: 'bogus' };
  });
  const b = breakSiteRrsigs(signed, bogus.spec(3).sites!);
  assert.equal(b.text.match(/AAAAAAAAAABAAAAA/g)!.length, 2);
  assert.deepEqual(b.missing, ['_500.c.site-c.overlay.test IPSECA'], 'a bogus IPSECA that is not in the signed text is reported');
});

const ldns = requirePrograms(['ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'ldns-verify-zone']);
const verify = (file: string) => {
  try {
    return execFileSync('ldns-verify-zone', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return (e as { stdout: string; stderr: string }).stdout + (e as { stderr: string }).stderr;
  }
};

test('ldns pipeline: the site zone signs complete; a bogus KX and a bogus IPSECA are the only two errors; unsigned subzones are served unsigned', { skip: ldns }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-kxzone-'));
  try {
    const now = Math.floor(Date.now() / 1000);
    const live = (z: string) => path.join(dir, 'live', `${z}.zone`);
    const ok = kxSpec();
    assert.deepEqual(await buildZoneFiles(dir, ok.m.dns!, ok.spec(1), now), ['test', 'overlay.test']);
    assert.match(verify(live('overlay.test')), /Zone is verified and complete/);
    const text = fs.readFileSync(live('overlay.test'), 'utf8');
    assert.match(text, /^site-b\.overlay\.test\.\t10\tIN\tRRSIG\tKX 13 3 10 /m);
    assert.match(text, /^_500\.b1\.site-b\.overlay\.test\.\t10\tIN\tRRSIG\tTYPE65347 13 5 10 /m);
    const bad = kxSpec((k) => {
      k.kxBogus = ['site-b'];
      k.ipseca['c.site-c.overlay.test'] = { mode: 'bogus' };
    });
    await buildZoneFiles(dir, bad.m.dns!, bad.spec(2), now);
    const out = verify(live('overlay.test'));
    assert.match(out, /Bogus DNSSEC signature for site-b\.overlay\.test\.\s+KX/);
    assert.match(out, /Bogus DNSSEC signature for _500\.c\.site-c\.overlay\.test\.\s+TYPE65347/);
    assert.equal(out.match(/^Error/gm)!.length, 2, out);
    const sub = kxSpec((k) => {
      k.unsignedSites = ['site-c'];
      k.ipseca['b1.site-b.overlay.test'] = { mode: 'unsign' };
    });
    assert.deepEqual(await buildZoneFiles(dir, sub.m.dns!, sub.spec(3), now), ['test', 'overlay.test', 'site-c.overlay.test', '_500.b1.site-b.overlay.test']);
    assert.match(verify(live('overlay.test')), /Zone is verified and complete/);
    const lab = fs.readFileSync(live('overlay.test'), 'utf8');
    // The signed NSEC at each cut lists no DS: the proof that the subzone is insecure, not bogus.
    assert.match(lab, /^site-c\.overlay\.test\.\t10\tIN\tNSEC\t\S+ NS RRSIG NSEC $/m);
    assert.match(lab, /^_500\.b1\.site-b\.overlay\.test\.\t10\tIN\tNSEC\t\S+ NS RRSIG NSEC $/m);
    assert.doesNotMatch(fs.readFileSync(live('site-c.overlay.test'), 'utf8'), /RRSIG|DNSKEY/);
    assert.match(fs.readFileSync(live('_500.b1.site-b.overlay.test'), 'utf8'), /^@ TYPE65347 \\# 35 030101/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
