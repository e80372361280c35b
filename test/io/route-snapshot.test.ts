// The pure half of putting routes back on a new TUN: which kernel routes count as "through the
// vlink", RTA_MULTIPATH both ways, and the request that re-adds a route on another ifindex.
// The bytes below were dumped from this kernel (`ip route add ... nexthop via ... nexthop via ...`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import type { rt } from 'netlink';
import { encodeMultipath, restoreRequest, routeText, saveRoute } from '../../src/io/route-snapshot.js';
import { parseMultipath as parseRta } from '../../src/io/rta-multipath.js';

/** rta-multipath.ts parses (for show routes too); flags reduced to what encodeMultipath takes. */
function parseMultipath(b: Buffer) {
  const hops = parseRta(b);
  if (typeof hops === 'string') throw new Error(hops);
  return hops.map((h) => ({ gateway: h.gateway, ifindex: h.ifindex, weight: h.weight, onlink: h.flags.includes('onlink') }));
}

const le = os.endianness() === 'LE';
// 10.20.0.0/24 nexthop via 10.9.0.1 dev ifindex 2, nexthop via 10.9.1.1 dev ifindex 3 (both linkdown, flag 0x10).
const MP = Buffer.from('1000100002000000080005000a0900011000100003000000080005000a090101', 'hex');
const names = new Map([[2, 'vl-b'], [3, 'vl-c']]);

function msg(data: rt.Route, attrs: rt.RouteAttrs): rt.RouteMessage {
  return { kind: 'route', data: { family: 2, tos: 0, table: 254, scope: 'UNIVERSE', type: 'UNICAST', ...data }, attrs } as rt.RouteMessage;
}

test('RTA_MULTIPATH: what the kernel dumped, parsed and encoded back, gives the same bytes', { skip: le ? false : 'vectors are little-endian' }, () => {
  const hops = parseMultipath(MP);
  assert.deepEqual(hops, [
    { gateway: '10.9.0.1', ifindex: 2, weight: 1, onlink: false },
    { gateway: '10.9.1.1', ifindex: 3, weight: 1, onlink: false },
  ]);
  // The kernel's linkdown flag (0x10) is state, not configuration: it is not sent back.
  const back = encodeMultipath(hops);
  assert.equal(back.toString('hex'), MP.toString('hex').replace(/10000200/, '00000200').replace(/10000300/, '00000300'));
  const weighted = parseMultipath(encodeMultipath([{ gateway: null, ifindex: 9, weight: 5, onlink: true }]));
  assert.deepEqual(weighted, [{ gateway: null, ifindex: 9, weight: 5, onlink: true }]);
});

test('saveRoute keeps routes through the interface, with every field needed to add them back', () => {
  const bird = saveRoute(msg({ dstLen: 32, protocol: 'BIRD' }, { dst: Buffer.from([10, 10, 0, 2]), gateway: Buffer.from([10, 255, 0, 1]), oif: 2, priority: 32, prefsrc: Buffer.from([10, 10, 0, 1]) }), 2, names)!;
  assert.deepEqual(bird, {
    dst: '10.10.0.2/32', table: 254, protocol: 'BIRD', scope: 'UNIVERSE', type: 'UNICAST', tos: 0, metric: 32, prefsrc: '10.10.0.1', multipath: false,
    hops: [{ gateway: '10.255.0.1', ifindex: 2, weight: 1, onlink: false, onVlink: true, dev: 'vl-b' }],
  });
  assert.equal(routeText(bird), '10.10.0.2/32 via 10.255.0.1 proto bird');
  assert.equal(saveRoute(msg({ dstLen: 32, protocol: 'BIRD' }, { dst: Buffer.from([10, 10, 0, 3]), oif: 3 }), 2, names), null, 'another interface');
  assert.equal(saveRoute(msg({ dstLen: 31, protocol: 'KERNEL', scope: 'LINK' }, { dst: Buffer.from([10, 255, 0, 0]), oif: 2 }), 2, names), null, "the kernel's own prefix route");
  assert.equal(saveRoute(msg({ dstLen: 32, protocol: 'KERNEL', table: 255 }, { dst: Buffer.from([10, 255, 0, 0]), oif: 2, table: 255 }), 2, names), null, 'local table');
  const mp = saveRoute(msg({ dstLen: 24, protocol: 'STATIC' }, { dst: Buffer.from([10, 20, 0, 0]), multipath: MP }), 3, names)!;
  assert.equal(mp.multipath, true);
  assert.deepEqual(mp.hops.map((h) => [h.gateway, h.onVlink, h.dev]), [['10.9.0.1', false, 'vl-b'], ['10.9.1.1', true, 'vl-c']]);
  const t100 = saveRoute(msg({ dstLen: 24, protocol: 'BOOT', table: 252 }, { dst: Buffer.from([10, 40, 0, 0]), oif: 2, table: 1000 }), 2, names)!;
  assert.equal(t100.table, 1000);
});

test('restoreRequest moves only the hops of the replaced interface to the new ifindex', () => {
  const mp = saveRoute(msg({ dstLen: 24, protocol: 'STATIC' }, { dst: Buffer.from([10, 20, 0, 0]), multipath: MP }), 3, names)!;
  const r = restoreRequest(mp, 42);
  assert.deepEqual(parseMultipath(r.attrs.multipath!).map((h) => [h.gateway, h.ifindex]), [['10.9.0.1', 2], ['10.9.1.1', 42]]);
  assert.equal(r.attrs.oif, undefined);
  assert.deepEqual([r.data.dstLen, r.data.protocol, r.data.table], [24, 'STATIC', 254]);
  const single = saveRoute(msg({ dstLen: 32, protocol: 'BIRD' }, { dst: Buffer.from([10, 10, 0, 2]), gateway: Buffer.from([10, 255, 0, 1]), oif: 2, priority: 32, prefsrc: Buffer.from([10, 10, 0, 1]) }), 2, names)!;
  const s = restoreRequest(single, 42);
  assert.deepEqual([s.attrs.oif, [...s.attrs.gateway!], s.attrs.priority, [...s.attrs.prefsrc!]], [42, [10, 255, 0, 1], 32, [10, 10, 0, 1]]);
  assert.equal(s.attrs.table, undefined, 'main table in the header');
  const big = restoreRequest({ ...single, table: 1000 }, 42);
  assert.deepEqual([big.data.table, big.attrs.table], [0, 1000], 'tables above 255 go in RTA_TABLE');
});

test('IPv6 routes through the interface are saved and put back too: link-local and global gateways, ECMP, prefsrc', () => {
  const b6 = (s: string) => Buffer.from(s.replace(/:/g, ''), 'hex');
  const DST = b6('fd00:0010:0000:0000:0000:0000:0000:0002');
  const LL = b6('fe80:0000:0000:0000:0000:0000:0aff:0001');
  const SRC = b6('fd00:0010:0000:0000:0000:0000:0000:0001');
  const m6 = (data: rt.Route, attrs: rt.RouteAttrs) => msg({ family: 10, ...data }, attrs);
  const frr = saveRoute(m6({ dstLen: 128, protocol: 'ZEBRA' }, { dst: DST, gateway: LL, oif: 2, priority: 20, prefsrc: SRC }), 2, names)!;
  assert.deepEqual(frr, {
    dst: 'fd00:10::2/128', family: 6, table: 254, protocol: 'ZEBRA', scope: 'UNIVERSE', type: 'UNICAST', tos: 0, metric: 20, prefsrc: 'fd00:10::1', multipath: false,
    hops: [{ gateway: 'fe80::aff:1', ifindex: 2, weight: 1, onlink: false, onVlink: true, dev: 'vl-b' }],
  });
  const r = restoreRequest(frr, 42);
  assert.equal(r.data.family, 10);
  assert.deepEqual([r.data.dstLen, r.attrs.oif], [128, 42]);
  assert.deepEqual([r.attrs.dst, r.attrs.gateway, r.attrs.prefsrc].map((b) => Buffer.from(b!).toString('hex')), [DST, LL, SRC].map((b) => b.toString('hex')));
  // The kernel's own IPv6 routes on the link (fe80::/64, the address's prefix) come back by themselves.
  assert.equal(saveRoute(m6({ dstLen: 64, protocol: 'KERNEL' }, { dst: b6('fe80:0000:0000:0000:0000:0000:0000:0000'), oif: 2 }), 2, names), null);
  // ECMP with IPv6 gateways: 16-byte RTA_GATEWAY inside each rtnexthop, both ways.
  const mpBytes = encodeMultipath([{ gateway: 'fe80::aff:1', ifindex: 2, weight: 1, onlink: false }, { gateway: 'fd00:255::3', ifindex: 3, weight: 2, onlink: false }]);
  assert.equal(mpBytes.length, 2 * (8 + 4 + 16));
  const mp = saveRoute(m6({ dstLen: 128, protocol: 'BIRD' }, { dst: DST, multipath: mpBytes }), 3, names)!;
  assert.deepEqual(mp.hops.map((h) => [h.gateway, h.onVlink, h.weight]), [['fe80::aff:1', false, 1], ['fd00:255::3', true, 2]]);
  assert.deepEqual(parseMultipath(restoreRequest(mp, 42).attrs.multipath!).map((h) => [h.gateway, h.ifindex]), [['fe80::aff:1', 2], ['fd00:255::3', 42]]);
  assert.equal(routeText(mp), 'fd00:10::2/128 via fe80::aff:1 + via fd00:255::3 proto bird');
});
