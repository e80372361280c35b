import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { Datagram } from '../../src/io/types.js';
import { addrFromString as addrOf, formatAddr } from '../../src/wire/addr.js';

describe('FakeTun', () => {
  it('delivers copies of injected packets in batches of at most 64', () => {
    const tun = new FakeTun('vl-test', 7);
    const batches: number[] = [];
    const got: Buffer[] = [];
    tun.onPackets((pkts) => {
      batches.push(pkts.length);
      for (const p of pkts) got.push(Buffer.from(p));
    });
    const input = Array.from({ length: 130 }, (_, i) => Buffer.from([0x45, i]));
    tun.inject(input);
    assert.deepEqual(batches, [64, 64, 2]);
    assert.deepEqual(got, input);
    assert.deepEqual(input[0], Buffer.from([0x45, 0]), 'caller buffers untouched');
  });

  it('poisons the views once the callback returns (a kept view shows it)', () => {
    const tun = new FakeTun();
    let kept: Buffer | undefined;
    tun.onPackets((pkts) => (kept = pkts[0]));
    tun.inject([Buffer.from([1, 2, 3])]);
    assert.deepEqual(kept, Buffer.from([0xee, 0xee, 0xee]));

    const clean = new FakeTun('f', 1, { poison: false });
    clean.onPackets((pkts) => (kept = pkts[0]));
    clean.inject([Buffer.from([1, 2, 3])]);
    assert.deepEqual(kept, Buffer.from([1, 2, 3]));
  });

  it('queues until a callback is registered', async () => {
    const tun = new FakeTun();
    tun.inject([Buffer.from([9])]);
    const got: Buffer[] = [];
    tun.onPackets((pkts) => pkts.forEach((p) => got.push(Buffer.from(p))));
    assert.equal(got.length, 0, 'not re-entrant inside onPackets');
    await tick();
    assert.deepEqual(got, [Buffer.from([9])]);
  });

  it('records writes, refuses them when down or closed, tracks carrier; close is idempotent', () => {
    const tun = new FakeTun();
    const p = Buffer.from([0x45, 0]);
    assert.equal(tun.write([p]), 1);
    p[1] = 99;
    assert.deepEqual(tun.written, [Buffer.from([0x45, 0])], 'written holds copies');
    tun.adminUp = false;
    assert.equal(tun.write([p]), 0);
    tun.adminUp = true;
    tun.setCarrier(false);
    assert.equal(tun.carrier, false);
    tun.setCarrier(true);
    assert.equal(tun.carrier, true);
    let calls = 0;
    tun.onPackets(() => calls++);
    tun.close();
    tun.close();
    assert.equal(tun.write([p]), 0);
    tun.inject([p]);
    assert.equal(calls, 0);
  });
});

describe('FakeUnderlay', () => {
  it('pair delivers to the other end asynchronously with the sender as source', async () => {
    const [a, b] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4501);
    const atB: Datagram[] = [];
    const atA: Datagram[] = [];
    b.onDatagrams((ds) => ds.forEach((d) => atB.push({ ...d, data: Buffer.from(d.data) })));
    a.onDatagrams((ds) => ds.forEach((d) => atA.push({ ...d, data: Buffer.from(d.data) })));
    const data = Buffer.from('esp');
    assert.equal(a.send([{ data, addr: addrOf('192.0.2.2'), port: 4501 }]), 1);
    data.fill(0);
    assert.equal(atB.length, 0, 'not delivered inside send()');
    await tick();
    assert.deepEqual(atB, [{ data: Buffer.from('esp'), addr: addrOf('192.0.2.1'), port: 4500 }]);
    assert.deepEqual(a.sent, [{ data: Buffer.from('esp'), addr: addrOf('192.0.2.2'), port: 4501 }]);

    b.send([{ data: Buffer.from('back'), addr: addrOf('192.0.2.1'), port: 4500 }]);
    await tick();
    assert.equal(atA[0]?.data.toString(), 'back');
  });

  it('drops what is not addressed to the peer, and everything when blackholed', async () => {
    const [a, b] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500);
    let n = 0;
    b.onDatagrams((ds) => (n += ds.length));
    a.send([
      { data: Buffer.from('x'), addr: addrOf('192.0.2.3'), port: 4500 },
      { data: Buffer.from('x'), addr: addrOf('192.0.2.2'), port: 4999 },
    ]);
    a.blackhole = true;
    assert.equal(a.send([{ data: Buffer.from('x'), addr: addrOf('192.0.2.2'), port: 4500 }]), 1);
    await tick();
    assert.equal(n, 0);
    assert.equal(a.sent.length, 3);
  });

  it("esp pairs ignore ports and report port 0", async () => {
    const [a, b] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'esp');
    assert.equal(a.kind, 'esp');
    const got: Datagram[] = [];
    b.onDatagrams((ds) => ds.forEach((d) => got.push({ ...d, data: Buffer.from(d.data) })));
    a.send([{ data: Buffer.from('e'), addr: addrOf('192.0.2.2'), port: 1234 }]);
    await tick();
    assert.deepEqual(got, [{ data: Buffer.from('e'), addr: addrOf('192.0.2.1'), port: 0 }]);
  });

  it('carries the outer TOS as sent, lets the path rewrite it, and leaves it out when unset', async () => {
    const [a, b] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500);
    const got: Datagram[] = [];
    b.onDatagrams((ds) => ds.forEach((d) => got.push({ ...d, data: Buffer.from(d.data) })));
    a.send([
      { data: Buffer.from('t'), addr: addrOf('192.0.2.2'), port: 4500, tos: 0xba },
      { data: Buffer.from('u'), addr: addrOf('192.0.2.2'), port: 4500 },
    ]);
    await tick();
    assert.deepEqual(got, [
      { data: Buffer.from('t'), addr: addrOf('192.0.2.1'), port: 4500, tos: 0xba },
      { data: Buffer.from('u'), addr: addrOf('192.0.2.1'), port: 4500 },
    ]);
    assert.equal(a.sent[0]!.tos, 0xba);
    got.length = 0;
    a.pathTos = (t) => (t ?? 0) | 3;
    a.send([{ data: Buffer.from('m'), addr: addrOf('192.0.2.2'), port: 4500, tos: 0xba }]);
    await tick();
    assert.equal(got[0]!.tos, 0xbb, 'CE marked on the path');
    assert.equal(a.sent[0]!.tos, 0xba, 'what was sent is recorded unmarked');
    got.length = 0;
    b.inject([{ data: Buffer.from('i'), addr: addrOf('192.0.2.9'), port: 1, tos: 0x02 }]);
    assert.equal(got[0]!.tos, 0x02, 'inject passes tos through');
  });

  it('batch views are poisoned after the callback, inject batches like the real reader', () => {
    const u = new FakeUnderlay('192.0.2.1', 4500);
    let kept: Datagram | undefined;
    const sizes: number[] = [];
    u.onDatagrams((ds) => {
      sizes.push(ds.length);
      kept = ds[0];
    });
    u.inject(Array.from({ length: 70 }, () => ({ data: Buffer.from([1, 2]), addr: addrOf('192.0.2.9'), port: 1 })));
    assert.deepEqual(sizes, [64, 6]);
    assert.deepEqual(kept?.data, Buffer.from([0xee, 0xee]));
  });

  it('close is idempotent; a closed end neither sends nor receives', async () => {
    const [a, b] = FakeUnderlay.pair('192.0.2.1', 1, '192.0.2.2', 2);
    let n = 0;
    b.onDatagrams((ds) => (n += ds.length));
    a.send([{ data: Buffer.from('x'), addr: addrOf('192.0.2.2'), port: 2 }]);
    b.close();
    b.close();
    await tick();
    assert.equal(n, 0, 'in-flight datagram to a closed end is lost');
    a.close();
    assert.equal(a.send([{ data: Buffer.from('x'), addr: addrOf('192.0.2.2'), port: 2 }]), 0);
  });
});
