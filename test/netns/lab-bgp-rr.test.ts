// topologies/bgp-rr.yaml through the real CLI: iBGP with two route reflectors, dual stack. One
// AS; a (FRR) and c (BIRD) reflect, b (BIRD) and d (FRR) are clients of both; a session per
// vlink and family (IPv6 unicast over the IPv6 vlink addresses), BFD on each. Both families'
// sessions are Established at both ends of every vlink; a client's prefix reaches the other
// client reflected (ORIGINATOR_ID the first client, CLUSTER_LIST a reflector), in both daemons
// and both families, and is installed; cutting a-b drops b's sessions with a before the hold
// time (BFD) and b's traffic to d moves from the reflector a to c (outage measured per family).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, labUp, node, pingStream, routeDev, vnPing, waitFor } from './lab-harness.js';
import { bothMatrices, ping6 } from './dual-stack-checks.js';
import { run } from '../../src/lab/netns.js';
import type { LabState } from '../../src/lab/state.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'fping', 'bird', 'birdc', 'zebra', 'bgpd', 'bfdd', 'vtysh']);

describe('lab: iBGP with route reflectors, dual stack, BIRD and FRR', { skip }, () => {
  let name = '';
  let s: LabState;
  const vtysh = async (n: string, cmd: string) => JSON.parse((await run('vtysh', ['--vty_socket', s.nodes[n]!.frrDir!, '-c', cmd])).stdout) as Obj;
  const birdc = async (n: string, ...cmd: string[]) => (await run('birdc', ['-s', s.nodes[n]!.birdSocket!, ...cmd])).stdout;
  before(async () => {
    const r = await labUp('bgp-rr.yaml', 'rr');
    name = r.name;
    s = r.state;
    assert.match(r.out.stdout, /start BIRD \(iBGP \+ MP-BGP IPv6 \+ BFD\) on 2 nodes, start FRR \(iBGP \+ MP-BGP IPv6 \+ BFD\) on 2 nodes/);
  });
  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
    }
  });

  test('IPv4 and IPv6 sessions are Established at both ends of every vlink, in lab status and in the daemons', async () => {
    const st = JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout) as Obj;
    for (const v of st.vlinks) assert.deepEqual([v.bgpA, v.bgpB], ['Established', 'Established'], `${v.a}-${v.b}`);
    for (const n of st.nodes) for (const x of n.sessions) assert.deepEqual([x.state, x.state6], ['Established', 'Established'], `${n.node} -> ${x.peer}`);
    const sum = await vtysh('a', 'show bgp summary json');
    for (const af of ['ipv4Unicast', 'ipv6Unicast']) {
      assert.deepEqual(Object.values(sum[af].peers).map((p) => (p as Obj).state), ['Established', 'Established', 'Established'], af);
    }
    // Every session iBGP, in one AS.
    assert.deepEqual(new Set(Object.values(sum.ipv4Unicast.peers).map((p) => (p as Obj).remoteAs)), new Set([65000]));
    const protos = await birdc('c', 'show', 'protocols');
    for (const p of ['bgp_a', 'bgp6_a', 'bgp_b', 'bgp6_b', 'bgp_d', 'bgp6_d']) assert.match(protos, new RegExp(`${p}\\s+BGP\\s+\\S+\\s+up\\s+\\S+\\s+Established`), protos);
  });

  test('a client\'s prefix reaches the other client reflected by both reflectors, both families, and is installed', async () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => node(s, n));
    // FRR client d: b's prefix arrives only reflected (d has no vlink to b), from a and from c.
    for (const [cmd, pfx] of [['show ip bgp', b!.vn], ['show bgp ipv6 unicast', b!.vn6!]] as const) {
      const paths = (await vtysh('d', `${cmd} ${pfx} json`)).paths as Obj[];
      assert.deepEqual(paths.map((p) => p.originatorId), [b!.vnAddr, b!.vnAddr], `${pfx}: ${JSON.stringify(paths)}`);
      assert.deepEqual(paths.map((p) => p.clusterList.list.join(',')).sort(), [a!.vnAddr, c!.vnAddr], pfx);
      assert.ok(paths.every((p) => p.peer.type === 'internal'));
    }
    // BIRD client b: d's prefix likewise, with the reflector as next hop (next-hop-self).
    for (const pfx of [d!.vn, d!.vn6!]) {
      const out = await birdc('b', 'show', 'route', 'for', pfx, 'all');
      assert.equal([...out.matchAll(new RegExp(`BGP\\.originator_id: ${d!.vnAddr.replace(/\./g, '\\.')}`, 'g'))].length, 2, out);
      assert.match(out, new RegExp(`BGP\\.cluster_list: ${a!.vnAddr.replace(/\./g, '\\.')}`));
      assert.match(out, new RegExp(`BGP\\.cluster_list: ${c!.vnAddr.replace(/\./g, '\\.')}`));
    }
    assert.match((await run('ip', ['-n', b!.ns, 'route', 'show', d!.vnAddr])).stdout, /via \S+ dev vl-[ac] proto bird src 10\.10\.0\.2/);
    assert.match((await run('ip', ['-n', b!.ns, '-6', 'route', 'show', d!.vnAddr6!])).stdout, new RegExp(`dev vl-[ac] proto bird src ${b!.vnAddr6}`));
    assert.match((await run('ip', ['-n', d!.ns, '-6', 'route', 'show', b!.vnAddr6!])).stdout, new RegExp(`dev vl-[ac] proto bgp src ${d!.vnAddr6}`));
    await bothMatrices(s);
  });

  test('a-b cut: b\'s sessions with a drop before the hold time (BFD), b reaches d through c in both families; restore: through a again', async () => {
    for (const f of [4, 6] as const) assert.equal(await routeDev(s, 'b', 'd', f), 'vl-a', `IPv${f} b->d via the reflector a (lower neighbour address)`);
    const s4 = pingStream(s, 'b', 'd', 4);
    const s6 = pingStream(s, 'b', 'd', 6);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'down', '--lab', name])).code, 0);
    const downMs = await waitFor(async () => !/bgp_a\s+BGP\s+\S+\s+up/.test(await birdc('b', 'show', 'protocols')), "b's IPv4 session with a down", 10000);
    const moved: Record<number, number> = {};
    await waitFor(async () => {
      for (const f of [4, 6] as const) if (moved[f] === undefined && (await routeDev(s, 'b', 'd', f)) === 'vl-c') moved[f] = Date.now() - t0;
      return moved[4] !== undefined && moved[6] !== undefined;
    }, 'b->d via vl-c, both families', 20000);
    await new Promise((r) => setTimeout(r, 1500));
    const [r4, r6] = [await s4.stop(), await s6.stop()];
    console.log(`MEASURED ibgp-rr failover outage: IPv4 ${r4.outageMs} ms (${r4.replies}/${r4.sent}), IPv6 ${r6.outageMs} ms (${r6.replies}/${r6.sent}); session down after ${downMs} ms, routes moved after ${moved[4]} / ${moved[6]} ms`);
    assert.ok(downMs < 2500, `session down after ${downMs} ms: BFD (300 ms) or carrier-off should beat the 3 s hold time`);
    for (const r of [r4, r6]) {
      assert.ok(r.outageMs > 0 && r.replies > 50, JSON.stringify(r));
      assert.ok(r.outageMs < 5000, `outage ${r.outageMs} ms`);
    }
    assert.equal(await vnPing(s, 'b', 'd'), 3, 'IPv4 b->d through c');
    assert.equal(await ping6(s, 'b', 'd'), 3, 'IPv6 b->d through c');
    // a is reached through c too: c reflects a non-client's routes to its clients.
    assert.equal(await routeDev(s, 'b', 'a', 6), 'vl-c');
    assert.equal(await ping6(s, 'b', 'a'), 3, 'IPv6 b->a through c');

    const t1 = Date.now();
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'up', '--lab', name])).code, 0);
    await waitFor(async () => (await routeDev(s, 'b', 'd', 4)) === 'vl-a' && (await routeDev(s, 'b', 'd', 6)) === 'vl-a', 'b->d back via vl-a, both families', 30000);
    console.log(`MEASURED ibgp-rr path through a restored after: ${Date.now() - t1} ms`);
    assert.equal(await vnPing(s, 'b', 'd'), 3);
    assert.equal(await ping6(s, 'b', 'd'), 3);
  });
});
