// OSPFv3 under BIRD (issue #10): topologies/dual-stack.yaml with every node on BIRD (OSPFv2 and
// OSPFv3 protocols side by side), then mixed, BIRD on a facing FRR on b and c across two vlinks.
// Both: OSPFv2 and OSPFv3 Full as the daemons report it, IPv4 and IPv6 ping matrices, a cut
// rerouting both families with each family's outage measured, the direct path back.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, labUp, node } from './lab-harness.js';
import { bothMatrices, bothOspfFull, cutRerouteBoth } from './dual-stack-checks.js';
import { birdCommand } from '../../src/lab/bird-ctl.js';
import { parseBirdOspf3Neighbors } from '../../src/lab/status6.js';
import type { LabState } from '../../src/lab/state.js';

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'fping', 'bird', 'zebra', 'ospfd', 'ospf6d', 'bfdd']);

for (const variant of ['bird', 'mixed'] as const) {
  describe(`lab: dual-stack triangle, ${variant === 'bird' ? 'BIRD on every node' : 'BIRD on a, FRR on b and c'}`, { skip }, () => {
    let name = '';
    let s: LabState;
    before(async () => {
      const edit = (t: string) => (variant === 'bird' ? t.replace(/^routing: frr$/m, 'routing: bird') : t.replace(/^ {2}a: \{\}$/m, '  a: { routing: bird }'));
      const r = await labUp('dual-stack.yaml', variant === 'bird' ? 'dsb' : 'dsm', {}, edit);
      name = r.name;
      s = r.state;
      assert.equal(node(s, 'a').routing, 'bird');
      assert.equal(node(s, 'b').routing, variant === 'bird' ? 'bird' : 'frr');
    });
    after(async () => {
      if (name !== '') {
        await cli(['lab', 'down', name]);
        await assertGone(name);
      }
    });

    test('OSPFv2 and OSPFv3 Full on every vlink; BIRD itself reports the OSPFv3 neighbours by link-local address', async () => {
      const st = await bothOspfFull(name);
      for (const n of st.nodes) assert.equal(n.routesTo6.length, 2, `${n.node} has IPv6 routes to both others`);
      const r = await birdCommand(s.nodes['a']!.birdSocket!, 'show ospf neighbors overlay6', 5000);
      const nbs = parseBirdOspf3Neighbors(r.text);
      assert.deepEqual(nbs.map((x) => x.iface).sort(), ['vl-b', 'vl-c']);
      for (const nb of nbs) {
        assert.match(nb.state, /^Full/);
        assert.equal(nb.address, node(s, 'a').vlinks.find((v) => v.ifname === nb.iface)!.peerLinkLocal);
      }
    });

    test('IPv4 and IPv6 ping matrices', async () => {
      await bothMatrices(s);
    });

    test('A-B underlay cut: both families reroute through C; restore: the direct path returns', async () => {
      await cutRerouteBoth(s, name, `dual-stack ${variant === 'bird' ? 'BIRD-BIRD' : 'BIRD-FRR'}`);
    });
  });
}
