import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createNetns, deleteNetns, runInNetns } from './netns.js';
import { netnsSkip } from '../netns/helpers.js';

describe('native fast path (real TUN and UDP socket in a namespace)', { skip: netnsSkip(['ip']) }, () => {
  const namespaces: string[] = [];
  after(() => namespaces.forEach(deleteNetns));

  it('seals the same bytes as the JS engine, keeps one counter with JS, and stops on SA or SAD changes', async () => {
    const ns = createNetns('io-fast');
    namespaces.push(ns);
    try {
      const r = await runInNetns(ns, 'fastpath-child.js', []);
      const f = r.json;
      assert.ok(f, `child printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      assert.equal(f.error, undefined, String(f.error));
      assert.equal(r.code, 0, r.stderr);
      // 20 single-packet batches: the first through JS (which installs the state), the rest native.
      const first = f.fastAfterFirst as { on: boolean; batches: number; fallbacks: number };
      assert.equal(first.on, true);
      assert.ok(first.batches >= 15, `fast batches ${first.batches}`);
      assert.equal(f.capturedFirst, 20);
      assert.deepEqual(f.seqs, Array.from({ length: 20 }, (_, i) => i + 1), 'one sequence space for both paths');
      assert.equal(f.identical, 20, 'every datagram equals the JS engine sealing the same packet at the same seq');
      assert.equal(f.txPackets, 20, 'vlink txPackets counts both paths');
      assert.equal(f.sa1Seq, 20);
      assert.equal(f.sa1Packets, 20);
      // Deleting the SA turns the fast path off before the next packet: they drop as no-sa in JS.
      assert.equal((f.fastAfterDelete as { on: boolean }).on, false);
      assert.equal(f.capturedAfterDelete, 0, 'nothing leaves under a deleted SA');
      assert.equal(f.noSaDrops, 5);
      // A new SA is picked up (JS first), and only its SPI is on the wire.
      assert.equal((f.fastAfterNew as { on: boolean }).on, true);
      assert.deepEqual(f.spisAfterNew, [0x2222]);
      assert.equal(f.sa2Seq, 6);
      assert.equal((f.fastAfterSad as { on: boolean }).on, false, 'a SAD change turns it off');
      // Too big for the vlink MTU: handed to JS, which drops it as mtu (and answers with ICMP).
      assert.equal(f.mtuDrop, 1);
      assert.ok((f.fallbacksForBig as number) >= 1);
    } finally {
      deleteNetns(ns);
    }
  });

  it('inbound: delivers what receive.ts would, shares its replay window, hands replays and forgeries to JS, stops when the SA goes', async () => {
    const ns = createNetns('io-fastin');
    namespaces.push(ns);
    try {
      const r = await runInNetns(ns, 'fastpath-in-child.js', []);
      const f = r.json;
      assert.ok(f, `child printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      assert.equal(f.error, undefined, String(f.error));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(f.delivered, Array.from({ length: 20 }, (_, i) => `m${i}`));
      const st = f.stats as { inSas: number; inBatches: number };
      assert.equal(st.inSas, 1);
      assert.ok(st.inBatches >= 15, `native inbound batches ${st.inBatches}`);
      assert.equal(f.rxPackets, 20, 'vlink rxPackets counts both paths');
      assert.equal(f.saPackets, 20, 'SA packets count both paths');
      assert.equal(f.top, 20, 'one replay window: the native path moved the JS window');
      assert.equal(f.rxAlive, true, 'liveness sees natively received packets');
      // Replays of packets the native path accepted are refused by JS with the same window.
      assert.deepEqual(f.afterBad, []);
      assert.equal(f.replayDrops, 2);
      assert.equal(f.saReplayDrops, 2);
      assert.equal(f.icvDrops, 1);
      assert.deepEqual(f.afterAgain, ['again']);
      assert.equal(f.inSasAfterDelete, 0, 'removing the SA from the SAD turns the inbound state off');
      assert.deepEqual(f.afterDelete, []);
      assert.equal(f.unknownSpi, 1);
    } finally {
      deleteNetns(ns);
    }
  });
});
