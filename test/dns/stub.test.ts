// The stub resolver against fake and real (loopback) transports: replies that are not ours
// are dropped and counted under named reasons, TC moves to TCP, failures move to the next
// server, and a server that never answers gives an indeterminate verdict within the timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { realClock } from '../../src/clock.js';
import { pinnedClock } from '../helpers/pinned-clock.js';
import { DnssecResolver } from '../../src/dns/resolver.js';
import { StubResolver } from '../../src/dns/stub.js';
import { FakeTransport } from '../../src/dns/transport-fake.js';
import { nodeTransport } from '../../src/dns/transport.js';
import { parseTrustAnchors } from '../../src/dns/anchors.js';
import { Message, ednsOf, parseName, parseRR, type DnsMessage } from '../../src/wire/dns/index.js';
import { vectors } from './replay.js';

const S1 = { address: '192.0.2.53', port: 53 };
const S2 = { address: '192.0.2.54', port: 53 };
const NAME = parseName('b.overlay.test.');

function answerTo(q: Buffer, edit: (m: DnsMessage) => void = () => {}): Buffer {
  const d = Message.decode(q);
  assert.ok(d.ok);
  const m: DnsMessage = { ...d.message, qr: true, aa: true, answers: [parseRR('b.overlay.test. 300 IN A 10.200.1.2')], additional: [] };
  edit(m);
  return Message.encode(m);
}

test('the query asks with EDNS0, DO, CD and a 1232-octet buffer', async () => {
  const t = new FakeTransport((q) => [answerTo(q)]);
  const stub = new StubResolver({ servers: [S1], transport: t, clock: pinnedClock(0) });
  const r = await stub.query(NAME, 1);
  assert.ok(r.ok);
  const q = Message.decode(t.log[0]!.query);
  assert.ok(q.ok);
  assert.ok(q.message.cd && q.message.rd && !q.message.qr);
  const e = ednsOf(q.message);
  assert.ok(e && e !== 'multiple');
  assert.equal(e.udpSize, 1232);
  assert.ok(e.do);
});

test('wrong ID, wrong question, wrong source, truncated RRs and a compression loop are dropped and counted; the real reply is taken', async () => {
  const t = new FakeTransport((q) => {
    const good = answerTo(q);
    const wrongId = Buffer.from(good);
    wrongId.writeUInt16BE((good.readUInt16BE(0) + 1) & 0xffff, 0);
    const wrongQ = answerTo(q, (m) => (m.questions = [{ name: parseName('evil.test.'), type: 1, class: 1 }]));
    const truncated = good.subarray(0, good.length - 3);
    // Same ID and flags, then a question name that points at itself.
    const loop = Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    const notResponse = Buffer.from(good);
    notResponse[2]! &= 0x7f;
    return [wrongId, wrongQ, truncated, loop, notResponse, good];
  });
  const stub = new StubResolver({ servers: [S1], transport: t, clock: pinnedClock(0) });
  const r = await stub.query(NAME, 1);
  assert.ok(r.ok);
  assert.equal(r.message.answers.length, 1);
  assert.deepEqual(stub.counters, { 'id-mismatch': 1, 'question-mismatch': 1, truncated: 1, 'compression-loop': 1, 'not-a-response': 1 });
  t.replyFrom = { address: '198.51.100.1', port: 53 };
  const r2 = await new StubResolver({ servers: [S1], transport: t, clock: pinnedClock(0), timeoutMs: 50, rounds: 1 }).query(NAME, 1);
  assert.ok(!r2.ok);
});

test('TC=1 moves to TCP on the same server; SERVFAIL moves to the next server', async () => {
  const t = new FakeTransport((q, proto, server) => {
    if (server.address === S1.address) return [answerTo(q, (m) => (m.rcode = 2))];
    return proto === 'udp' ? [answerTo(q, (m) => ((m.tc = true), (m.answers = [])))] : [answerTo(q)];
  });
  const stub = new StubResolver({ servers: [S1, S2], transport: t, clock: pinnedClock(0) });
  const r = await stub.query(NAME, 1);
  assert.ok(r.ok);
  assert.ok(r.tcp);
  assert.equal(r.server.address, S2.address);
  assert.deepEqual(t.log.map((e) => `${e.server.address} ${e.proto}`), ['192.0.2.53 udp', '192.0.2.54 udp', '192.0.2.54 tcp']);
  assert.deepEqual(stub.counters, { servfail: 1, 'tcp-fallback': 1 });
});

test('a server that never answers: indeterminate with reason 22 within the timeout', async () => {
  const t = new FakeTransport(() => null);
  const clock = pinnedClock(vectors.capturedAtMs);
  const stub = new StubResolver({ servers: [S1, S2], transport: t, clock, timeoutMs: 100, rounds: 2 });
  const resolver = new DnssecResolver({ fetcher: stub, clock, anchors: parseTrustAnchors(vectors.anchorDs), timeoutMs: 2000 });
  const t0 = performance.now();
  const r = await resolver.lookup('b.overlay.test', 1);
  const ms = performance.now() - t0;
  assert.equal(r.verdict, 'indeterminate');
  assert.equal(r.status, 'error');
  assert.equal(r.reason?.code, 22);
  assert.match(r.reason!.detail, /after 4 attempt\(s\).*no reply within 100 ms/);
  assert.ok(ms >= 380 && ms < 1500, `took ${ms} ms`);
  assert.equal(stub.counters.timeout, 4);
  // The whole lookup is bounded too, even when the stub would wait longer.
  const slow = new StubResolver({ servers: [S1], transport: t, clock, timeoutMs: 5000, rounds: 3 });
  const bounded = new DnssecResolver({ fetcher: slow, clock, anchors: parseTrustAnchors(vectors.anchorDs), timeoutMs: 300 });
  const t1 = performance.now();
  const b = await bounded.lookup('b.overlay.test', 1);
  assert.equal(b.verdict, 'indeterminate');
  assert.match(b.reason!.detail, /timed out after 300 ms/);
  assert.ok(performance.now() - t1 < 1000);
});

test('the node transport over loopback: UDP reply with TC, then the full answer over TCP', async () => {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  udp.on('message', (q, rinfo) => udp.send(answerTo(q, (m) => ((m.tc = true), (m.answers = []))), rinfo.port, rinfo.address));
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const a = answerTo(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        s.end(Buffer.concat([len, a]));
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  try {
    const stub = new StubResolver({ servers: [{ address: '127.0.0.1', port }], transport: nodeTransport, clock: realClock, timeoutMs: 1000 });
    const r = await stub.query(NAME, 1);
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(r.tcp);
    assert.equal(r.message.answers.length, 1);
  } finally {
    udp.close();
    tcp.close();
  }
});
