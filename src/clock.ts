// Time as a dependency. Code that keeps timers or ages takes a Clock instead of reaching for
// Date.now() and setTimeout, so unit tests can run it on a FakeClock (fake-clock.ts) and move
// time forward instead of waiting for it.

/** An opaque handle from Clock.setTimeout. */
export interface ClockTimer {
  readonly clockTimer: true;
}

export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences mean anything. */
  now(): number;
  /**
   * Runs `fn` once after `ms`. `unref`: the timer alone must not keep the process alive (a
   * liveness check on a daemon that is shutting down).
   */
  setTimeout(fn: () => void, ms: number, opts?: { unref?: boolean }): ClockTimer;
  /** Cancels a timer; a timer that already ran, or null, is ignored. */
  clearTimeout(t: ClockTimer | null): void;
}

class RealTimer implements ClockTimer {
  readonly clockTimer = true as const;
  handle: NodeJS.Timeout | undefined;
}

// setTimeout fires at once for delays over 2^31-1 ms (24.8 days); DHCP lease timers can be
// longer, so those are re-armed in steps until their due time.
const MAX_DELAY = 0x7fffffff;

/** The process's clock: Date.now() and the event loop's timers. */
export const realClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number, opts?: { unref?: boolean }): ClockTimer {
    const t = new RealTimer();
    const at = Date.now() + ms;
    const arm = (left: number): void => {
      t.handle = setTimeout(() => {
        const rest = at - Date.now();
        if (left > MAX_DELAY && rest > 0) arm(rest);
        else fn();
      }, left > MAX_DELAY ? MAX_DELAY : left);
      if (opts?.unref === true) t.handle.unref();
    };
    arm(ms);
    return t;
  },
  clearTimeout(t: ClockTimer | null): void {
    if (t instanceof RealTimer) clearTimeout(t.handle);
  },
});
