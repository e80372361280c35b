// A clock tests move by hand, and deterministic randomness: the DHCP state machine and relay
// run their whole timelines (T1, T2, expiry, backoff) in microseconds.

import type { DhcpClock, DhcpRandom, TimerHandle } from './clock.js';

interface Pending { id: number; at: number; fn: () => void }

export class FakeClock implements DhcpClock {
  private t: number;
  private nextId = 1;
  private pending: Pending[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.pending.push({ id, at: this.t + Math.max(0, ms), fn });
    return { id };
  }
  clearTimer(h: TimerHandle | null): void {
    if (h !== null) this.pending = this.pending.filter((p) => p.id !== h.id);
  }
  /** Number of armed timers. */
  get armed(): number {
    return this.pending.length;
  }
  /** Fires, in time order, every timer due up to now + ms (timers armed meanwhile included). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at || a.id - b.id);
      const p = this.pending[0];
      if (p === undefined || p.at > end) break;
      this.pending.shift();
      this.t = p.at;
      p.fn();
    }
    this.t = end;
  }
}

/** xorshift32: the same seed gives the same xids and jitter. */
export class SeededRandom implements DhcpRandom {
  private s: number;
  constructor(seed = 1) {
    this.s = seed >>> 0 || 1;
  }
  u32(): number {
    this.s ^= this.s << 13;
    this.s ^= this.s >>> 17;
    this.s ^= this.s << 5;
    return this.s >>> 0;
  }
  unit(): number {
    return this.u32() / 0x100000000;
  }
}
