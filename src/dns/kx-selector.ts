// Which exchanger of a KX list the initiator negotiates with (RFC 2230 §3: the most preferred
// one that works). An exchanger that fails (IKE timeout, DPD) is down for a backoff that doubles
// with each failure in a row; once its retry time comes it is offered again, so the node goes
// back to a more preferred exchanger when it returns (make-before-break is the node's part).
// KxPeer ties the selector to resolveExchangers: the list is read again when its TTL runs out.

import type { Clock } from '../clock.js';
import { resolveExchangers, type DnsLookup, type Exchanger, type KxList, type KxTiming } from './kx.js';

export interface SelectorOptions {
  /** First backoff after a failure (default 10 s); doubles per failure in a row. */
  backoffMs?: number;
  /** Backoff ceiling (default 60 s). */
  maxBackoffMs?: number;
}

interface Health {
  failures: number;
  retryAtMs: number;
  why: string;
}

/** One exchanger as `show links` / `show ike` print it. */
export interface ExchangerView extends Exchanger {
  inUse: boolean;
  /** Failed and waiting for its retry time. */
  down: boolean;
  downReason: string | null;
  retryInSec: number | null;
}

export interface KxView {
  domain: string;
  verdict: KxList['verdict'] | null;
  ok: boolean;
  reason: string | null;
  /** Seconds until the records are read again. */
  refreshInSec: number | null;
  exchangers: ExchangerView[];
  inUse: string | null;
  /** Why the one in use is in use, or why there is none. */
  why: string;
}

export class ExchangerSelector {
  private list: KxList | null = null;
  private readonly health = new Map<string, Health>();

  constructor(private readonly clock: Clock, private readonly o: SelectorOptions = {}) {}

  /** A freshly read list; failure history is kept for exchangers still in it. */
  update(list: KxList): void {
    this.list = list;
    const names = new Set(list.exchangers.map((x) => x.name));
    for (const n of [...this.health.keys()]) if (!names.has(n)) this.health.delete(n);
  }

  get current(): KxList | null {
    return this.list;
  }

  private available(x: Exchanger, now: number): boolean {
    if (!x.usable) return false;
    const h = this.health.get(x.name);
    return h === undefined || h.retryAtMs <= now;
  }

  /** The most preferred usable exchanger that is up or due for a retry; null when none is. */
  pick(): Exchanger | null {
    const now = this.clock.now();
    return this.list?.ok ? this.list.exchangers.find((x) => this.available(x, now)) ?? null : null;
  }

  /**
   * While `inUse` works: a more preferred exchanger that is up or due for a retry, which the node
   * should try (keeping `inUse` until it succeeds). When `inUse` has left the records, pick().
   */
  better(inUse: string): Exchanger | null {
    if (!this.list?.ok) return null;
    const at = this.list.exchangers.findIndex((x) => x.name === inUse && x.usable);
    if (at < 0) return this.pick();
    const now = this.clock.now();
    return this.list.exchangers.slice(0, at).find((x) => this.available(x, now)) ?? null;
  }

  /** IKE to `name` failed (timeout, DPD, refused): down until its backoff has passed. */
  failed(name: string, why: string): void {
    const prev = this.health.get(name);
    const failures = (prev?.failures ?? 0) + 1;
    const base = this.o.backoffMs ?? 10_000;
    const wait = Math.min(base * 2 ** (failures - 1), this.o.maxBackoffMs ?? 60_000);
    this.health.set(name, { failures, retryAtMs: this.clock.now() + wait, why });
  }

  /** IKE to `name` is up: its failure history is forgotten. */
  succeeded(name: string): void {
    this.health.delete(name);
  }

  /** The earliest retry time among down exchangers (to arm a timer), or null. */
  nextRetryAtMs(): number | null {
    const t = [...this.health.values()].map((h) => h.retryAtMs).filter((x) => x > this.clock.now());
    return t.length ? Math.min(...t) : null;
  }

  view(inUse: string | null): KxView {
    const now = this.clock.now();
    const l = this.list;
    const exchangers = (l?.exchangers ?? []).map((x) => {
      const h = this.health.get(x.name);
      const down = h !== undefined && h.retryAtMs > now;
      return { ...x, inUse: x.name === inUse, down, downReason: h?.why ?? null, retryInSec: down ? Math.ceil((h.retryAtMs - now) / 1000) : null };
    });
    return {
      domain: l?.domain ?? '', verdict: l?.verdict ?? null, ok: l?.ok ?? false, reason: l?.reason ?? null,
      refreshInSec: l ? Math.max(0, Math.ceil((l.expiresAtMs - now) / 1000)) : null, exchangers, inUse, why: this.why(exchangers, inUse),
    };
  }

  private why(xs: ExchangerView[], inUse: string | null): string {
    if (!this.list) return 'KX records not read yet';
    if (!this.list.ok) return this.list.reason ?? 'no usable exchanger';
    const at = xs.findIndex((x) => x.name === inUse);
    if (inUse === null || at < 0) {
      const dead = xs.map((x) => `${x.name} (${x.preference}): ${x.down ? `down (${x.downReason}), retry in ${x.retryInSec} s` : x.reason ?? 'available'}`);
      return inUse === null ? `none in use; ${dead.join('; ')}` : `${inUse} is no longer an exchanger of ${this.list.domain}`;
    }
    const skipped = xs.slice(0, at).map((x) => `${x.name} (${x.preference}) ${x.usable ? (x.down ? `is down (${x.downReason}), retry in ${x.retryInSec} s` : 'is being tried again') : `is unusable (${x.reason})`}`);
    return skipped.length === 0 ? `most preferred exchanger (preference ${xs[at]!.preference})` : `preference ${xs[at]!.preference} because ${skipped.join('; ')}`;
  }
}

/**
 * One `peer_domain`: its KX list kept fresh and an exchanger selector over it. Concurrent
 * refreshes share one lookup. A failed re-read replaces the list (only secure data counts), so
 * pick() gives nothing new; an SA that is up is the node's to keep.
 */
export class KxPeer {
  readonly selector: ExchangerSelector;
  private pending: Promise<KxList> | null = null;

  constructor(private readonly o: { domain: string; lookup: DnsLookup; clock: Clock; timing?: KxTiming; selector?: SelectorOptions }) {
    this.selector = new ExchangerSelector(o.clock, o.selector);
  }

  get list(): KxList | null {
    return this.selector.current;
  }

  /** The list is missing or past its TTL. */
  stale(): boolean {
    const l = this.selector.current;
    return l === null || this.o.clock.now() >= l.expiresAtMs;
  }

  /** Reads the records when stale (or when forced); returns the list in force. */
  refresh(force = false): Promise<KxList> {
    if (!force && !this.stale()) return Promise.resolve(this.selector.current!);
    this.pending ??= resolveExchangers(this.o.lookup, this.o.domain, this.o.clock, this.o.timing)
      .then((l) => {
        this.selector.update(l);
        return l;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }

  /** refresh, then the exchanger to negotiate with. */
  async target(): Promise<Exchanger | null> {
    await this.refresh();
    return this.selector.pick();
  }

  /** When the node should look again: the list's expiry or the next retry, whichever is first. */
  nextWakeAtMs(): number | null {
    const t = [this.selector.current?.expiresAtMs ?? null, this.selector.nextRetryAtMs()].filter((x): x is number => x !== null);
    return t.length ? Math.min(...t) : null;
  }

  view(inUse: string | null): KxView {
    return this.selector.view(inUse);
  }
}
