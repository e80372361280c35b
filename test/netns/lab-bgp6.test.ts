// topologies/bgp.yaml made dual stack (`ipv6: true`) through the real CLI: eBGP carries IPv6
// unicast over a second session per vlink between the IPv6 vlink addresses (MP-BGP), FRR and
// BIRD facing each other on every vlink. Both families' sessions are Established; an IPv6 prefix
// two vlinks away arrives re-advertised (AS path of two) in both daemons and is installed with
// the IPv6 VN source; a cut moves IPv6 traffic round the ring like IPv4 (outages measured).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, labUp, node, pingStream, routeDev, waitFor } from './lab-harness.js';
import { bothMatrices, ping6 } from './dual-stack-checks.js';
import { run } from '../../src/lab/netns.js';
import type { LabState } from '../../src/lab/state.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'fping', 'bird', 'birdc', 'zebra', 'bgpd', 'bfdd', 'vtysh']);

describe('lab: eBGP ring, dual stack (MP-BGP IPv6), BIRD and FRR', { skip }, () => {
  let name = '';
  let s: LabState;
  const vtysh = async (n: string, cmd: string) => JSON.parse((await run('vtysh', ['--vty_socket', s.nodes[n]!.frrDir!, '-c', cmd])).stdout) as Obj;
  const birdc = async (n: string, ...cmd: string[]) => (await run('birdc', ['-s', s.nodes[n]!.birdSocket!, ...cmd])).stdout;
  before(async () => {
    const r = await labUp('bgp.yaml', 'bgp6', {}, (t) => t.replace(/^keying: ikev2$/m, 'keying: ikev2\nipv6: true'));
    name = r.name;
    s = r.state;
    assert.match(r.out.stdout, /start BIRD \(eBGP \+ MP-BGP IPv6 \+ BFD\) on 2 nodes/);
  });
  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
    }
  });

  test('IPv6 sessions Established beside the IPv4 ones; IPv6 prefixes re-advertised two vlinks on and installed', async () => {
    const st = JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout) as Obj;
    for (const n of st.nodes) for (const x of n.sessions) assert.deepEqual([x.state, x.state6], ['Established', 'Established'], `${n.node} -> ${x.peer}`);
    const c = node(s, 'c');
    const paths = ((await vtysh('a', `show bgp ipv6 unicast ${c.vn6} json`)).paths as Obj[]).map((p) => p.aspath.string as string).sort();
    assert.deepEqual(paths, ['65002 65003', '65004 65003']);
    assert.match((await run('ip', ['-n', node(s, 'a').ns, '-6', 'route', 'show', c.vnAddr6!])).stdout, new RegExp(`dev vl-[bd] proto bgp src ${node(s, 'a').vnAddr6}`));
    const birdD = await birdc('b', 'show', 'route', 'for', node(s, 'd').vn6!, 'all');
    assert.match(birdD, /BGP\.as_path: 65001 65004/);
    assert.match(birdD, /BGP\.as_path: 65003 65004/);
    assert.match((await run('ip', ['-n', node(s, 'b').ns, '-6', 'route', 'show', node(s, 'd').vnAddr6!])).stdout, new RegExp(`proto bird src ${node(s, 'b').vnAddr6}`));
    await bothMatrices(s);
  });

  test('A-B cut: both families go round the ring (outages measured), and come back', async () => {
    for (const f of [4, 6] as const) assert.equal(await routeDev(s, 'a', 'b', f), 'vl-b');
    const s4 = pingStream(s, 'a', 'b', 4);
    const s6 = pingStream(s, 'a', 'b', 6);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'down', '--lab', name])).code, 0);
    await waitFor(async () => (await routeDev(s, 'a', 'b', 4).catch(() => null)) === 'vl-d' && (await routeDev(s, 'a', 'b', 6).catch(() => null)) === 'vl-d', 'A->B via vl-d, both families', 20000);
    await new Promise((r) => setTimeout(r, 1500));
    const [r4, r6] = [await s4.stop(), await s6.stop()];
    console.log(`MEASURED ebgp dual-stack failover outage: IPv4 ${r4.outageMs} ms (${r4.replies}/${r4.sent}), IPv6 ${r6.outageMs} ms (${r6.replies}/${r6.sent})`);
    for (const r of [r4, r6]) {
      assert.ok(r.outageMs > 0 && r.replies > 50, JSON.stringify(r));
      assert.ok(r.outageMs < 5000, `outage ${r.outageMs} ms`);
    }
    assert.equal(await ping6(s, 'a', 'b'), 3, 'IPv6 A->B round the ring');
    assert.equal((await cli(['lab', 'link', 'a', 'b', 'up', '--lab', name])).code, 0);
    await waitFor(async () => (await routeDev(s, 'a', 'b', 6)) === 'vl-b', 'IPv6 A->B back on vl-b', 30000);
    assert.equal(await ping6(s, 'a', 'b'), 3);
  });
});
