// RTA_MULTIPATH bytes as Linux 6.x dumped them (x86-64, little-endian) through the `netlink`
// package, in a namespace with two veth pairs and two TUNs (ifindex: va 3, vc 5, tuna 6,
// tunb 7; the TUNs had no reader, hence linkdown). The route that produced each is beside it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { parseMultipath } from '../../src/io/rta-multipath.js';

const LE = endianness() === 'LE';

const CAPTURED = {
  // ip route add 10.9.9.0/24 nexthop dev tuna nexthop dev tunb
  devOnly: '08001000060000000800100007000000',
  // ip route add 10.9.8.0/24 proto bird metric 32 nexthop via 10.0.0.2 dev va weight 1 nexthop via 10.0.1.2 dev vc weight 3 onlink
  weighted: '1000000003000000080005000a0000021000040205000000080005000a000102',
  // ip route add 10.10.0.3/32 nexthop via 10.255.0.1 dev tuna nexthop via 10.255.0.3 dev tunb
  vnHost: '1000100006000000080005000aff00011000100007000000080005000aff0003',
};

test('captured RTA_MULTIPATH: device-only next hops over two TUNs', { skip: !LE && 'captured little-endian' }, () => {
  assert.deepEqual(parseMultipath(Buffer.from(CAPTURED.devOnly, 'hex')), [
    { ifindex: 6, weight: 1, gateway: null, flags: ['linkdown'] },
    { ifindex: 7, weight: 1, gateway: null, flags: ['linkdown'] },
  ]);
});

test('captured RTA_MULTIPATH: gateways, weight 3 (stored as 2), onlink', { skip: !LE && 'captured little-endian' }, () => {
  assert.deepEqual(parseMultipath(Buffer.from(CAPTURED.weighted, 'hex')), [
    { ifindex: 3, weight: 1, gateway: '10.0.0.2', flags: [] },
    { ifindex: 5, weight: 3, gateway: '10.0.1.2', flags: ['onlink'] },
  ]);
});

test('captured RTA_MULTIPATH: a VN /32 over two vlinks via their /31 peers', { skip: !LE && 'captured little-endian' }, () => {
  assert.deepEqual(parseMultipath(Buffer.from(CAPTURED.vnHost, 'hex')), [
    { ifindex: 6, weight: 1, gateway: '10.255.0.1', flags: ['linkdown'] },
    { ifindex: 7, weight: 1, gateway: '10.255.0.3', flags: ['linkdown'] },
  ]);
});

test('an empty list is no next hops; inconsistent lengths are reported, never thrown or half-parsed', { skip: !LE && 'captured little-endian' }, () => {
  assert.deepEqual(parseMultipath(Buffer.alloc(0)), []);
  const good = Buffer.from(CAPTURED.weighted, 'hex');
  for (let cut = 1; cut < good.length; cut++) {
    const r = parseMultipath(good.subarray(0, cut));
    // Cutting exactly between the two entries leaves one whole, valid entry.
    if (cut === 16) assert.equal((r as unknown[]).length, 1);
    else assert.equal(typeof r, 'string', `cut at ${cut}`);
  }
  const zeroLen = Buffer.from(good);
  zeroLen.writeUInt16LE(0, 0);
  assert.match(parseMultipath(zeroLen) as string, /next hop 0 has length 0/);
  const longAttr = Buffer.from(good);
  longAttr.writeUInt16LE(12, 8);
  assert.match(parseMultipath(longAttr) as string, /next hop 0: attribute length 12/);
  // Attributes other than a 4-byte RTA_GATEWAY are skipped (here RTA_FLOW, type 11).
  const flow = Buffer.from(good);
  flow.writeUInt16LE(11, 10);
  assert.deepEqual((parseMultipath(flow) as { gateway: string | null }[]).map((h) => h.gateway), [null, '10.0.1.2']);
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(Array.from({ length: (i % 40) + 1 }, () => Math.floor(Math.random() * 256)));
    const r = parseMultipath(junk);
    assert.ok(typeof r === 'string' || Array.isArray(r));
  }
});
