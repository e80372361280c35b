// The one clock the DHCP client and relay read: wall-clock milliseconds (leases are persisted
// and compared across restarts, so monotonic time would not do) and timers. Injected, so tests
// advance a FakeClock (fake-clock.ts) instead of sleeping.

export type TimerHandle = { readonly id: number };

export interface DhcpClock {
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(h: TimerHandle | null): void;
}

/** Randomness, injected for the same reason: xids, the persistent chaddr octet, backoff jitter. */
export interface DhcpRandom {
  /** Uniform in [0, 1). */
  unit(): number;
  u32(): number;
}

// setTimeout caps delays at 2^31-1 ms (24.8 days); longer lease timers are re-armed in steps.
const MAX_DELAY = 0x7fffffff;

export const systemClock: DhcpClock = (() => {
  let next = 1;
  const live = new Map<number, NodeJS.Timeout>();
  const arm = (id: number, at: number, fn: () => void): void => {
    const left = at - Date.now();
    const t = setTimeout(() => {
      if (at - Date.now() > 0 && left > MAX_DELAY) return arm(id, at, fn);
      live.delete(id);
      fn();
    }, Math.max(0, Math.min(left, MAX_DELAY)));
    t.unref?.();
    live.set(id, t);
  };
  return {
    now: () => Date.now(),
    setTimer(ms, fn) {
      const id = next++;
      arm(id, Date.now() + ms, fn);
      return { id };
    },
    clearTimer(h) {
      if (h === null) return;
      const t = live.get(h.id);
      if (t !== undefined) clearTimeout(t);
      live.delete(h.id);
    },
  };
})();

export const systemRandom: DhcpRandom = {
  unit: () => Math.random(),
  u32: () => (Math.random() * 0x100000000) >>> 0,
};
