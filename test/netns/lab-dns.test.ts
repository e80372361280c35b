// topologies/dns.yaml through the real CLI (root): the lab DNS service (NSD, ldns-signed
// overlay.test. under a signed test.) is checked from a node's namespace by delv and
// unbound-host with that node's own trust anchor file, through every `lab dns` state; `lab
// readdress` moves a node and its A record. End to end with the nodes' named peers: vlinks
// come up by name with a secure verdict, peers follow a readdressed node within TTL + a bound
// and OSPF reconverges with no cleartext on the underlay, an expired signature stops new IKE
// SAs, and an unsigned zone is unusable under require but used (with a warning) under prefer.
// b and c run dnssec: prefer, a the topology's require.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { capture, netnsSkip } from './helpers.js';
import { readPcap } from './pcap.js';
import { PATTERN, assertGone, cli, node, topologyCopy, vnPing, waitFor } from './lab-harness.js';
import { validate } from './lab-dns-helpers.js';
import { nsExec } from '../../src/lab/netns.js';
import { readState, type LabState } from '../../src/lab/state.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'tcpdump', 'nft', 'bird', 'birdc', 'fping', 'nsd', 'nsd-control', 'dig', 'ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'delv', 'unbound-host']);
/** How much later than the TTL a peer may still use a readdressed node's old address (asserted). */
const FOLLOW_BOUND_MS = 10000;

describe('lab: dns.yaml, the lab DNS service and named peers', { skip }, () => {
  let name = '';
  let s: LabState;
  const state = () => readState(name)!;
  const json = async (args: string[]): Promise<Obj> => {
    const r = await cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout) as Obj;
  };
  const links = async (n: string) => (await json(['lab', 'show', n, 'links', '--json', '--lab', name])).links as Obj[];
  const link = async (n: string, v: string) => (await links(n)).find((l) => l.name === v)!;

  before(async () => {
    const t = topologyCopy('dns.yaml', 'dns');
    fs.writeFileSync(t.file, fs.readFileSync(t.file, 'utf8').replace('  b: {}', '  b: { dnssec: prefer }').replace('  c: {}', '  c: { dnssec: prefer }'));
    const t0 = Date.now();
    const out = await cli(['lab', 'up', t.file, '--timeout', '60']);
    const upMs = Date.now() - t0;
    name = t.name;
    assert.equal(out.code, 0, `lab up failed:\n${out.stdout}\n${out.stderr}`);
    s = readState(name)!;
    console.log(`MEASURED lab up dns.yaml: ${upMs} ms\n${out.stdout.split('\n').filter((l) => /^\[|done in|converged/.test(l)).map((l) => `    ${l}`).join('\n')}`);
    assert.match(out.stdout, /start NSD \(10\.200\.1\.4, serving overlay\.test\.\), then 3 iiptran node daemons/);
  });
  after(async () => {
    if (name === '') return;
    await cli(['lab', 'down', name]);
    await assertGone(name);
  });

  test('NSD serves the signed zone; delv and unbound-host in a node namespace, with its own anchor file, say secure', { timeout: 60000 }, async () => {
    const v = await json(['lab', 'dns', name, 'show', '--json']);
    assert.equal(v.server.running, true);
    console.log(`MEASURED NSD start to serving both zones: ${v.server.startMs} ms`);
    assert.equal(v.server.address, '10.200.1.4');
    assert.deepEqual(v.served, { test: v.serial, 'overlay.test': v.serial });
    assert.deepEqual(v.records.map((r: Obj) => `${r.name} ${r.address} ${r.state}`), ['a.overlay.test 10.200.1.1 secure', 'b.overlay.test 10.200.1.2 secure', 'c.overlay.test 10.200.1.3 secure']);
    for (const n of ['a', 'b', 'c']) {
      assert.equal(fs.readFileSync(path.join(s.nodes[n]!.dir, 'keys', 'trust-anchor.ds'), 'utf8').trim(), v.anchor, `${n}'s anchor is test.'s DS`);
      assert.match(v.anchor, /^test\.\s+\d+\s+IN\s+DS\s+\d+ 13 2 [0-9a-f]{64}$/);
    }
    for (const host of ['a', 'b', 'c']) {
      const r = await validate(s, 'a', `${host}.overlay.test`);
      assert.deepEqual([r.delv, r.unbound], ['secure', 'secure'], `${host}: ${r.delvText}${r.unboundText}`);
      assert.equal(r.address, node(s, host).underlayAddr);
    }
    const fromC = await validate(s, 'c', 'b.overlay.test');
    assert.deepEqual([fromC.delv, fromC.unbound], ['secure', 'secure']);
    const st = await json(['lab', 'status', name, '--json']);
    assert.deepEqual({ ...st.dns, breaks: undefined }, { zone: 'overlay.test', server: '10.200.1.4', running: true, serial: v.serial, signed: true, breaks: undefined });
  });

  test('vlinks come up by name with a secure verdict', { timeout: 30000 }, async () => {
    for (const [me, peers] of [['a', ['b', 'c']], ['b', ['a', 'c']], ['c', ['a', 'b']]] as const) {
      for (const p of peers) {
        const l = await link(me, `vl-${p}`);
        assert.equal(l.state, 'up', `${me}/vl-${p}`);
        assert.equal(l.peerName, `${p}.overlay.test`);
        assert.equal(l.peer, node(s, p).underlayAddr);
        assert.equal(l.dns.verdict, 'secure', `${me}/vl-${p}: ${JSON.stringify(l.dns)}`);
        assert.equal(l.dns.usable, true);
      }
    }
  });

  test('break expired|badsig|nods give bogus for that host only, unsign insecure, restore secure (delv and unbound-host agree)', { timeout: 120000 }, async () => {
    const expect = async (what: string, b: string, others: string) => {
      const rb = await validate(s, 'a', 'b.overlay.test');
      assert.deepEqual([rb.delv, rb.unbound], [b, b], `${what}: b.overlay.test\n${rb.delvText}${rb.unboundText}`);
      const rc = await validate(s, 'a', 'c.overlay.test');
      assert.deepEqual([rc.delv, rc.unbound], [others, others], `${what}: c.overlay.test\n${rc.delvText}${rc.unboundText}`);
      return rb;
    };
    const reasons: Record<string, RegExp> = { expired: /RRSIG has expired/, badsig: /RRSIG failed to verify|no valid signature/, nods: /broken trust chain|no valid RRSIG resolving 'b\.overlay\.test\/DS/ };
    for (const mode of ['expired', 'badsig', 'nods']) {
      const c = await json(['lab', 'dns', name, 'break', 'b.overlay.test.', mode, '--json']);
      assert.deepEqual([c.action, c.host, c.mode], ['break', 'b.overlay.test', mode]);
      const r = await expect(`break ${mode}`, 'bogus', 'secure');
      assert.match(r.delvText, reasons[mode]!, `delv's reason for ${mode}`);
      assert.equal((await json(['lab', 'dns', name, 'restore', '--json'])).action, 'restore');
      await expect(`restore after ${mode}`, 'secure', 'secure');
    }
    await json(['lab', 'dns', name, 'unsign', '--json']);
    await expect('unsign', 'insecure', 'insecure');
    const bad = await cli(['lab', 'dns', name, 'break', 'b', 'badsig']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /served unsigned .* restore.* first \[IIPTRAN_ERR_USAGE\]/);
    await json(['lab', 'dns', name, 'restore', '--json']);
    await expect('restore', 'secure', 'secure');
    const wrong = await cli(['lab', 'dns', name, 'break', 'x', 'expired']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /"x" is not a host of zone overlay\.test\. \(hosts: a\.overlay\.test, b\.overlay\.test, c\.overlay\.test\)/);
    assert.match((await cli(['lab', 'dns', name, 'break', 'b', 'stale'])).stderr, /break mode must be one of expired, badsig, nods/);
  });

  test('readdress b: new address, new A record; peers that name b follow within TTL + bound, OSPF reconverges, no cleartext', { timeout: 180000 }, async () => {
    const old = node(s, 'b').underlayAddr;
    const file = path.join(s.dir, 'readdress.pcap');
    const cap = await capture(`${s.model.nsPrefix}lan`, 'br0', file);
    const t0 = Date.now();
    const r = await json(['lab', 'readdress', 'b', '--lab', name, '--json']);
    const cmdMs = Date.now() - t0;
    assert.equal(r.old, old);
    assert.equal(r.new, '10.200.1.5', 'the lowest free address: .4 is the DNS server');
    s = state();
    assert.equal(node(s, 'b').underlayAddr, r.new);
    const addrs = (await nsExec(node(s, 'b').ns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
    assert.match(addrs, /inet 10\.200\.1\.5\/24/);
    assert.doesNotMatch(addrs, new RegExp(`inet ${old.replace(/\./g, '\\.')}/`));
    assert.match(fs.readFileSync(s.nodes['b']!.config, 'utf8'), /^ {2}address: 10\.200\.1\.5$/m);
    const v = await validate(s, 'a', 'b.overlay.test');
    assert.deepEqual([v.delv, v.unbound, v.address], ['secure', 'secure', r.new]);
    console.log(`MEASURED readdress command: ${cmdMs} ms (${JSON.stringify(r.ms)}); zone served at ${r.servedAt}, TTL ${r.ttl} s`);
    const served = Date.parse(r.servedAt);
    const follow: Record<string, number> = {};
    await waitFor(async () => {
      for (const me of ['a', 'c']) {
        if (follow[me] !== undefined) continue;
        const l = await link(me, 'vl-b');
        if (l.peer === r.new && l.state === 'up') follow[me] = Date.now() - served;
      }
      return Object.keys(follow).length === 2;
    }, "a's and c's vl-b on b's new address", r.ttl * 1000 + FOLLOW_BOUND_MS + 5000);
    const conv = await waitFor(async () => {
      const st = await json(['lab', 'status', name, '--json']);
      return st.vlinks.every((x: Obj) => x.stateA === 'up' && x.stateB === 'up' && /^Full/.test(x.ospfA) && /^Full/.test(x.ospfB)) && st.nodes.every((n: Obj) => n.routesTo.length === 2);
    }, 'OSPF Full everywhere and every VN route back', 60000);
    const ospfMs = Date.now() - t0;
    for (const [a, b] of [['a', 'b'], ['c', 'b'], ['b', 'a']]) assert.equal(await vnPing(s, a!, b!), 3, `${a} -> ${b} over the overlay`);
    await cap.stop();
    console.log(`MEASURED readdress follow (from the new record served): a ${follow['a']} ms, c ${follow['c']} ms (TTL ${r.ttl} s, bound TTL + ${FOLLOW_BOUND_MS} ms); OSPF reconverged ${ospfMs} ms after the command started (${conv} ms after the peers followed)`);
    for (const me of ['a', 'c']) assert.ok(follow[me]! <= r.ttl * 1000 + FOLLOW_BOUND_MS, `${me} followed after ${follow[me]} ms`);
    const pkts = readPcap(file);
    assert.ok(pkts.some((p) => p.src === r.new && p.proto === 17 && (p.dport === 4500 || p.dport === 500)), 'b keys and tunnels from its new address');
    assert.ok(!fs.readFileSync(file).toString('hex').includes(PATTERN), 'VN cleartext on the underlay');
  });

  test('break b expired: no new IKE SA to b, and its vlink says why; restore brings it back', { timeout: 120000 }, async () => {
    await json(['lab', 'dns', name, 'break', 'b', 'expired', '--json']);
    await json(['lab', 'restart', 'a', '--lab', name, '--json']);
    await waitFor(async () => {
      const l = await link('a', 'vl-b');
      return l.dns?.verdict === 'bogus' && /expired/i.test(`${l.dns.reason} ${l.dns.lastError}`);
    }, "a's vl-b verdict bogus (signature expired)", 20000);
    const t0 = Date.now();
    while (Date.now() - t0 < 8000) {
      const ike = await json(['lab', 'show', 'a', 'ike', '--json', '--lab', name]);
      const pb = (ike.peers as Obj[]).find((p) => p.vlink === 'vl-b');
      assert.notEqual(pb?.state, 'ESTABLISHED', 'no IKE SA to b while its name is bogus');
      assert.notEqual((await link('a', 'vl-b')).state, 'up');
      assert.equal((await link('a', 'vl-c')).state, 'up', 'a-c is not affected');
      await new Promise((r) => setTimeout(r, 1000));
    }
    const l = await link('a', 'vl-b');
    console.log(`MEASURED break expired: a/vl-b dns ${JSON.stringify(l.dns)}`);
    await json(['lab', 'dns', name, 'restore', '--json']);
    const back = await waitFor(async () => (await link('a', 'vl-b')).state === 'up', "a's vl-b up again after restore", 45000);
    console.log(`MEASURED restore -> a/vl-b up: ${back} ms`);
  });

  test('unsign: "insecure: unusable" under require (a); used, with a warning, under prefer (b, c)', { timeout: 180000 }, async () => {
    await json(['lab', 'dns', name, 'unsign', '--json']);
    for (const n of ['a', 'b', 'c']) await json(['lab', 'restart', n, '--lab', name, '--json']);
    await waitFor(async () => (await link('b', 'vl-c')).state === 'up' && (await link('c', 'vl-b')).state === 'up', 'b-c up on insecure answers (prefer)', 45000);
    for (const [me, peer] of [['b', 'c'], ['c', 'b']]) {
      const l = await link(me!, `vl-${peer}`);
      assert.equal(l.dns.verdict, 'insecure');
      assert.equal(l.dns.usable, true);
    }
    await waitFor(async () => {
      const l = await link('a', 'vl-b');
      return l.dns?.verdict === 'insecure' && l.dns.usable === false;
    }, "a's vl-b insecure and unusable", 20000);
    for (const p of ['b', 'c']) {
      const l = await link('a', `vl-${p}`);
      assert.notEqual(l.state, 'up', `a/vl-${p} stays down under require`);
      assert.match(`${l.dns.reason} ${l.dns.lastError}`, /insecure/i);
      assert.match(`${l.dns.reason} ${l.dns.lastError}`, /unusable/i, `a/vl-${p}: ${JSON.stringify(l.dns)}`);
    }
    const logB = fs.readFileSync(s.nodes['b']!.log, 'utf8').split('\n').filter((x) => x.includes('"level":40') && /insecure/i.test(x));
    assert.ok(logB.length > 0, "b's log warns that it uses an insecure answer");
    console.log(`MEASURED unsign: a/vl-b dns ${JSON.stringify((await link('a', 'vl-b')).dns)}; b warns: ${logB[0]!.slice(0, 200)}`);
    await json(['lab', 'dns', name, 'restore', '--json']);
  });
});
