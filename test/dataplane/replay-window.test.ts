import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayWindow } from '../../src/dataplane/replay-window.js';
import { IiptranError } from '../../src/errors.js';

const TWO32 = 2 ** 32;

/** check + accept, the way the engine uses it after a good ICV. */
function take(w: ReplayWindow, seqLow: number): number {
  const s = w.check(seqLow);
  if (s >= 0) w.accept(s);
  return s;
}

test('size validation and defaults', () => {
  const w = new ReplayWindow();
  assert.equal(w.size, 1024);
  assert.equal(w.top, 0);
  assert.equal(w.esn, false);
  for (const bad of [0, 32, 63, 100, 1000, 65536 + 32, 131072, 1024.5, NaN]) {
    assert.throws(() => new ReplayWindow(bad), (e: unknown) => e instanceof IiptranError && e.code === 'IIPTRAN_ERR_CONFIG', `size ${bad}`);
  }
  for (const ok of [64, 96, 1024, 4096, 65536]) assert.equal(new ReplayWindow(ok).size, ok);
});

test('in order, duplicates, and seq 0 on a 32-bit SA', () => {
  const w = new ReplayWindow(1024);
  assert.equal(w.check(0), -1);
  for (let s = 1; s <= 3000; s++) {
    assert.equal(take(w, s), s);
    assert.equal(w.check(s), -1, `duplicate ${s}`);
  }
  assert.equal(w.top, 3000);
  assert.equal(w.check(0), -1);
});

test('out of order within the window, and duplicates of those', () => {
  const w = new ReplayWindow(1024);
  take(w, 100);
  assert.equal(take(w, 50), 50);
  assert.equal(take(w, 99), 99);
  assert.equal(take(w, 1), 1);
  assert.equal(w.check(50), -1);
  assert.equal(w.check(1), -1);
  assert.equal(w.check(2), 2);
  assert.equal(w.top, 100);
});

for (const size of [1024, 4096, 64, 96]) {
  test(`window boundary, size ${size}`, () => {
    for (const top of [size, size + 1, 5 * size + 17, 5 * size + 31, 5 * size + 32, 1_000_003]) {
      const w = new ReplayWindow(size);
      take(w, top);
      assert.equal(w.check(top - size + 1), top - size + 1, `top ${top}: oldest in-window accepted`);
      assert.equal(w.check(top - size), -1, `top ${top}: just left of window rejected`);
      if (top - size - 1 > 0) assert.equal(w.check(top - size - 1), -1);
      // Every in-window number is fresh and stays distinct once taken.
      for (let s = top - size + 1; s < top; s++) assert.equal(take(w, s), s);
      for (let s = top - size + 1; s <= top; s++) assert.equal(w.check(s), -1);
      // Sliding by one makes exactly one more number too old.
      take(w, top + 1);
      assert.equal(w.check(top - size + 1), -1);
      assert.equal(w.check(top + 2), top + 2);
    }
  });
}

test('advancing clears stale bits (bit positions re-used by the ring)', () => {
  for (const size of [1024, 4096]) {
    const w = new ReplayWindow(size);
    for (let s = 1; s <= size; s++) take(w, s);
    // Every ring word is now full. Step forward in strides that land on each word in turn.
    for (let step = 1; step <= 3 * size; step += size === 1024 ? 7 : 61) {
      const top = w.top;
      const next = top + step;
      take(w, next);
      for (let s = Math.max(1, next - size + 1); s < next; s++) {
        const expectSeen = s <= top;
        assert.equal(w.check(s) === -1, expectSeen, `size ${size} top ${next} seq ${s}`);
      }
      // Re-fill so the next stride starts from a dense window again.
      for (let s = Math.max(1, next - size + 1); s < next; s++) take(w, s);
    }
  }
});

test('far jump clears the whole bitmap', () => {
  const w = new ReplayWindow(1024);
  for (let s = 1; s <= 1024; s++) take(w, s);
  const far = 1024 + 1024 * 50 + 5;
  assert.equal(take(w, far), far);
  for (let s = far - 1023; s < far; s++) assert.equal(w.check(s), s);
  assert.equal(w.check(far), -1);
  assert.equal(w.check(1024), -1, 'old top is now far left of the window');
});

test('check() does not change state', () => {
  const w = new ReplayWindow(1024);
  take(w, 10);
  assert.equal(w.check(5000), 5000);
  assert.equal(w.check(5000), 5000);
  assert.equal(w.top, 10);
  assert.equal(w.check(5), 5);
  assert.equal(w.check(5), 5);
  // A forged far-ahead packet that failed its ICV was only checked: old numbers still fine.
  assert.equal(take(w, 9), 9);
  const e = new ReplayWindow(1024, true);
  e.accept(TWO32 - 1);
  assert.equal(e.check(5), TWO32 + 5);
  assert.equal(e.top, TWO32 - 1);
});

test('accept of a stale number is ignored, accept is idempotent', () => {
  const w = new ReplayWindow(1024);
  take(w, 5000);
  w.accept(10);
  assert.equal(w.top, 5000);
  assert.equal(w.check(5000 - 1023), 5000 - 1023);
  w.accept(4990);
  w.accept(4990);
  assert.equal(w.check(4990), -1);
  assert.equal(w.check(4991), 4991);
});

test('32-bit SA never infers high bits', () => {
  const w = new ReplayWindow(1024, false);
  take(w, 0xffffffff);
  assert.equal(w.top, 0xffffffff);
  assert.equal(w.check(0), -1);
  assert.equal(w.check(1), -1);
  assert.equal(w.check(0xffffffff - 1023), 0xffffffff - 1023);
});

test('ESN: start of the sequence space', () => {
  const w = new ReplayWindow(1024, true);
  assert.equal(w.check(0), -1, 'full sequence number 0 is never sent');
  assert.equal(w.check(0xffffffff), -1, 'would need high bits -1');
  assert.equal(w.check(0xffffffff - 1022), -1, 'bottom of the window (top - 1023), in block -1');
  assert.equal(w.check(0xffffffff - 1023), 0xffffffff - 1023, 'just below it: ahead, in block 0');
  assert.equal(take(w, 1), 1);
  assert.equal(take(w, 1000), 1000);
  assert.equal(w.check(0xffffffff - 22), -1, 'window bottom (1000 - 1023) still wraps into block -1');
  assert.equal(w.check(0xffffffff - 23), 0xffffffff - 23);
  assert.equal(take(w, 3), 3);
});

test('ESN: wrap from high=0 low=0xffffffff to high=1 low=0, and late packets across it', () => {
  const w = new ReplayWindow(1024, true);
  // Walk up the way a sender does; straight from 0, a low half near 2^32 reads as block -1.
  assert.equal(take(w, 1), 1);
  assert.equal(take(w, 0x80000000), 0x80000000);
  for (let s = 0xffffffff - 10; s <= 0xffffffff; s++) assert.equal(take(w, s), s);
  assert.equal(w.top, 0xffffffff);
  // Case A (window inside block 0): a small low half means the next block.
  assert.equal(w.check(0), TWO32);
  assert.equal(take(w, 0), TWO32, 'low 0 after the wrap is the valid number 2^32');
  assert.equal(w.top, TWO32);
  assert.equal(take(w, 1), TWO32 + 1);
  // Case B (window straddles): a large low half is a late packet from block 0.
  assert.equal(w.check(0xffffffff - 20), 0xffffffff - 20, 'late packet from before the wrap');
  assert.equal(take(w, 0xffffffff - 20), 0xffffffff - 20);
  assert.equal(w.check(0xffffffff), -1, 'duplicate from before the wrap');
  assert.equal(w.check(0xffffffff - 5), -1);
  assert.equal(w.check(0xffffffff - 1021), 0xffffffff - 1021, 'oldest in-window, from before the wrap');
  assert.equal(w.check(0xffffffff - 1022), TWO32 + 0xffffffff - 1022, 'below the window: read as the far future');
  // Moving well into block 1 returns to case A.
  assert.equal(take(w, 5000), TWO32 + 5000);
  assert.equal(w.check(0xffffffff), TWO32 * 2 - 1, 'large low half is now ahead, in block 1');
  assert.equal(w.check(3977), TWO32 + 3977, 'oldest in-window');
  assert.equal(w.check(3976), 2 * TWO32 + 3976, 'left of window infers next block (RFC 4303 A2.2)');
  assert.equal(w.check(1), 2 * TWO32 + 1);
});

test('ESN: high bits beyond 1', () => {
  const w = new ReplayWindow(4096, true);
  const base = 7 * TWO32 + 100;
  w.accept(base);
  assert.equal(w.check(100), -1);
  assert.equal(w.check(99), base - 1);
  assert.equal(w.check(0), 7 * TWO32);
  assert.equal(w.check(0xffffffff - 10), 6 * TWO32 + 0xffffffff - 10);
  assert.equal(w.check(TWO32 - 3995), base - 4095, 'oldest in-window, low half in block 6');
  assert.equal(w.check(TWO32 - 3996), 7 * TWO32 + TWO32 - 3996, 'one below: read as ahead');
  assert.equal(w.check(101), base + 1);
});

test('resize keeps the history: nothing seen becomes acceptable, nothing unseen in the window is lost', () => {
  for (const [from, to] of [[1024, 4096], [4096, 1024], [64, 65536], [1024, 1024]] as const) {
    const w = new ReplayWindow(from);
    // Seen: 1..5000 except every 7th, which is still missing (reordered, not yet arrived).
    for (let s = 1; s <= 5000; s++) if (s % 7 !== 0) take(w, s);
    w.resize(to);
    assert.equal(w.size, to);
    assert.equal(w.top, 5000, 'top kept');
    for (let s = 1; s <= 5000; s++) {
      const inOld = s > 5000 - from;
      const inNew = s > 5000 - to;
      const expectOk = s % 7 === 0 && inOld && inNew;
      assert.equal(w.check(s) >= 0, expectOk, `${from}->${to}: seq ${s}`);
    }
    assert.equal(take(w, 5001), 5001, 'the window still advances');
  }
});

test('resize of a window that saw nothing, and of an ESN window', () => {
  const w = new ReplayWindow(1024);
  w.resize(2048);
  assert.equal(take(w, 1), 1);
  const e = new ReplayWindow(1024, true);
  for (let s = 1; s <= 3000; s++) take(e, s);
  e.resize(64);
  assert.equal(e.esn, true);
  assert.equal(e.check(3000), -1);
  assert.equal(take(e, 3001), 3001);
  assert.throws(() => e.resize(100), (x: unknown) => x instanceof IiptranError && x.code === 'IIPTRAN_ERR_CONFIG');
});
