// A Clock whose time moves only when a test says so. Timers run in due order (ties in the
// order they were set), each with now() equal to its due time, as the event loop would run them
// if every callback took no time at all.

import type { Clock, ClockTimer } from './clock.js';

class FakeTimer implements ClockTimer {
  readonly clockTimer = true as const;
  constructor(readonly due: number, readonly seq: number, readonly fn: () => void) {}
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  /** Kept sorted by (due, seq); tests hold tens of timers, not thousands. */
  private timers: FakeTimer[] = [];

  /** Starts at a plausible wall-clock time, so ages computed from it look like real ones. */
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const timer = new FakeTimer(this.t + Math.max(0, ms), this.seq++, fn);
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.due > timer.due) i--;
    this.timers.splice(i, 0, timer);
    return timer;
  }

  clearTimeout(t: ClockTimer | null): void {
    if (!(t instanceof FakeTimer)) return;
    const i = this.timers.indexOf(t);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Timers waiting to run. */
  get pending(): number {
    return this.timers.length;
  }

  /** When the next timer is due, or null if none is set. */
  nextDue(): number | null {
    return this.timers[0]?.due ?? null;
  }

  /**
   * Moves to the earliest due time and runs every timer due then (including ones those set for
   * the same instant). False when no timer is set.
   */
  runNext(): boolean {
    const due = this.nextDue();
    if (due === null) return false;
    this.t = Math.max(this.t, due);
    while (this.timers.length > 0 && this.timers[0]!.due <= this.t) this.timers.shift()!.fn();
    return true;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    while (this.timers.length > 0 && this.timers[0]!.due <= target) this.runNext();
    this.t = target;
  }
}
