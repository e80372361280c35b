// What the batch pipelines carry besides IPv4 over IPv4: IPv6 inner packets (next header 41,
// in the TUN's order among IPv4 ones), an IPv6 underlay (sources as 16 bytes beside the batch),
// the node's own packets taken before the TUN (onLocal, DHCP), and an SA re-pointed to a new
// peer address between batches (a named peer's move). Both with the addon's crypto and with
// the JS engine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver } from '../../src/dataplane/receive.js';
import { Sender } from '../../src/dataplane/send.js';
import { Sad } from '../../src/dataplane/sad.js';
import { Spd, IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { newInboundSa, newOutboundSa } from '../../src/dataplane/sa.js';
import { espOpen, espSeal } from '../../src/dataplane/esp-engine.js';
import { newDropCounters, newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { loadEspCrypto } from '../../src/io/esp-native.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { EspCrypto } from '../../src/io/types.js';
import { addrFromString as addrOf, ipv4ToU32 } from '../../src/wire/addr.js';
import { bytes, tcpPacket, udpPacket } from './offload-fixtures.js';

const IPPROTO_IPV6 = 41;

function setup(crypto: EspCrypto | null, local: string, peer: string, ipv6 = true) {
  const common = { spi: 0x4001, suite: 'aes-gcm-128' as const, key: bytes(16, 1), salt: bytes(4, 2) };
  const peerOut = newOutboundSa({ ...common, src: peer, dst: local });
  const inSa = newInboundSa({ ...common, src: peer, dst: local, ipv6 });
  const outSa = newOutboundSa({ ...common, src: local, dst: peer, ipv6 });
  const peerIn = newInboundSa({ ...common, src: local, dst: peer });
  const sad = new Sad();
  sad.add(inSa, 'vl-b');
  const spd = new Spd();
  const policy = spd.add({ src: addrOf(local), dst: addrOf(peer), proto: IPPROTO_IPIP, action: 'protect', vlink: 'vl-b', sa: outSa });
  const tun = new FakeTun('vl-b', 1, { poison: false });
  const underlay = new FakeUnderlay(local, 4500, 'udp');
  const v: Vlink = {
    name: 'vl-b', local: addrOf(local), peer: addrOf(peer), peerDst: addrOf(peer), peerPort: 4500, encap: 'udp',
    vnAddr: '10.255.0.0', vnAddrU32: ipv4ToU32('10.255.0.0'), vnPrefixLen: 31, vnPeer: undefined,
    icmpSrcU32: ipv4ToU32('10.255.0.1'), icmp6Src: null, mtu: 1400, tun, underlay, policy, inbound: [inSa],
    drops: newDropCounters(), stats: newVlinkStats(), carrier: true, rxAlive: false, lastAliveAt: 0,
  };
  const rx = new Receiver(sad, (n) => (n === 'vl-b' ? v : undefined), newDropCounters(), null, crypto);
  const tx = new Sender(spd, crypto);
  return { peerOut, peerIn, inSa, outSa, v, tun, underlay, rx, tx, spd };
}

/** An IPv6/UDP packet with traffic class `tc` (checksum not needed here: nothing checks it). */
function udp6(payload: Buffer, tc = 0): Buffer {
  const p = Buffer.concat([Buffer.alloc(48), payload]);
  p.writeUInt32BE(((6 << 28) | (tc << 20)) >>> 0, 0);
  p.writeUInt16BE(8 + payload.length, 4);
  p[6] = 17;
  p[7] = 64;
  Buffer.from('fd000255000000000000000000000000', 'hex').copy(p, 8);
  Buffer.from('fd000255000000000000000000000001', 'hex').copy(p, 24);
  p.writeUInt16BE(40001, 40);
  p.writeUInt16BE(5201, 42);
  p.writeUInt16BE(8 + payload.length, 44);
  return p;
}

const engines: Array<[string, EspCrypto | null]> = [['native', loadEspCrypto()], ['js', null]];
const underlays: Array<[string, string, string]> = [['IPv4 underlay', '192.0.2.1', '192.0.2.2'], ['IPv6 underlay', '2001:db8::1', '2001:db8::2']];

for (const [name, crypto] of engines) {
  for (const [uname, local, peer] of underlays) {
    test(`${name}, ${uname}: a mixed TUN batch is sealed in order, 4 for IPv4 and 41 for IPv6, TOS from each family`, () => {
      const { peerIn, v, underlay, tx } = setup(crypto, local, peer);
      const pkts = [
        tcpPacket({ payload: bytes(100, 1), tos: 0x10 }),
        udp6(bytes(200, 2), 0xb8),
        udp6(bytes(300, 3), 0x02),
        udpPacket({ payload: bytes(50, 4) }),
        udp6(bytes(10, 5)),
      ];
      tx.process(v, pkts);
      assert.equal(underlay.sent.length, 5);
      const opened = underlay.sent.map((d) => {
        assert.equal(d.addr.family, local.includes(':') ? 6 : 4);
        assert.deepEqual(d.addr, addrOf(peer));
        const r = espOpen(peerIn, d.data);
        assert.ok(typeof r === 'object', String(r));
        return r;
      });
      assert.deepEqual(opened.map((r) => r.nextHeader), [4, IPPROTO_IPV6, IPPROTO_IPV6, 4, IPPROTO_IPV6]);
      opened.forEach((r, i) => assert.ok(r.payload.equals(pkts[i]!), `packet ${i} byte for byte`));
      assert.deepEqual(underlay.sent.map((d) => d.tos), [0x10, 0xb8, 0x02, 0, 0]);
      assert.equal(v.stats.txPackets, 5);
    });

    test(`${name}, ${uname}: received IPv4 and IPv6 inner packets reach the TUN in order; a wrong source is policy-mismatch; onLocal takes its packet`, () => {
      const { peerOut, v, tun, rx } = setup(crypto, local, peer);
      const inner = [udp6(bytes(120, 1)), tcpPacket({ payload: bytes(64, 2) }), udp6(bytes(30, 3)), udpPacket({ payload: bytes(10, 9), dport: 68 })];
      const esp = inner.map((p) => {
        const out = Buffer.alloc(2048);
        return out.subarray(0, espSeal(peerOut, p, p[0]! >> 4 === 6 ? IPPROTO_IPV6 : IPPROTO_IPIP, out, 0) as number);
      });
      const taken: Buffer[] = [];
      rx.onLocal = (_v, p) => {
        if (p[0]! >> 4 !== 4 || p.readUInt16BE(22) !== 68) return false;
        taken.push(Buffer.from(p));
        return true;
      };
      const other = local.includes(':') ? '2001:db8::99' : '192.0.2.99';
      rx.process('udp', [
        ...esp.slice(0, 3).map((data) => ({ data, addr: addrOf(peer), port: 4500, tos: 0 })),
        { data: esp[3]!, addr: addrOf(other), port: 4500, tos: 0 },
        { data: esp[3]!, addr: addrOf(peer), port: 4500, tos: 0 },
      ]);
      assert.deepEqual(tun.written.map((p) => p.toString('hex')), inner.slice(0, 3).map((p) => p.toString('hex')));
      assert.equal(v.drops['policy-mismatch'], 1, 'the copy from another address');
      assert.deepEqual(taken.map((p) => p.toString('hex')), [inner[3]!.toString('hex')], 'the genuine copy went to onLocal, not the TUN');
      assert.equal(v.stats.rxPackets, 3, 'what the node took is not counted as received for the TUN');
    });
  }

  test(`${name}: SAs whose traffic selectors left out protocol 41 carry IPv4 only, both ways`, () => {
    const { peerOut, v, tun, underlay, rx, tx } = setup(crypto, '192.0.2.1', '192.0.2.2', false);
    const four = [tcpPacket({ payload: bytes(100, 1) }), udpPacket({ payload: bytes(20, 2) })];
    tx.process(v, [four[0]!, udp6(bytes(200, 2)), udp6(bytes(20, 3)), four[1]!]);
    assert.equal(underlay.sent.length, 2, 'only the IPv4 packets leave');
    assert.equal(v.drops['ipv6-not-negotiated'], 2);
    assert.equal(v.stats.txPackets, 2);
    // The peer (which negotiated nothing else either) sends IPv6 anyway: authentic, still refused.
    const seal = (p: Buffer, nh: number) => {
      const out = Buffer.alloc(2048);
      return out.subarray(0, espSeal(peerOut, p, nh, out, 0) as number);
    };
    rx.process('udp', [
      { data: seal(udp6(bytes(50, 4)), IPPROTO_IPV6), addr: addrOf('192.0.2.2'), port: 4500, tos: 0 },
      { data: seal(four[1]!, IPPROTO_IPIP), addr: addrOf('192.0.2.2'), port: 4500, tos: 0 },
    ]);
    assert.deepEqual(tun.written.map((p) => p.toString('hex')), [four[1]!.toString('hex')]);
    assert.equal(v.drops['ipv6-not-negotiated'], 3);
    assert.equal(v.drops.replay + v.drops['bad-icv'], 0);
  });

  test(`${name}: an SA re-pointed to a new peer address between batches is followed both ways`, () => {
    const { peerOut, peerIn, inSa, outSa, v, underlay, tun, rx, tx, spd } = setup(crypto, '192.0.2.1', '192.0.2.2');
    tx.process(v, [udpPacket({ payload: bytes(10, 1) })]);
    assert.deepEqual(underlay.sent[0]!.addr, addrOf('192.0.2.2'));
    // What node-dns.ts does for a manual-keyed named peer that moved.
    const moved = addrOf('192.0.2.77');
    spd.move(v.policy, moved);
    outSa.dst = moved;
    inSa.src = moved;
    v.peer = moved;
    v.peerDst = moved;
    tx.process(v, [udpPacket({ payload: bytes(10, 2) })]);
    assert.deepEqual(underlay.sent[1]!.addr, moved, 'the new address, not one kept from before the move');
    assert.ok(typeof espOpen(peerIn, underlay.sent[1]!.data) === 'object');
    const seal = (p: Buffer) => {
      const out = Buffer.alloc(512);
      return out.subarray(0, espSeal(peerOut, p, IPPROTO_IPIP, out, 0) as number);
    };
    const a = udpPacket({ payload: bytes(20, 3) });
    const b = udpPacket({ payload: bytes(20, 4) });
    rx.process('udp', [{ data: seal(a), addr: addrOf('192.0.2.2'), port: 4500, tos: 0 }, { data: seal(b), addr: moved, port: 4500, tos: 0 }]);
    assert.equal(v.drops['policy-mismatch'], 1, 'the old address no longer matches');
    assert.deepEqual(tun.written.map((p) => p.toString('hex')), [b.toString('hex')]);
  });
}
