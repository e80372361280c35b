// Kernel nexthop objects (RTA_NH_ID, as FRR's zebra installs routes): NHA_GROUP bytes and the
// resolution of a route's id into its hop or hops, without root. The netns tests check the
// same against the kernel with net.ipv4.nexthop_compat_mode=0 (test/netns/lab-frr.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { parseNextHopGroup, resolveNextHop, type NextHopObject } from '../../src/io/netsys.js';

function grp(entries: [number, number][]): Buffer {
  const b = Buffer.alloc(entries.length * 8);
  entries.forEach(([id, w], i) => {
    if (endianness() === 'LE') b.writeUInt32LE(id, i * 8);
    else b.writeUInt32BE(id, i * 8);
    b[i * 8 + 4] = w - 1;
  });
  return b;
}

const hop = (id: number, gateway: string, ifindex: number): NextHopObject => ({ id, gateway, ifindex, blackhole: false, flags: [], group: null });

test('NHA_GROUP: ids and weights (stored minus one); a torn entry is reported', () => {
  assert.deepEqual(parseNextHopGroup(grp([[7, 1], [8, 3]])), [{ id: 7, weight: 1 }, { id: 8, weight: 3 }]);
  assert.match(String(parseNextHopGroup(Buffer.alloc(12))), /not a whole number of 8-byte entries/);
});

test('a route id resolves to its hop, a group to each member with its weight', () => {
  const objects = new Map<number, NextHopObject>([
    [7, hop(7, '10.255.0.1', 3)],
    [8, hop(8, '10.255.0.3', 5)],
    [9, { id: 9, gateway: null, ifindex: null, blackhole: false, flags: [], group: [{ id: 7, weight: 1 }, { id: 8, weight: 3 }] }],
    [10, { id: 10, gateway: null, ifindex: null, blackhole: false, flags: [], group: [{ id: 9, weight: 1 }] }],
  ]);
  assert.deepEqual(resolveNextHop(7, objects), { single: hop(7, '10.255.0.1', 3) });
  assert.deepEqual(resolveNextHop(9, objects), { group: [{ ...hop(7, '10.255.0.1', 3), weight: 1 }, { ...hop(8, '10.255.0.3', 5), weight: 3 }] });
  assert.match(String(resolveNextHop(42, objects)), /nexthop object 42 is not in the kernel's nexthop table/);
  assert.match(String(resolveNextHop(10, objects)), /member 9 is itself a group/);
});
