// The one rate limiter: a token bucket (a burst, then a steady rate) on the injected clock.
// It bounds answers to unauthenticated sources, hint-driven work, relayed DHCP per vlink, and
// operator log lines (a flood of garbage must not become a flood of logs).

import type { Clock } from './clock.js';

/**
 * `burst` events at once, then `perSecond` on average. Credit is kept in milliseconds (one event
 * costs 1000/perSecond ms), so "one per interval" is exact: an event is allowed again exactly
 * `intervalMs` after the last one, with no rounding of fractional tokens.
 */
export class TokenBucket {
  private readonly costMs: number;
  private readonly capacityMs: number;
  private creditMs: number;
  private last: number;

  /** `burst` events at once, then `perSecond`. */
  static rate(burst: number, perSecond: number, clock: Pick<Clock, 'now'>): TokenBucket {
    return new TokenBucket(burst, 1000 / perSecond, clock);
  }

  /** One event, then one per `intervalMs`. */
  static interval(intervalMs: number, clock: Pick<Clock, 'now'>): TokenBucket {
    return new TokenBucket(1, intervalMs, clock);
  }

  private constructor(burst: number, costMs: number, private readonly clock: Pick<Clock, 'now'>) {
    this.costMs = costMs;
    this.capacityMs = burst * costMs;
    this.creditMs = this.capacityMs;
    this.last = clock.now();
  }

  /** True, and one event is charged, if the bucket holds one. */
  take(): boolean {
    const now = this.clock.now();
    // A clock that steps back must not mint credit (nor take it away).
    this.creditMs = Math.min(this.capacityMs, this.creditMs + Math.max(0, now - this.last));
    this.last = Math.max(this.last, now);
    if (this.creditMs < this.costMs) return false;
    this.creditMs -= this.costMs;
    return true;
  }
}

/** At most one event per key per `intervalMs`: a one-event bucket for each key. */
export class RateLimit {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly intervalMs: number, private readonly clock: Pick<Clock, 'now'>) {}

  /** True, and the key is charged, if its last allowed event was at least `intervalMs` ago. */
  take(key: string): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      // Keys come from the network: forget them all rather than grow without bound.
      if (this.buckets.size > 4096) this.buckets.clear();
      b = TokenBucket.interval(this.intervalMs, this.clock);
      this.buckets.set(key, b);
    }
    return b.take();
  }
}
