// The FakeClock that IKE tests run on: timers in due order (ties in the order they were set),
// now() equal to each timer's due time while it runs, cancellation, and timers set by timers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/fake-clock.js';
import { realClock } from '../src/clock.js';

test('timers run in due order, ties in the order set, each at its own time', () => {
  const c = new FakeClock(1000);
  const ran: string[] = [];
  const at = (name: string) => () => ran.push(`${name}@${c.now()}`);
  c.setTimeout(at('c'), 30);
  c.setTimeout(at('a'), 10);
  c.setTimeout(at('b1'), 20);
  c.setTimeout(at('b2'), 20);
  const gone = c.setTimeout(at('never'), 15);
  c.clearTimeout(gone);
  c.clearTimeout(gone);
  c.clearTimeout(null);
  assert.equal(c.pending, 4);
  assert.equal(c.nextDue(), 1010);
  c.advance(25);
  assert.deepEqual(ran, ['a@1010', 'b1@1020', 'b2@1020']);
  assert.equal(c.now(), 1025);
  assert.ok(c.runNext());
  assert.deepEqual(ran.at(-1), 'c@1030');
  assert.equal(c.runNext(), false);
  assert.equal(c.nextDue(), null);
});

test('a timer set by a timer runs in the same advance if it falls due within it; zero and negative waits run at once', () => {
  const c = new FakeClock(0);
  const ran: number[] = [];
  c.setTimeout(() => {
    ran.push(c.now());
    c.setTimeout(() => ran.push(c.now()), 5);
    c.setTimeout(() => ran.push(c.now()), 100);
  }, 10);
  c.setTimeout(() => ran.push(c.now()), -3);
  c.advance(50);
  assert.deepEqual(ran, [0, 10, 15]);
  assert.equal(c.pending, 1);
  c.advance(60);
  assert.deepEqual(ran, [0, 10, 15, 110]);
});

test('the real clock runs and cancels real timers', async () => {
  const t0 = realClock.now();
  let fired = 0;
  const t = realClock.setTimeout(() => fired++, 1, { unref: true });
  realClock.clearTimeout(t);
  await new Promise<void>((r) => realClock.setTimeout(r, 5));
  assert.equal(fired, 0);
  assert.ok(realClock.now() - t0 >= 4);
});

test('the real clock holds a timer longer than setTimeout can (a DHCP lease of 30 days) instead of firing it at once', async () => {
  let fired = 0;
  const t = realClock.setTimeout(() => fired++, 30 * 86_400_000, { unref: true });
  await new Promise<void>((r) => realClock.setTimeout(r, 20));
  realClock.clearTimeout(t);
  assert.equal(fired, 0);
});
