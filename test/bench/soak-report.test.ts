// The soak's arithmetic (bench/soak-report.ts): which pings count, the drift slope, the verdicts.
// The soak itself is a tool (`npm run soak`), never run by the tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplies, pingLoss, slope, summarise, verdicts, type DaemonSample, type Sample } from '../../bench/soak-report.js';

const T0 = 1_700_000_000;

/** `ping -D` output for pings every 0.2 s from T0, answered after 0.5 ms unless listed as lost. */
function pingOutput(sent: number, lost: Set<number>): string {
  const lines = ['PING 10.255.0.1 (10.255.0.1) 56(84) bytes of data.'];
  for (let seq = 1; seq <= sent; seq++) {
    if (lost.has(seq)) continue;
    const at = T0 + (seq - 1) * 0.2 + 0.0005;
    lines.push(`[${at.toFixed(6)}] 64 bytes from 10.255.0.1: icmp_seq=${seq} ttl=64 time=0.500 ms`);
  }
  lines.push(`[${(T0 + 1).toFixed(6)}] 64 bytes from 10.255.0.1: icmp_seq=2 ttl=64 time=0.700 ms (DUP!)`);
  return lines.join('\n');
}

test('parseReplies: one reply per sequence number, duplicates and other lines ignored', () => {
  const r = parseReplies(pingOutput(5, new Set([3])));
  assert.deepEqual(r.map((x) => x.seq), [1, 2, 4, 5]);
  assert.equal(r[1]!.rttMs, 0.5);
  assert.ok(Math.abs(r[1]!.at - (T0 + 0.2005)) < 1e-6);
});

test('pingLoss: pings lost in a cut window (and its grace) are left out; a loss outside counts', () => {
  // 100 pings over 20 s; a cut from T0+5.1 to T0+7.1, grace 2 s, 1 s before: window T0+4.1 ..
  // T0+9.1 = seqs 22..46 (25 pings). Lost: 30..40 inside the window, 80 outside.
  const lost = new Set([...Array.from({ length: 11 }, (_, i) => 30 + i), 80]);
  const L = pingLoss(parseReplies(pingOutput(100, lost)), 100, T0, 0.2, [{ start: T0 + 5.1, end: T0 + 7.1 }], 2, 1);
  assert.equal(L.sent, 100);
  assert.equal(L.excluded, 25);
  assert.equal(L.lostInWindows, 11);
  assert.equal(L.counted, 75);
  assert.equal(L.lost, 1);
  assert.ok(Math.abs(L.lossPct - 100 / 75) < 1e-9);
  assert.equal(L.medianMs, 0.5);
});

test('pingLoss: lost pings at the ends are placed by the interval, not dropped from the count', () => {
  const L = pingLoss(parseReplies(pingOutput(10, new Set([1, 2, 10]))), 10, T0, 0.2, [], 5);
  assert.equal(L.counted, 10);
  assert.equal(L.lost, 3);
  // A cut that ends before seq 1's estimated send time + grace covers the first two lost ones.
  const M = pingLoss(parseReplies(pingOutput(10, new Set([1, 2, 10]))), 10, T0, 0.2, [{ start: T0 - 3, end: T0 - 0.1 }], 0.35);
  assert.equal(M.excluded, 2);
  assert.equal(M.lost, 1);
});

test('slope: least squares; null without two distinct x', () => {
  assert.equal(slope([[0, 1], [1, 3], [2, 5]]), 2);
  assert.ok(Math.abs(slope([[0, 0], [1, 1], [2, 0], [3, 1]])! - 0.2) < 1e-12);
  assert.equal(slope([[1, 1]]), null);
  assert.equal(slope([[1, 1], [1, 2]]), null);
});

function sample(t: number, rss: number, extra: Partial<DaemonSample> = {}): Sample {
  const d: DaemonSample = { rssMiB: rss, rssAnonMiB: rss - 40, rssFileMiB: 40, fds: 20, heapMiB: 15, externalMiB: 3, sas: 2, children: 1, ikeSas: 1, childRekeys: t / 20, ikeRekeys: 0, tunTxDropped: 0, ...extra };
  return { t, inCut: false, daemons: [d, { ...d, rssMiB: rss + 1 }] };
}

test('summarise + verdicts: the slope is over the second half only; the bars fail when crossed', () => {
  // RSS grows 10 MiB in the first 5 minutes (warm-up), then is flat: flat verdict.
  const s = Array.from({ length: 11 }, (_, i) => sample(i * 60, i <= 5 ? 60 + 2 * i : 70));
  const a = summarise(s, 0);
  assert.equal(a.rssStart, 60);
  assert.equal(a.rssMax, 70);
  assert.equal(a.rssSlope, 0);
  assert.equal(a.childRekeys, 30);
  const b = summarise(s, 1);
  const v = verdicts([a, b], { sent: 1, excluded: 0, lostInWindows: 0, counted: 100, lost: 1, lossPct: 1, medianMs: 1, p99Ms: 1, maxMs: 1 });
  assert.deepEqual(v.map((x) => x.ok), [true, true, false]);
  // 0.2 MiB/min of creep over the second half, and 81 MiB: both memory bars fail.
  const creep = Array.from({ length: 11 }, (_, i) => sample(i * 60, 79 + 0.2 * i));
  const c = summarise(creep, 1);
  assert.ok(Math.abs(c.rssSlope! - 0.2) < 1e-9);
  assert.deepEqual(verdicts([summarise(creep, 0), c], null).map((x) => x.ok), [false, false, null]);
});
