// Daemon-level IKE fuzz (issue 4: "a fuzz test throws a large number of mutated IKE messages,
// built from real captured ones, at the responder; it stays up and keeps serving a legitimate
// peer"). Two daemons keyed by IKEv2 (PSK) in their own namespaces; from node a's namespace, a
// third address (10.200.0.3, a stranger) and a's own address on other ports (the configured
// peer's address, so datagrams get past the peer checks and, carrying b's live SPIs, into the SA's
// message-ID window and SK verification) send mutated charon captures at b's UDP 500 and 4500.
// Node b must not exit, keep its SA and the VN path, count the junk under named reasons, keep its
// memory bounded, and still accept a brand-new IKE SA from the real peer afterwards.
//
// IIPTRAN_FUZZ_SEED (default: random, printed) and IIPTRAN_FUZZ_COUNT (default 30000) reproduce a run.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PairLab, REPO_ROOT } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { controlCall } from '../../src/control/control-client.js';
import { uniquePrefix, netnsSkip } from './helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping']);
const FUZZ = path.join(REPO_ROOT, 'dist', 'test', 'netns', 'ike-fuzz.js');
const STRANGER = '10.200.0.3';
const COUNT = Number(process.env['IIPTRAN_FUZZ_COUNT'] ?? 30000);
const SEED = Number(process.env['IIPTRAN_FUZZ_SEED'] ?? Math.floor(Math.random() * 0xffffffff));
/** 3000/s: 30k in about 10 s, slow enough that b's socket buffers do not shed most of it. */
const RATE = 3000;
const RSS_LIMIT_KB = 64 * 1024;

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) !== 0) d[k] = v - (before[k] ?? 0);
  return d;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

async function pings(lab: PairLab, from: PairLab['a'], to: PairLab['a'], n: number) {
  return parsePing((await nsExec(from.ns, ['ping', '-c', String(n), '-i', '0.1', '-W', '2', '-I', from.vn, to.vn], { allowFail: true })).stdout);
}

describe('IKE fuzz against a running responder daemon', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('fz'), keying: 'ikev2' });
  before(async () => {
    await lab.up();
    // The stranger lives in a's namespace on the shared underlay: b answers it over the veth, so
    // nothing leaves the two namespaces.
    await nsExec(lab.a.ns, ['ip', 'addr', 'add', `${STRANGER}/24`, 'dev', 'eth-u']);
  });
  after(async () => {
    await lab.down();
  });

  test(`${COUNT} mutated charon IKE messages on 500 and 4500: b stays up, keeps serving a, counts the junk`, async () => {
    console.log(`# ike fuzz seed ${SEED} (IIPTRAN_FUZZ_SEED=${SEED} IIPTRAN_FUZZ_COUNT=${COUNT} to replay)`);
    const proc = lab.b.proc!;
    let exited: string | null = null;
    proc.once('exit', (code, sig) => (exited = `code ${code} signal ${sig}`));
    const pid = ((await controlCall(lab.b.socket, 'ping', {})) as Obj).pid as number;
    const ike0 = (await lab.show(lab.b, 'ike')) as Obj;
    const sa0 = (ike0.peers[0].sas as Obj[]).find((s) => s.state === 'ESTABLISHED');
    assert.ok(sa0 !== undefined, `b has an ESTABLISHED IKE SA: ${JSON.stringify(ike0.peers[0])}`);
    const cnt0 = (await lab.show(lab.b, 'counters')) as Obj;
    const rss0 = rssKb(pid);
    let rssMax = rss0;
    const sampler = setInterval(() => {
      try {
        rssMax = Math.max(rssMax, rssKb(pid));
      } catch {
        // Gone: `exited` says why.
      }
    }, 200);

    const opts = { dst: lab.b.underlay, count: COUNT, seed: SEED, sources: [lab.a.underlay, STRANGER], spiI: sa0.spiI, spiR: sa0.spiR, rate: RATE };
    let run: Obj;
    try {
      const r = await nsExec(lab.a.ns, [process.execPath, FUZZ, JSON.stringify(opts)], { timeoutMs: 90000 });
      run = JSON.parse(r.stdout.trim()) as Obj;
    } finally {
      clearInterval(sampler);
    }
    const log = lab.logs(lab.b);
    assert.equal(exited, null, `b exited during the fuzz (seed ${SEED}):\n${log.slice(-8000)}`);
    assert.equal(((await controlCall(lab.b.socket, 'ping', {})) as Obj).pid, pid, 'the same b process answers');

    const ike1 = (await lab.show(lab.b, 'ike')) as Obj;
    const cnt1 = (await lab.show(lab.b, 'counters')) as Obj;
    const rss1 = rssKb(pid);
    const dropped = delta(ike1.stats.dropped, ike0.stats.dropped);
    const nodeDrops = delta(cnt1.node_drops, cnt0.node_drops);
    const rx = ike1.stats.rx - ike0.stats.rx;
    const tx = ike1.stats.tx - ike0.stats.tx;
    const ikeDropped = sum(dropped);
    console.log(`# fuzz run: ${JSON.stringify(run)}`);
    console.log(`MEASURED ike fuzz: ${run.sent} messages (${run.port500} to 500, ${run.port4500} to 4500, ${run.badMarker} with a broken marker) in ${run.ms} ms, ` +
      `seed ${SEED}; b read ${rx} as IKE, ${ikeDropped} dropped by reason ${JSON.stringify(dropped)}; data plane node drops ${JSON.stringify(nodeDrops)}; ` +
      `b sent ${tx} IKE datagrams (${run.answers} reached the fuzzer), halfOpen ${ike1.stats.halfOpen}, cookies ${JSON.stringify(ike1.stats.cookies)}; ` +
      `RSS ${rss0} -> ${rss1} kB (max ${rssMax} kB, +${rssMax - rss0} kB)`);

    // No crash signature in b's log: a throw inside the receive path would be an uncaught exception.
    assert.doesNotMatch(log, /"level":60|TypeError|RangeError|ReferenceError|SyntaxError|AssertionError|uncaught/i, `b logged a crash (seed ${SEED}):\n${log.slice(-8000)}`);

    // The fuzz really arrived, and what b read is accounted for under named reasons. Not every
    // read datagram is a drop: a mutated but well-formed IKE_SA_INIT from a's address is a
    // legitimate request (answered, or refused with a notify), which is the point of cookies.
    assert.ok(rx >= COUNT * 0.5, `b read only ${rx} of ${COUNT} IKE datagrams`);
    assert.ok(ikeDropped >= rx * 0.8, `only ${ikeDropped} of ${rx} read counted as dropped: ${JSON.stringify(dropped)}`);
    for (const reason of Object.keys(dropped)) assert.match(reason, /^[a-z0-9-]+$/, `drop reason "${reason}" is a name`);
    assert.ok((dropped['unknown-spi'] ?? 0) > 0, 'junk SPIs counted');
    assert.ok(Object.keys(dropped).length >= 4, `several distinct reasons: ${JSON.stringify(dropped)}`);
    // Datagrams with b's live SPIs from a's address got as far as SK verification (or the message-ID window).
    assert.ok(Object.keys(dropped).some((k) => /integrity|icv|auth|sk|decrypt|message-id/i.test(k)), `live-SA junk reached the SA: ${JSON.stringify(dropped)}`);
    if (run.badMarker > 0) assert.ok(sum(nodeDrops) > 0, `broken markers counted by the data plane: ${JSON.stringify(nodeDrops)}`);
    assert.ok(rssMax - rss0 < RSS_LIMIT_KB, `b's RSS grew by ${rssMax - rss0} kB`);

    // b still serves a: the SA it had (or, had something legitimately replaced it, a new one) and the VN path.
    const p1 = ike1.peers[0] as Obj;
    assert.equal(p1.state, 'ESTABLISHED', `b's peer state after the fuzz: ${JSON.stringify(p1)}`);
    const still = (p1.sas as Obj[]).some((s) => s.state === 'ESTABLISHED' && s.spiI === sa0.spiI);
    if (!still) console.log(`# the IKE SA ${sa0.spiI} was replaced during the fuzz: ${JSON.stringify(p1.sas)}`);
    const ab = await pings(lab, lab.a, lab.b, 5);
    const ba = await pings(lab, lab.b, lab.a, 5);
    assert.equal(ab.received, 5, 'a -> b VN ping after the fuzz');
    assert.equal(ba.received, 5, 'b -> a VN ping after the fuzz');

    // A brand-new IKE SA from the legitimate peer: a restarts (fresh SPIs, INITIAL_CONTACT). The
    // fuzz may have left b in COOKIE mode (half-open SAs from mutated IKE_SA_INITs at a's address),
    // so this also proves a real initiator gets through that.
    const t1 = Date.now();
    await lab.killAndRestart(lab.a);
    let fresh: Obj | undefined;
    for (;;) {
      const p = ((await lab.show(lab.b, 'ike')) as Obj).peers[0] as Obj;
      fresh = (p.sas as Obj[]).find((s) => s.state === 'ESTABLISHED' && s.spiI !== sa0.spiI && s.children.length > 0);
      if (fresh !== undefined) break;
      assert.ok(Date.now() - t1 < 30000, `no new IKE SA within 30 s:\nnode a:\n${lab.logs(lab.a).slice(-4000)}\nnode b:\n${lab.logs(lab.b).slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await lab.waitReachable(15000);
    const ms = Date.now() - t1;
    const ab2 = await pings(lab, lab.a, lab.b, 5);
    const ba2 = await pings(lab, lab.b, lab.a, 5);
    assert.equal(ab2.received, 5, 'a -> b VN ping over the new SA');
    assert.equal(ba2.received, 5, 'b -> a VN ping over the new SA');
    const st2 = ((await lab.show(lab.b, 'ike')) as Obj).stats as Obj;
    console.log(`MEASURED ike fuzz: new IKE SA ${fresh.spiI}_i ${fresh.spiR}_r from the restarted peer in ${ms} ms (b cookies accepted ${st2.cookies.accepted}, halfOpen ${st2.halfOpen})`);
    assert.equal(exited, null, 'b is still running');
    assert.equal(((await controlCall(lab.b.socket, 'ping', {})) as Obj).pid, pid);
  });
});
