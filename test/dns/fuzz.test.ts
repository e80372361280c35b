// 100k mutated real replies (the NSD captures of vectors.json with bytes flipped, inserted,
// deleted, truncated or pointer-corrupted) through the codec and the validator's per-reply
// steps with the zones' real keys; then a few thousand full lookups whose replies are mutated
// on the way. No exception may escape; the figures are printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Message, parseName, RRType } from '../../src/wire/dns/index.js';
import { groupRRsets, findRRset } from '../../src/dns/canonical.js';
import { interpret, verifiedDenialRecords, denialFrom, signerHint } from '../../src/dns/response.js';
import { verifyRRset, zoneKeysOf } from '../../src/dns/rrsig.js';
import { replyMap, replayResolver, replayTransport, vectors } from './replay.js';
import { LAB_QUERIES } from './lab/queries.js';
import { typeFromString } from '../../src/wire/dns/types.js';

/** xorshift32: a reproducible stream, so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

export function mutate(buf: Buffer, r: () => number): Buffer {
  const b = Buffer.from(buf);
  const kind = Math.floor(r() * 6);
  const at = Math.floor(r() * b.length);
  switch (kind) {
    case 0: { // flip a few bits
      const n = 1 + Math.floor(r() * 4);
      for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)]! ^= 1 << Math.floor(r() * 8);
      return b;
    }
    case 1: return b.subarray(0, at); // truncate
    case 2: return Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(r() * 256)]), b.subarray(at)]);
    case 3: return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r() * 8))]);
    case 4: { // a compression pointer anywhere
      if (at + 1 < b.length) {
        b[at] = 0xc0 | Math.floor(r() * 4);
        b[at + 1] = Math.floor(r() * 256);
      }
      return b;
    }
    default: { // random 16-bit field (counts, lengths, types)
      if (at + 1 < b.length) b.writeUInt16BE(Math.floor(r() * 65536), at);
      return b;
    }
  }
}

test('100k mutated NSD replies through the codec and the validator steps: no exception escapes', () => {
  const replies = [...replyMap().entries()];
  // The zones' DNSKEYs from the captures, so the validator steps do real signature work.
  const keysByZone = new Map<string, ReturnType<typeof zoneKeysOf>>();
  for (const [key, buf] of replies) {
    if (!key.endsWith(' 48')) continue;
    const d = Message.decode(buf);
    if (!d.ok) continue;
    const set = findRRset(groupRRsets(d.message.answers), d.message.questions[0]!.name, RRType.DNSKEY);
    if (set) keysByZone.set(key.slice(0, -3), zoneKeysOf(set.rrs));
  }
  assert.ok(keysByZone.size >= 10);
  const nowSec = Math.floor(vectors.capturedAtMs / 1000);
  const ctx = { nowSec, skewSec: 300, iterationCap: 100 };
  const r = rng(0x5eed);
  const N = 100_000;
  const outcomes: Record<string, number> = {};
  let verified = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const [key, orig] = replies[i % replies.length]!;
    const buf = mutate(orig, r);
    const d = Message.decode(buf);
    const o = d.ok ? 'decoded' : d.error;
    outcomes[o] = (outcomes[o] ?? 0) + 1;
    if (!d.ok || d.message.questions.length !== 1) continue;
    const q = d.message.questions[0]!;
    const hop = interpret(d.message, q.name, q.type);
    const hint = signerHint(d.message, hop, q.name);
    const zoneName = hint ?? parseName(key.split(' ')[0]!);
    const keys = keysByZone.get(zoneName.map((l) => l.toString('latin1')).join('.').toLowerCase() + '.') ?? [...keysByZone.values()][0]!;
    if (hop.kind === 'negative') {
      const recs = verifiedDenialRecords(d.message, zoneName, keys, ctx);
      denialFrom(recs, { qname: q.name, qtype: q.type, zone: zoneName, nxdomain: hop.nxdomain }, 100);
    } else if (verifyRRset(hop.set, zoneName, keys, nowSec, 300).ok) verified++;
  }
  const ms = performance.now() - t0;
  console.log(`# fuzz codec+validator steps: ${N} mutated replies in ${ms.toFixed(0)} ms; outcomes ${JSON.stringify(outcomes)}; ${verified} mutated answers still verified`);
  assert.ok((outcomes.decoded ?? 0) > N / 10, 'a fair share still decodes, so the validator steps are exercised');
  assert.ok(Object.keys(outcomes).length >= 5, 'several refusal reasons are reached');
});

test('full lookups over mutated replies: every one resolves to a verdict, none rejects', async () => {
  const r = rng(0xbeef);
  const N = 1000;
  const verdicts: Record<string, number> = {};
  const t0 = performance.now();
  for (let i = 0; i < N; i += 50) {
    // A fresh resolver per batch, so the cache does not hide the mutations.
    const t = replayTransport((_k, reply) => (r() < 0.5 ? mutate(reply, r) : reply));
    const { resolver } = replayResolver({ transport: t, extra: { timeoutMs: 2000 }, stubTimeoutMs: 20 });
    const batch = Array.from({ length: 50 }, (_, j) => LAB_QUERIES[(i + j) % LAB_QUERIES.length]!);
    const rs = await Promise.all(batch.map((q) => resolver.lookup(q.name, typeFromString(q.type)!)));
    for (const x of rs) verdicts[x.verdict] = (verdicts[x.verdict] ?? 0) + 1;
  }
  const ms = performance.now() - t0;
  console.log(`# fuzz full lookups: ${N} in ${ms.toFixed(0)} ms; verdicts ${JSON.stringify(verdicts)}`);
  assert.equal(Object.values(verdicts).reduce((a, b) => a + b, 0), N);
});
