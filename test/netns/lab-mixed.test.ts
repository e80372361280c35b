// topologies/mixed.yaml through the real CLI: BIRD on a, FRR on b and c, one OSPF area. The
// vlinks a-b and a-c join the two daemons: OSPF Full and BFD Up at both ends of each (seen by
// BIRD and by FRR), every VN prefix answers, and cutting a-b reroutes a's traffic through c.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, labUp, node, pingStream, routeDev, vnPing, waitFor } from './lab-harness.js';
import { pingMatrix } from '../../src/lab/converge.js';
import { run } from '../../src/lab/netns.js';
import type { LabState } from '../../src/lab/state.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'fping', 'bird', 'birdc', 'zebra', 'ospfd', 'bfdd', 'vtysh']);

describe('lab: mixed BIRD and FRR OSPF', { skip }, () => {
  let name = '';
  let s: LabState;
  before(async () => {
    const r = await labUp('mixed.yaml', 'mix');
    name = r.name;
    s = r.state;
    assert.match(r.out.stdout, /start BIRD \(OSPFv2 \+ BFD\) on 1 node, start FRR \(OSPFv2 \+ BFD\) on 2 nodes/);
  });
  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
    }
  });

  test('OSPF Full at both ends of every vlink, BIRD-FRR ones included', async () => {
    const st = JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout) as Obj;
    assert.deepEqual(st.nodes.map((n: Obj) => [n.node, n.routing, n.bird, n.frr]), [['a', 'bird', true, null], ['b', 'frr', null, true], ['c', 'frr', null, true]]);
    for (const v of st.vlinks) {
      assert.match(v.ospfA, /^Full/, `${v.a}-${v.b} at ${v.a}`);
      assert.match(v.ospfB, /^Full/, `${v.a}-${v.b} at ${v.b}`);
    }
    // And from the daemons themselves: BIRD sees FRR's router ids, FRR sees BIRD's.
    const bird = (await run('birdc', ['-s', s.nodes['a']!.birdSocket!, 'show', 'ospf', 'neighbors'])).stdout;
    for (const p of ['b', 'c']) assert.match(bird, new RegExp(`${node(s, p).vnAddr.replace(/\./g, '\\.')}\\s+\\d+\\s+Full`));
    const frr = JSON.parse((await run('vtysh', ['--vty_socket', s.nodes['b']!.frrDir!, '-c', 'show ip ospf neighbor json'])).stdout) as Obj;
    assert.match(frr.neighbors[node(s, 'a').vnAddr][0].nbrState, /^Full/);
  });

  test('BFD runs between BIRD and FRR', async () => {
    const peers = async () => JSON.parse((await run('vtysh', ['--vty_socket', s.nodes['b']!.frrDir!, '-c', 'show bfd peers json'])).stdout) as Obj[];
    const ms = await waitFor(async () => (await peers()).some((p) => p.peer === node(s, 'a').vlinks.find((v) => v.peer === 'b')!.address.split('/')[0] && p.status === 'up'), "b's BFD session with BIRD on a up", 10000);
    console.log(`MEASURED mixed BFD (FRR b <-> BIRD a) up ${ms} ms after lab up`);
    const bird = (await run('birdc', ['-s', s.nodes['a']!.birdSocket!, 'show', 'bfd', 'sessions'])).stdout;
    assert.match(bird, /vl-b\s+Up/, bird);
  });

  test('every VN prefix is reachable from every node', async () => {
    const reach = await pingMatrix(s);
    for (const n of s.model.nodes) assert.equal(reach.get(n.name)!.length, 2, `${n.name} reaches ${reach.get(n.name)}`);
  });

  test('A-B cut (BIRD-FRR vlink): A reroutes through C, B back through C; restore brings the direct path back', async () => {
    assert.equal(await routeDev(s, 'a', 'b'), 'vl-b');
    assert.equal((await run('ip', ['-n', node(s, 'a').ns, 'route', 'show', node(s, 'b').vnAddr])).stdout.includes('proto bird'), true);
    const stream = pingStream(s, 'a', 'b');
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'down', '--lab', name])).code, 0);
    await waitFor(async () => (await routeDev(s, 'a', 'b')) === 'vl-c' && (await routeDev(s, 'b', 'a')) === 'vl-c', 'A<->B via C in both directions', 20000);
    const rerouteMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1500));
    const res = await stream.stop();
    console.log(`MEASURED mixed failover outage: ${res.outageMs} ms (both directions rerouted after ${rerouteMs} ms; ${res.replies}/${res.sent} replies)`);
    assert.ok(res.outageMs > 0 && res.replies > 50);
    assert.ok(res.outageMs < 5000, `outage ${res.outageMs} ms`);
    assert.equal(await vnPing(s, 'a', 'b'), 3, 'A->B works through C');

    const t1 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'up', '--lab', name])).code, 0);
    await waitFor(async () => (await routeDev(s, 'a', 'b')) === 'vl-b', 'A->B back on vl-b', 30000);
    console.log(`MEASURED mixed direct path restored after: ${Date.now() - t1} ms`);
    assert.equal(await vnPing(s, 'a', 'b'), 3);
  });
});
