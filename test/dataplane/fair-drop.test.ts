// When the daemon falls behind its TUN, the packet it drops on purpose is the largest flow's,
// never an interactive one's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sender } from '../../src/dataplane/send.js';
import { Spd, IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { newOutboundSa } from '../../src/dataplane/sa.js';
import { newDropCounters, newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { TunBatch } from '../../src/io/types.js';
import { addrFromString as addrOf, ipv4ToU32 } from '../../src/wire/addr.js';
import { bytes, tcpPacket, udpPacket } from './offload-fixtures.js';

function setup() {
  const sa = newOutboundSa({ spi: 0x4001, suite: 'aes-gcm-128', key: bytes(16), salt: bytes(4, 2), src: '192.0.2.1', dst: '192.0.2.2' });
  const spd = new Spd();
  const policy = spd.add({ src: addrOf('192.0.2.1'), dst: addrOf('192.0.2.2'), proto: IPPROTO_IPIP, action: 'protect', vlink: 'v', sa });
  const underlay = new FakeUnderlay('192.0.2.1', 4500, 'udp');
  const v: Vlink = {
    name: 'v', local: addrOf('192.0.2.1'), peer: addrOf('192.0.2.2'), peerDst: addrOf('192.0.2.2'), peerPort: 4500, encap: 'udp',
    vnAddr: '10.255.0.0', vnAddrU32: ipv4ToU32('10.255.0.0'), vnPrefixLen: 31, vnPeer: undefined, icmpSrcU32: 1, icmp6Src: null, mtu: 1438,
    tun: new FakeTun('v'), underlay, policy, inbound: [], drops: newDropCounters(), stats: newVlinkStats(), carrier: true, rxAlive: false, lastAliveAt: 0,
  };
  return { tx: new Sender(spd, null), v, underlay };
}

function batch(pkts: Buffer[], backlog: boolean): TunBatch {
  const buf = Buffer.concat(pkts);
  const off = new Int32Array(pkts.length);
  const len = new Int32Array(pkts.length);
  let at = 0;
  pkts.forEach((p, i) => {
    off[i] = at;
    len[i] = p.length;
    at += p.length;
  });
  return { buf, off, len, count: pkts.length, vnet: false, backlog };
}

test('a full read: the largest flow loses its last packet of the batch, interactive packets all go', () => {
  const elephant = Array.from({ length: 60 }, (_, i) => tcpPacket({ payload: bytes(1000, i), seq: i * 1000, id: i }));
  const pings = Array.from({ length: 4 }, (_, i) => udpPacket({ payload: bytes(56, 100 + i), sport: 7000 + i, id: 500 + i }));
  const pkts = [...elephant.slice(0, 20), pings[0]!, ...elephant.slice(20, 40), pings[1]!, pings[2]!, ...elephant.slice(40), pings[3]!];
  const { tx, v, underlay } = setup();
  tx.processBatch(v, batch(pkts, true));
  assert.equal(v.drops.congestion, 1);
  assert.equal(underlay.sent.length, 63);
  assert.equal(v.stats.txPackets, 63);
  const sizes = underlay.sent.map((d) => d.data.length);
  assert.equal(sizes.filter((s) => s < 200).length, 4, 'all four pings sent');
});

test('no drop when the read did not fill the batch, or when no flow holds a quarter of it', () => {
  const elephant = Array.from({ length: 40 }, (_, i) => tcpPacket({ payload: bytes(1000, i), seq: i * 1000, id: i }));
  const a = setup();
  a.tx.processBatch(a.v, batch(elephant, false));
  assert.equal(a.v.drops.congestion, 0);
  const many = Array.from({ length: 64 }, (_, i) => udpPacket({ payload: bytes(100, i), sport: 10000 + (i % 8) }));
  const b = setup();
  b.tx.processBatch(b.v, batch(many, true));
  assert.equal(b.v.drops.congestion, 0, '8 flows of 8: none holds a quarter');
  assert.equal(b.underlay.sent.length, 64);
});
