// Issue 13 §2, the attack: a node whose VN routes vanish (daemon SIGKILLed, a SIGHUP that
// changes a vlink, a routing withdrawal) while another route covers the VN addresses (a default
// route via the underlay, or the VN prefix itself via the underlay) used to send VN traffic on
// the underlay in clear. With vn_prefixes set, a capture on the underlay must hold zero VN
// packets in each case, while the guard's nft counter shows what it stopped. A pair without the
// guard is the control: the same capture there must find the leak.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { GUARD_ROUTE_PROTO, GUARD_TABLE, parseNftTable } from '../../src/io/guard.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { capture, netnsSkip, uniquePrefix } from './helpers.js';
import { readPcap } from './pcap.js';
import { cli, node, vnPing, waitFor } from './lab-harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'tcpdump', 'bird', 'birdc']);
const VN = ['10.10.0.0/16', '10.255.0.0/16'];
const isVn = (a: string) => a.startsWith('10.10.') || a.startsWith('10.255.');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The guard as the kernel holds it, read with nft and ip only (works with the daemon dead). */
async function kernelGuard(ns: string): Promise<{ table: boolean; routes: string[]; allowed: string[]; drops: number }> {
  const t = await nsExec(ns, ['nft', '-j', 'list', 'table', 'inet', GUARD_TABLE], { allowFail: true });
  const r = await nsExec(ns, ['ip', '-j', '-4', 'route', 'show', 'table', 'main', 'proto', String(GUARD_ROUTE_PROTO), 'type', 'unreachable']);
  const routes = r.stdout.trim() === '' ? [] : (JSON.parse(r.stdout) as { dst: string }[]).map((x) => x.dst).sort();
  if (t.code !== 0) return { table: false, routes, allowed: [], drops: 0 };
  const p = parseNftTable(t.stdout);
  return { table: p.table, routes, allowed: p.allowed, drops: p.drops.output.packets + p.drops.forward.packets };
}

interface Leak {
  underlay: number;
  cleartextVn: number;
  icmp: number;
  dropped: number;
}

/**
 * A VN ping stream from `ns` (60 echoes, 20/s) with a capture on its underlay; `action` runs
 * 0.5 s in. Counts every captured IPv4 packet that carries a VN address in the clear.
 */
async function attack(what: string, ns: string, dev: string, src: string, dst: string, action: () => Promise<unknown>): Promise<Leak> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-guard-'));
  const file = path.join(dir, 'u.pcap');
  const d0 = (await kernelGuard(ns)).drops;
  const cap = await capture(ns, dev, file);
  const p = spawn('ip', ['netns', 'exec', ns, 'ping', '-n', '-i', '0.05', '-c', '60', '-I', src, dst], { stdio: 'ignore' });
  const done = new Promise((r) => p.once('exit', r));
  await sleep(500);
  await action();
  await done;
  await cap.stop();
  const pkts = readPcap(file);
  fs.rmSync(dir, { recursive: true, force: true });
  const clear = pkts.filter((x) => isVn(x.src) || isVn(x.dst));
  const leak = { underlay: pkts.length, cleartextVn: clear.length, icmp: clear.filter((x) => x.proto === 1).length, dropped: (await kernelGuard(ns)).drops - d0 };
  console.log(`MEASURED guard ${what}: ${leak.underlay} packets on the underlay, ${leak.cleartextVn} cleartext VN (${leak.icmp} ICMP), nft dropped ${leak.dropped}`);
  return leak;
}

/** Default routes via the underlay at both ends: the covering route of the attack. */
async function coverWithDefault(lab: PairLab): Promise<void> {
  await nsExec(lab.a.ns, ['ip', 'route', 'add', 'default', 'via', lab.b.underlay, 'dev', 'eth-u']);
  await nsExec(lab.b.ns, ['ip', 'route', 'add', 'default', 'via', lab.a.underlay, 'dev', 'eth-u']);
}

describe('control: a pair without vn_prefixes leaks when its daemon is killed', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('gc') });
  before(async () => {
    await lab.up();
    await coverWithDefault(lab);
  });
  after(async () => {
    await lab.down();
  });

  test('SIGKILL with a default route via the underlay: VN echoes on the underlay in clear', async () => {
    const l = await attack('absent, SIGKILL (control)', lab.a.ns, 'eth-u', lab.a.vn, lab.b.vn, () => lab.stopNode(lab.a, 'SIGKILL'));
    assert.ok(l.cleartextVn >= 20, `the attack reproduces: ${l.cleartextVn} cleartext VN packets`);
    assert.equal((await kernelGuard(lab.a.ns)).table, false);
  });
});

describe('guard: a pair with vn_prefixes and covering routes via the underlay', { skip }, () => {
  // IKEv2, as in production: a vlink that comes back gets fresh SAs (manual SAs would restart
  // their sequence numbers at 1 into the peer's replay window).
  const lab = new PairLab({ prefix: uniquePrefix('gg'), vnPrefixes: VN, keying: 'ikev2', ikeYaml: ['dpd_interval_s: 2'] });
  const show = async (what: string) => (await lab.show(lab.a, what)) as Obj;
  const restoreRoute = () => nsExec(lab.a.ns, ['ip', 'route', 'replace', `${lab.b.vn}/32`, 'via', lab.b.vlinkAddr, 'dev', lab.a.vlink, 'src', lab.a.vn]);
  const run = (what: string, action: () => Promise<unknown>) => attack(what, lab.a.ns, 'eth-u', lab.a.vn, lab.b.vn, action);
  before(async () => {
    await lab.up();
    await coverWithDefault(lab);
  });
  after(async () => {
    await lab.down();
  });

  test('installed at start, shown by show guard, and protected traffic passes untouched', async () => {
    const g = await show('guard');
    assert.equal(g.installed, true);
    assert.deepEqual(g.prefixes, VN);
    assert.deepEqual(g.allowed, ['lo', 'vl-b']);
    assert.deepEqual(g.kernel.routes, VN);
    const l = await run('installed, no fault (protected traffic)', async () => {});
    assert.equal(l.cleartextVn, 0);
    assert.equal(l.dropped, 0);
    assert.ok(l.underlay >= 100, `ESP on the underlay: ${l.underlay} packets`);
    const r = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '10', '-i', '0.05', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    assert.equal(r.received, 10);
  });

  test('SIGKILL: the guard outlives the daemon; nothing leaves in clear', async () => {
    const l = await run('installed, SIGKILL, default route', () => lab.stopNode(lab.a, 'SIGKILL'));
    assert.equal(l.cleartextVn, 0, 'no VN packet on the underlay');
    // The routing layer stopped these: they never reached an output hook.
    assert.equal(l.dropped, 0);
    const get = await nsExec(lab.a.ns, ['ip', 'route', 'get', lab.b.vn], { allowFail: true });
    assert.match(get.stderr, /No route to host/, 'the unreachable route beats the default route');
    const k = await kernelGuard(lab.a.ns);
    assert.equal(k.table, true, 'nft table left by SIGKILL');
    assert.deepEqual(k.routes, VN, 'unreachable routes left by SIGKILL');
  });

  test('daemon down, a same-prefix route via the underlay beats the unreachable one: nft drops it', async () => {
    // Kept for the cases below, so the nft layer is what each of them leans on.
    await nsExec(lab.a.ns, ['ip', 'route', 'add', '10.10.0.0/16', 'via', lab.b.underlay, 'dev', 'eth-u', 'metric', '10']);
    const l = await run('installed, daemon dead, 10.10.0.0/16 via underlay metric 10', async () => {});
    assert.equal(l.cleartextVn, 0);
    assert.ok(l.dropped >= 50, `nft counted ${l.dropped} drops`);
  });

  test('a restart replaces the stale guard, carries its counter and says so', async () => {
    const before = (await kernelGuard(lab.a.ns)).drops;
    await lab.startNode(lab.a);
    await restoreRoute();
    await lab.waitReachable();
    const g = await show('guard');
    assert.equal(g.installed, true);
    assert.ok(g.drops.packets >= before, `counter carried: ${g.drops.packets} >= ${before}`);
    assert.match(lab.logs(lab.a), /replaced a guard left by an earlier run that did not stop cleanly/);
  });

  test('SIGHUP with a renamed vlink: its TUN and routes go, nothing leaves in clear', async () => {
    const orig = fs.readFileSync(lab.a.config, 'utf8');
    const l = await run('installed, SIGHUP renaming the vlink', async () => {
      fs.writeFileSync(lab.a.config, orig.replace(`name: ${lab.a.vlink}`, 'name: vl-x'));
      lab.a.proc!.kill('SIGHUP');
    });
    assert.equal(l.cleartextVn, 0);
    assert.ok(l.dropped >= 30, `nft counted ${l.dropped} drops`);
    assert.deepEqual((await show('guard')).allowed, ['lo', 'vl-x'], 'the reload updated the allowed set');
    fs.writeFileSync(lab.a.config, orig);
    lab.a.proc!.kill('SIGHUP');
    await waitFor(async () => (await show('links')).links[0]?.name === lab.a.vlink, 'vlink back after the second reload', 5000);
    await restoreRoute();
    await lab.waitReachable();
  });

  test('routing withdrawal: the vlink route deleted, nothing leaves in clear', async () => {
    const l = await run('installed, vlink route deleted', () => nsExec(lab.a.ns, ['ip', 'route', 'del', `${lab.b.vn}/32`]));
    assert.equal(l.cleartextVn, 0);
    assert.ok(l.dropped >= 30, `nft counted ${l.dropped} drops`);
    await restoreRoute();
    await lab.waitReachable();
  });

  test('a clean stop (SIGTERM) removes both the routes and the nft table', async () => {
    assert.equal(await lab.stopNode(lab.a, 'SIGTERM'), 0);
    const k = await kernelGuard(lab.a.ns);
    assert.equal(k.table, false);
    assert.deepEqual(k.routes, []);
    assert.match(lab.logs(lab.a), /guard removed \(clean stop\)/);
  });
});

describe('guard: BIRD withdraws the vlink route in a lab', { skip }, () => {
  let name = '';
  let s: LabState;
  const topo = (n: string) => [
    `name: ${n}`, 'routing: bird', 'liveness: { interval_ms: 200, dead_ms: 1000 }', 'ospf: { hello: 1, dead: 4 }',
    'nodes: { a: {}, b: {} }', 'underlay: [[a, b]]', 'vlinks: [[a, b]]', '',
  ].join('\n');
  const birdc = (...args: string[]) => nsExec(node(s, 'a').ns, ['birdc', '-s', path.join(s.dir, 'a', 'bird.ctl'), ...args]);
  const hasVnRoute = async () => (await nsExec(node(s, 'a').ns, ['ip', '-j', 'route', 'get', node(s, 'b').vnAddr], { allowFail: true })).stdout.includes('"vl-b"');
  before(async () => {
    name = `gb${process.pid % 100000}${Math.floor(Math.random() * 100)}`.slice(0, 12);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-test-'));
    const file = path.join(dir, 'guard.yaml');
    fs.writeFileSync(file, topo(name));
    const out = await cli(['lab', 'up', file, '--timeout', '60']);
    const st = readState(name);
    if (out.code !== 0 || st === null) {
      await cli(['lab', 'down', name]);
      throw new Error(`lab up failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
    }
    s = st;
  });
  after(async () => {
    if (name !== '') await cli(['lab', 'down', name]);
  });

  test('every lab node runs with the guard installed', async () => {
    for (const n of ['a', 'b']) {
      const r = await cli(['lab', 'show', n, 'guard', '--json', '--lab', name]);
      assert.equal(r.code, 0, r.stderr);
      const g = JSON.parse(r.stdout) as Obj;
      assert.equal(g.installed, true, `node ${n}`);
      assert.deepEqual(g.prefixes, VN);
    }
    const text = await cli(['lab', 'show', 'a', 'guard', '--lab', name]);
    assert.match(text.stdout, /guard installed/);
  });

  test('birdc disable: OSPF routes withdrawn under a ping stream, nothing leaves in clear', async () => {
    const a = node(s, 'a');
    const peer = node(s, 'b').underlayAddr;
    await nsExec(a.ns, ['ip', 'route', 'add', 'default', 'via', peer, 'dev', 'eth0']);
    await nsExec(a.ns, ['ip', 'route', 'add', '10.10.0.0/16', 'via', peer, 'dev', 'eth0', 'metric', '10']);
    assert.equal(await vnPing(s, 'a', 'b', 3), 3, 'protected traffic passes with the covering routes in place');
    const l = await attack('installed, BIRD lab, birdc disable overlay', a.ns, 'eth0', a.vnAddr, node(s, 'b').vnAddr, async () => {
      const r = await birdc('disable', 'overlay');
      assert.match(r.stdout, /disabled/);
      await waitFor(async () => !(await hasVnRoute()), 'BIRD to withdraw the route', 2000);
    });
    assert.equal(l.cleartextVn, 0);
    assert.ok(l.dropped >= 30, `nft counted ${l.dropped} drops`);
    await birdc('enable', 'overlay');
    await waitFor(async () => (await hasVnRoute()) && (await vnPing(s, 'a', 'b', 1)) === 1, 'OSPF route back and VN ping answered', 30000);
  });
});
