// topologies/frr-triangle.yaml through the real CLI: unmodified FRR (zebra, ospfd, bfdd, run as
// the frr user from each node's own directory) forms OSPF Full on every vlink, every VN prefix
// answers, `lab show a routes --json` joins FRR's routes (kernel nexthop objects) with vlink,
// outer header and SA, also when the kernel sends only the nexthop id, a cut reroutes through
// the third node (outage measured), and `lab down` leaves nothing, also after a crashed zebra.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, labUp, node, pingStream, routeDev, vnPing, waitFor } from './lab-harness.js';
import { pingMatrix } from '../../src/lab/converge.js';
import { nsExec, run } from '../../src/lab/netns.js';
import type { LabState } from '../../src/lab/state.js';
import { FRR_STATE_DIR } from '../../src/lab/frr.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'fping', 'zebra', 'ospfd', 'bfdd', 'vtysh']);

/** FRR's own view, through vtysh (not the lab's vty client). */
async function vtysh(s: LabState, n: string, cmd: string): Promise<Obj> {
  const r = await run('vtysh', ['--vty_socket', s.nodes[n]!.frrDir!, '-c', cmd]);
  return JSON.parse(r.stdout) as Obj;
}

function frrPids(s: LabState, n: string): number[] {
  return s.processes.filter((p) => p.node === n && p.role === 'frr').map((p) => p.pid);
}

describe('lab: triangle with FRR OSPF', { skip }, () => {
  let name = '';
  let s: LabState;
  before(async () => {
    const r = await labUp('frr-triangle.yaml', 'frr');
    name = r.name;
    s = r.state;
    assert.match(r.out.stdout, /routing: start FRR \(OSPFv2 \+ BFD\) on 3 nodes/);
    assert.match(r.out.stdout, /routing converged in/);
  });
  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
      const left = fs.existsSync(FRR_STATE_DIR) ? fs.readdirSync(FRR_STATE_DIR).filter((d) => d.startsWith(s.model.nsPrefix)) : [];
      assert.deepEqual(left, [], `FRR state dirs left in ${FRR_STATE_DIR}`);
    }
  });

  test('FRR runs as the frr user from its own directory, three daemons per node', () => {
    for (const n of ['a', 'b', 'c']) {
      const pids = frrPids(s, n);
      assert.equal(pids.length, 3, `${n}: zebra, bfdd, ospfd`);
      for (const pid of pids) {
        const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
        assert.equal(Number(uid), Number(/^frr:x:(\d+):/m.exec(fs.readFileSync('/etc/passwd', 'utf8'))![1]), `${n} pid ${pid} runs as frr`);
      }
      const st = fs.statSync(s.nodes[n]!.frrDir!);
      assert.equal(st.mode & 0o777, 0o750);
    }
  });

  test('OSPF is Full on every vlink, in lab status and in FRR itself; BFD sessions up', async () => {
    const st = JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout) as Obj;
    for (const n of st.nodes) {
      assert.equal(n.frr, true, `${n.node}: every FRR daemon answers`);
      assert.equal(n.neighbors.length, 2, `${n.node} has 2 neighbours`);
      for (const nb of n.neighbors) assert.match(nb.state, /^Full/, `${n.node} ${nb.iface}`);
      assert.ok(n.rssKiB.frr > 0, 'FRR memory is reported');
    }
    for (const v of st.vlinks) {
      assert.deepEqual([v.stateA, v.stateB], ['up', 'up']);
      assert.match(`${v.ospfA} ${v.ospfB}`, /^Full\S* Full/);
    }
    const nb = await vtysh(s, 'a', 'show ip ospf neighbor json');
    assert.deepEqual(Object.keys(nb.neighbors).sort(), [node(s, 'b').vnAddr, node(s, 'c').vnAddr]);
    // BFD starts once OSPF is Full and sends at 1/s until Up (RFC 5880 §6.8.3): it may trail convergence by a second or two.
    const peers = async () => JSON.parse((await run('vtysh', ['--vty_socket', s.nodes['a']!.frrDir!, '-c', 'show bfd peers json'])).stdout) as Obj[];
    const ms = await waitFor(async () => (await peers()).filter((p) => p.status === 'up').length === 2, 'both BFD sessions of a up', 10000);
    console.log(`MEASURED frr triangle BFD up ${ms} ms after lab up`);
    const bfd = await peers();
    assert.equal(bfd.length, 2);
    for (const p of bfd) {
      assert.equal(p.status, 'up', `BFD with ${p.peer}`);
      assert.deepEqual([p['receive-interval'], p['transmit-interval'], p['detect-multiplier']], [100, 100, 3]);
    }
    const text = (await cli(['lab', 'status', name])).stdout;
    assert.match(text, /iiptran:ok frr:ok/);
  });

  test('every VN prefix is reachable from every node, sourced from the VN address', async () => {
    const reach = await pingMatrix(s);
    for (const n of s.model.nodes) assert.equal(reach.get(n.name)!.length, 2, `${n.name} reaches ${reach.get(n.name)}`);
    const r = await nsExec(node(s, 'a').ns, ['ip', '-j', 'route', 'get', node(s, 'c').vnAddr]);
    assert.equal((JSON.parse(r.stdout) as Obj[])[0]!.prefsrc, node(s, 'a').vnAddr, 'the route-map set the source');
  });

  test('lab show a routes --json joins FRR routes (nexthop objects) with vlink, outer header and SA, also with only the id from the kernel', async () => {
    const check = async (what: string) => {
      const routes = JSON.parse((await cli(['lab', 'show', 'a', 'routes', '--json', '--lab', name])).stdout) as Obj;
      for (const peer of ['b', 'c']) {
        const r = routes.routes.find((x: Obj) => x.dst === node(s, peer).vn);
        assert.ok(r, `${what}: route to ${peer}`);
        assert.equal(r.protocol, 'ospf');
        assert.equal(typeof r.nhid, 'number', `${what}: zebra installed a nexthop object`);
        assert.equal(r.vlink, `vl-${peer}`, `${what}: joined with the vlink`);
        assert.equal(r.gateway, node(s, 'a').vlinks.find((v) => v.peer === peer)!.peerLinkAddr);
        assert.equal(r.outer.dst, node(s, peer).underlayAddr);
        assert.equal(r.saOut.vlink, `vl-${peer}`);
        assert.equal(r.saOut.keying, 'ikev2');
      }
    };
    await check('compat mode');
    // Without compat mode the kernel sends FRR's routes with RTA_NH_ID and nothing else.
    const ns = node(s, 'a').ns;
    await nsExec(ns, ['sysctl', '-q', '-w', 'net.ipv4.nexthop_compat_mode=0']);
    try {
      const raw = (await nsExec(ns, ['ip', 'route', 'show', node(s, 'b').vnAddr])).stdout;
      assert.doesNotMatch(raw, /dev/, `the kernel now gives only the id: ${raw}`);
      await check('id only');
    } finally {
      await nsExec(ns, ['sysctl', '-q', '-w', 'net.ipv4.nexthop_compat_mode=1']);
    }
  });

  test('A-B underlay cut: traffic reroutes through C; restore: the direct path returns', async () => {
    assert.equal(await routeDev(s, 'a', 'b'), 'vl-b');
    const stream = pingStream(s, 'a', 'b');
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'down', '--lab', name])).code, 0);
    await waitFor(async () => (await routeDev(s, 'a', 'b')) === 'vl-c', 'A->B route via vl-c', 20000);
    const rerouteMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1500));
    const res = await stream.stop();
    console.log(`MEASURED frr triangle failover outage: ${res.outageMs} ms (route switched after ${rerouteMs} ms; ${res.replies}/${res.sent} replies)`);
    assert.ok(res.outageMs > 0 && res.replies > 50);
    assert.ok(res.outageMs < 5000, `outage ${res.outageMs} ms`);
    assert.equal(await vnPing(s, 'a', 'b'), 3, 'A->B works through C');
    const routes = JSON.parse((await cli(['lab', 'show', 'a', 'routes', '--json', '--lab', name])).stdout) as Obj;
    assert.equal(routes.routes.find((x: Obj) => x.dst === node(s, 'b').vn).vlink, 'vl-c');

    const t1 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'up', '--lab', name])).code, 0);
    await waitFor(async () => (await routeDev(s, 'a', 'b')) === 'vl-b', 'A->B back on vl-b', 30000);
    console.log(`MEASURED frr triangle direct path restored after: ${Date.now() - t1} ms`);
    assert.equal(await vnPing(s, 'a', 'b'), 3);
  });

  test('a killed zebra shows in lab status; lab down still removes everything (checked in after)', async () => {
    const zebra = s.processes.find((p) => p.node === 'c' && p.role === 'frr' && fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('/zebra'))!;
    process.kill(zebra.pid, 'SIGKILL');
    await waitFor(async () => JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout).nodes.find((n: Obj) => n.node === 'c').frr === false, 'c reported with an FRR daemon down', 10000);
    assert.match((await cli(['lab', 'status', name])).stdout, /frr:DOWN/);
  });
});

describe('lab: FRR lab failing at converge is rolled back', { skip }, () => {
  test('nothing of it survives, FRR processes and state dirs included', async () => {
    const { topologyCopy } = await import('./lab-harness.js');
    const t = topologyCopy('frr-triangle.yaml', 'frb');
    try {
      const out = await cli(['lab', 'up', t.file], { IIPTRAN_LAB_FAIL_AT: 'converge' });
      assert.notEqual(out.code, 0);
      assert.match(out.stdout + out.stderr, /injected failure at step "converge"/);
      await assertGone(t.name);
      const left = fs.existsSync(FRR_STATE_DIR) ? fs.readdirSync(FRR_STATE_DIR).filter((d) => d.startsWith(`iil-${t.name}-`)) : [];
      assert.deepEqual(left, []);
    } finally {
      await cli(['lab', 'down', t.name]);
    }
  });
});
