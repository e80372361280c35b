// topologies/kx.yaml through the real CLI (root), issue #8: three sites of the signed lab zone,
// site-b with two exchangers (KX 10 b1, 20 b2), plus an impostor x claiming site-a. Every vlink
// comes up with the peer's key only from IPSECA and OSPF runs over them; cutting b1 moves a's
// vlink to b2 and back; then, each from freshly restarted daemons and with the underlay captured
// (no VN cleartext in any case): a wrong IPSECA (AUTHENTICATION_FAILED at whoever checks that
// key), a bogus IPSECA and a bogus KX (no IKE started; a responder aborts), unsigned subzones
// (unusable, refused), KX records altered and removed. delv and unbound-host, from a node's
// namespace with its own anchor file, must see the records and verdicts the nodes acted on.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, topologyCopy, vnPing, waitFor } from './lab-harness.js';
import { KxLab, ikeFrom, ipsecaDigest } from './lab-kx-helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'tcpdump', 'nft', 'bird', 'birdc', 'fping', 'nsd', 'nsd-control', 'dig', 'ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'delv', 'unbound-host']);
const SITES = ['a', 'b1', 'b2', 'c'];
/** DPD gives up after 2 s of silence plus 15.5 s of unanswered checks; then one IKE exchange. */
const FAILOVER_BOUND_MS = 35000;
/** b1 is retried when its backoff (10 s, doubling per failure in a row, at most 60 s) has passed. */
const RETURN_BOUND_MS = 75000;
const established = KxLab.established;
const exchanger = KxLab.exchanger;

describe('lab: kx.yaml, sites found by KX with keys only from IPSECA', { skip }, () => {
  let lab: KxLab;
  const measured: string[] = [];

  before(async () => {
    const t = topologyCopy('kx.yaml', 'kx');
    // The impostor: a node on lan that claims site-a but is in no KX record of it.
    const text = fs.readFileSync(t.file, 'utf8');
    fs.writeFileSync(t.file, text.replace('site-a: { gateways: { a: 10 } }', 'site-a: { gateways: { a: 10 }, impostors: [x] }')
      .replace('  c: {}\n', '  c: {}\n  x: {}\n').replace('  - [c, lan]\n', '  - [c, lan]\n  - [x, lan]\n') + '  - [x, site-b]\n');
    const t0 = Date.now();
    const out = await cli(['lab', 'up', t.file, '--timeout', '60']);
    lab = new KxLab(t.name);
    assert.equal(out.code, 0, `lab up failed:\n${out.stdout}\n${out.stderr}`);
    measured.push(`lab up (4 gateways and an impostor, NSD, BIRD): ${Date.now() - t0} ms; ${/converged after .*/.exec(out.stdout)?.[0]}`);
    assert.match(out.stdout, /a <-> b2 \(standby\) +udp +up \| down/);
    assert.match(out.stdout, /x <-> b1 \(impostor\) +udp +\S+ \| none \(impostor\)/);
  });
  after(async () => {
    console.log(`MEASURED kx lab:\n  ${measured.join('\n  ')}`);
    if (lab === undefined) return;
    await cli(['lab', 'down', lab.name]);
    await assertGone(lab.name);
  });

  test('every vlink up with the peer key only from IPSECA, OSPF Full, VN traffic; delv and unbound-host see what the nodes used', { timeout: 60000 }, async () => {
    const s = lab.s;
    for (const n of [...SITES, 'x']) {
      const keys = fs.readdirSync(path.join(s.nodes[n]!.dir, 'keys')).sort();
      assert.deepEqual(keys, [`${n}.key`, `${n}.pub`, 'trust-anchor.ds'].sort(), `${n} holds its own key pair and the anchor, nothing of its peers`);
      assert.doesNotMatch(fs.readFileSync(s.nodes[n]!.config, 'utf8'), /peer_public_key|psk_file|^ {4}peer:/m);
    }
    // Each end that keys: a and c initiate; b1 answers (b2 is standby).
    const ends: [string, string, string][] = [['a', 'vl-site-b', 'b1.site-b'], ['a', 'vl-site-c', 'c.site-c'], ['c', 'vl-site-b', 'b1.site-b'], ['b1', 'vl-site-a', 'a.site-a'], ['b1', 'vl-site-c', 'c.site-c'], ['c', 'vl-site-a', 'a.site-a']];
    for (const [n, vl, gw] of ends) {
      const p = await lab.peer(n, vl);
      const sa = established(p);
      assert.ok(sa, `${n}/${vl}: ${p.state} ${p.lastError}`);
      assert.equal(sa.peerPublicKey.source, 'ipseca', `${n}/${vl}`);
      assert.equal(sa.peerPublicKey.ipseca.owner, `_500.${gw}.overlay.test.`);
      assert.equal(sa.peerPublicKey.ipseca.verdict, 'secure');
      // The record the node matched is the one the validators get, and it is the key's digest.
      const u = await lab.expectVerdict(n, `_500.${gw}.overlay.test`, 'IPSECA', 'secure');
      assert.deepEqual(u.rdata.map(ipsecaDigest), [ipsecaDigest(sa.peerPublicKey.ipseca.record)]);
      assert.equal(ipsecaDigest(sa.peerPublicKey.ipseca.record), sa.peerPublicKey.sha256);
    }
    const pb = await lab.peer('a', 'vl-site-b');
    assert.equal(pb.kx.verdict, 'secure');
    assert.equal(pb.kx.inUse, 'b1.site-b.overlay.test.');
    assert.deepEqual(pb.kx.exchangers.map((e: Obj) => `${e.preference} ${e.name} ${e.addresses.join(',')} ${e.verdict}`), [`10 b1.site-b.overlay.test. ${lab.addr('b1')} secure`, `20 b2.site-b.overlay.test. ${lab.addr('b2')} secure`]);
    const kx = await lab.expectVerdict('a', 'site-b.overlay.test', 'KX', 'secure');
    assert.deepEqual(kx.raw.match(/has KX record \d+ \S+ \(secure\)/g)!.sort(), ['has KX record 10 b1.site-b.overlay.test. (secure)', 'has KX record 20 b2.site-b.overlay.test. (secure)']);
    for (const b of ['b1', 'b2']) assert.deepEqual((await lab.expectVerdict('a', `${b}.site-b.overlay.test`, 'A', 'secure')).rrs.length, 1);
    const show = await lab.dns('show');
    assert.deepEqual(show.sites.map((x: Obj) => `${x.domain} ${x.kx.state} ${x.gateways.map((g: Obj) => `${g.node}:${g.role}:${g.preference}:${g.ipseca.state}`).join(',')}`), [
      'site-a.overlay.test secure a:gateway:10:secure, matches its key,x:impostor:null:secure, matches its key',
      'site-b.overlay.test secure b1:gateway:10:secure, matches its key,b2:gateway:20:secure, matches its key',
      'site-c.overlay.test secure c:gateway:10:secure, matches its key',
    ]);
    for (const [args, err] of [[['kx', 'site-x', 'remove'], /"site-x" is not a site of lab/], [['ipseca', 'zz', 'wrong'], /"zz" is not a gateway of a site/], [['ipseca', 'b1', 'stale'], /ipseca mode must be one of wrong, bogus, absent, unsign, restore/], [['kx', 'site-b', 'set', 'b1'], /kx site-b set needs GATEWAY and PREFERENCE/]] as const) {
      const r = await cli(['lab', 'dns', lab.name, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, err);
    }
    const st = await lab.json(['lab', 'status', lab.name, '--json']);
    const expect = st.vlinks.filter((v: Obj) => v.kx === undefined);
    assert.equal(expect.length, 3);
    for (const v of expect) assert.deepEqual([v.stateA, v.stateB, v.ospfA, v.ospfB], ['up', 'up', 'Full/PtP', 'Full/PtP'], `${v.a}-${v.b}`);
    for (const [a, b] of [['a', 'b1'], ['c', 'b1'], ['a', 'c'], ['b1', 'a'], ['b1', 'c']]) assert.equal(await vnPing(lab.s, a!, b!), 3, `${a} -> ${b}`);
  });

  test('an impostor claiming site-a from an address site-a\'s KX records do not name is refused by the responder; a keeps its SA', { timeout: 60000 }, async () => {
    // x's own name and key are secure: only the KX delegation fails.
    await lab.expectVerdict('b1', 'x.site-a.overlay.test', 'A', 'secure');
    await lab.expectVerdict('b1', '_500.x.site-a.overlay.test', 'IPSECA', 'secure');
    const kx = await lab.expectVerdict('b1', 'site-a.overlay.test', 'KX', 'secure');
    assert.deepEqual(kx.raw.match(/has KX record \d+ \S+/g), ['has KX record 10 a.site-a.overlay.test.'], 'site-a has one exchanger, a');
    const before = established(await lab.peer('a', 'vl-site-b'))!;
    const proof = new RegExp(`KX delegation for site-a\\.overlay\\.test\\.? not proven.*${lab.addr('x').replace(/\./g, '\\.')}`);
    let said = '';
    await waitFor(async () => {
      said = fs.readFileSync(lab.s.nodes['b1']!.log, 'utf8').split('\n').find((l) => proof.test(l)) ?? '';
      return said !== '';
    }, "b1's log: KX delegation for site-a not proven", 20000);
    const px = await lab.peer('x', 'vl-site-b');
    assert.equal(established(px), null, 'x never gets an SA');
    assert.match(px.lastError ?? '', /AUTHENTICATION_FAILED/);
    const after = await lab.peer('a', 'vl-site-b');
    assert.equal(established(after)?.spiI, before.spiI, "a's SA with b1 is untouched");
    // `ipseca absent`, shown on the impostor's record (nothing else depends on it): a secure NXDOMAIN.
    await lab.dns('ipseca', 'x', 'absent');
    const gone = await lab.validate('a', '_500.x.site-a.overlay.test', 'IPSECA');
    assert.deepEqual([gone.delv.verdict, gone.delv.status, gone.unbound.verdict, gone.unbound.status], ['secure', 'nxdomain', 'secure', 'nxdomain']);
    await lab.dns('ipseca', 'x', 'restore');
    await lab.expectVerdict('a', '_500.x.site-a.overlay.test', 'IPSECA', 'secure');
    measured.push(`impostor: b1 says ${said.slice(0, 300)}`);
    measured.push(`impostor: x/vl-site-b lastError ${px.lastError}`);
  });

  test('cutting the preferred exchanger b1 moves a\'s vlink to b2; it comes back when b1 returns', { timeout: 180000 }, async () => {
    const cap = await lab.restartCaptured([], 'failover');
    const t0 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b1', 'down', '--lab', lab.name])).code, 0);
    try {
      await failover(t0);
    } finally {
      await cli(['lab', 'link', 'a', 'b1', 'up', '--lab', lab.name]);
    }
    await cap.stop();
  });

  /** The cut is on: a's vlink to site-b moves to b2; then the repair, and it comes back to b1. */
  async function failover(t0: number): Promise<void> {
    let why = '';
    const failMs = await waitFor(async () => {
      const p = await lab.peer('a', 'vl-site-b');
      why = p.kx.why;
      return established(p)?.peer === lab.addr('b2') && p.kx.inUse === 'b2.site-b.overlay.test.';
    }, "a's vl-site-b established with b2", FAILOVER_BOUND_MS + 15000);
    const ospfMs = await waitFor(async () => {
      const st = await lab.json(['lab', 'status', lab.name, '--json']);
      const v = st.vlinks.find((x: Obj) => x.a === 'a' && x.b === 'b2');
      return v.stateB === 'up' && /^Full/.test(v.ospfA) && /^Full/.test(v.ospfB);
    }, 'OSPF a <-> b2 Full', 30000);
    // OSPF Full, then one route computation (BIRD's 1 s tick) and the kernel route on both sides.
    const trafficMs = await waitFor(async () => (await vnPing(lab.s, 'a', 'b2', 1)) === 1, 'a -> b2 over the vlink', 15000);
    assert.equal(await vnPing(lab.s, 'a', 'b2'), 3, 'a -> b2 over the vlink');
    assert.equal(await vnPing(lab.s, 'a', 'b1'), 3, 'a -> b1 (through c or b2)');
    assert.match(why, /preference 20 because b1\.site-b\.overlay\.test\. \(10\) is down/);
    measured.push(`failover: a's vl-site-b on b2 ${failMs} ms after the cut, OSPF Full with b2 ${failMs + ospfMs} ms, VN traffic a -> b2 ${failMs + ospfMs + trafficMs} ms; why: ${why}`);
    assert.ok(failMs <= FAILOVER_BOUND_MS, `failover took ${failMs} ms`);
    const t1 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b1', 'up', '--lab', lab.name])).code, 0);
    const backMs = await waitFor(async () => {
      const p = await lab.peer('a', 'vl-site-b');
      return established(p)?.peer === lab.addr('b1') && p.kx.inUse === 'b1.site-b.overlay.test.';
    }, "a's vl-site-b back on b1", RETURN_BOUND_MS + 15000);
    const ospfBackMs = await waitFor(async () => {
      const st = await lab.json(['lab', 'status', lab.name, '--json']);
      const v = st.vlinks.find((x: Obj) => x.a === 'a' && x.b === 'b1');
      return v.stateB === 'up' && /^Full/.test(v.ospfA) && /^Full/.test(v.ospfB);
    }, 'OSPF a <-> b1 Full again', 30000);
    assert.equal(await vnPing(lab.s, 'a', 'b1'), 3);
    // b2's end goes quiet once a keys with b1 again (liveness turns its carrier off).
    const b2Down = await waitFor(async () => (await lab.json(['lab', 'status', lab.name, '--json'])).vlinks.find((x: Obj) => x.a === 'a' && x.b === 'b2').stateB !== 'up', "b2's end of the vlink down", 30000);
    const b2Sa = established(await lab.peer('b2', 'vl-site-a')) !== null;
    measured.push(`return: a's vl-site-b back on b1 ${backMs} ms after the repair, OSPF Full ${backMs + ospfBackMs} ms, b2's end down ${backMs + ospfBackMs + b2Down} ms (its IKE SA with a ${b2Sa ? 'still up then: a replaced it without a Delete, DPD ends it' : 'deleted'}); whole cut ${t1 - t0} ms`);
    assert.ok(backMs <= RETURN_BOUND_MS, `return took ${backMs} ms`);
  }

  test('a wrong IPSECA gives AUTHENTICATION_FAILED at the side that checks that key, with the reason', { timeout: 90000 }, async () => {
    try {
      const w1 = await lab.dns('ipseca', 'b1', 'wrong');
      const wc = await lab.dns('ipseca', 'c', 'wrong');
      const keyOf = (n: string) => ipsecaDigest(Object.values(lab.s.dns!.kx!.hosts).find((h) => h.node === n)!.rdata);
      for (const [gw, n, change] of [['b1.site-b', 'b1', w1], ['c.site-c', 'c', wc]] as const) {
        const u = await lab.expectVerdict('a', `_500.${gw}.overlay.test`, 'IPSECA', 'secure');
        assert.deepEqual(u.rdata.map(ipsecaDigest), [ipsecaDigest(change.records[0].split(' TYPE65347 ')[1])]);
        assert.notEqual(ipsecaDigest(u.rdata[0]!), keyOf(n), `the record is not ${n}'s key`);
      }
      const cap = await lab.restartCaptured(SITES, 'wrong');
      let seen: Obj = {};
      await waitFor(async () => {
        const [ab, ac, b1c, cb] = await Promise.all([lab.peer('a', 'vl-site-b'), lab.peer('a', 'vl-site-c'), lab.peer('b1', 'vl-site-c'), lab.peer('c', 'vl-site-b')]);
        seen = { ab, ac, b1c, cb };
        return established(ab)?.peer === lab.addr('b2') && exchanger(ac, 'c.site-c.overlay.test').down && /AUTHENTICATION_FAILED/.test(b1c.lastError ?? '') && /peer says AUTHENTICATION_FAILED/.test(cb.lastError ?? '');
      }, 'the four outcomes of the wrong records', 30000).catch((e) => assert.fail(`${(e as Error).message}: ${JSON.stringify(seen, null, 1).slice(0, 4000)}`));
      // a checks b1's key (initiator side): refused, and b2 (right key) takes the vlink.
      assert.match(exchanger(seen.ab, 'b1.site-b.overlay.test').downReason, /AUTHENTICATION_FAILED: the peer's key .* matches none of the 1 usable secure IPSECA records at _500\.b1\.site-b\.overlay\.test\./);
      assert.equal(established(seen.ab)!.peerPublicKey.ipseca.owner, '_500.b2.site-b.overlay.test.');
      // a checks c's key: refused, and site-c has no other exchanger.
      assert.equal(established(seen.ac), null);
      assert.match(exchanger(seen.ac, 'c.site-c.overlay.test').downReason, /AUTHENTICATION_FAILED: .*_500\.c\.site-c\.overlay\.test\./);
      // b1 checks c's key (responder side) and answers AUTHENTICATION_FAILED; c hears it.
      assert.match(seen.b1c.lastError, /AUTHENTICATION_FAILED: the peer's key .* _500\.c\.site-c\.overlay\.test\.; answered AUTHENTICATION_FAILED/);
      assert.equal(established(seen.cb), null);
      // b2 carries a's traffic once OSPF has its routes (router-LSAs wait out MinLSInterval, 5 s).
      const traffic = await waitFor(async () => (await vnPing(lab.s, 'a', 'b2', 1)) === 1, 'a -> b2 over the vlink', 20000);
      const probes = await lab.probe([['a', 'c'], ['c', 'a'], ['c', 'b1']]);
      const pkts = await cap.stop();
      assert.ok(ikeFrom(pkts, lab.addr('a'), lab.addr('b1')) > 0 && ikeFrom(pkts, lab.addr('a'), lab.addr('c')) > 0, 'IKE was tried and refused, not skipped');
      measured.push(`wrong: a/vl-site-b b1 down: ${exchanger(seen.ab, 'b1.site-b.overlay.test').downReason}`);
      measured.push(`wrong: b1/vl-site-c: ${seen.b1c.lastError}; c/vl-site-b: ${seen.cb.lastError}; pings ${JSON.stringify(probes)}; a -> b2 answered ${traffic} ms after the outcomes`);
    } finally {
      await lab.dns('restore');
    }
  });

  test('a bogus IPSECA or KX: the initiator starts no IKE, the responder aborts', { timeout: 90000 }, async () => {
    try {
      await lab.dns('ipseca', 'b1', 'bogus');
      await lab.dns('kx', 'site-c', 'bogus');
      await lab.expectVerdict('a', '_500.b1.site-b.overlay.test', 'IPSECA', 'bogus');
      await lab.expectVerdict('a', 'site-c.overlay.test', 'KX', 'bogus');
      await lab.expectVerdict('a', 'b1.site-b.overlay.test', 'A', 'secure');
      const cap = await lab.restartCaptured(SITES, 'bogus');
      let seen: Obj = {};
      await waitFor(async () => {
        const [ab, ac, b2c, cb] = await Promise.all([lab.peer('a', 'vl-site-b'), lab.peer('a', 'vl-site-c'), lab.peer('b2', 'vl-site-c'), lab.peer('c', 'vl-site-b')]);
        seen = { ab, ac, b2c, cb };
        return established(ab)?.peer === lab.addr('b2') && ac.kx?.verdict === 'bogus' && /KX delegation for site-c\.overlay\.test\.? not proven/.test(b2c.lastError ?? '');
      }, 'the outcomes of the bogus records', 30000).catch((e) => assert.fail(`${(e as Error).message}: ${JSON.stringify(seen, null, 1).slice(0, 4000)}`));
      assert.match(exchanger(seen.ab, 'b1.site-b.overlay.test').downReason, /not starting IKE: IPSECA at _500\.b1\.site-b\.overlay\.test\. is bogus: 6 DNSSEC Bogus/);
      assert.match(exchanger(seen.cb, 'b1.site-b.overlay.test').downReason, /not starting IKE: IPSECA at _500\.b1\.site-b\.overlay\.test\. is bogus/);
      assert.equal(established(seen.ac), null);
      assert.match(seen.ac.lastError, /KX of site-c\.overlay\.test\. is bogus \(6 DNSSEC Bogus/);
      assert.match(seen.b2c.lastError, /bogus/i, 'b2 aborts: the KX answer that would prove site-c is bogus');
      assert.equal(established(seen.cb), null);
      await lab.probe([['a', 'c'], ['c', 'a'], ['c', 'b2']]);
      const pkts = await cap.stop();
      assert.equal(ikeFrom(pkts, lab.addr('a'), lab.addr('b1')), 0, 'no IKE from a to b1 (bogus IPSECA)');
      assert.equal(ikeFrom(pkts, lab.addr('c'), lab.addr('b1')), 0, 'no IKE from c to b1 (bogus IPSECA)');
      assert.equal(ikeFrom(pkts, lab.addr('a'), lab.addr('c')), 0, 'no IKE from a to c (bogus KX)');
      assert.ok(ikeFrom(pkts, lab.addr('c'), lab.addr('b2')) > 0, 'c negotiated with b2, which aborted');
      measured.push(`bogus: a/vl-site-c: ${seen.ac.lastError}`);
      measured.push(`bogus: b2/vl-site-c: ${seen.b2c.lastError}`);
    } finally {
      await lab.dns('restore');
    }
  });

  test('unsigned subzones: the records are insecure, hence unusable, and the vlink is refused', { timeout: 90000 }, async () => {
    try {
      await lab.dns('unsign', 'site-c');
      await lab.dns('ipseca', 'b1', 'unsign');
      for (const [name, type] of [['site-c.overlay.test', 'KX'], ['c.site-c.overlay.test', 'A'], ['_500.c.site-c.overlay.test', 'IPSECA'], ['_500.b1.site-b.overlay.test', 'IPSECA']]) await lab.expectVerdict('a', name!, type!, 'insecure');
      await lab.expectVerdict('a', 'b1.site-b.overlay.test', 'A', 'secure');
      const cap = await lab.restartCaptured(SITES, 'insecure');
      let seen: Obj = {};
      await waitFor(async () => {
        const [ab, ac, b2c, cb] = await Promise.all([lab.peer('a', 'vl-site-b'), lab.peer('a', 'vl-site-c'), lab.peer('b2', 'vl-site-c'), lab.peer('c', 'vl-site-b')]);
        seen = { ab, ac, b2c, cb };
        return established(ab)?.peer === lab.addr('b2') && ac.kx?.verdict === 'insecure' && /KX delegation for site-c\.overlay\.test\.? not proven/.test(b2c.lastError ?? '');
      }, 'the outcomes of the unsigned subzones', 30000).catch((e) => assert.fail(`${(e as Error).message}: ${JSON.stringify(seen, null, 1).slice(0, 4000)}`));
      assert.match(exchanger(seen.ab, 'b1.site-b.overlay.test').downReason, /refused: IPSECA at _500\.b1\.site-b\.overlay\.test\. is insecure/);
      assert.equal(established(seen.ac), null);
      assert.match(seen.ac.lastError, /insecure/);
      assert.match(seen.b2c.lastError, /insecure/);
      assert.equal(established(seen.cb), null);
      await lab.probe([['a', 'c'], ['c', 'a'], ['c', 'b2']]);
      const pkts = await cap.stop();
      assert.equal(ikeFrom(pkts, lab.addr('a'), lab.addr('c')), 0, 'no IKE from a to c (no usable exchanger)');
      measured.push(`insecure: a/vl-site-b b1 down: ${exchanger(seen.ab, 'b1.site-b.overlay.test').downReason}`);
      measured.push(`insecure: a/vl-site-c: ${seen.ac.lastError}; b2/vl-site-c: ${seen.b2c.lastError}`);
    } finally {
      await lab.dns('restore');
    }
  });

  test('KX records altered and removed: b1 at 30 puts b2 first; site-c without KX is neither reached nor proven', { timeout: 90000 }, async () => {
    try {
      const set = await lab.dns('kx', 'site-b', 'set', 'b1', '30');
      assert.deepEqual(set.records, ['site-b.overlay.test. KX 20 b2.site-b.overlay.test.', 'site-b.overlay.test. KX 30 b1.site-b.overlay.test.']);
      const rm = await lab.dns('kx', 'site-c', 'remove');
      assert.deepEqual(rm.records, []);
      const kx = await lab.expectVerdict('a', 'site-b.overlay.test', 'KX', 'secure');
      assert.deepEqual(kx.rrs.map((r) => (r.data as Obj).preference).sort(), [20, 30]);
      const none = await lab.validate('a', 'site-c.overlay.test', 'KX');
      assert.deepEqual([none.delv.verdict, none.unbound.verdict, none.unbound.status], ['secure', 'secure', 'nodata']);
      const cap = await lab.restartCaptured(SITES, 'kx');
      let seen: Obj = {};
      await waitFor(async () => {
        const [ab, ac, b2c] = await Promise.all([lab.peer('a', 'vl-site-b'), lab.peer('a', 'vl-site-c'), lab.peer('b2', 'vl-site-c')]);
        seen = { ab, ac, b2c };
        return established(ab)?.peer === lab.addr('b2') && ac.kx !== null && ac.kx.ok === false && /KX delegation for site-c\.overlay\.test\.? not proven/.test(b2c.lastError ?? '');
      }, 'the outcomes of the KX changes', 30000).catch((e) => assert.fail(`${(e as Error).message}: ${JSON.stringify(seen, null, 1).slice(0, 4000)}`));
      assert.equal(seen.ab.kx.inUse, 'b2.site-b.overlay.test.');
      assert.match(seen.ab.kx.why, /most preferred exchanger \(preference 20\)/);
      assert.deepEqual(seen.ab.kx.exchangers.map((e: Obj) => e.preference), [20, 30]);
      assert.equal(established(seen.ac), null);
      await lab.probe([['a', 'c'], ['a', 'b2']]);
      const pkts = await cap.stop();
      assert.equal(ikeFrom(pkts, lab.addr('a'), lab.addr('b1')), 0, 'a goes to b2 first: b2 answers');
      measured.push(`kx: a/vl-site-b ${seen.ab.kx.why}; a/vl-site-c: ${seen.ac.lastError}; b2/vl-site-c: ${seen.b2c.lastError}`);
    } finally {
      await lab.dns('restore');
    }
  });
});
