// Bad input never throws, never changes state it should not, and gets the answers RFC 7296 asks
// for; afterwards the engine still serves a legitimate peer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EnginePair, A } from './engine-harness.js';
import { ExchangeType, IkeMessageCodec, NotifyType, PayloadType, type NotifyPayload } from '../../src/wire/ike/index.js';
import { IKE_DROP_REASONS } from '../../src/ike/drop-reasons.js';

function answers(p: EnginePair, from: 'a' | 'b'): NotifyPayload[] {
  const out: NotifyPayload[] = [];
  for (const f of p.wire.filter((x) => x.from === from)) {
    const m = IkeMessageCodec.decode(f.d.data);
    if (m.ok) for (const q of m.payloads) if (q.type === PayloadType.NOTIFY) out.push(q);
  }
  return out;
}

/** A header + one unknown payload type 200 with the critical bit. */
function unknownCritical(): Buffer {
  const b = Buffer.alloc(28 + 8);
  randomBytes(8).copy(b, 0);
  b[16] = 200;
  b[17] = 0x20;
  b[18] = ExchangeType.IKE_SA_INIT;
  b[19] = 0x08;
  b.writeUInt32BE(b.length, 24);
  b[28] = 0;
  b[29] = 0x80;
  b.writeUInt16BE(8, 30);
  return b;
}

test('garbage, truncation, oversize, unknown critical payloads, mutations: no throw, right answers, still serving', async () => {
  let capture: Buffer | null = null;
  const p = new EnginePair({ filter: (f) => { if (capture === null && f.from === 'a') capture = Buffer.from(f.d.data); return 'pass'; } });
  const b = p.b.engine;
  const from = { addr: A, port: 500 };
  // Only the responder runs for now: feed it junk as if from its configured peer.
  b.addPeer(p.peerConfig('b'));
  b.receive(Buffer.alloc(0), from, 500);
  b.receive(Buffer.from([1, 2, 3]), from, 500);
  b.receive(Buffer.alloc(70000), from, 500);
  for (let i = 0; i < 3000; i++) b.receive(randomBytes(1 + (i % 300)), from, 500);
  b.receive(unknownCritical(), from, 500);
  await p.advance(5);
  const n = answers(p, 'b');
  assert.ok(n.some((x) => x.notifyType === NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD && x.data[0] === 200), 'UNSUPPORTED_CRITICAL_PAYLOAD naming type 200');
  assert.ok((b.stats.dropped['oversized'] ?? 0) >= 1);
  assert.equal(b.view()[0]!.sas.length, 0, 'no state from junk');

  // A real IKE_SA_INIT, then every single-byte truncation and 2000 random mutations of it.
  p.a.engine.addPeer(p.peerConfig('a'));
  await p.until(() => capture !== null);
  const real = capture!;
  p.stop();
  const q = new EnginePair();
  const r = q.b.engine;
  r.addPeer(q.peerConfig('b'));
  for (let len = 0; len < real.length; len++) r.receive(real.subarray(0, len), from, 500);
  for (let i = 0; i < 2000; i++) {
    const m = Buffer.from(real);
    for (let k = 0; k < 1 + (i % 4); k++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
    r.receive(m, from, 500);
  }
  // A request missing its KE is answered INVALID_SYNTAX, unprotected, with no state kept.
  const dec = IkeMessageCodec.decode(real);
  assert.ok(dec.ok);
  const noKe = IkeMessageCodec.encode({ header: { ...dec.header, spiI: 0x1234n }, payloads: dec.payloads.filter((x) => x.type !== PayloadType.KE) });
  r.receive(noKe, from, 500);
  await q.advance(5);
  assert.ok(answers(q, 'b').some((x) => x.notifyType === NotifyType.INVALID_SYNTAX));
  // Half-open SAs from mutated-but-valid requests are allowed; they expire. Now a real peer:
  q.a.engine.addPeer(q.peerConfig('a'));
  await q.until(() => q.state(q.a) === 'ESTABLISHED' && q.a.installed.length === 1);
  // Mutated copies of the peer's IKE_AUTH request after the fact: authenticated SAs ignore them.
  const auth = q.sent('a', ExchangeType.IKE_AUTH, false)[0]!.d.data;
  for (let i = 0; i < 500; i++) {
    const m = Buffer.from(auth);
    m[28 + Math.floor(Math.random() * (m.length - 28))] ^= 1 + Math.floor(Math.random() * 255);
    r.receive(m, from, 500);
  }
  await q.advance(5);
  assert.equal(q.state(q.b), 'ESTABLISHED');
  assert.equal(q.b.installed.length, 1);
  q.stop();
});

test('a wrong message ID or a response nobody asked for is dropped and counted', async () => {
  const p = new EnginePair();
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED');
  const auth = p.sent('a', ExchangeType.IKE_AUTH, false)[0]!.d.data;
  const future = Buffer.from(auth);
  future.writeUInt32BE(7, 20);
  p.b.engine.receive(future, { addr: A, port: 500 }, 500);
  const resp = Buffer.from(p.sent('b', ExchangeType.IKE_AUTH, true)[0]!.d.data);
  p.a.engine.receive(resp, { addr: '192.0.2.2', port: 500 }, 500);
  await p.advance(5);
  assert.equal(p.b.engine.stats.dropped['message-id'], 1);
  assert.equal(p.a.engine.stats.dropped['unexpected-response'], 1);
  assert.equal(p.state(p.a), 'ESTABLISHED');
  p.stop();
});

test('every datagram dropped is counted under one named reason from the published list', async () => {
  const p = new EnginePair();
  const b = p.b.engine;
  b.addPeer(p.peerConfig('b'));
  const from = { addr: A, port: 500 };
  // Nothing here is a valid first message, so every one of them must end as a drop.
  const junk: Buffer[] = [Buffer.alloc(0), Buffer.alloc(70000), unknownCritical()];
  for (let i = 0; i < 2000; i++) junk.push(randomBytes(1 + (i % 200)));
  for (let i = 0; i < 500; i++) {
    // Valid headers of every exchange, flags and SPIs, with random bodies.
    const h = randomBytes(28 + (i % 64));
    h[17] = 0x20;
    h[18] = 34 + (i % 4);
    h.writeUInt32BE(h.length, 24);
    junk.push(h);
  }
  for (const d of junk) b.receive(d, from, 500);
  await p.advance(5);
  const dropped = b.stats.dropped;
  const total = Object.values(dropped).reduce((n, x) => n + x, 0);
  assert.equal(b.stats.rx, junk.length);
  assert.equal(total, junk.length, `every datagram counted once: ${JSON.stringify(dropped)}`);
  for (const reason of Object.keys(dropped)) assert.ok((IKE_DROP_REASONS as readonly string[]).includes(reason), `"${reason}" is a listed reason`);
  assert.equal(b.view()[0]!.sas.length, 0);
  // After stop, what still arrives is counted too.
  b.stop();
  b.receive(junk[5]!, from, 500);
  assert.equal(b.stats.dropped['stopped'], 1);
  p.stop();
});

test('a handler that throws in work it finished later (after the peer authorisation) costs a counted internal-error, not the process', async () => {
  // A bug stand-in: the key log throws when the CHILD_SA is installed, which happens after the
  // asynchronous check of the peer, on both sides.
  const p = new EnginePair({ engine: { keyLog: (r) => { if (r['type'] === 'child') throw new Error('key log bug'); } } });
  p.start();
  await p.until(() => (p.a.engine.stats.dropped['internal-error'] ?? 0) + (p.b.engine.stats.dropped['internal-error'] ?? 0) >= 1);
  assert.ok(p.b.logs.some((l) => l.level >= 50 && /made a handler throw/.test(l.msg)));
  p.stop();
});
