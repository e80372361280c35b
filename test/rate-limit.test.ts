// The one rate limiter (src/rate-limit.ts) on a FakeClock: exact intervals, burst then rate,
// a clock stepping back, and the bound on remembered keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/fake-clock.js';
import { RateLimit, TokenBucket } from '../src/rate-limit.js';

test('one per key per interval, allowed again exactly when the interval has passed', () => {
  const c = new FakeClock(0);
  const r = new RateLimit(10_000, c);
  assert.equal(r.take('a'), true);
  assert.equal(r.take('a'), false);
  assert.equal(r.take('b'), true, 'keys are independent');
  c.advance(9_999);
  assert.equal(r.take('a'), false);
  c.advance(1);
  assert.equal(r.take('a'), true);
  assert.equal(r.take('a'), false);
});

test('a bucket gives its burst, then its rate, and never more than the burst after a long rest', () => {
  const c = new FakeClock(0);
  const b = TokenBucket.rate(10, 2, c);
  let n = 0;
  for (let i = 0; i < 20; i++) if (b.take()) n++;
  assert.equal(n, 10);
  c.advance(499);
  assert.equal(b.take(), false);
  c.advance(1);
  assert.equal(b.take(), true);
  assert.equal(b.take(), false);
  c.advance(3_600_000);
  n = 0;
  for (let i = 0; i < 20; i++) if (b.take()) n++;
  assert.equal(n, 10);
});

test('a clock that steps back mints no credit', () => {
  let t = 100_000;
  const b = TokenBucket.interval(1000, { now: () => t });
  assert.equal(b.take(), true);
  t = 50_000;
  assert.equal(b.take(), false);
  t = 100_999;
  assert.equal(b.take(), false);
  t = 101_000;
  assert.equal(b.take(), true);
});

test('keys from the network are forgotten in bulk rather than kept without bound', () => {
  const c = new FakeClock(0);
  const r = new RateLimit(10_000, c);
  assert.equal(r.take('first'), true);
  for (let i = 0; i < 4097; i++) r.take(`k${i}`);
  assert.equal(r.take('first'), true, 'the map was cleared once it passed 4096 keys');
});
