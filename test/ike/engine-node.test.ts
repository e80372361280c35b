// Two OverlayNodes with ikev2 keying over fakes: IKE installs the CHILD_SA into the SPD/SAD, a
// packet crosses, the inspector shows it; before IKE finishes, packets drop as no-sa.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { ikeView, sasView } from '../../src/control/inspect.js';
import { IKE_DROP_REASONS } from '../../src/ike/drop-reasons.js';
import { renderIke } from '../../src/tools/inspector.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { Icmp } from '../../src/wire/icmp.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { fakeNodeIo, ikeWire, pairYaml } from '../control/fake-node-io.js';

const log = pino({ level: 'silent' });

function yaml(dir: string, me: 'a' | 'b', psk: string): string {
  return pairYaml(dir, me, `      mode: ikev2
      psk_file: ${psk}
      ike_proposals: [aes128-sha256-ecp256]
      esp_proposals: [chacha20poly1305]`);
}


test('IKE brings up a vlink between two OverlayNodes; show sas says ikev2', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-ike-node-'));
  const psk = path.join(dir, 'psk');
  fs.writeFileSync(psk, 'a shared secret of some length\n', { mode: 0o600 });
  const [ua, ub] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const tuns = new Map<string, FakeTun>();
  const openIkeUdp = ikeWire().open;
  const io = (u: FakeUnderlay) => fakeNodeIo(u, tuns, { openIkeUdp });
  const a = new OverlayNode(parseNodeConfig(yaml(dir, 'a', psk), { baseDir: dir }), io(ua), log);
  const b = new OverlayNode(parseNodeConfig(yaml(dir, 'b', psk), { baseDir: dir }), io(ub), log);
  try {
    await b.start();
    await a.start();
    const pkt = Icmp.encode({ kind: 'echo-request', identifier: 1, sequence: 1, data: Buffer.alloc(32, 7) });
    const ip = Ipv4.encode({ src: ipv4ToU32('10.10.0.1'), dst: ipv4ToU32('10.10.0.2'), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true, payload: pkt } as never);
    // Before IKE: no SA on the policy, so the packet is dropped, never sent.
    assert.equal(a.vlinks.get('vl-b')!.policy.sa, null);
    tuns.get('vl-b')!.inject([ip]);
    const t0 = Date.now();
    while (!(a.vlinks.get('vl-b')!.policy.sa && b.vlinks.get('vl-a')!.policy.sa)) {
      if (Date.now() - t0 > 3000) throw new Error('IKE did not install SAs');
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(a.vlinks.get('vl-b')!.drops['no-sa'] >= 1, 'the packet sent before IKE was dropped as no-sa');
    assert.equal(ua.sent.filter((d) => d.data.readUInt32BE(0) !== 0).length, 0, 'nothing but IKE left before the SA existed');
    const roleA = ikeView(a).peers[0]!;
    assert.equal(roleA.role, 'initiator', 'auto: the lower address initiates');
    assert.equal(ikeView(b).peers[0]!.role, 'responder');
    assert.equal(roleA.state, 'ESTABLISHED');
    // The view lists every reason its drop counters may name (drop-reasons.ts).
    assert.deepEqual(ikeView(a).reasons, [...IKE_DROP_REASONS]);
    assert.ok(ikeView(a).reasons.includes('unknown-spi'));
    tuns.get('vl-b')!.inject([ip]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(tuns.get('vl-a')!.written, [ip]);
    const sas = sasView(a).sas;
    assert.equal(sas.length, 2);
    assert.ok(sas.every((s) => s.keying === 'ikev2' && s.suite === 'chacha20-poly1305'));
    const text = renderIke(JSON.parse(JSON.stringify(ikeView(a))));
    assert.match(text, /ESTABLISHED/);
    assert.match(text, /ENCR_AES_CBC-128\/AUTH_HMAC_SHA2_256_128\/PRF_HMAC_SHA2_256\/ECP_256/);
  } finally {
    await a.stop();
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
