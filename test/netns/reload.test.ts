// SIGHUP under a ping stream, with real TUNs, real kernel routes and unmodified BIRD.
//
// Static routing (a pair): liveness, MTU, key and encap changes are applied to the running TUN, so
// the hand-made route through it survives and the stream loses at most a handful of packets; a
// rename needs a new TUN, and the daemon puts the routes through the old one back on it.
//
// BIRD (a two-node lab): an in-place change never takes the route away; a rename comes back
// once OSPF has re-formed on the new interface; and a vlink bounced under BIRD's feet (its
// routes flushed by the kernel without a word, as a recreated TUN's are) is repaired by the
// kernel protocol's scan within its 2 s period, where BIRD's default took 60 s.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { PairLab, type PairNode } from '../../src/lab/pair-lab.js';
import { nsExec } from '../../src/lab/netns.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { netnsSkip, uniquePrefix } from './helpers.js';
import { cli, node } from './lab-harness.js';

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'bird', 'birdc']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StreamResult {
  sent: number;
  replies: number;
  lost: number;
  /** Longest gap between two consecutive replies. */
  outageMs: number;
}

/** ping every 10 ms with reply timestamps (-D); stop() ends it and counts. */
function pingStream(ns: string, src: string, dst: string): { stop: () => Promise<StreamResult> } {
  const p = spawn('ip', ['netns', 'exec', ns, 'ping', '-D', '-n', '-i', '0.01', '-W', '1', '-I', src, dst], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  p.stdout.on('data', (d) => (out += String(d)));
  return {
    stop: async () => {
      // The last echo's reply is on its way; SIGINT would count it as lost.
      await sleep(100);
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGINT');
      await done;
      const times = [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from /gm)].map((m) => Number(m[1]) * 1000);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
      const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
      return { sent, replies: times.length, lost: sent - times.length, outageMs: Math.round(gap) };
    },
  };
}

async function routeTo(ns: string, dst: string): Promise<string> {
  return (await nsExec(ns, ['ip', 'route', 'show', dst])).stdout.trim();
}

async function ifindex(ns: string, dev: string): Promise<number> {
  return (JSON.parse((await nsExec(ns, ['ip', '-j', 'link', 'show', dev])).stdout) as { ifindex: number }[])[0]!.ifindex;
}

/** Polls until `cond`; resolves with the time it took, or fails after `ms`. */
async function within(ms: number, what: string, cond: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

function countReloads(log: string): number {
  return (log.match(/"msg":"config reloaded"/g) ?? []).length;
}

describe('reload under static routing (pair)', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('rl') });
  const measured: string[] = [];
  before(async () => {
    await lab.up();
  });
  after(async () => {
    const ms = [...lab.logs(lab.a).matchAll(/"ms":(\d+),"msg":"config reloaded"/g)].map((m) => m[1]);
    console.log(`# MEASURED static reload: ${measured.join('; ')}; SIGHUP applied in ${ms.join(', ')} ms`);
    await lab.down();
  });

  /** Edits the node's config, sends SIGHUP and waits for the reload to be applied. */
  async function hup(nodes: PairNode[], edit: (y: string) => string): Promise<void> {
    const before = nodes.map((n) => countReloads(lab.logs(n)));
    for (const n of nodes) fs.writeFileSync(n.config, edit(fs.readFileSync(n.config, 'utf8')));
    for (const n of nodes) n.proc!.kill('SIGHUP');
    await within(5000, 'reload applied', async () => nodes.every((n, i) => countReloads(lab.logs(n)) > before[i]!));
    assert.doesNotMatch(lab.logs(nodes[0]!), /reload rejected/);
  }

  async function step(what: string, nodes: PairNode[], edit: (y: string) => string): Promise<StreamResult> {
    const s = pingStream(lab.a.ns, lab.a.vn, lab.b.vn);
    await sleep(300);
    await hup(nodes, edit);
    await sleep(500);
    const r = await s.stop();
    measured.push(`${what}: ${r.lost}/${r.sent} lost, longest gap ${r.outageMs} ms`);
    assert.ok(r.sent >= 40, `${what}: the stream ran (${r.sent} sent)`);
    return r;
  }

  test('liveness, MTU, keys and encap change on the running TUN: the route stays, a handful lost at most', async () => {
    const idx = await ifindex(lab.a.ns, lab.a.vlink);
    const route = await routeTo(lab.a.ns, lab.b.vn);
    assert.match(route, /via 10\.255\.0\.1 dev vl-b/);

    const live = await step('liveness', [lab.a], (y) => y.replace(/interval_ms: 200, dead_ms: 1000/, 'interval_ms: 100, dead_ms: 600'));
    assert.ok(live.lost <= 3, `liveness: ${live.lost} lost`);
    assert.match(lab.logs(lab.a), /"changes":\{"vl-b":\["liveness"\]\}/);

    const mtu = await step('mtu', [lab.a], (y) => y.replace(/(\n    encap: udp\n)/, '$1    mtu: 1400\n'));
    assert.ok(mtu.lost <= 3, `mtu: ${mtu.lost} lost`);
    const link = JSON.parse((await nsExec(lab.a.ns, ['ip', '-j', 'link', 'show', lab.a.vlink])).stdout)[0];
    assert.equal(link.mtu, 1400);

    // New keys for both directions; both daemons reload at once, the peer only milliseconds later.
    const outSa = () => lab.show(lab.a, 'sas').then((v) => (v as { sas: { dir: string; seq: number; ageSeconds: number }[] }).sas.find((x) => x.dir === 'out')!);
    const seqBefore = (await outSa()).seq;
    for (const f of ['a-to-b.key', 'b-to-a.key']) writeKeyFile(path.join(lab.dir, f), 'aes-gcm-256', { overwrite: true });
    const keys = await step('keys', [lab.a, lab.b], (y) => y);
    assert.ok(keys.lost <= 5, `keys: ${keys.lost} lost`);
    assert.ok((await outSa()).seq < seqBefore, 'a new SA, counting from 1 again');

    // Both ends from ESP in UDP 4500 to raw ESP (protocol 50): another socket, same TUN.
    const encap = await step('encap', [lab.a, lab.b], (y) => y.replace('encap: udp', 'encap: esp'));
    assert.ok(encap.lost <= 5, `encap: ${encap.lost} lost`);
    const links = (await lab.show(lab.a, 'links')) as { links: { outer: { encap: string; dport: number | null } }[] };
    assert.deepEqual(links.links[0]!.outer, { ...links.links[0]!.outer, encap: 'esp', dport: null });

    assert.equal(await ifindex(lab.a.ns, lab.a.vlink), idx, 'same TUN all along');
    assert.equal(await routeTo(lab.a.ns, lab.b.vn), route, 'the static route is untouched');
  });

  test('a rename gets a new TUN and the routes through the old one, ECMP included, move onto it', async () => {
    // A second, multipath route: one hop through the vlink, one through the underlay.
    await nsExec(lab.a.ns, ['ip', 'route', 'add', '10.77.0.0/24', 'proto', 'static', 'nexthop', 'via', '10.255.0.1', 'dev', 'vl-b', 'nexthop', 'via', lab.b.underlay, 'dev', 'eth-u']);
    const r = await step('rename', [lab.a], (y) => y.replace('name: vl-b', 'name: vl-x'));
    assert.ok(r.lost <= 5, `rename: ${r.lost} lost`);
    assert.match(await routeTo(lab.a.ns, lab.b.vn), /^10\.10\.0\.2 via 10\.255\.0\.1 dev vl-x src 10\.10\.0\.1/);
    const mp = await routeTo(lab.a.ns, '10.77.0.0/24');
    assert.match(mp, /nexthop via 10\.255\.0\.1 dev vl-x/);
    assert.match(mp, /nexthop via 10\.200\.0\.2 dev eth-u/);
    assert.notEqual((await nsExec(lab.a.ns, ['ip', 'link', 'show', 'vl-b'], { allowFail: true })).code, 0, 'the old TUN is gone');
    assert.match(lab.logs(lab.a), /put back 2 route\(s\) through vl-x/);
  });

  test('a rename puts the IPv6 routes through the old TUN back as well', async () => {
    // IPv6 inside the vlink at both ends (in place), then two IPv6 routes through it: a global
    // and a link-local gateway (link_local auto: fe80:: + b's IPv4 link address).
    await hup([lab.a, lab.b], (y) => y.replace(/(\n    address: 10\.255\.0\.(\d)\/31\n)/, '$1    address6: fd00:255::$2/127\n'));
    await within(5000, 'IPv6 over the vlink', async () => (await nsExec(lab.a.ns, ['ping', '-6', '-c', '1', '-W', '1', 'fd00:255::1'], { allowFail: true })).code === 0);
    await nsExec(lab.a.ns, ['ip', '-6', 'route', 'add', 'fd00:10::2/128', 'via', 'fd00:255::1', 'dev', 'vl-x', 'proto', 'static', 'metric', '32']);
    await nsExec(lab.a.ns, ['ip', '-6', 'route', 'add', 'fd00:77::/64', 'via', 'fe80::aff:1', 'dev', 'vl-x', 'proto', 'static']);
    const r = await step('rename (IPv6)', [lab.a], (y) => y.replace('name: vl-x', 'name: vl-y'));
    assert.ok(r.lost <= 5, `rename: ${r.lost} lost`);
    const v6 = (dst: string) => nsExec(lab.a.ns, ['ip', '-6', 'route', 'show', dst]).then((x) => x.stdout.trim());
    assert.match(await v6('fd00:10::2/128'), /^fd00:10::2 via fd00:255::1 dev vl-y proto static metric 32/);
    assert.match(await v6('fd00:77::/64'), /^fd00:77::\/64 via fe80::aff:1 dev vl-y proto static/);
    assert.match(await routeTo(lab.a.ns, lab.b.vn), /dev vl-y/, 'and the IPv4 one');
    // Two IPv4 routes and the two IPv6 ones.
    assert.match(lab.logs(lab.a), /put back 4 route\(s\) through vl-y/);
    assert.equal((await nsExec(lab.a.ns, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', 'fd00:255::1'], { allowFail: true })).code, 0, 'IPv6 over the renamed vlink');
  });
});

describe('reload under BIRD (two-node lab, IKEv2)', { skip }, () => {
  let name = '';
  let s: LabState;
  const measured: string[] = [];
  before(async () => {
    name = `rlb${process.pid % 100000}${Math.floor(Math.random() * 100)}`.slice(0, 12);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-reload-'));
    const file = path.join(dir, 'pair-bird.yaml');
    fs.writeFileSync(file, [
      `name: ${name}`, 'routing: bird', 'keying: ikev2', 'liveness: { interval_ms: 200, dead_ms: 1000 }', 'ospf: { hello: 1, dead: 4 }',
      'nodes:', '  a: {}', '  b: {}', 'underlay:', '  - [a, b]', 'vlinks:', '  - [a, b]', '',
    ].join('\n'));
    const up = await cli(['lab', 'up', file, '--timeout', '60']);
    if (up.code !== 0) {
      await cli(['lab', 'down', name]);
      throw new Error(`lab up failed:\n${up.stdout}\n${up.stderr}`);
    }
    s = readState(name)!;
  });
  after(async () => {
    console.log(`# MEASURED BIRD reload: ${measured.join('; ')}`);
    if (name !== '') await cli(['lab', 'down', name]);
  });

  const a = () => node(s, 'a');
  const vnB = () => node(s, 'b').vnAddr;
  const logOf = (n: string) => fs.readFileSync(path.join(s.dir, n, 'iiptran.log'), 'utf8');
  const cfgOf = (n: string) => path.join(s.dir, n, 'node.yaml');
  const pidOf = (n: string) => s.processes.find((p) => p.role === 'iiptran' && p.node === n)!.pid;

  async function hupA(edit: (y: string) => string): Promise<void> {
    const before = countReloads(logOf('a'));
    fs.writeFileSync(cfgOf('a'), edit(fs.readFileSync(cfgOf('a'), 'utf8')));
    process.kill(pidOf('a'), 'SIGHUP');
    await within(5000, 'reload applied', async () => countReloads(logOf('a')) > before);
  }

  test('an in-place change (liveness, DPD) never takes the BIRD route away', async () => {
    const route = await routeTo(a().ns, vnB());
    assert.match(route, /dev vl-b proto bird/);
    const st = pingStream(a().ns, a().vnAddr, vnB());
    await sleep(300);
    let missing = 0;
    const watch = (async () => {
      for (let i = 0; i < 40; i++) {
        if ((await routeTo(a().ns, vnB())) === '') missing++;
        await sleep(25);
      }
    })();
    await hupA((y) => y.replace('interval_ms: 200, dead_ms: 1000', 'interval_ms: 250, dead_ms: 1000').replace('dpd_interval_s: 2', 'dpd_interval_s: 3'));
    await watch;
    const r = await st.stop();
    measured.push(`in place: ${r.lost}/${r.sent} lost, longest gap ${r.outageMs} ms, route missing in ${missing}/40 polls`);
    assert.equal(missing, 0, 'the route never left the kernel');
    assert.ok(r.lost <= 3, `${r.lost} lost`);
    assert.equal(await routeTo(a().ns, vnB()), route);
    assert.match(logOf('a'), /IKE settings changed: dpd_interval_s changed: the running SAs stay/);
  });

  test('a rename: BIRD routes the new TUN and pings resume within 9 s', async () => {
    const st = pingStream(a().ns, a().vnAddr, vnB());
    await sleep(300);
    await hupA((y) => y.replace('name: vl-b', 'name: vl-x'));
    // OSPF re-forms on vl-x in about a second; the new router-LSA waits out MinLSInterval (5 s).
    const t0 = Date.now();
    const back = await within(9000, 'route via vl-x', async () => / dev vl-x proto bird/.test(await routeTo(a().ns, vnB())));
    // The daemon's restored route can still be withdrawn by BIRD once it notices vl-b went: keep
    // the stream running through that whole window.
    await sleep(9000 - (Date.now() - t0));
    assert.match(await routeTo(a().ns, vnB()), / dev vl-x proto bird/);
    const r = await st.stop();
    measured.push(`rename: route via vl-x after ${back} ms; ${r.lost}/${r.sent} lost, longest gap ${r.outageMs} ms`);
    assert.ok(r.outageMs <= 9000, `pings resumed after ${r.outageMs} ms`);
  });

  test('a vlink bounced under BIRD (routes flushed, nobody told): back within 8 s each time, not 60', async () => {
    const dev = (await routeTo(a().ns, vnB())).match(/dev (\S+)/)![1]!;
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      await nsExec(a().ns, ['ip', 'link', 'set', dev, 'down']);
      await nsExec(a().ns, ['ip', 'link', 'set', dev, 'up']);
      assert.equal(await routeTo(a().ns, vnB()), '', 'the kernel flushed the route');
      // Scan period 2 s; if OSPF did see the link go, its new LSA waits MinLSInterval (5 s).
      times.push(await within(8000, `route back after bounce ${i + 1}`, async () => (await routeTo(a().ns, vnB())) !== ''));
      await sleep(1000 + Math.floor(Math.random() * 1000));
    }
    measured.push(`bounce: route back after ${times.join(', ')} ms`);
  });
});
