// Two OverlayNodes keyed by IKEv2 over fakes, then the path between them dies: DPD takes the
// CHILD_SAs out of the data plane (packets drop as no-sa, nothing leaves), the carrier goes off
// and stays off while no SA exists, and when the path heals the initiator's re-initiation brings
// the vlink back, carrier on. The data plane (liveness probes, ESP) runs in real time; IKE runs
// on a FakeClock that the waits move from one IKE timer to the next, so DPD's seconds cost none.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { Icmp } from '../../src/wire/icmp.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { fakeNodeIo, ikeWire, pairYaml } from '../control/fake-node-io.js';
import { trackedIkeWire, VirtualTime } from './virtual-time.js';

const log = pino({ level: 'silent' });

function yaml(dir: string, me: 'a' | 'b', psk: string, liveness: string): string {
  return pairYaml(dir, me, `      mode: ikev2
      psk_file: ${psk}
      dpd_interval_s: 1
      ike_proposals: [aes256gcm16-prfsha256-x25519]
      esp_proposals: [aes128gcm16]`, { liveness });
}

/** Until `cond`, within `ms` of IKE time: each step gives the data plane a real millisecond, lets IKE messages land, then runs IKE's next timer. */
async function until(time: VirtualTime, cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = time.clock.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 1));
    await time.settle();
    if (cond()) return;
    const next = time.clock.nextDue();
    if (next === null || next - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    time.clock.runNext();
  }
}

const isEsp = (d: { data: Buffer }) => d.data.length >= 4 && d.data.readUInt32BE(0) !== 0;

async function scenario(liveness: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-ike-dpd-'));
  const psk = path.join(dir, 'psk');
  fs.writeFileSync(psk, 'a shared secret of some length\n', { mode: 0o600 });
  const [ua, ub] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const tuns = new Map<string, FakeTun>();
  const wire = ikeWire();
  const time = new VirtualTime();
  const openIkeUdp = trackedIkeWire(wire, time);
  const io = (u: FakeUnderlay) =>
    fakeNodeIo(u, tuns, {
      openIkeUdp,
      ikeClock: time.clock,
      // 50 + 100 + 200 ms: a check is given up 350 ms after it is sent.
      ikeRetransmit: { initialMs: 50, tries: 3, maxMs: 1000 },
    });
  const a = new OverlayNode(parseNodeConfig(yaml(dir, 'a', psk, liveness), { baseDir: dir }), io(ua), log);
  const b = new OverlayNode(parseNodeConfig(yaml(dir, 'b', psk, liveness), { baseDir: dir }), io(ub), log);
  const va = () => a.vlinks.get('vl-b')!;
  const vb = () => b.vlinks.get('vl-a')!;
  const pkt = Ipv4.encode({
    src: ipv4ToU32('10.10.0.1'), dst: ipv4ToU32('10.10.0.2'), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true,
    payload: Icmp.encode({ kind: 'echo-request', identifier: 1, sequence: 1, data: Buffer.alloc(32, 7) }),
  } as never);
  try {
    await b.start();
    await a.start();
    await until(time, () => va().policy.sa !== null && vb().policy.sa !== null, 3000, 'IKE installs the SAs');
    await until(time, () => tuns.get('vl-b')!.carrier && tuns.get('vl-a')!.carrier, 1000, 'carrier on');

    const oldIn = va().inbound[0]!.spi;
    // The underlay dies both ways, IKE included.
    ua.blackhole = true;
    ub.blackhole = true;
    wire.cut = true;
    const t0 = time.clock.now();
    await until(time, () => va().policy.sa === null, 4000, 'DPD removes the CHILD_SA on a');
    const ms = time.clock.now() - t0;
    // 1 s of silence (+ a quarter interval of sampling), then 350 ms of unanswered checks.
    assert.ok(ms >= 1000 + 350 - 50 && ms <= 1000 + 250 + 350 + 400, `a declared b dead after ${ms} ms`);
    assert.equal(va().inbound.length, 0, 'no inbound SA left on a');
    assert.equal(a.sad.get(oldIn), undefined, 'the old inbound SA is out of the SAD');
    assert.equal(tuns.get('vl-b')!.carrier, false, 'carrier off');
    const peer = a.ike!.view()[0]!;
    assert.notEqual(peer.state, 'ESTABLISHED');
    assert.match(peer.lastError ?? '', /is dead: no answer to 3 DPD liveness checks/);
    await until(time, () => vb().policy.sa === null, 2000, 'b (responder) also declares a dead');
    assert.equal(tuns.get('vl-a')!.carrier, false);

    // Packets now drop as no-sa and nothing is sent, in clear or otherwise.
    const espBefore = ua.sent.filter(isEsp).length;
    const noSa = va().drops['no-sa'];
    tuns.get('vl-b')!.inject([pkt, pkt, pkt]);
    // The carrier must not flap back up while no SA exists (10 liveness intervals).
    for (let i = 0; i < 50; i++) {
      assert.equal(tuns.get('vl-b')!.carrier, false, 'carrier stayed off');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(va().drops['no-sa'], noSa + 3, 'dropped as no-sa');
    assert.equal(ua.sent.filter(isEsp).length, espBefore, 'no ESP (and no probe) left a without an SA');

    // The path heals: a re-initiates (1 s backoff, jitter only shortens) and the vlink returns.
    ua.blackhole = false;
    ub.blackhole = false;
    wire.cut = false;
    await until(time, () => va().policy.sa !== null && vb().policy.sa !== null, 6000, 'IKE re-established');
    assert.equal(tuns.get('vl-b')!.carrier, true, 'carrier back on a with the new SA');
    assert.equal(tuns.get('vl-a')!.carrier, true, 'carrier back on b');
    tuns.get('vl-b')!.inject([pkt]);
    await until(time, () => tuns.get('vl-a')!.written.length >= 1, 1000, 'a packet crosses again');
    assert.deepEqual(tuns.get('vl-a')!.written.at(-1), pkt);
    assert.equal(a.ike!.view()[0]!.state, 'ESTABLISHED');
  } finally {
    await a.stop();
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('DPD over real OverlayNodes (liveness on): no-sa drops, carrier off without flapping, re-initiation brings the vlink back', async () => {
  await scenario('{ interval_ms: 50, dead_ms: 200 }');
});

// Without liveness probes only IKE can move the carrier: DPD must turn it off, a new SA on.
test('DPD over real OverlayNodes (liveness off): the carrier still follows the SAs', async () => {
  await scenario('off');
});
