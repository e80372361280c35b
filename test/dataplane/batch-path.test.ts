// The pipelines over batches in one buffer, as the real TUN and sockets hand them over: a UDP
// GRO datagram holding many ESP packets is split and each one judged on its own (a forgery or
// a duplicate inside it costs only itself); a TUN batch with offloads is segmented, refused
// metadata counted as bad-offload, an oversized segment as mtu. Both with the addon's crypto
// and with the JS engine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver } from '../../src/dataplane/receive.js';
import { Sender } from '../../src/dataplane/send.js';
import { Sad } from '../../src/dataplane/sad.js';
import { Spd, IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { newInboundSa, newOutboundSa } from '../../src/dataplane/sa.js';
import { espSeal } from '../../src/dataplane/esp-engine.js';
import { newDropCounters, newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { loadEspCrypto } from '../../src/io/esp-native.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { DatagramBatch, EspCrypto, TunBatch } from '../../src/io/types.js';
import { addrFromString as addrOf, ipv4ToU32 } from '../../src/wire/addr.js';
import { VNET_HDR_LEN, writeVnetHdr, type VnetHdr } from '../../src/dataplane/gso.js';
import { bytes, tcpPacket, tcpSuper } from './offload-fixtures.js';

const LOCAL = '192.0.2.1';
const PEER = '192.0.2.2';

function setup(crypto: EspCrypto | null) {
  const common = { spi: 0x3001, suite: 'aes-gcm-256' as const, key: bytes(32, 1), salt: bytes(4, 2) };
  const peerOut = newOutboundSa({ ...common, src: PEER, dst: LOCAL });
  const inSa = newInboundSa({ ...common, src: PEER, dst: LOCAL });
  const outSa = newOutboundSa({ ...common, src: LOCAL, dst: PEER });
  const sad = new Sad();
  sad.add(inSa, 'vl-b');
  const spd = new Spd();
  const policy = spd.add({ src: addrOf(LOCAL), dst: addrOf(PEER), proto: IPPROTO_IPIP, action: 'protect', vlink: 'vl-b', sa: outSa });
  const tun = new FakeTun('vl-b', 1, { poison: false });
  const underlay = new FakeUnderlay(LOCAL, 4500, 'udp');
  const v: Vlink = {
    name: 'vl-b', local: addrOf(LOCAL), peer: addrOf(PEER), peerDst: addrOf(PEER), peerPort: 4500, encap: 'udp',
    vnAddr: '10.255.0.0', vnAddrU32: ipv4ToU32('10.255.0.0'), vnPrefixLen: 31, vnPeer: undefined,
    icmpSrcU32: ipv4ToU32('10.255.0.1'), icmp6Src: null, mtu: 1438, tun, underlay, policy, inbound: [inSa],
    drops: newDropCounters(), stats: newVlinkStats(), carrier: true, rxAlive: false, lastAliveAt: 0,
  };
  const rx = new Receiver(sad, (n) => (n === 'vl-b' ? v : undefined), newDropCounters(), null, crypto);
  const tx = new Sender(spd, crypto);
  return { peerOut, inSa, outSa, v, tun, underlay, rx, tx };
}

const engines: Array<[string, EspCrypto | null]> = [['native', loadEspCrypto()], ['js', null]];

for (const [name, crypto] of engines) {
  test(`${name}: a UDP GRO datagram of 20 ESP packets, one forged and one repeated inside it`, () => {
    const { peerOut, inSa, v, tun, rx } = setup(crypto);
    const inner = Array.from({ length: 20 }, (_, i) => tcpPacket({ payload: bytes(1000, i), seq: 1000 + i * 1000, id: i }));
    const esp = inner.map((p) => {
      const out = Buffer.alloc(1200);
      return out.subarray(0, espSeal(peerOut, p, IPPROTO_IPIP, out, 0) as number);
    });
    const size = esp[0]!.length;
    assert.ok(esp.every((p) => p.length === size));
    esp[5]![40] ^= 1; // forged
    const wire = Buffer.concat([...esp, esp[7]!.subarray(0, size)]); // 7 again, at the end
    const b: DatagramBatch = {
      buf: wire, off: Int32Array.of(0), len: Int32Array.of(wire.length), count: 1, addr: Uint32Array.of(addrOf(PEER).family === 4 ? ipv4ToU32(PEER) : 0),
      port: Uint16Array.of(4500), tos: Int16Array.of(0), gso: Uint16Array.of(size), addr6: null,
    };
    rx.processBatch('udp', b);
    assert.equal(tun.written.length, 19);
    assert.deepEqual(tun.written.map((p) => p.toString('hex')), inner.filter((_, i) => i !== 5).map((p) => p.toString('hex')));
    assert.equal(v.drops['bad-icv'], 1);
    assert.equal(v.drops.replay, 1);
    assert.equal(inSa.stats.icvDrops, 1);
    assert.equal(inSa.stats.packets, 19);
    assert.equal(v.stats.rxPackets, 19);
  });

  test(`${name}: a TUN batch with offloads: super-packets segmented, bad metadata and oversized segments dropped and counted`, () => {
    const { v, underlay, tx, outSa } = setup(crypto);
    const items: Array<{ pkt: Buffer; vnet: VnetHdr }> = [
      tcpSuper({ payload: bytes(10_000, 1) }, 1386),
      { ...tcpSuper({ payload: bytes(3000, 2) }, 1000), vnet: { ...tcpSuper({ payload: bytes(1) }, 1).vnet, gsoType: 3 } },
      tcpSuper({ payload: bytes(3000, 3) }, 1400), // 20 + 32 + 1400 > 1438
      { pkt: tcpPacket({ payload: bytes(100, 4) }), vnet: { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 } },
    ];
    const buf = Buffer.alloc(64 * 1024);
    const off = new Int32Array(items.length);
    const len = new Int32Array(items.length);
    let at = 0;
    items.forEach((x, i) => {
      writeVnetHdr(x.vnet, buf, at);
      x.pkt.copy(buf, at + VNET_HDR_LEN);
      off[i] = at + VNET_HDR_LEN;
      len[i] = x.pkt.length;
      at += VNET_HDR_LEN + x.pkt.length;
    });
    const b: TunBatch = { buf, off, len, count: items.length, vnet: true };
    tx.processBatch(v, b);
    assert.equal(underlay.sent.length, 8 + 1, '10000 bytes in 1386-byte segments, and the plain packet');
    assert.equal(v.drops['bad-offload'], 1);
    assert.equal(v.drops.mtu, 1);
    assert.equal(v.stats.txPackets, 9);
    assert.equal(outSa.seq, 9);
    assert.ok(underlay.sent.slice(0, 7).every((d) => d.data.length === underlay.sent[0]!.data.length), 'equal-sized, for UDP GSO');
  });
}

for (const [name, crypto] of engines) {
  test(`${name}: a batch of GRO datagrams holding more ESP packets than the work arrays had room for loses none`, () => {
    const { peerOut, v, tun, rx } = setup(crypto);
    const datagrams: Buffer[] = [];
    let size = 0;
    for (let d = 0; d < 12; d++) {
      const esp = Array.from({ length: 40 }, (_, i) => {
        const out = Buffer.alloc(1600);
        return out.subarray(0, espSeal(peerOut, tcpPacket({ payload: bytes(1300, d * 40 + i), seq: (d * 40 + i) * 1300 }), IPPROTO_IPIP, out, 0) as number);
      });
      size = esp[0]!.length;
      datagrams.push(Buffer.concat(esp));
    }
    const buf = Buffer.concat(datagrams);
    const n = datagrams.length;
    const b: DatagramBatch = {
      buf, off: Int32Array.from(datagrams.map((_, i) => i * datagrams[0]!.length)), len: Int32Array.from(datagrams.map((x) => x.length)),
      count: n, addr: new Uint32Array(n).fill(ipv4ToU32(PEER)), port: new Uint16Array(n).fill(4500), tos: new Int16Array(n),
      gso: new Uint16Array(n).fill(size), addr6: null,
    };
    rx.processBatch('udp', b);
    assert.equal(v.stats.rxPackets, 480);
    assert.equal(tun.written.length, 480);
    assert.deepEqual(Object.entries(v.drops).filter(([, x]) => x > 0), []);
  });
}
