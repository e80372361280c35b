// Inbound ordering against two real daemons (RFC 4301 §5.2), on both encapsulations: a real
// ESP packet captured from A before B ever saw it, re-sent to B from another underlay address,
// is dropped as policy-mismatch; the genuine copy from A's address is still delivered; only a
// later duplicate is a replay.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PairLab, REPO_ROOT } from '../../src/lab/pair-lab.js';
import { nsExec } from '../../src/lab/netns.js';
import { capture, netnsSkip, sendUdp, uniquePrefix } from './helpers.js';
import { readPcap } from './pcap.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'nft', 'tcpdump']);
const STRANGER = '10.200.0.3';

/** Sends ESP packets over a raw IP socket bound to `from` (the daemon's own socket code). */
async function sendEsp(ns: string, from: string, to: string, hexPkts: string[]): Promise<void> {
  const mod = path.join(REPO_ROOT, 'dist', 'src', 'io', 'raw-esp.js');
  const addrMod = path.join(REPO_ROOT, 'dist', 'src', 'wire', 'addr.js');
  const script = `
    const { openRawEsp } = await import(${JSON.stringify(mod)});
    const { addrFromString } = await import(${JSON.stringify(addrMod)});
    const s = openRawEsp(${JSON.stringify(from)});
    const to = addrFromString(${JSON.stringify(to)});
    const n = s.send(${JSON.stringify(hexPkts)}.map((h) => ({ data: Buffer.from(h, 'hex'), addr: to, port: 0 })));
    s.close();
    if (n !== ${hexPkts.length}) { console.error('sent ' + n); process.exit(1); }`;
  await nsExec(ns, [process.execPath, '--input-type=module', '-e', script], { timeoutMs: 30000 });
}

for (const encap of ['udp', 'esp'] as const) {
  describe(`inbound ordering, two daemons, encap ${encap}`, { skip }, () => {
    const lab = new PairLab({ prefix: uniquePrefix('ord'), encap, liveness: 'off' });
    before(async () => {
      await lab.up();
    });
    after(async () => {
      await lab.down();
    });

    test('a captured packet re-sent from another address: policy-mismatch, then the genuine copy is delivered, then replay', async () => {
      const send = (from: string, pkts: string[]) =>
        encap === 'udp' ? sendUdp(lab.a.ns, from, lab.b.underlay, 4500, pkts) : sendEsp(lab.a.ns, from, lab.b.underlay, pkts);
      const counters = async (): Promise<Obj> => ((await lab.show(lab.b, 'counters')) as Obj).vlinks[lab.b.vlink];
      // B drops everything from the underlay meanwhile, so its window has never seen these.
      const match = encap === 'udp' ? 'udp dport 4500' : 'ip protocol esp';
      await nsExec(lab.b.ns, ['nft', `add table ip iitord; add chain ip iitord in { type filter hook input priority 0; }; add rule ip iitord in ${match} drop`]);
      const file = path.join(lab.dir, 'order.pcap');
      const cap = await capture(lab.a.ns, 'eth-u', file, [encap === 'udp' ? 'udp' : 'esp', 'and', 'src', lab.a.underlay]);
      await nsExec(lab.a.ns, ['ping', '-c', '2', '-i', '0.05', '-W', '1', '-I', lab.a.vn, lab.b.vn], { allowFail: true });
      await cap.stop();
      await nsExec(lab.b.ns, ['nft', 'delete table ip iitord']);
      const esp = readPcap(file)
        .filter((p) => p.proto === (encap === 'udp' ? 17 : 50) && p.payload.length > 64)
        .map((p) => p.payload.toString('hex'));
      assert.ok(esp.length >= 2, `captured ${esp.length} ESP packets`);
      await nsExec(lab.a.ns, ['ip', 'addr', 'add', `${STRANGER}/24`, 'dev', 'eth-u']);
      try {
        const c0 = await counters();
        await send(STRANGER, [esp[0]!]);
        await new Promise((r) => setTimeout(r, 200));
        const c1 = await counters();
        assert.equal(c1['policy-mismatch'], c0['policy-mismatch'] + 1, 'the re-sent copy is a policy mismatch');
        assert.equal(c1.rxPackets, c0.rxPackets, 'and is not delivered');

        await send(lab.a.underlay, [esp[0]!]);
        await new Promise((r) => setTimeout(r, 200));
        const c2 = await counters();
        assert.equal(c2.replay, c1.replay, 'the genuine copy is not taken for a replay');
        assert.equal(c2.rxPackets, c1.rxPackets + 1, 'the genuine copy is delivered');

        await send(lab.a.underlay, [esp[0]!]);
        await send(STRANGER, [esp[0]!]);
        await new Promise((r) => setTimeout(r, 200));
        const c3 = await counters();
        assert.equal(c3.replay, c2.replay + 2, 'after delivery, every copy is a replay, from anywhere');
        assert.equal(c3.rxPackets, c2.rxPackets);
        assert.equal(c3['policy-mismatch'], c2['policy-mismatch']);
      } finally {
        await nsExec(lab.a.ns, ['ip', 'addr', 'del', `${STRANGER}/24`, 'dev', 'eth-u'], { allowFail: true });
      }
    });
  });
}
