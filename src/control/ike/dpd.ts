// Dead-peer detection (RFC 7296 §2.4). A peer proves it is alive by anything authentic: an IKE
// message protected by the SA, or ESP on one of the SA's CHILD_SAs (the data plane's liveness
// probes included, so a healthy link never needs an IKE round trip). When nothing authentic
// arrived for the interval, an empty INFORMATIONAL request goes out under the ordinary
// retransmission schedule; if that schedule runs out unanswered the peer is dead and the engine
// tears the SA down.
//
// ESP is sampled (the inbound SAs' packet counters), not signalled, so the per-packet path pays
// nothing for this; the sampling period bounds how late a silence is noticed.

import type { Logger } from 'pino';
import { ExchangeType } from '../../wire/ike/index.js';
import type { IkeSa } from './ike-sa.js';

export const DEFAULT_DPD_INTERVAL_S = 10;

/** Samples per interval: a silence is noticed at most interval/SAMPLES late. */
const SAMPLES = 4;

export interface DpdHooks {
  log: Logger;
  /** Authentic ESP packets received so far on the SA's CHILD_SAs (any monotonic count). */
  espPackets(sa: IkeSa): number;
  /** The checks went unanswered: the SA and its CHILD_SAs must go. */
  dead(sa: IkeSa, why: string): void;
  now?: () => number;
}

interface Watch {
  intervalMs: number;
  lastHeard: number;
  esp: number;
  /** A hint says the peer may have lost the SA: check without waiting for the interval. */
  urgent: boolean;
  timer: NodeJS.Timeout | null;
  /** Checks sent over the SA's life, for logs. */
  probes: number;
}

export function dpdIntervalMs(sa: IkeSa): number {
  const s = sa.cfg.dpdIntervalS ?? DEFAULT_DPD_INTERVAL_S;
  return s > 0 ? s * 1000 : 0;
}

export class DeadPeerDetector {
  private readonly watched = new Map<IkeSa, Watch>();
  private readonly now: () => number;

  constructor(private readonly h: DpdHooks) {
    this.now = h.now ?? Date.now;
  }

  /** An SA just became ESTABLISHED. A zero interval (dpd_interval_s: 0) turns DPD off for it. */
  watch(sa: IkeSa): void {
    const intervalMs = dpdIntervalMs(sa);
    if (intervalMs <= 0 || this.watched.has(sa)) return;
    const w: Watch = { intervalMs, lastHeard: this.now(), esp: this.h.espPackets(sa), urgent: false, timer: null, probes: 0 };
    this.watched.set(sa, w);
    this.arm(sa, w, this.period(w));
  }

  /** An authentic IKE message arrived on the SA (request or response). */
  heard(sa: IkeSa): void {
    const w = this.watched.get(sa);
    if (w === undefined) return;
    w.lastHeard = this.now();
    w.urgent = false;
  }

  unwatch(sa: IkeSa): void {
    const w = this.watched.get(sa);
    if (w === undefined) return;
    if (w.timer !== null) clearTimeout(w.timer);
    this.watched.delete(sa);
  }

  /** An unauthenticated hint (RFC 7296 §2.21.4) that the peer may have lost the SA: check it now. */
  checkNow(sa: IkeSa): void {
    const w = this.watched.get(sa);
    if (w === undefined) return;
    w.urgent = true;
    this.arm(sa, w, 0);
  }

  stop(): void {
    for (const sa of [...this.watched.keys()]) this.unwatch(sa);
  }

  private period(w: Watch): number {
    return Math.max(1, Math.floor(w.intervalMs / SAMPLES));
  }

  private arm(sa: IkeSa, w: Watch, ms: number): void {
    if (w.timer !== null) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      w.timer = null;
      this.tick(sa, w);
    }, ms);
    // A daemon shutting down must not wait for a liveness check.
    w.timer.unref?.();
  }

  private tick(sa: IkeSa, w: Watch): void {
    if (this.watched.get(sa) !== w) return;
    if (sa.state !== 'ESTABLISHED' || sa.sk === null) {
      this.unwatch(sa);
      return;
    }
    const t = this.now();
    const esp = this.h.espPackets(sa);
    if (esp !== w.esp) {
      w.esp = esp;
      w.lastHeard = t;
    }
    const idle = t - w.lastHeard;
    if (!w.urgent && idle < w.intervalMs) {
      this.arm(sa, w, Math.min(w.intervalMs - idle, this.period(w)));
      return;
    }
    // An exchange of ours is already in flight: its retransmissions are the liveness check, and
    // whoever sent it tears the SA down if it goes unanswered. Look again later.
    if (sa.requestPending) {
      this.arm(sa, w, this.period(w));
      return;
    }
    w.urgent = false;
    w.probes++;
    const started = t;
    const id = sa.takeRequestId();
    const msg = sa.sk.seal(sa.header(ExchangeType.INFORMATIONAL, false, id), []);
    this.h.log.debug({ vlink: sa.cfg.vlink, peer: sa.remote.addr, ike: sa.name, messageId: id, idleMs: idle }, `DPD: nothing from ${sa.remote.addr} for ${idle} ms; liveness check sent`);
    sa.request(ExchangeType.INFORMATIONAL, id, msg, (tries) => {
      if (this.watched.get(sa) !== w) return;
      this.unwatch(sa);
      const secs = ((this.now() - started) / 1000).toFixed(1);
      this.h.dead(sa, `peer ${sa.remote.addr} is dead: no answer to ${tries} DPD liveness checks over ${secs} s (nothing authentic from it for ${((this.now() - w.lastHeard) / 1000).toFixed(1)} s)`);
    });
    this.arm(sa, w, this.period(w));
  }
}
