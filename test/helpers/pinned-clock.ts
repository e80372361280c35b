// A clock whose time stands still unless a test moves it, but whose timers are real: captured
// DNSSEC signatures are valid only inside their window, so validation runs at the capture time,
// while the stub's query timeouts still have to fire on their own.

import { realClock, type Clock } from '../../src/clock.js';

export interface PinnedClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export function pinnedClock(ms: number): PinnedClock {
  let t = ms;
  return {
    now: () => t,
    setTimeout: (fn, delay, opts) => realClock.setTimeout(fn, delay, opts),
    clearTimeout: (timer) => realClock.clearTimeout(timer),
    set: (v) => void (t = v),
    advance: (d) => void (t += d),
  };
}
