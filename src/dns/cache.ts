// A bounded map whose entries expire by the injected clock. Callers pass the TTL they derived
// (RR TTLs, RRSIG original TTL, time to signature expiry, RFC 2308 negative TTL); the cache
// only enforces it and evicts the oldest entry when full.

import type { Clock } from '../clock.js';

interface Entry<V> {
  value: V;
  expiresAt: number;
  storedAt: number;
}

export class TtlCache<V> {
  private readonly map = new Map<string, Entry<V>>();

  constructor(
    private readonly clock: Clock,
    readonly maxEntries = 2000,
  ) {}

  get(key: string): { value: V; ttlLeft: number } | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    const now = this.clock.now();
    if (now >= e.expiresAt) {
      this.map.delete(key);
      return undefined;
    }
    return { value: e.value, ttlLeft: Math.floor((e.expiresAt - now) / 1000) };
  }

  set(key: string, value: V, ttlSec: number): void {
    if (!(ttlSec > 0)) return;
    this.map.delete(key);
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    const now = this.clock.now();
    this.map.set(key, { value, expiresAt: now + ttlSec * 1000, storedAt: now });
  }

  /** Live entries with their seconds left, for `show dns`. */
  entries(): { key: string; value: V; ttlLeft: number }[] {
    const now = this.clock.now();
    const out: { key: string; value: V; ttlLeft: number }[] = [];
    for (const [key, e] of this.map) if (e.expiresAt > now) out.push({ key, value: e.value, ttlLeft: Math.floor((e.expiresAt - now) / 1000) });
    return out;
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
