// At most one event per key per interval: bounds answers to unauthenticated sources, hint-driven
// work, and operator log lines (a flood of garbage must not become a flood of logs).

import type { Clock } from '../clock.js';

export class RateLimit {
  private readonly last = new Map<string, number>();

  constructor(private readonly ms: number, private readonly clock: Pick<Clock, 'now'>) {}

  /** True, and the key is charged, if its last event was at least `ms` ago. */
  take(key: string): boolean {
    const t = this.clock.now();
    const prev = this.last.get(key);
    if (prev !== undefined && t - prev < this.ms) return false;
    // Keys come from the network: forget them all rather than grow without bound.
    if (this.last.size > 4096) this.last.clear();
    this.last.set(key, t);
    return true;
  }
}
