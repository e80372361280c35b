// Lab scale without root: start windows and deadlines sized to lab and machine, the window
// itself, bounded concurrency, BIRD's control protocol, and the plan's parallel groups.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { labScale, mapLimit, probeConcurrency, StartWindow, waveCount, READY_BASE_MS, CONVERGE_BASE_MS } from '../../src/lab/waves.js';
import { parseBirdReply } from '../../src/lab/bird-ctl.js';
import { parseOspfNeighbors } from '../../src/lab/bird.js';
import { flatActions, planLab, type Action } from '../../src/lab/plan.js';
import { nodePaths, type LabState } from '../../src/lab/state.js';
import { loadTopology, parseTopology } from '../../src/lab/topology.js';
import { pingPlan } from '../../src/lab/converge.js';
import { parseProcRoutes, rssKiB } from '../../src/lab/node-proc.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

const tick = () => new Promise((r) => setImmediate(r));

test('labScale: small labs keep the base deadlines; 100 nodes on 2 cores get 6.25x', () => {
  const small = labScale(3, { parallelism: 2 });
  assert.equal(small.factor, 1);
  assert.equal(small.readyMs, READY_BASE_MS);
  assert.equal(small.convergeMs, CONVERGE_BASE_MS);
  assert.deepEqual(small.window, { iiptran: 8, bird: 16 });
  // The factor starts to grow above 8 nodes per core.
  assert.equal(labScale(16, { parallelism: 2 }).factor, 1);
  assert.equal(labScale(17, { parallelism: 2 }).factor, 17 / 16);
  const big = labScale(100, { parallelism: 2 });
  assert.equal(big.factor, 6.25);
  assert.equal(big.readyMs, 125_000);
  assert.equal(big.convergeMs, 375_000);
  // More cores: wider windows, and the same lab counts as smaller.
  const wide = labScale(100, { parallelism: 16 });
  assert.deepEqual(wide.window, { iiptran: 64, bird: 128 });
  assert.equal(wide.factor, 1);
  assert.equal(wide.readyMs, READY_BASE_MS);
});

test('labScale: --timeout sets the convergence wait; only a longer one stretches start-up deadlines', () => {
  const short = labScale(100, { parallelism: 2, timeoutS: 60 });
  assert.equal(short.convergeMs, 60_000);
  assert.equal(short.readyMs, 125_000, 'a short --timeout does not tighten start-up');
  const long = labScale(100, { parallelism: 2, timeoutS: 750 });
  assert.equal(long.convergeMs, 750_000);
  assert.equal(long.readyMs, 250_000, 'twice the default wait: twice the start-up deadline');
  assert.equal(labScale(3, { parallelism: 2, timeoutS: 120 }).readyMs, 40_000);
});

test('labScale: one core, and a machine that reports nonsense, still get a usable window', () => {
  const one = labScale(10, { parallelism: 1 });
  assert.deepEqual(one.window, { iiptran: 4, bird: 8 });
  assert.equal(one.factor, 10 / 8);
  assert.equal(labScale(10, { parallelism: 0 }).parallelism, 1);
  assert.ok(labScale(10, { parallelism: NaN }).parallelism >= 1);
  assert.ok(labScale(10).parallelism >= 1, 'defaults to os.availableParallelism()');
  assert.equal(probeConcurrency(1), 4);
  assert.equal(probeConcurrency(2), 8);
});

test('waveCount: lock-step waves a step would take', () => {
  assert.equal(waveCount(0, 4), 0);
  assert.equal(waveCount(3, 4), 1);
  assert.equal(waveCount(100, 4), 25);
  assert.equal(waveCount(101, 4), 26);
});

test('StartWindow admits at most size, in order, and slides as start-ups finish', async () => {
  const w = new StartWindow(2);
  const admitted: number[] = [];
  const entries = [0, 1, 2, 3, 4].map((i) => w.enter().then(() => admitted.push(i)));
  await tick();
  assert.deepEqual(admitted, [0, 1]);
  w.leave();
  await tick();
  assert.deepEqual(admitted, [0, 1, 2], 'one slot freed, one more admitted: no waiting for the whole wave');
  w.leave();
  w.leave();
  await tick();
  assert.deepEqual(admitted, [0, 1, 2, 3, 4]);
  await Promise.all(entries);
  assert.equal(w.peak, 2);
  assert.throws(() => new StartWindow(0), RangeError);
});

test('StartWindow.fail rejects waiting and later start-ups with the first error', async () => {
  const w = new StartWindow(1);
  await w.enter();
  const waiting = w.enter();
  const first = new Error('n1 did not answer');
  w.fail(first);
  w.fail(new Error('second'));
  await assert.rejects(waiting, (e) => e === first);
  await assert.rejects(w.enter(), (e) => e === first);
});

test('mapLimit: bounded, ordered, and stops taking work after a failure', async () => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 5 * (8 - x)));
    inFlight--;
    return x * 10;
  });
  assert.deepEqual(out, [10, 20, 30, 40, 50, 60, 70]);
  assert.equal(peak, 3);

  const started: number[] = [];
  let settled = 0;
  await assert.rejects(
    mapLimit([1, 2, 3, 4, 5, 6], 2, async (x) => {
      started.push(x);
      await new Promise((r) => setTimeout(r, x === 1 ? 1 : 30));
      settled++;
      if (x === 1) throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(started, [1, 2], 'nothing new starts after the failure');
  assert.equal(settled, 2, 'the call in flight settled before the error was thrown');
  assert.deepEqual(await mapLimit([], 4, async () => 1), []);
});

test('BIRD control protocol: replies parse into what birdc prints, with the final code', () => {
  assert.deepEqual(parseBirdReply('0001 BIRD 2.0.12 ready.\n'), { code: 1, text: 'BIRD 2.0.12 ready.' });
  const neighbors = '1013-overlay:\n Router ID   \tPri\t     State     \tDTime\tInterface  Router IP\n 10.10.0.2   \t  1\tFull/PtP  \t3.390\tvl-b       10.255.0.1\n0000 \n';
  const r = parseBirdReply(neighbors)!;
  assert.equal(r.code, 0);
  assert.deepEqual(parseOspfNeighbors(r.text), [{ routerId: '10.10.0.2', state: 'Full/PtP', iface: 'vl-b', address: '10.255.0.1' }]);
  assert.equal(parseBirdReply('1013-overlay:\n Router ID\n'), null, 'incomplete until the final line');
  assert.equal(parseBirdReply('9001 syntax error, unexpected CF_SYM_UNDEFINED\n')!.code, 9001);
  const status = parseBirdReply('1000-BIRD 2.0.12\n1011-Router ID is 10.9.9.9\n Hostname is vm\n0013 Daemon is up and running\n')!;
  assert.equal(status.code, 13);
  assert.deepEqual(status.text.split('\n'), ['BIRD 2.0.12', 'Router ID is 10.9.9.9', 'Hostname is vm', 'Daemon is up and running']);
});

test('plan: namespaces and underlay run as parallel groups of independent chains', () => {
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'ring.yaml')));
  const steps = planLab(m, { labDir: '/run/iiptran/lab/ring', cli: '/x/bin/iiptran.js', nodeBin: '/usr/bin/node', nodePaths: (n) => nodePaths('ring', m, n), liveness: true });
  const ns = steps.find((s) => s.name === 'namespaces')!.actions;
  assert.equal(ns.length, 1);
  const g = ns[0] as Extract<Action, { kind: 'group' }>;
  assert.equal(g.parallel, true);
  // One chain per namespace: created before anything runs in it.
  for (const chain of g.actions) {
    assert.equal(chain.kind, 'group');
    const c = (chain as Extract<Action, { kind: 'group' }>).actions;
    assert.equal(c[0]!.kind, 'netns');
    assert.equal(c.at(-1)!.kind, 'file');
  }
  const ul = steps.find((s) => s.name === 'underlay')!.actions as Extract<Action, { kind: 'group' }>[];
  assert.deepEqual(ul.map((x) => x.parallel), [true, true, true], 'bridges, then veths, then what needs them');
  const bridges = flatActions([{ name: 'x', title: '', actions: [ul[0]!] }]).map((a) => (a.kind === 'cmd' ? a.argv.join(' ') : ''));
  assert.ok(bridges.every((b) => b.includes(' br0')));
  const veth = (ul[1]!.actions[0] as Extract<Action, { kind: 'group' }>).actions.map((a) => (a.kind === 'cmd' ? a.argv.slice(0, 5).join(' ') : a.kind));
  assert.equal(veth[0], 'ip link add eth0 netns', 'a veth chain starts by creating the veth');
  assert.equal(veth.length, 5);
  // Daemons are spawned in node order, outside any group: the start windows pace them.
  assert.deepEqual(steps.find((s) => s.name === 'daemons')!.actions.map((a) => a.kind), m.nodes.map(() => 'spawn'));
});

test('pingPlan: every connected pair pinged once, senders balanced, NAT inside sends, answered pairs skipped', () => {
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'ring100.yaml')));
  const plan = pingPlan({ model: m });
  const seen = new Set<string>();
  for (const [from, tos] of plan) {
    for (const to of tos) {
      const key = [from, to].sort().join(' ');
      assert.ok(!seen.has(key), `pair ${key} pinged twice`);
      seen.add(key);
    }
  }
  assert.equal(seen.size, (100 * 99) / 2, 'one ping per unordered pair');
  const counts = [...plan.values()].map((t) => t.length);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 2, `balanced senders: ${Math.min(...counts)}..${Math.max(...counts)}`);

  const nat = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'nat.yaml')));
  const natPlan = pingPlan({ model: nat });
  const inside = nat.nodes.find((n) => n.behindNat !== null)!.name;
  assert.deepEqual(natPlan.get(inside)!.sort(), nat.nodes.filter((n) => n.name !== inside).map((n) => n.name).sort(), 'the node behind NAT pings both outside nodes');
  for (const [from, tos] of natPlan) if (from !== inside) assert.ok(!tos.includes(inside));

  // Pairs answered in an earlier round are not pinged again, whichever end recorded them.
  const again = pingPlan({ model: m }, new Map([['n1', ['n2', 'n3']], ['n5', ['n4']]]));
  const pairs = [...again].flatMap(([f, ts]) => ts.map((t) => [f, t].sort().join(' ')));
  assert.equal(pairs.length, 4950 - 3);
  for (const p of ['n1 n2', 'n1 n3', 'n4 n5']) assert.ok(!pairs.includes(p), p);

  // Separate components: no pings across them.
  const split = buildModel(parseTopology('name: t\nnodes: { a: {}, b: {}, c: {}, d: {} }\nsegments: { s: {} }\nunderlay: [[a, s], [b, s], [c, s], [d, s]]\nvlinks: [[a, b], [c, d]]\n'));
  assert.deepEqual([...pingPlan({ model: split })].filter(([, t]) => t.length > 0).map(([f, t]) => [f, t].flat().sort().join(' ')).sort(), ['a b', 'c d']);
});

test('/proc/net/route parses: prefixes, gateways, first hop of a multipath route; reject routes left out', () => {
  // Captured from a namespace holding `unreachable 10.10.0.0/16 metric 4000`, a /32 via a
  // gateway, a two-hop multipath /32, and a /31 link route.
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       ',
    '*\t00000A0A\t00000000\t0201\t0\t0\t4000\t0000FFFF\t0\t0\t0                                                                               ',
    'd0\t02000A0A\t0100FF0A\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0                                                                                 ',
    'd0\t03000A0A\t0100FF0A\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0                                                                                 ',
    'd0\t0000FF0A\t00000000\t0001\t0\t0\t0\tFEFFFFFF\t0\t0\t0                                                                                 ',
    '',
  ].join('\n');
  assert.deepEqual(parseProcRoutes(text, 'LE'), [
    { dst: '10.10.0.2/32', dev: 'd0', gateway: '10.255.0.1' },
    { dst: '10.10.0.3/32', dev: 'd0', gateway: '10.255.0.1' },
    { dst: '10.255.0.0/31', dev: 'd0' },
  ]);
  assert.deepEqual(parseProcRoutes('Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n eth0\t0A0A0000\t00000000\t0001\t0\t0\t0\tFFFFFF00\n', 'BE'), [{ dst: '10.10.0.0/24', dev: 'eth0' }]);
  assert.deepEqual(parseProcRoutes(''), []);
});

test('rssKiB reads a recorded daemon resident memory, and only from a process that still belongs to the lab', () => {
  // This test process stands in for a daemon: its command line names the repository, as a lab daemon's names the lab dir.
  const fake = (dir: string) => ({ dir, processes: [{ pid: process.pid, role: 'iiptran' as const, node: 'a', ns: 'x', log: '' }] }) as unknown as LabState;
  const kib = rssKiB(fake(REPO_ROOT), 'a', 'iiptran');
  assert.ok(kib !== null && kib * 1024 > 10 * 2 ** 20 && kib * 1024 < process.memoryUsage().rss * 2, `${kib} KiB`);
  assert.equal(rssKiB(fake('/run/iiptran/lab/elsewhere'), 'a', 'iiptran'), null, 'a reused pid is not the daemon');
  assert.equal(rssKiB(fake(REPO_ROOT), 'a', 'bird'), null);
});
