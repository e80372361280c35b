// The validator on real signed bytes: replies captured from NSD serving ldns-signed zones
// (make-vectors.ts), replayed with the clock pinned inside the signatures' window. Each case
// of lab/queries.ts must get its verdict and RFC 8914 code; then the clock, the anchors and
// the bytes are varied to show the verdicts follow them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrustAnchors } from '../../src/dns/anchors.js';
import { Message } from '../../src/wire/dns/message.js';
import { typeFromString } from '../../src/wire/dns/types.js';
import { rrToString } from '../../src/wire/dns/present.js';
import { LAB_QUERIES } from './lab/queries.js';
import { replayResolver, replayTransport, vectors } from './replay.js';

const DAY = 86400_000;

test('every lab query gets its expected verdict, status and reason code from the captured bytes', async () => {
  const { resolver, stub } = replayResolver();
  const table: string[] = [];
  for (const q of LAB_QUERIES) {
    const r = await resolver.lookup(q.name, typeFromString(q.type)!);
    table.push(`${q.name} ${q.type}: ${r.verdict} ${r.status} ${r.reason ? r.reason.code : ''}`);
    assert.equal(r.verdict, q.verdict, `${q.name} ${q.type} (${q.what}): ${r.reason?.detail}`);
    assert.equal(r.status, q.status, `${q.name} ${q.type}`);
    if (q.verdict === 'secure') assert.equal(r.reason, null);
    else assert.equal(r.reason?.code, q.code, `${q.name} ${q.type}: ${r.reason?.text}: ${r.reason?.detail}`);
    if (q.status === 'answer' && q.verdict !== 'bogus') assert.ok(r.rrset.length > 0, `${q.name} has data`);
  }
  assert.deepEqual(stub.counters, {}, 'nothing dropped on clean replies');
});

test('answers carry the RRset, CNAMEs and a TTL bounded by the records', async () => {
  const { resolver } = replayResolver();
  const www = await resolver.lookup('www.overlay.test', 1);
  assert.equal(www.verdict, 'secure');
  assert.deepEqual(www.cnames.map((c) => rrToString(c).split('\t')[4]), ['alias.overlay.test.', 'a.alg8.test.']);
  assert.deepEqual(www.rrset.map((c) => rrToString(c).split('\t')[4]), ['10.200.8.1']);
  assert.ok(www.ttl > 0 && www.ttl <= 300, `ttl ${www.ttl}`);
  const wild = await resolver.lookup('deep.x.wild.overlay.test', 1);
  assert.equal(wild.verdict, 'indeterminate', 'not captured: the fake stays silent');
  const again = await resolver.lookup('www.overlay.test', 1);
  assert.ok(again.cached);
});

test('the clock decides: past expiry every signature is expired, before inception not yet valid', async () => {
  const late = replayResolver({ nowMs: vectors.capturedAtMs + 31 * DAY });
  const r1 = await late.resolver.lookup('b.overlay.test', 1);
  assert.equal(r1.verdict, 'bogus');
  assert.equal(r1.reason?.code, 7);
  const early = replayResolver({ nowMs: vectors.capturedAtMs - 2 * 3600_000 });
  const r2 = await early.resolver.lookup('b.overlay.test', 1);
  assert.equal(r2.verdict, 'bogus');
  assert.equal(r2.reason?.code, 8);
  // Inside the allowed skew (inception is capture time - 1 h, skew 300 s): still secure.
  const skew = replayResolver({ nowMs: vectors.capturedAtMs - 3600_000 - 200_000 });
  assert.equal((await skew.resolver.lookup('b.overlay.test', 1)).verdict, 'secure');
  const noSkew = replayResolver({ nowMs: vectors.capturedAtMs - 3600_000 - 200_000, extra: { skewSec: 0 } });
  assert.equal((await noSkew.resolver.lookup('b.overlay.test', 1)).reason?.code, 8);
});

test('anchors: a DNSKEY anchor works like the DS; a nested anchor is used below it; a wrong anchor is bogus; none is insecure', async () => {
  const key = replayResolver({ anchors: parseTrustAnchors(vectors.anchorKey) });
  assert.equal((await key.resolver.lookup('b.overlay.test', 1)).verdict, 'secure');
  const nested = replayResolver({ anchors: parseTrustAnchors(`${vectors.anchorDs}\n${vectors.overlayDs}`) });
  assert.equal((await nested.resolver.lookup('b.overlay.test', 1)).verdict, 'secure');
  assert.ok(!nested.transport.log.some((e) => Message.decode(e.query).ok && (Message.decode(e.query) as { message: { questions: { type: number }[] } }).message.questions[0]!.type === 43),
    'with overlay.test. anchored, no DS is asked for');
  // Only the nested anchor, and it is wrong: digest altered.
  const badDs = vectors.overlayDs.replace(/[0-9a-f]$/, (c) => (c === '0' ? '1' : '0'));
  const wrong = replayResolver({ anchors: parseTrustAnchors(`${vectors.anchorDs}\n${badDs}`) });
  const w = await wrong.resolver.lookup('b.overlay.test', 1);
  assert.equal(w.verdict, 'bogus');
  assert.equal(w.reason?.code, 9);
  const other = replayResolver({ anchors: parseTrustAnchors('example. 3600 IN DS 1 13 2 ' + '00'.repeat(32)) });
  assert.equal((await other.resolver.lookup('b.overlay.test', 1)).verdict, 'insecure');
});

test('a stripped DS answer or a dropped denial is never a downgrade to insecure', async () => {
  // The parent's DS reply for overlay.test. loses its RRSIG.
  const strip = replayTransport((key, reply) => {
    if (key !== 'overlay.test. 43') return reply;
    const d = Message.decode(reply);
    if (!d.ok) return reply;
    const m = d.message;
    return Message.encode({ ...m, answers: m.answers.filter((r) => r.type !== 46) });
  });
  const r = await replayResolver({ transport: strip }).resolver.lookup('b.overlay.test', 1);
  assert.equal(r.verdict, 'bogus');
  assert.equal(r.reason?.code, 10);
  // The DS reply for plain.test. (an insecure delegation) loses its NSEC: bogus, not insecure.
  const noNsec = replayTransport((key, reply) => {
    if (key !== 'plain.test. 43') return reply;
    const d = Message.decode(reply);
    if (!d.ok) return reply;
    return Message.encode({ ...d.message, authority: d.message.authority.filter((x) => x.type === 6 || (x.data.kind === 'RRSIG' && x.data.typeCovered === 6)) });
  });
  const p = await replayResolver({ transport: noNsec }).resolver.lookup('a.plain.test', 1);
  assert.equal(p.verdict, 'bogus');
  assert.equal(p.reason?.code, 12);
  // No reply at all to the DS query: indeterminate, not insecure.
  const silent = replayTransport((key, reply) => (key === 'plain.test. 43' ? null : reply));
  const s = await replayResolver({ transport: silent }).resolver.lookup('a.plain.test', 1);
  assert.equal(s.verdict, 'indeterminate');
  assert.equal(s.reason?.code, 22);
});

test('an answer moved to another owner or with a forged address fails', async () => {
  const forged = replayTransport((key, reply) => {
    if (key !== 'b.overlay.test. 1') return reply;
    const d = Message.decode(reply);
    if (!d.ok) return reply;
    const answers = d.message.answers.map((a) => (a.data.kind === 'A' ? { ...a, data: { kind: 'A' as const, address: Buffer.from([6, 6, 6, 6]) } } : a));
    return Message.encode({ ...d.message, answers });
  });
  const r = await replayResolver({ transport: forged }).resolver.lookup('b.overlay.test', 1);
  assert.equal(r.verdict, 'bogus');
  assert.equal(r.reason?.code, 6);
});

test('canonical form: RR order and name case in a reply do not change the verdict (RFC 4034 §6)', async () => {
  const upper = (n: readonly Buffer[]) => n.map((l) => Buffer.from(l.toString('latin1').toUpperCase(), 'latin1'));
  const t = replayTransport((key, reply) => {
    const d = Message.decode(reply);
    if (!d.ok) return reply;
    const m = d.message;
    // The DNSKEY RRsets come in reverse order; CNAME targets and owners in upper case.
    if (key.endsWith(' 48')) return Message.encode({ ...m, answers: [...m.answers].reverse() });
    if (key === 'www.overlay.test. 1') {
      const answers = m.answers.map((a) => ({ ...a, name: upper(a.name), data: a.data.kind === 'NAME' ? { kind: 'NAME' as const, target: upper(a.data.target) } : a.data }));
      return Message.encode({ ...m, answers });
    }
    return reply;
  });
  const { resolver } = replayResolver({ transport: t });
  const dnskeyReplies = [...vectors.exchanges].filter((e) => e.qtype === 48).map((e) => Message.decode(Buffer.from(e.response, 'hex')));
  assert.ok(dnskeyReplies.some((d) => d.ok && d.message.answers.filter((a) => a.type === 48).length >= 2), 'multi-key DNSKEY RRsets exist');
  const r = await resolver.lookup('b.overlay.test', 1);
  assert.equal(r.verdict, 'secure', r.reason?.detail);
  const w = await resolver.lookup('www.overlay.test', 1);
  assert.equal(w.verdict, 'secure', w.reason?.detail);
  assert.equal(w.rrset.length, 1);
});
