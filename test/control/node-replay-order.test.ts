// Inbound ordering through a whole OverlayNode, for each keying mode and encapsulation: an
// authentic ESP packet captured between A and B and re-sent to B from another address is
// dropped as policy-mismatch, the genuine copy arriving after it is delivered, and a later
// duplicate is a replay (RFC 4301 §5.2; the unit cases are in test/dataplane/receive-order).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { sasView } from '../../src/control/inspect.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { addrFromString as addrOf, ipv4ToU32 } from '../../src/wire/addr.js';
import { fakeNodeIo, ikeWire, pairYaml, manualKeying, writePairKeys } from './fake-node-io.js';

const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setImmediate(r));
const ATTACKER = '198.51.100.66';

function keying(mode: 'manual' | 'ikev2', me: 'a' | 'b', dir: string): string {
  if (mode === 'ikev2') {
    return `      mode: ikev2
      psk_file: ${dir}/psk
      esp_proposals: [aes256gcm16]`;
  }
  return manualKeying(me, 'aes-gcm-256');
}

function yaml(dir: string, me: 'a' | 'b', mode: 'manual' | 'ikev2', encap: 'udp' | 'esp'): string {
  return pairYaml(dir, me, keying(mode, me, dir), { extra: [`encap: ${encap}`] });
}

function echo(n: number): Buffer {
  return Ipv4.encode({
    src: ipv4ToU32('10.255.0.0'), dst: ipv4ToU32('10.255.0.1'), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true,
    payload: Buffer.alloc(32, n),
  } as never);
}

for (const mode of ['manual', 'ikev2'] as const) {
  for (const encap of ['udp', 'esp'] as const) {
    test(`${mode} keying, encap ${encap}: a re-sent copy from another source cannot get the genuine one dropped as replay`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-order-'));
      if (mode === 'manual') {
        writePairKeys(dir, 'aes-gcm-256');
      } else {
        fs.writeFileSync(path.join(dir, 'psk'), 'a shared secret of some length\n', { mode: 0o600 });
      }
      const [ua, ub] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, encap, { poison: false });
      const tuns = new Map<string, FakeTun>();
      const openIkeUdp = ikeWire().open;
      const io = (u: FakeUnderlay) => fakeNodeIo(u, tuns, { openIkeUdp, openRawEsp: () => u });
      const a = new OverlayNode(parseNodeConfig(yaml(dir, 'a', mode, encap), { baseDir: dir }), io(ua), log);
      const b = new OverlayNode(parseNodeConfig(yaml(dir, 'b', mode, encap), { baseDir: dir }), io(ub), log);
      try {
        await b.start();
        await a.start();
        const t0 = Date.now();
        while (!(a.vlinks.get('vl-b')!.policy.sa && b.vlinks.get('vl-a')!.inbound.length > 0)) {
          if (Date.now() - t0 > 5000) throw new Error('no SAs');
          await new Promise((r) => setTimeout(r, 5));
        }
        // Capture A's packet on the wire instead of delivering it.
        ua.blackhole = true;
        tuns.get('vl-b')!.inject([echo(1)]);
        await tick();
        const wire = ua.sent.filter((d) => d.data.length > 8 && d.data.readUInt32BE(0) !== 0).at(-1);
        assert.ok(wire !== undefined, 'A sent the packet');
        const port = encap === 'udp' ? 4500 : 0;
        const vb = b.vlinks.get('vl-a')!;
        const sa = vb.inbound.at(-1)!;
        const delivered = tuns.get('vl-a')!.written;

        ub.inject([{ data: wire.data, addr: addrOf(ATTACKER), port }]);
        assert.equal(vb.drops['policy-mismatch'], 1);
        assert.equal(delivered.length, 0);
        assert.equal(sa.replay.top, 0, 'the refused copy did not enter the window');

        ub.inject([{ data: wire.data, addr: addrOf('192.0.2.1'), port }]);
        assert.equal(vb.drops.replay, 0);
        assert.deepEqual(delivered, [echo(1)], 'the genuine copy is delivered');

        ub.inject([{ data: wire.data, addr: addrOf('192.0.2.1'), port }]);
        assert.equal(vb.drops.replay, 1, 'a later duplicate is a replay');
        assert.equal(delivered.length, 1);
        const inView = sasView(b).sas.find((s) => s.dir === 'in')!;
        assert.equal(inView.keying, mode);
        assert.equal(inView.packets, 1);
        assert.equal(inView.replayDrops, 1);
      } finally {
        await a.stop();
        await b.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
