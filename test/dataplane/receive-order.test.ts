// Inbound ordering (RFC 4301 §5.2): the replay window records a packet only after it passed
// both the AEAD check and the inbound policy. An authentic packet captured on the wire and
// re-sent from another source, or on the other encapsulation, is dropped as policy-mismatch
// without burning its sequence number, so the genuine copy arriving after it still gets in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver } from '../../src/dataplane/receive.js';
import { Sad } from '../../src/dataplane/sad.js';
import { Spd, IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { newInboundSa, newOutboundSa, type OutboundSa } from '../../src/dataplane/sa.js';
import { espSeal, sealedLength } from '../../src/dataplane/esp-engine.js';
import { newDropCounters, newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { Datagram } from '../../src/io/types.js';
import { Ipv4, IPPROTO_ICMP, IPPROTO_NONE } from '../../src/wire/ipv4.js';
import { addrFromString as addrOf, ipv4ToU32 } from '../../src/wire/addr.js';

const LOCAL = '192.0.2.1';
const PEER = '192.0.2.2';
const ATTACKER = '198.51.100.66';

function setup(encap: 'udp' | 'esp') {
  const key = Buffer.alloc(32, 0x42);
  const salt = Buffer.from('01020304', 'hex');
  const common = { spi: 0x2001, suite: 'chacha20-poly1305' as const, key, salt };
  // The peer's outbound SA and our inbound one: selectors from the peer to us.
  const peerOut = newOutboundSa({ ...common, src: PEER, dst: LOCAL });
  const inSa = newInboundSa({ ...common, src: PEER, dst: LOCAL });
  const sad = new Sad();
  sad.add(inSa, 'vl-b');
  const spd = new Spd();
  const policy = spd.add({
    src: addrOf(LOCAL), dst: addrOf(PEER), proto: IPPROTO_IPIP,
    action: 'protect', vlink: 'vl-b', sa: null,
  });
  const tun = new FakeTun('vl-b', 1, { poison: false });
  const v: Vlink = {
    name: 'vl-b', local: addrOf(LOCAL), peer: addrOf(PEER), peerDst: addrOf(PEER),
    peerPort: 4500, encap, vnAddr: '10.255.0.0', vnAddrU32: ipv4ToU32('10.255.0.0'), vnPrefixLen: 31, vnPeer: undefined, icmp6Src: null,
    icmpSrcU32: ipv4ToU32('10.255.0.1'), mtu: 1400, tun, underlay: new FakeUnderlay(LOCAL, 4500, encap), policy,
    inbound: [inSa], drops: newDropCounters(), stats: newVlinkStats(), carrier: true, rxAlive: false, lastAliveAt: 0,
  };
  const rx = new Receiver(sad, (n) => (n === 'vl-b' ? v : undefined), newDropCounters());
  return { peerOut, inSa, v, tun, rx };
}

function inner(n: number): Buffer {
  return Ipv4.encode({
    src: ipv4ToU32('10.10.0.2'), dst: ipv4ToU32('10.10.0.1'), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true,
    payload: Buffer.alloc(24, n),
  } as never);
}

function seal(sa: OutboundSa, payload: Buffer, nh = IPPROTO_IPIP): Buffer {
  const out = Buffer.alloc(sealedLength(sa, payload.length));
  const n = espSeal(sa, payload, nh, out, 0);
  assert.equal(n, out.length);
  return out;
}

function dgram(data: Buffer, addr: string, encap: 'udp' | 'esp', port = 4500): Datagram {
  return { data: Buffer.from(data), addr: addrOf(addr), port: encap === 'udp' ? port : 0 };
}

for (const encap of ['udp', 'esp'] as const) {
  test(`${encap}: a captured packet re-sent from another source is policy-mismatch; the genuine copy is accepted, a later duplicate is replay`, () => {
    const { peerOut, inSa, v, tun, rx } = setup(encap);
    const pkt = seal(peerOut, inner(1));
    rx.process(encap, [dgram(pkt, ATTACKER, encap)]);
    assert.equal(v.drops['policy-mismatch'], 1);
    assert.equal(tun.written.length, 0);
    assert.equal(inSa.replay.top, 0, 'the refused copy did not enter the window');
    assert.equal(inSa.stats.packets, 0);
    assert.equal(v.rxAlive, false, 'nor did it count as a sign of life');

    rx.process(encap, [dgram(pkt, PEER, encap)]);
    assert.equal(v.drops.replay, 0, 'the genuine copy is not taken for a replay');
    assert.deepEqual(tun.written, [inner(1)]);
    assert.equal(inSa.replay.top, 1);
    assert.equal(inSa.stats.packets, 1);
    assert.equal(v.stats.rxPackets, 1);

    rx.process(encap, [dgram(pkt, PEER, encap), dgram(pkt, ATTACKER, encap)]);
    assert.equal(v.drops.replay, 2, 'after acceptance every copy is a replay, from anywhere');
    assert.equal(v.drops['policy-mismatch'], 1, 'refused by the cheap pre-check, before AEAD and policy');
    assert.equal(tun.written.length, 1);
    assert.equal(inSa.stats.replayDrops, 2);
  });

  test(`${encap}: in one batch, the re-sent copy first and the genuine one second: one delivery, then replays`, () => {
    const { peerOut, inSa, v, tun, rx } = setup(encap);
    const p1 = seal(peerOut, inner(1));
    const p2 = seal(peerOut, inner(2));
    rx.process(encap, [
      dgram(p2, ATTACKER, encap), dgram(p2, PEER, encap), dgram(p1, ATTACKER, encap), dgram(p1, PEER, encap), dgram(p2, PEER, encap),
    ]);
    assert.deepEqual(tun.written, [inner(2), inner(1)]);
    assert.equal(v.drops['policy-mismatch'], 2);
    assert.equal(v.drops.replay, 1);
    assert.equal(inSa.replay.top, 2);
    assert.equal(inSa.stats.packets, 2);
  });

  test(`${encap}: a liveness probe re-sent from another source does not burn its number either`, () => {
    const { peerOut, inSa, v, rx } = setup(encap);
    const probe = seal(peerOut, Buffer.alloc(0), IPPROTO_NONE);
    rx.process(encap, [dgram(probe, ATTACKER, encap)]);
    assert.equal(v.stats.probesRx, 0);
    rx.process(encap, [dgram(probe, PEER, encap)]);
    assert.equal(v.stats.probesRx, 1);
    assert.equal(v.rxAlive, true);
    assert.equal(inSa.replay.top, 1);
    rx.process(encap, [dgram(probe, PEER, encap)]);
    assert.equal(v.drops.replay, 1);
    assert.equal(v.stats.probesRx, 1);
  });
}

test('the other encapsulation is a policy mismatch too: ESP of a udp vlink on raw IP, and the reverse', () => {
  for (const [encap, wrong] of [['udp', 'esp'], ['esp', 'udp']] as const) {
    const { peerOut, inSa, v, tun, rx } = setup(encap);
    const pkt = seal(peerOut, inner(3));
    rx.process(wrong, [dgram(pkt, PEER, wrong)]);
    assert.equal(v.drops['policy-mismatch'], 1, `${encap} vlink, packet on ${wrong}`);
    assert.equal(inSa.replay.top, 0);
    rx.process(encap, [dgram(pkt, PEER, encap)]);
    assert.deepEqual(tun.written, [inner(3)]);
    rx.process(encap, [dgram(pkt, PEER, encap)]);
    assert.equal(v.drops.replay, 1);
  }
});

test('udp: a re-sent copy from the peer\'s address but another port is the peer behind a NAT, accepted and the port floats', () => {
  const { peerOut, v, tun, rx } = setup('udp');
  const pkt = seal(peerOut, inner(4));
  rx.process('udp', [dgram(pkt, PEER, 'udp', 61000)]);
  assert.deepEqual(tun.written, [inner(4)]);
  assert.equal(v.peerPort, 61000);
  rx.process('udp', [dgram(pkt, PEER, 'udp', 4500)]);
  assert.equal(v.drops.replay, 1, 'the source port is not a selector, so this is the same packet again');
  assert.equal(v.peerPort, 61000, 'a replay does not move the port back');
});
