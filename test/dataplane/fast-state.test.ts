// FastPath's ownership rules without the addon: a TUN and a socket that record what they are
// told. The native halves themselves are tested on real devices in test/io/fastpath.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { FastPath, FI_ALIVE, FI_RX_BYTES, FI_RX_PACKETS, FO_ON } from '../../src/dataplane/fast-state.js';
import { Spd, IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { Sad } from '../../src/dataplane/sad.js';
import { newInboundSa, newOutboundSa } from '../../src/dataplane/sa.js';
import { newDropCounters, newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { addrFromString } from '../../src/wire/addr.js';
import type { EspCrypto } from '../../src/io/types.js';

const crypto: EspCrypto = {
  newSa: () => ({}),
  seal: () => 0,
  open: () => 0,
  fastPath: true,
};

function setup() {
  const spd = new Spd();
  const sad = new Sad();
  const fast = new FastPath(spd, crypto);
  fast.watchSad(sad);
  const local = addrFromString('192.0.2.1');
  const peer = addrFromString('192.0.2.2');
  const params = { suite: 'aes-gcm-256' as const, key: randomBytes(32), salt: randomBytes(4), src: local, dst: peer, keying: 'manual' as const };
  const out = newOutboundSa({ ...params, spi: 0x100 });
  const inn = newInboundSa({ ...params, spi: 0x200, src: peer, dst: local });
  const policy = spd.add({ src: local, dst: peer, proto: IPPROTO_IPIP, action: 'protect', vlink: 'vl', sa: out });
  sad.add(inn, 'vl');
  const outCalls: (Float64Array | null)[] = [];
  const inCalls: number[] = [];
  const inCells: (Float64Array | null)[] = [];
  const tun = { fd: 7, gro: true, path: { tunOffload: true, uso: false }, setFastOut: (c: Float64Array | null) => (outCalls.push(c), true) };
  const underlay = { kind: 'udp', fd: 9, path: { udpGso: true, udpGro: true }, setFastIn: (spi: number, c: Float64Array | null) => (inCalls.push(spi), inCells.push(c), true) };
  const v = {
    name: 'vl', local, peer, peerDst: peer, peerPort: 4500, encap: 'udp', mtu: 1400, tun, underlay, policy,
    inbound: [inn], drops: newDropCounters(), stats: newVlinkStats(), carrier: true, rxAlive: false, lastAliveAt: 0,
  } as unknown as Vlink;
  return { spd, sad, fast, v, out, inn, policy, outCalls, inCalls, inCells };
}

describe('FastPath (fast-state.ts)', () => {
  it('installs after a JS batch, and one sequence number serves both paths', () => {
    const { fast, v, out, policy, outCalls } = setup();
    out.seq = 41;
    fast.arm(v, policy, out);
    assert.equal(outCalls.length, 1);
    const cells = outCalls[0]!;
    assert.equal(cells[FO_ON], 1);
    assert.deepEqual(fast.stats(v)?.on, true);
    fast.arm(v, policy, out);
    assert.equal(outCalls.length, 1, 'installed once');
    assert.equal(out.seq, 41, 'the value moved into the cell');
    out.seq++;
    assert.equal(out.seq, 42);
  });

  it('turns off on an SPD change, a policy SA change, a SAD change, and stays off while suspended', () => {
    const s = setup();
    const on = () => s.fast.stats(s.v)?.on === true;
    s.fast.arm(s.v, s.policy, s.out);
    assert.ok(on());
    s.policy.sa = null;
    assert.ok(!on(), 'a deleted SA');
    assert.equal(s.outCalls.at(-1), null, 'removed from the reader');
    s.policy.sa = s.out;
    s.fast.arm(s.v, s.policy, s.out);
    assert.ok(on());
    s.sad.remove(0x200);
    assert.ok(!on(), 'a SAD change');
    s.fast.arm(s.v, s.policy, s.out);
    s.spd.removeVlink('vl');
    assert.ok(!on(), 'an SPD change');
    s.fast.suspend();
    s.fast.arm(s.v, s.policy, s.out);
    assert.ok(!on(), 'not while a reload runs');
    s.fast.resume();
    s.fast.arm(s.v, s.policy, s.out);
    assert.ok(on());
  });

  it('does not install for raw ESP, an unusable SA, or a vlink whose policy is another', () => {
    const s = setup();
    s.v.encap = 'esp';
    s.fast.arm(s.v, s.policy, s.out);
    assert.equal(s.outCalls.length, 0);
    s.v.encap = 'udp';
    s.out.exhausted = true;
    s.fast.arm(s.v, s.policy, s.out);
    assert.equal(s.outCalls.length, 0);
    s.out.exhausted = false;
    const other = newOutboundSa({ spi: 0x300, suite: 'aes-gcm-256', key: randomBytes(32), salt: randomBytes(4), src: s.v.local, dst: s.v.peer });
    s.fast.arm(s.v, s.policy, other);
    assert.equal(s.outCalls.length, 0, 'the SA must be the policy\'s');
  });

  it('inbound: installs per SA, not for ESN, folds counters and rxAlive in on sync, all off at once', () => {
    const s = setup();
    s.fast.armIn(s.v, s.inn);
    assert.deepEqual(s.inCalls, [0x200]);
    assert.equal(s.fast.stats(s.v)?.inSas, 1);
    const esn = newInboundSa({ spi: 0x201, suite: 'aes-gcm-256', key: randomBytes(32), salt: randomBytes(4), src: s.v.peer, dst: s.v.local, esn: true });
    s.fast.armIn(s.v, esn);
    assert.deepEqual(s.inCalls, [0x200], 'ESN SAs stay on the JS path');
    s.inn.stats.packets += 3;
    assert.equal(s.inn.stats.packets, 3);
    s.fast.sync();
    assert.equal(s.v.rxAlive, false, 'nothing seen natively yet');
    const cells = s.inCells[0]!;
    cells[FI_ALIVE] = 1;
    cells[FI_RX_PACKETS] = 5;
    cells[FI_RX_BYTES] = 500;
    s.v.stats.rxPackets = 2;
    s.fast.sync();
    assert.equal(s.v.rxAlive, true, 'liveness sees natively received packets');
    assert.equal(s.v.stats.rxPackets, 7);
    assert.equal(s.v.stats.rxBytes, 500);
    s.fast.sync();
    assert.equal(s.v.stats.rxPackets, 7, 'folded once');
    s.fast.clearAll();
    assert.deepEqual(s.inCalls, [0x200, -1], 'one call removes every SA of the socket');
    assert.equal(s.fast.stats(s.v)?.inSas, 0);
  });
});
