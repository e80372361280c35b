// A 24-node lab through the real CLI, sized for one core (`--cores 1`: at most 4 iiptran
// start-ups at once), so the start window is exercised on any machine. The daemons' own
// records prove the pacing: no more than 4 were ever between their spawn (the kernel's process
// start time) and "control socket listening" (their log) at once. Routing converges with the
// full VN ping matrix (552 pairs), BFD (the default) is up on every vlink, and nothing of the
// lab survives `lab down`. The 100-node measurement (README, "Lab scale") is not a suite test.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, topologyCopy } from './lab-harness.js';
import { labDir, readState, type LabState } from '../../src/lab/state.js';
import { birdCommand } from '../../src/lab/bird-ctl.js';

const skip = netnsSkip(['ip', 'sysctl', 'nft', 'bird', 'fping']);
const NODES = 24;
const WINDOW = 4;

/** A ring of `nodes` with a chord every 8 nodes, on segments of 8 joined by a router. */
function ringTopology(name: string, nodes: number): string {
  const segs = Math.ceil(nodes / 8);
  const lines = [`name: ${name}`, 'routing: bird', 'keying: ikev2', 'nodes:'];
  for (let i = 1; i <= nodes; i++) lines.push(`  n${i}: {}`);
  lines.push('routers:', '  core: {}', 'segments:');
  for (let g = 1; g <= segs; g++) lines.push(`  s${g}: {}`);
  lines.push('underlay:');
  for (let g = 1; g <= segs; g++) lines.push(`  - [core, s${g}]`);
  for (let i = 1; i <= nodes; i++) lines.push(`  - [n${i}, s${Math.ceil(i / 8)}]`);
  lines.push('vlinks:');
  for (let i = 1; i <= nodes; i++) lines.push(`  - [n${i}, n${(i % nodes) + 1}]`);
  for (let i = 1; i <= nodes; i += 8) lines.push(`  - [n${i}, n${((i + 11) % nodes) + 1}]`);
  return lines.join('\n') + '\n';
}

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function topologyFile(name: string, nodes: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-test-'));
  tmpDirs.push(dir);
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, ringTopology(name, nodes));
  return file;
}

/** Wall-clock ms at which a process started, from /proc (10 ms ticks since boot). */
function startedAt(pid: number): number {
  const uptimeS = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const bootMs = Date.now() - uptimeS * 1000;
  const ticks = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
  return bootMs + ticks * 10;
}

function listeningAt(log: string): number {
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    if (line.includes('"control socket listening"')) return (JSON.parse(line) as { time: number }).time;
  }
  throw new Error(`${log} never says "control socket listening"`);
}

/** Most intervals open at any one instant. */
function maxOverlap(iv: [number, number][]): number {
  const ev = iv.flatMap(([a, b]) => [[a, 1], [b, -1]] as [number, number][]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of ev) max = Math.max(max, (cur += d));
  return max;
}

describe(`lab: ${NODES} nodes started through a window of ${WINDOW}`, { skip }, () => {
  const name = `scale${process.pid % 10000}`;
  let s: LabState;
  let out = '';
  before(async () => {
    const file = topologyFile(name, NODES);
    const t0 = Date.now();
    const r = await cli(['lab', 'up', file, '--cores', '1'], {}, 300000);
    out = r.stdout;
    console.log(`MEASURED lab up of ${NODES} nodes (--cores 1): ${Date.now() - t0} ms, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    for (const l of out.split('\n').filter((x) => /done in|converged after/.test(x))) console.log(`MEASURED ${l.trim()}`);
    const st = readState(name);
    if (r.code !== 0 || st === null) {
      await cli(['lab', 'down', name]);
      throw new Error(`lab up failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    s = st;
  });
  after(async () => {
    await cli(['lab', 'down', name]);
    await assertGone(name);
  });

  test('lab up sized itself for one core and reports the window it kept', () => {
    assert.match(out, /sizing for 1 core: at most 4 iiptran and 8 BIRD start-ups at once, 60 s for each to answer, 180 s to converge/);
    const m = /24 started, at most (\d+) at once \(window 4, 6 waves\)/.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[1]), WINDOW);
    assert.match(out, /lab \w+ is up: routing converged in/);
  });

  test(`the daemons themselves show no more than ${WINDOW} were starting at once`, () => {
    const daemons = s.processes.filter((p) => p.role === 'iiptran');
    assert.equal(daemons.length, NODES);
    // Tick rounding (10 ms) could make a spawn look earlier than it was: shrink each interval's start by 20 ms.
    const iv = daemons.map((p): [number, number] => [startedAt(p.pid) + 20, listeningAt(p.log)]);
    for (const [a, b] of iv) assert.ok(b > a - 20, 'listening after start');
    assert.ok(maxOverlap(iv) <= WINDOW, `at most ${WINDOW} start-ups overlapped, saw ${maxOverlap(iv)}`);
    // And they were paced, not serialised: the first and the last started well apart.
    const starts = iv.map(([a]) => a).sort((x, y) => x - y);
    assert.ok(starts.at(-1)! - starts[0]! > 1000, 'start-ups spread over time');
  });

  test('every vlink has a Full OSPF adjacency and an Up BFD session at both ends', async () => {
    const st = JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout) as { vlinks: { stateA: string; stateB: string; ospfA: string; ospfB: string }[] };
    assert.equal(st.vlinks.length, NODES + 3);
    for (const v of st.vlinks) {
      assert.deepEqual([v.stateA, v.stateB], ['up', 'up']);
      assert.match(`${v.ospfA} ${v.ospfB}`, /^Full\/PtP Full\/PtP$/);
    }
    let sessions = 0;
    for (const n of s.model.nodes) {
      const r = await birdCommand(s.nodes[n.name]!.birdSocket!, 'show bfd sessions');
      const up = r.text.split('\n').filter((l) => /\svl-\S+\s+Up\s/.test(l));
      assert.equal(up.length, n.vlinks.length, `${n.name}: ${r.text}`);
      sessions += up.length;
    }
    assert.equal(sessions, 2 * (NODES + 3));
  });
});

describe('lab: a daemon failing inside the window stops the step and rolls back', { skip }, () => {
  const name = `scalef${process.pid % 10000}`;
  after(async () => {
    await cli(['lab', 'down', name]);
    await assertGone(name);
  });

  test('n6 cannot listen: no daemon starts after its failure, nothing is left', async () => {
    const file = topologyFile(name, 16);
    // A directory where n6's control socket goes: its daemon fails as it starts listening.
    fs.mkdirSync(path.join(labDir(name), 'n6', 'iiptran.sock'), { recursive: true });
    const r = await cli(['lab', 'up', file, '--cores', '1'], {}, 120000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /iiptran on node n6 \(pid \d+\) exited with \d+ during start-up/);
    assert.doesNotMatch(r.stdout, /16 started/);
    // Spawned in node order; n6 holds a slot until it fails, about one start-up, while the
    // other slots turn over. Then nothing more starts: n16 never did, and every daemon that did
    // start (all but n6, which exited) was stopped by the rollback.
    const m = /stopped starting daemons: (\d+) of 16 had been started/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const started = Number(m[1]);
    assert.ok(started >= 6 && started < 16, `${started} started`);
    assert.match(r.stdout, new RegExp(`removed 19 namespaces and ${started - 1} processes`));
    await assertGone(name);
  });
});

test('lab up refuses a --cores or --timeout that cannot size anything, before creating anything', { skip }, async () => {
  for (const [args, re] of [
    [['--cores', '0'], /--cores must be a positive integer \(got 0\)/],
    [['--cores', '1.5'], /--cores must be a positive integer \(got 1\.5\)/],
    [['--timeout', '-5'], /--timeout must be a positive number of seconds \(got -5\)/],
  ] as const) {
    const t = topologyCopy('pair.yaml', 'args');
    const r = await cli(['lab', 'up', t.file, ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /IIPTRAN_ERR_USAGE/);
    await assertGone(t.name);
  }
});
