// topologies/dual-stack.yaml through the real CLI (issue #10): the FRR triangle carrying IPv4 and
// IPv6 VNs over one pair of SAs per vlink. OSPFv2 (ospfd) and OSPFv3 (ospf6d) Full on every
// vlink, in lab status and in FRR itself; IPv4 and IPv6 ping matrices; `lab show a routes --json`
// lists IPv6 routes joined with vlink, outer header (next header 41) and SA; a cut reroutes both
// families through the third node, each family's outage measured, and the direct path returns.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, labUp, node, waitFor } from './lab-harness.js';
import { bothMatrices, cutRerouteBoth } from './dual-stack-checks.js';
import { nsExec, run } from '../../src/lab/netns.js';
import type { LabState } from '../../src/lab/state.js';
import { FRR_STATE_DIR } from '../../src/lab/frr.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'fping', 'zebra', 'ospfd', 'ospf6d', 'bfdd', 'vtysh']);

async function vtysh(s: LabState, n: string, cmd: string): Promise<Obj> {
  const r = await run('vtysh', ['--vty_socket', s.nodes[n]!.frrDir!, '-c', cmd]);
  return JSON.parse(r.stdout) as Obj;
}

describe('lab: dual-stack triangle with FRR (OSPFv2 + OSPFv3)', { skip }, () => {
  let name = '';
  let s: LabState;
  before(async () => {
    const r = await labUp('dual-stack.yaml', 'dual');
    name = r.name;
    s = r.state;
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

  test('every node has both VN addresses, each vlink an IPv6 /127 and link-local address on its TUN', async () => {
    for (const n of s.model.nodes) {
      assert.match(n.vn6 ?? '', /^fd00:10::[1-3]\/128$/);
      const lo = (await nsExec(n.ns, ['ip', '-6', '-j', 'addr', 'show', 'dev', 'lo'])).stdout;
      assert.ok(lo.includes(n.vnAddr6!), `${n.name} lo: ${lo}`);
      for (const v of n.vlinks) {
        const a = JSON.parse((await nsExec(n.ns, ['ip', '-6', '-j', 'addr', 'show', 'dev', v.ifname])).stdout) as Obj[];
        const addrs = a[0]!.addr_info.map((x: Obj) => `${x.local}/${x.prefixlen}`).sort();
        assert.deepEqual(addrs, [v.address6!, `${v.linkLocal}/64`].sort(), `${n.name} ${v.ifname}: only the configured addresses`);
      }
    }
  });

  test('OSPFv2 and OSPFv3 are Full on every vlink, in lab status and in FRR itself', async () => {
    const st = JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout) as Obj;
    for (const n of st.nodes) {
      assert.equal(n.frr, true, `${n.node}: every FRR daemon answers (ospf6d included)`);
      assert.equal(n.neighbors6.length, 2, `${n.node} has 2 OSPFv3 neighbours`);
      for (const nb of [...n.neighbors, ...n.neighbors6]) assert.match(nb.state, /^Full/, `${n.node} ${nb.iface}`);
      assert.equal(n.routesTo6.length, 2);
    }
    for (const v of st.vlinks) assert.match(`${v.ospfA} ${v.ospfB} ${v.ospf6A} ${v.ospf6B}`, /^Full\S* Full\S* Full\S* Full/);
    assert.equal(s.processes.filter((p) => p.node === 'a' && p.role === 'frr').length, 4, 'zebra, bfdd, ospfd, ospf6d');
    const nb = await vtysh(s, 'a', 'show ipv6 ospf6 neighbor json');
    assert.deepEqual(nb.neighbors.map((x: Obj) => x.neighborId).sort(), [node(s, 'b').vnAddr, node(s, 'c').vnAddr]);
    for (const x of nb.neighbors) assert.equal(x.state, 'Full');
    // OSPFv3 BFD sessions between the link-local addresses, beside OSPFv2's.
    const ms = await waitFor(async () => (JSON.parse((await run('vtysh', ['--vty_socket', s.nodes['a']!.frrDir!, '-c', 'show bfd peers json'])).stdout) as Obj[]).filter((p) => p.status === 'up').length === 4, 'four BFD sessions of a up', 10000);
    console.log(`MEASURED dual-stack BFD (2 per vlink) up ${ms} ms after lab up`);
  });

  test('IPv4 and IPv6 ping matrices: every VN address answers from every node, sourced from its VN address', async () => {
    await bothMatrices(s);
    const r = await nsExec(node(s, 'a').ns, ['ip', '-6', '-j', 'route', 'get', node(s, 'c').vnAddr6!]);
    assert.equal((JSON.parse(r.stdout) as Obj[])[0]!.prefsrc, node(s, 'a').vnAddr6, 'the IPv6 route-map set the source');
    // Names resolve to both: ping -6 b works by name.
    const byName = await nsExec(node(s, 'a').ns, ['ping', '-6', '-c', '1', '-W', '2', 'b'], { allowFail: true });
    assert.match(byName.stdout, /1 received/);
  });

  test('lab show a routes --json lists IPv6 routes joined with vlink, outer header (next header 41) and SA', async () => {
    const v = JSON.parse((await cli(['lab', 'show', 'a', 'routes', '--json', '--lab', name])).stdout) as Obj;
    for (const peer of ['b', 'c']) {
      const r6 = v.routes.find((x: Obj) => x.dst === node(s, peer).vn6);
      const r4 = v.routes.find((x: Obj) => x.dst === node(s, peer).vn);
      assert.ok(r6 && r4, `routes to ${peer}`);
      assert.equal(r6.family, 6);
      assert.equal(r6.protocol, 'ospf');
      assert.equal(r6.vlink, `vl-${peer}`);
      assert.equal(r6.gateway, node(s, 'a').vlinks.find((x) => x.peer === peer)!.peerLinkLocal, 'OSPFv3 routes via the peer\'s link-local address');
      assert.deepEqual(r6.outer, { ...r4.outer, proto: 41 });
      assert.equal(r4.outer.proto, 4);
      assert.equal(r6.saOut.spi, r4.saOut.spi, 'one SA carries both families');
      assert.equal(r6.saOut.keying, 'ikev2');
    }
    const link = v.routes.find((x: Obj) => x.dst === node(s, 'a').vlinks[0]!.address6);
    assert.equal(link.vlink, node(s, 'a').vlinks[0]!.ifname, 'the /127 itself');
    assert.equal(v.routes.filter((x: Obj) => x.dst.startsWith('fe80:')).length, 0, 'the kernel\'s fe80::/64 routes are left out');
    const text = (await cli(['lab', 'show', 'a', 'routes', '--lab', name])).stdout;
    assert.match(text, /fd00:10::2\/128 .* ipv6\/udp:4500/);
  });

  test('A-B underlay cut: both families reroute through C (outage measured per family); restore: the direct path returns', async () => {
    await cutRerouteBoth(s, name, 'dual-stack FRR-FRR');
  });
});
