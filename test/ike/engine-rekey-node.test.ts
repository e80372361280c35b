// Make-before-break through the real data plane: two OverlayNodes keyed by IKEv2 over fakes,
// packets flowing both ways every millisecond while CHILD_SAs and the IKE SA are rekeyed from
// either side and simultaneously. Every packet sent must arrive, and no drop counter may move.
//
// IKE messages take a few milliseconds on this wire while ESP takes one loop turn, so a rekey
// responder that switched its outbound SA before the initiator had read the response would
// have its first packets dropped as unknown-spi: the test catches that.
//
// Packets and IKE messages flow in real time; IKE's timers run on a FakeClock that stands still
// while the rekeys happen (rekeyNow starts them, messages finish them), then jumps over the
// grace period in which the old inbound SAs are kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { ikeView } from '../../src/control/inspect.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { Icmp } from '../../src/wire/icmp.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { fakeNodeIo, ikeWire, pairYaml } from '../control/fake-node-io.js';
import { VirtualTime } from './virtual-time.js';

const log = pino({ level: 'silent' });
const IKE_DELAY_MS = 4;

function yaml(dir: string, me: 'a' | 'b', psk: string): string {
  return pairYaml(dir, me, `      mode: ikev2
      psk_file: ${psk}
      ike_proposals: [aes256gcm16-prfsha256-x25519]
      esp_proposals: [aes256gcm16]`);
}


function packet(src: string, dst: string, seq: number): Buffer {
  const icmp = Icmp.encode({ kind: 'echo-request', identifier: 7, sequence: seq & 0xffff, data: Buffer.alloc(64, seq & 0xff) });
  return Ipv4.encode({ src: ipv4ToU32(src), dst: ipv4ToU32(dst), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true, payload: icmp } as never);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await sleep(5);
  }
}

test('rekeys under continuous traffic both ways lose nothing (two OverlayNodes, fakes)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-ike-rekey-'));
  const psk = path.join(dir, 'psk');
  fs.writeFileSync(psk, 'a shared secret of some length\n', { mode: 0o600 });
  const [ua, ub] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const tuns = new Map<string, FakeTun>();
  const openIkeUdp = ikeWire(IKE_DELAY_MS).open;
  const time = new VirtualTime();
  const io = (u: FakeUnderlay) => fakeNodeIo(u, tuns, { openIkeUdp, ikeClock: time.clock });
  const a = new OverlayNode(parseNodeConfig(yaml(dir, 'a', psk), { baseDir: dir }), io(ua), log);
  const b = new OverlayNode(parseNodeConfig(yaml(dir, 'b', psk), { baseDir: dir }), io(ub), log);
  let pump: NodeJS.Timeout | null = null;
  try {
    await b.start();
    await a.start();
    await until(() => a.vlinks.get('vl-b')!.policy.sa !== null && b.vlinks.get('vl-a')!.policy.sa !== null);
    const [ta, tb] = [tuns.get('vl-b')!, tuns.get('vl-a')!];
    let sent = 0;
    pump = setInterval(() => {
      sent++;
      ta.inject([packet('10.10.0.1', '10.10.0.2', sent)]);
      tb.inject([packet('10.10.0.2', '10.10.0.1', sent)]);
    }, 1);
    const outSpis = () => [a.vlinks.get('vl-b')!.policy.sa!.spi, b.vlinks.get('vl-a')!.policy.sa!.spi];
    const spiLog = [outSpis()];
    const rekeyAndSettle = async (fn: () => void, ike = false) => {
      const before = outSpis();
      const ikeBefore = a.ike!.sa('vl-b');
      fn();
      await until(() => {
        const now = outSpis();
        const va = ikeView(a).peers[0]!.sas;
        const vb = ikeView(b).peers[0]!.sas;
        const one = va.length === 1 && vb.length === 1 && va[0]!.children.length === 1 && vb[0]!.children.length === 1;
        return one && (ike ? a.ike!.sa('vl-b') !== ikeBefore : now[0] !== before[0] && now[1] !== before[1]);
      });
      spiLog.push(outSpis());
      await sleep(30);
    };
    await sleep(50);
    await rekeyAndSettle(() => assert.equal(a.ike!.rekeyNow('vl-b', 'child'), null));
    await rekeyAndSettle(() => assert.equal(b.ike!.rekeyNow('vl-a', 'child'), null));
    await rekeyAndSettle(() => assert.equal(a.ike!.rekeyNow('vl-b', 'ike'), null), true);
    await rekeyAndSettle(() => assert.equal(b.ike!.rekeyNow('vl-a', 'child'), null));
    await rekeyAndSettle(() => {
      assert.equal(a.ike!.rekeyNow('vl-b', 'child'), null);
      assert.equal(b.ike!.rekeyNow('vl-a', 'child'), null);
    });
    await rekeyAndSettle(() => assert.equal(a.ike!.rekeyNow('vl-b', 'child'), null));
    clearInterval(pump);
    pump = null;
    // The last packets in flight, then the old inbound SAs' grace periods.
    await sleep(100);
    await time.advance(2300);
    const fromA = tb.written.length;
    const fromB = ta.written.length;
    const drops = (n: OverlayNode, v: string) => {
      const d = n.vlinks.get(v)!.drops as unknown as Record<string, number>;
      const nd = n.nodeDrops as unknown as Record<string, number>;
      return { noSa: d['no-sa'], replay: d['replay'], badIcv: d['bad-icv'], unknownSpi: nd['unknown-spi'], malformed: nd['malformed'] };
    };
    const [da, db] = [drops(a, 'vl-b'), drops(b, 'vl-a')];
    console.log(`# MEASURED fake-wire rekeys: ${spiLog.length - 1} (out SPIs ${spiLog.map((s) => s.map((x) => x.toString(16)).join('/')).join(' -> ')}); sent ${sent} each way; delivered a->b ${fromA}, b->a ${fromB}; drops a ${JSON.stringify(da)} b ${JSON.stringify(db)}`);
    assert.equal(fromA, sent, 'every packet from a arrived');
    assert.equal(fromB, sent, 'every packet from b arrived');
    for (const d of [da, db]) assert.deepEqual(d, { noSa: 0, replay: 0, badIcv: 0, unknownSpi: 0, malformed: 0 });
    // Exactly one SA pair left in each data plane (old ones removed after their grace).
    assert.equal(a.sad.entries().length, 1);
    assert.equal(b.sad.entries().length, 1);
    assert.equal(a.sad.entries()[0]!.sa.spi, b.vlinks.get('vl-a')!.policy.sa!.spi);
  } finally {
    if (pump !== null) clearInterval(pump);
    await a.stop();
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
