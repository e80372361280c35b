// Dead peers and restarts over the in-memory wire: DPD finds a silent peer in the time its
// settings promise and takes the CHILD_SAs out; ESP and the peer's answers keep an SA alive;
// re-initiation backs off; INITIAL_CONTACT and INVALID_IKE_SPI recover from either side's restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair, B } from './engine-harness.js';
import { ExchangeType, IkeMessageCodec, NotifyType, PayloadType } from '../../src/wire/ike/index.js';
import { reinitDelay } from '../../src/ike/reinit.js';
import { initialContactVictims } from '../../src/ike/restart.js';
import { peerStateText } from '../../src/ike/view.js';
import type { IkeSa } from '../../src/ike/ike-sa.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { parseNodeConfig } from '../../src/control/config.js';

// Harness retransmission: 40 + 80 + 160 + 320 ms = 600 ms from the first check to giving up.
const GIVE_UP_MS = 600;

const infoRequests = (p: EnginePair, from: 'a' | 'b') => p.sent(from, ExchangeType.INFORMATIONAL, false);

test('DPD: a silent peer is declared dead within interval + retransmissions; its CHILD_SAs are removed', async () => {
  let silent = false;
  const p = new EnginePair({
    cfgA: { dpdIntervalS: 0.2 },
    cfgB: { dpdIntervalS: 0 },
    filter: (f) => (silent && f.from === 'b' ? 'drop' : 'pass'),
  });
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.a.installed.length === 1);
  const child = p.a.installed[0]!;
  silent = true;
  const t0 = p.clock.now();
  await p.until(() => p.a.removed.length === 1, 3000);
  const ms = p.clock.now() - t0;
  // Silence noticed after 200 ms (+ up to a quarter interval of sampling), then 4 unanswered checks.
  assert.ok(ms >= 200 + GIVE_UP_MS - 20, `declared dead after ${ms} ms, sooner than the settings allow`);
  assert.ok(ms <= 200 + 50 + GIVE_UP_MS + 250, `declared dead after ${ms} ms`);
  assert.deepEqual(p.a.removed[0], { spiIn: child.spiIn, spiOut: child.spiOut });
  assert.equal(p.a.outSpi, null, 'no outbound SA left: the data plane drops as no-sa');
  assert.notEqual(p.state(p.a), 'ESTABLISHED');
  assert.equal(infoRequests(p, 'a').length, 4, 'four transmissions of one empty INFORMATIONAL');
  const dead = p.a.logs.find((l) => /is dead: no answer to 4 DPD liveness checks/.test(l.msg));
  assert.ok(dead, 'an operator-readable line says the peer is dead');
  assert.match(dead!.msg, /CHILD_SAs deleted/);
  // The checks are empty INFORMATIONAL requests under SK.
  const m = IkeMessageCodec.decode(infoRequests(p, 'a')[0]!.d.data);
  assert.ok(m.ok && m.payloads.length === 1 && m.payloads[0]!.type === PayloadType.SK);
  p.stop();
});

test('DPD: the peer answers our checks, and authentic ESP makes checks unnecessary', async () => {
  const p = new EnginePair({ cfgA: { dpdIntervalS: 0.1 }, cfgB: { dpdIntervalS: 0 } });
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.a.installed.length === 1);
  await p.advance(500);
  const asked = infoRequests(p, 'a').length;
  assert.ok(asked >= 3, `a checked ${asked} times in 500 ms with a 100 ms interval`);
  assert.ok(p.sent('b', ExchangeType.INFORMATIONAL, true).length >= asked - 1, 'b answered every check');
  assert.equal(p.state(p.a), 'ESTABLISHED');
  assert.equal(p.a.removed.length, 0);
  // Now ESP keeps arriving on the CHILD_SA: no IKE round trip is needed.
  const spiIn = p.a.installed[0]!.spiIn;
  const usage = { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0, outSeq: 0 };
  p.a.usage.set(spiIn, usage);
  const stopFeed = p.time.every(10, () => usage.inPackets++);
  await p.advance(60);
  const before = infoRequests(p, 'a').length;
  await p.advance(500);
  stopFeed();
  assert.equal(infoRequests(p, 'a').length, before, 'no DPD while ESP arrives');
  p.stop();
});

test('DPD: peer checks are answered (b with DPD off still answers a)', async () => {
  const p = new EnginePair({ cfgA: { dpdIntervalS: 0 }, cfgB: { dpdIntervalS: 0.1 } });
  p.start();
  await p.until(() => p.state(p.b) === 'ESTABLISHED');
  await p.advance(400);
  const q = infoRequests(p, 'b').length;
  assert.ok(q >= 2, `b (responder) checked ${q} times`);
  assert.ok(p.sent('a', ExchangeType.INFORMATIONAL, true).length >= q - 1, 'a answered');
  assert.equal(infoRequests(p, 'a').length, 0, 'dpd_interval_s 0: a never checks');
  assert.equal(p.state(p.b), 'ESTABLISHED');
  p.stop();
});

test('re-initiation backoff: 1 s doubling to 60 s, jitter only shortens', () => {
  const pol = { baseMs: 1000, maxMs: 60000, jitter: 0.2 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => reinitDelay(n, pol, () => 0)), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  for (let n = 1; n < 12; n++) {
    const hi = reinitDelay(n, pol, () => 0);
    for (let i = 0; i < 50; i++) {
      const d = reinitDelay(n, pol, Math.random);
      assert.ok(d <= hi && d >= hi * 0.8, `attempt ${n}: ${d} outside [${hi * 0.8}, ${hi}]`);
    }
  }
});

test('an absent responder: attempts back off exponentially and show ike says when the next one is', async () => {
  const p = new EnginePair({
    engine: { retransmit: { initialMs: 10, tries: 2, maxMs: 1000 }, reinitMs: 100, reinitMaxMs: 400, reinitJitter: 0 },
  });
  // Only a runs: every IKE_SA_INIT goes unanswered (b has no peer configured and drops it).
  p.a.engine.addPeer(p.peerConfig('a'));
  await p.until(() => p.a.logs.filter((l) => /^retrying IKE with/.test(l.msg)).length >= 5, 5000);
  const spis = new Set(p.sent('a', ExchangeType.IKE_SA_INIT, false).map((f) => f.d.data.subarray(0, 8).toString('hex')));
  assert.ok(spis.size >= 5, `${spis.size} attempts, each with a new SPI`);
  const v = p.a.engine.view()[0]!;
  assert.ok(v.attempt >= 5, `attempt ${v.attempt}`);
  const log = p.a.logs.filter((l) => /^retrying IKE with/.test(l.msg)).map((l) => Number(/in ([\d.]+) s/.exec(l.msg)![1]) * 1000);
  assert.deepEqual(log.slice(0, 5), [100, 200, 400, 400, 400]);
  assert.match(p.a.logs.find((l) => /^retrying/.test(l.msg))!.msg, /\(attempt 2\)/);
  assert.ok(p.a.logs.some((l) => /no answer to IKE_SA_INIT from 192\.0\.2\.2 after 2 tries/.test(l.msg)), 'timeout is logged in words');
  p.stop();
});

test('a reload retunes the retry cap: waits already taken stay, the next ones use the new cap', async () => {
  const p = new EnginePair({
    engine: { retransmit: { initialMs: 10, tries: 2, maxMs: 1000 }, reinitMs: 100, reinitMaxMs: 1600, reinitJitter: 0 },
  });
  const waits = () => p.a.logs.filter((l) => /^retrying IKE with/.test(l.msg)).map((l) => Number(/in ([\d.]+) s/.exec(l.msg)![1]) * 1000);
  p.a.engine.addPeer(p.peerConfig('a'));
  await p.until(() => waits().length >= 2, 5000);
  p.a.engine.retune({ reinitMaxMs: 300 });
  await p.until(() => waits().length >= 4, 5000);
  assert.deepEqual(waits().slice(0, 4), [100, 200, 300, 300], 'without the reload: 400, 800');
  p.stop();
});

test('show ike state text spells the backoff out', () => {
  assert.equal(peerStateText({ state: 'WAITING', attempt: 4, retryInSeconds: 8 }), 'WAITING (retry in 8 s, attempt 4)');
  assert.equal(peerStateText({ state: 'CONNECTING', attempt: 3, retryInSeconds: null }), 'CONNECTING (attempt 3)');
  assert.equal(peerStateText({ state: 'ESTABLISHED', attempt: 1, retryInSeconds: null }), 'ESTABLISHED');
});

test('WAITING with retry seconds shows in the engine view between attempts', async () => {
  const p = new EnginePair({ engine: { retransmit: { initialMs: 10, tries: 1, maxMs: 1000 }, reinitMs: 5000, reinitJitter: 0 } });
  p.a.engine.addPeer(p.peerConfig('a'));
  await p.until(() => p.state(p.a) === 'WAITING');
  const v = p.a.engine.view()[0]!;
  assert.equal(v.attempt, 2);
  assert.equal(v.retryInSeconds, 5);
  assert.equal(peerStateText(v), 'WAITING (retry in 5 s, attempt 2)');
  p.stop();
});

test('initiator restarts: INITIAL_CONTACT makes the responder drop the stale SA at once, not after DPD', async () => {
  const p = new EnginePair({ cfgA: { dpdIntervalS: 3600 }, cfgB: { dpdIntervalS: 3600 } });
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.b.installed.length === 1);
  const oldChild = p.b.installed[0]!;
  const oldName = p.b.engine.sa('vl-a')!.name;
  const t0 = p.clock.now();
  const a2 = p.restart('a');
  await p.until(() => p.state(a2) === 'ESTABLISHED' && p.b.installed.length === 2 && p.b.removed.length === 1);
  const ms = p.clock.now() - t0;
  assert.ok(ms < 500, `recovered in ${ms} ms`);
  assert.deepEqual(p.b.removed[0], { spiIn: oldChild.spiIn, spiOut: oldChild.spiOut });
  assert.equal(p.b.outSpi, p.b.installed[1]!.spiOut, 'b sends on the new CHILD_SA');
  const vb = p.b.engine.view()[0]!;
  assert.equal(vb.sas.length, 1, 'only the new IKE SA is left on b');
  assert.notEqual(p.b.engine.sa('vl-a')!.name, oldName);
  assert.ok(p.b.logs.some((l) => /restarted \(INITIAL_CONTACT\): deleting 1 stale IKE SA/.test(l.msg)), 'b says the peer restarted');
  p.stop();
});

test('responder restarts: its INVALID_IKE_SPI answer to our DPD check brings a new IKE SA up fast', async () => {
  const p = new EnginePair({ cfgA: { dpdIntervalS: 0.2 }, cfgB: { dpdIntervalS: 0 } });
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.a.installed.length === 1);
  const oldName = p.a.engine.sa('vl-b')!.name;
  const t0 = p.clock.now();
  const b2 = p.restart('b');
  await p.until(() => p.state(b2) === 'ESTABLISHED' && p.a.installed.length === 2 && p.a.removed.length === 1, 3000);
  const ms = p.clock.now() - t0;
  // Before the check's retransmissions run out: the hint, not the timeout, did it.
  assert.ok(ms < 200 + 50 + GIVE_UP_MS, `recovered in ${ms} ms`);
  assert.notEqual(p.a.engine.sa('vl-b')!.name, oldName);
  assert.equal(p.a.outSpi, p.a.installed[1]!.spiOut);
  assert.ok(b2.engine.stats.dropped['unknown-spi']! >= 1);
  assert.ok(b2.logs.some((l) => /answered INVALID_IKE_SPI/.test(l.msg)), 'the restarted responder says what it did');
  assert.ok(p.a.logs.some((l) => /does not know IKE SA .* \(INVALID_IKE_SPI\): it probably restarted/.test(l.msg)), 'the survivor says why it renegotiates');
  const hint = IkeMessageCodec.decode(p.sent('b', ExchangeType.INFORMATIONAL, true).at(-1)!.d.data);
  assert.ok(hint.ok && hint.payloads.some((x) => x.type === PayloadType.NOTIFY && x.notifyType === NotifyType.INVALID_IKE_SPI), 'unprotected INVALID_IKE_SPI');
  // Negotiated while the old SA still stood: it must not claim a fresh start.
  assert.equal(p.a.engine.sa('vl-b')!.sendInitialContact, false);
  p.stop();
});

test('an unauthenticated INVALID_IKE_SPI changes no state on a responder; only a check follows', async () => {
  const p = new EnginePair({ cfgA: { dpdIntervalS: 0 }, cfgB: { dpdIntervalS: 0.15 } });
  p.start();
  await p.until(() => p.state(p.b) === 'ESTABLISHED');
  // a falls silent towards b's checks but keeps its state; a forged hint answers b's check.
  let forged = false;
  (p as unknown as { o: { filter: (f: { from: string; d: { data: Buffer } }) => string } }).o.filter = (f) => {
    if (f.from === 'b' && f.d.data[18] === ExchangeType.INFORMATIONAL && !forged) {
      forged = true;
      const h = IkeMessageCodec.decode(f.d.data);
      assert.ok(h.ok);
      const fake = IkeMessageCodec.encode({
        header: { ...h.header, initiator: true, response: true },
        payloads: [{ type: PayloadType.NOTIFY, protocolId: 0, spi: Buffer.alloc(0), notifyType: NotifyType.INVALID_IKE_SPI, data: Buffer.alloc(0) }],
      });
      setImmediate(() => p.b.engine.receive(fake, { addr: '192.0.2.1', port: 500 }, 500));
      return 'drop';
    }
    return 'pass';
  };
  await p.until(() => forged);
  await p.advance(30);
  assert.equal(p.state(p.b), 'ESTABLISHED', 'the hint alone deletes nothing');
  assert.equal(p.b.removed.length, 0);
  assert.equal(p.b.engine.stats.dropped['invalid-ike-spi'], 1);
  await p.advance(300);
  assert.equal(p.state(p.b), 'ESTABLISHED', 'the real answers to the retransmitted check keep it');
  p.stop();
});

test('initialContactVictims: same identity goes, other identities and our own fresh attempts stay', () => {
  const id = (s: string) => parseIdentity(s) as Exclude<ReturnType<typeof parseIdentity>, string>;
  const sa = (vlink: string, remote: string, state: string, role: string) =>
    ({ cfg: { vlink, remoteId: id(remote) }, state, role, name: `${vlink}/${state}/${role}` }) as unknown as IkeSa;
  const fresh = sa('vl-b', B, 'ESTABLISHED', 'responder');
  const old = sa('vl-b', B, 'ESTABLISHED', 'initiator');
  const halfOpen = sa('vl-b', B, 'CONNECTING', 'responder');
  const ours = sa('vl-b', B, 'CONNECTING', 'initiator');
  const other = sa('vl-c', '192.0.2.3', 'ESTABLISHED', 'initiator');
  const sameIdElsewhere = sa('vl-x', B, 'ESTABLISHED', 'responder');
  const gone = sa('vl-b', B, 'DELETED', 'initiator');
  const v = initialContactVictims([fresh, old, halfOpen, ours, other, sameIdElsewhere, gone], fresh);
  assert.deepEqual(v.map((x) => x.name), [old, halfOpen, sameIdElsewhere].map((x) => x.name));
});

test('config: dpd_interval_s defaults to 10, 0 turns DPD off, out-of-range values name the field', () => {
  const cfg = (extra: string) => `
node: a
underlay: { address: 192.0.2.1 }
vlinks:
  - name: vl-b
    peer: 192.0.2.2
    address: 10.255.0.0/31
    keying:
      mode: ikev2
      psk_file: /nonexistent/psk
${extra}`;
  const dpd = (extra: string) => {
    const k = parseNodeConfig(cfg(extra), { baseDir: '/' }).vlinks[0]!.keying;
    return k.mode === 'ikev2' ? k.dpdIntervalS : undefined;
  };
  assert.equal(dpd(''), 10);
  assert.equal(dpd('      dpd_interval_s: 0'), 0);
  assert.equal(dpd('      dpd_interval_s: 30'), 30);
  for (const bad of ['-1', '3601', '2.5', 'often']) {
    assert.throws(() => parseNodeConfig(cfg(`      dpd_interval_s: ${bad}`), { baseDir: '/' }), /vlinks\[0\]\.keying\.dpd_interval_s/);
  }
  assert.throws(() => parseNodeConfig(cfg('      dpd_intervall_s: 5'), { baseDir: '/' }), /did you mean "dpd_interval_s"/);
});
