// topologies/ring.yaml: six OSPF nodes in a ring over a routed underlay (two segments and a
// router). The full VN ping matrix works, and still works after one vlink's path is cut,
// with traffic going the long way round.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { capture, netnsSkip } from './helpers.js';
import { readPcap } from './pcap.js';
import { PATTERN, assertGone, cli, labUp, routeDev, vnPing, waitFor } from './lab-harness.js';
import { pingMatrix } from '../../src/lab/converge.js';
import type { LabState } from '../../src/lab/state.js';

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'tcpdump', 'nft', 'bird', 'birdc', 'fping']);

async function fullMatrix(s: LabState): Promise<string[]> {
  const reach = await pingMatrix(s);
  const missing: string[] = [];
  for (const n of s.model.nodes) for (const o of s.model.nodes) if (o !== n && !reach.get(n.name)!.includes(o.name)) missing.push(`${n.name}->${o.name}`);
  return missing;
}

describe('lab: ring of six with OSPF', { skip }, () => {
  let name = '';
  let s: LabState;
  before(async () => {
    ({ name, state: s } = await labUp('ring.yaml', 'ring'));
  });
  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
    }
  });

  test('full VN ping matrix (30 pairs)', async () => {
    assert.equal(s.model.nodes.length, 6);
    assert.deepEqual(await fullMatrix(s), []);
  });

  test('underlay captures on both segments show no VN cleartext', async () => {
    const files = ['west', 'east'].map((seg) => path.join(s.dir, `${seg}.pcap`));
    const caps = await Promise.all(['west', 'east'].map((seg, i) => capture(`${s.model.nsPrefix}${seg}`, 'br0', files[i]!)));
    assert.equal(await vnPing(s, 'n1', 'n4'), 3);
    await Promise.all(caps.map((c) => c.stop()));
    for (const f of files) {
      const pkts = readPcap(f);
      assert.ok(pkts.length >= 6, `${f}: ${pkts.length} packets`);
      for (const p of pkts) assert.equal(p.proto, 17);
      assert.ok(!fs.readFileSync(f).toString('hex').includes(PATTERN), `cleartext in ${f}`);
    }
  });

  test('after cutting n1-n2, the matrix still completes, n1->n2 going the long way', async () => {
    assert.equal(await routeDev(s, 'n1', 'n2'), 'vl-n2');
    assert.equal((await cli(['lab', 'link', 'n1', 'n2', 'down', '--lab', name])).code, 0);
    const ms = await waitFor(async () => (await routeDev(s, 'n1', 'n2')) === 'vl-n6', 'n1->n2 via vl-n6', 20000);
    console.log(`MEASURED ring reroute after cut n1-n2: ${ms} ms`);
    // Every node's routes must settle, not just n1's, before the matrix is meaningful.
    await waitFor(async () => (await fullMatrix(s)).length === 0, 'full matrix after the cut', 20000);
    const tr = await cli(['lab', 'exec', 'n1', '--lab', name, '--', 'ping', '-c', '1', '-W', '2', '-t', '4', 'n2']);
    assert.notEqual(tr.code, 0, 'n1->n2 with TTL 4 must expire: the long way is 5 hops');
    assert.equal(await vnPing(s, 'n1', 'n2'), 3);
  });
});
