// topologies/nat.yaml: node c behind a masquerading router. c reaches a and b (and they reach
// c through the NAT mapping c's own traffic opened), and c's underlay carries only UDP 4500.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isRoot, capture } from './helpers.js';
import { readPcap } from './pcap.js';
import { PATTERN, assertGone, cli, labUp, node, vnPing } from './lab-harness.js';
import type { LabState } from '../../src/tools/lab/state.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = isRoot ? false : 'needs root (network namespaces, TUN, nftables, BIRD)';

describe('lab: node behind NAT', { skip }, () => {
  let name = '';
  let s: LabState;
  before(async () => {
    ({ name, state: s } = await labUp('nat.yaml', 'nat'));
  });
  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
    }
  });

  test('c (behind NAT) reaches a and b, and they reach c', async () => {
    for (const [x, y] of [['c', 'a'], ['c', 'b'], ['a', 'c'], ['b', 'c']]) assert.equal(await vnPing(s, x!, y!), 3, `${x} -> ${y}`);
  });

  test("a sees c at the NAT router's outside address", async () => {
    const links = JSON.parse((await cli(['lab', 'show', 'a', 'links', '--json', '--lab', name])).stdout) as Obj;
    const vlc = links.links.find((l: Obj) => l.name === 'vl-c');
    assert.equal(vlc.outer.dst, s.model.routers.find((r) => r.name === 'gw')!.nat!.outsideAddr);
    assert.notEqual(vlc.outer.dst, node(s, 'c').underlayAddr);
  });

  test("c's underlay carries only UDP 4500, and neither side shows VN cleartext", async () => {
    const inside = path.join(s.dir, 'c.pcap');
    const outside = path.join(s.dir, 'wan.pcap');
    const caps = [await capture(node(s, 'c').ns, 'eth0', inside), await capture(`${s.model.nsPrefix}wan`, 'br0', outside)];
    assert.equal(await vnPing(s, 'c', 'a'), 3);
    assert.equal(await vnPing(s, 'b', 'c'), 3);
    await Promise.all(caps.map((c) => c.stop()));
    const pkts = readPcap(inside);
    assert.ok(pkts.length >= 12, `captured ${pkts.length}`);
    for (const p of pkts) {
      const sport = p.proto === 17 ? p.ip.readUInt16BE((p.ip[0]! & 15) * 4) : null;
      assert.ok(p.proto === 17 && p.dport === 4500 && sport === 4500, `only UDP 4500 <-> 4500, saw proto ${p.proto} ${p.src}:${sport} > ${p.dst}:${p.dport}`);
    }
    for (const f of [inside, outside]) assert.ok(!fs.readFileSync(f).toString('hex').includes(PATTERN), `cleartext in ${f}`);
  });
});
