// Interactive traffic beside a saturating flow on the same vlink (issue 9): a 10 ms ping stream
// while iperf3 fills the vlink, each way, must lose under 1%. The kernel's drops at the TUN are
// shown in `show links` and `show counters`, and the data path the vlink runs in `path`.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec } from '../../src/lab/netns.js';
import { uniquePrefix, netnsSkip } from './helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'iperf3']);
const PINGS = 500;

describe('ping beside a saturating iperf3 on one vlink (pair, UDP, offloads on)', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('lp') });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  for (const reverse of [false, true]) {
    test(`${reverse ? 'B->A' : 'A->B'}: under 1% of ${PINGS} pings lost, nothing counted malformed`, async () => {
      const port = reverse ? '5222' : '5221';
      await nsExec(lab.b.ns, ['iperf3', '-s', '-D', '-1', '-B', lab.b.vn, '-p', port]);
      await new Promise((r) => setTimeout(r, 300));
      const iperf = nsExec(lab.a.ns, ['iperf3', '-c', lab.b.vn, '-B', lab.a.vn, '-p', port, '-t', '8', '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: 60000 });
      await new Promise((r) => setTimeout(r, 1000));
      const ping = await nsExec(lab.a.ns, ['ping', '-n', '-q', '-c', String(PINGS), '-i', '0.01', '-W', '1', '-I', lab.a.vn, lab.b.vn], { allowFail: true, timeoutMs: 60000 });
      const run = JSON.parse((await iperf).stdout) as Obj;
      const m = ping.stdout.match(/(\d+) packets transmitted, (\d+) received/);
      assert.ok(m, ping.stdout);
      const lost = Number(m[1]) - Number(m[2]);
      const mbps = (run.end.sum_received.bits_per_second / 1e6).toFixed(0);
      console.log(`# MEASURED loaded ping ${reverse ? 'B->A' : 'A->B'}: ${lost}/${m[1]} lost beside iperf3 at ${mbps} Mbit/s (${ping.stdout.trim().split('\n').at(-1)})`);
      assert.ok(run.end.sum_received.bits_per_second > 100e6, `iperf3 saturated the vlink: ${mbps} Mbit/s`);
      assert.ok(lost * 100 < Number(m[1]), `${lost} of ${m[1]} pings lost`);
      for (const n of [lab.a, lab.b]) {
        const c = (await lab.show(n, 'counters')) as Obj;
        assert.equal(c.vlinks[n.vlink].malformed, 0, `${n.name}: malformed`);
        assert.equal(c.node_drops.malformed, 0, `${n.name}: node malformed`);
      }
    });
  }

  test('show links and show counters carry the path and the kernel drops at the TUN', async () => {
    const l = ((await lab.show(lab.a, 'links')) as Obj).links[0];
    assert.deepEqual(Object.keys(l.path).sort(), ['crypto', 'fastOut', 'tunOffload', 'udpGro', 'udpGso', 'uso']);
    // The pings went both ways through the native fast path, the iperf3 super-packets through JS.
    assert.ok(l.path.fastOut.batches > 0 && l.path.fastOut.fallbacks > 0, JSON.stringify(l.path.fastOut));
    assert.ok(l.path.fastOut.inBatches > 0, JSON.stringify(l.path.fastOut));
    assert.equal(l.path.crypto, 'native');
    assert.equal(typeof l.tunDrops.tx, 'number');
    assert.equal(typeof l.tunDrops.rx, 'number');
    assert.ok(l.tsoSplit > 0 || !l.path.tunOffload, 'super-packets were split when the TUN has offloads');
    const c = ((await lab.show(lab.a, 'counters')) as Obj).vlinks[lab.a.vlink];
    assert.equal(c.tunTxDropped, l.tunDrops.tx);
    assert.equal(c.tunRxDropped, l.tunDrops.rx);
    // The kernel's own numbers for the TUN, as `ip -s link` reads them.
    const k = JSON.parse((await nsExec(lab.a.ns, ['ip', '-j', '-s', 'link', 'show', lab.a.vlink])).stdout)[0].stats64;
    assert.equal(k.tx.dropped, l.tunDrops.tx);
    assert.equal(k.rx.dropped, l.tunDrops.rx);
  });
});
