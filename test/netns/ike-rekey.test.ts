// Two `iiptran node` daemons keyed by IKEv2 with a 5 s CHILD_SA lifetime (and a 12 s IKE SA
// lifetime) while iperf3 pushes TCP both ways across the vlink for 12 s: several make-before-break
// rekeys happen under load. Nothing may be lost to a switch: the drop counters a rekey could
// move (no-sa, unknown-spi, replay, bad-icv) stay at zero on both nodes.
// IIPTRAN_REKEY_BASELINE=1 runs the same load without rekeys, for comparing TCP retransmits.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec } from '../../src/lab/netns.js';
import { uniquePrefix, netnsSkip } from './helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'iperf3']);
const REASONS = ['no-sa', 'replay', 'bad-icv'] as const;

describe('IKEv2 rekeying under an iperf3 load (pair, 5 s CHILD_SA lifetime)', { skip }, () => {
  const lab = new PairLab({
    prefix: uniquePrefix('rk'),
    keying: 'ikev2',
    ikeYaml: ['ike_proposals: [aes256gcm16-prfsha256-x25519]', 'esp_proposals: [aes256gcm16]', ...(process.env.IIPTRAN_REKEY_BASELINE ? [] : ['child_lifetime_s: 5', 'ike_lifetime_s: 12'])],
  });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  test('iperf3 -t 12 across several rekeys: CHILD SPIs change, no drop counter moves', async () => {
    const counters = async () => {
      const out: Obj = {};
      for (const n of [lab.a, lab.b]) {
        const c = (await lab.show(n, 'counters')) as Obj;
        const v = c.vlinks[n.vlink] as Obj;
        out[n.name] = { ...Object.fromEntries(REASONS.map((r) => [r, v[r] ?? 0])), 'unknown-spi': c.node_drops['unknown-spi'] ?? 0 };
      }
      return out;
    };
    const spis = { a: new Set<string>(), b: new Set<string>(), ikeA: new Set<string>() };
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const n of [lab.a, lab.b]) {
          const v = (await lab.show(n, 'ike')) as Obj;
          for (const s of v.peers[0].sas as Obj[]) {
            for (const c of s.children as Obj[]) spis[n.name].add(c.spiOut);
            if (n.name === 'a' && s.state === 'ESTABLISHED') spis.ikeA.add(`${s.spiI}_${s.spiR}`);
          }
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const c0 = await counters();
    await nsExec(lab.b.ns, ['iperf3', '-s', '-D', '-1', '-B', lab.b.vn, '-p', '5211']);
    await new Promise((r) => setTimeout(r, 300));
    const run = JSON.parse((await nsExec(lab.a.ns, ['iperf3', '-c', lab.b.vn, '-B', lab.a.vn, '-p', '5211', '-t', '12', '--bidir', '-J'], { timeoutMs: 60000 })).stdout) as Obj;
    // Grace periods of the last replaced inbound SAs.
    await new Promise((r) => setTimeout(r, 2500));
    polling = false;
    await poll;
    const c1 = await counters();
    const delta: Obj = {};
    for (const n of ['a', 'b']) delta[n] = Object.fromEntries(Object.keys(c1[n]).map((k) => [k, c1[n][k] - c0[n][k]]));
    const rekeys = (name: 'a' | 'b') => (lab.logs(name === 'a' ? lab.a : lab.b).match(/rekeyed CHILD_SA installed/g) ?? []).length;
    const ikeRekeys = (lab.logs(lab.a).match(/IKE_SA \S+ \S+ rekeyed/g) ?? []).length;
    const sent = run.end.sum_sent as Obj;
    const rev = (run.end.sum_sent_bidir_reverse ?? { bits_per_second: 0, retransmits: 0 }) as Obj;
    const mbps = (x: Obj) => (x.bits_per_second / 1e6).toFixed(0);
    console.log(`# MEASURED iperf3 -t 12 --bidir under rekeying: a->b ${mbps(sent)} Mbit/s ${sent.retransmits} TCP retransmits, b->a ${mbps(rev)} Mbit/s ${rev.retransmits} retransmits; CHILD_SA outbound SPIs seen a ${spis.a.size} b ${spis.b.size} ` +
      `(rekeys installed: a ${rekeys('a')}, b ${rekeys('b')}); IKE SAs seen ${spis.ikeA.size} (IKE rekeys ${ikeRekeys}); drops during the run a ${JSON.stringify(delta.a)} b ${JSON.stringify(delta.b)}`);
    if (process.env.IIPTRAN_REKEY_DEBUG) {
      for (const n of [lab.a, lab.b]) console.log(`--- ${n.name}\n` + lab.logs(n).split('\n').filter((l) => !/"level":20/.test(l)).map((l) => { try { const j = JSON.parse(l); return `${j.time} ${j.msg}`; } catch { return l; } }).join('\n'));
    }
    if (process.env.IIPTRAN_REKEY_BASELINE) return;
    assert.ok(spis.a.size >= 3 && spis.b.size >= 3, `at least 2 CHILD_SA rekeys: SPIs a ${[...spis.a]} b ${[...spis.b]}`);
    for (const n of ['a', 'b']) {
      for (const [k, d] of Object.entries(delta[n] as Obj)) assert.equal(d, 0, `${n}: ${k} drops during the run`);
    }
    assert.ok(sent.bytes > 0);
    // Old inbound SAs do not pile up: between a rekey's grace period and the next rekey, one pair per node.
    for (const n of [lab.a, lab.b]) {
      const t0 = Date.now();
      let ins = -1;
      while (Date.now() - t0 < 6000) {
        const sas = ((await lab.show(n, 'sas')) as Obj).sas as Obj[];
        ins = sas.filter((s) => s.dir === 'in').length;
        assert.ok(ins <= 2, `${n.name}: ${ins} inbound SAs`);
        assert.equal(sas.filter((s) => s.dir === 'out').length, 1, `${n.name}: one outbound SA`);
        if (ins === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ins, 1, `${n.name}: one inbound SA left between rekeys`);
    }
  });
});
