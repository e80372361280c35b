// The one clock the DNS code reads: wall time for TTLs and signature validity windows, and
// timers for query timeouts. Everything takes it as a parameter so tests pin the time (inside
// the validity window of captured signatures) instead of sleeping or expiring.

export interface DnsClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls fn after ms milliseconds; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

function realAfter(ms: number, fn: () => void): () => void {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
}

/** The host's clock; the only place in src/dns that reads the wall time. */
export const systemClock: DnsClock = { now: () => new Date().getTime(), after: realAfter };

/** A clock pinned at `ms` (movable with set/advance) whose timers are real: for tests on captured signatures. */
export function fixedClock(ms: number): DnsClock & { set(ms: number): void; advance(ms: number): void } {
  let t = ms;
  return { now: () => t, after: realAfter, set: (v) => void (t = v), advance: (d) => void (t += d) };
}
