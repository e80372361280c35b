// Dead-peer detection (RFC 7296 §2.4). A peer proves it is alive by anything authentic: an IKE
// message protected by the SA, or ESP on one of the SA's CHILD_SAs (the data plane's liveness
// probes included, so a healthy link never needs an IKE round trip). When nothing authentic
// arrived for the interval, an empty INFORMATIONAL request goes out under the ordinary
// retransmission schedule; if that schedule runs out unanswered the peer is dead and the engine
// tears the SA down.
//
// ESP is sampled (the inbound SAs' packet counters), not signalled, so the per-packet path pays
// nothing for this; the sampling period bounds how late a silence is noticed. The check itself
// is a task (tasks/manager.ts), so it never overtakes another request of ours.

import type { Logger } from 'pino';
import { ExchangeType, type PayloadRepr } from '../wire/ike/index.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { IkeSa } from './ike-sa.js';
import type { IkeTask } from './tasks/manager.js';

export const DEFAULT_DPD_INTERVAL_S = 10;

/** Samples per interval: a silence is noticed at most interval/SAMPLES late. */
const SAMPLES = 4;

export interface DpdHooks {
  log: Logger;
  /** Authentic ESP packets received so far on the SA's CHILD_SAs (any monotonic count). */
  espPackets(sa: IkeSa): number;
  /** The checks went unanswered: the SA and its CHILD_SAs must go. */
  dead(sa: IkeSa, why: string): void;
  clock: Clock;
}

interface Watch {
  intervalMs: number;
  lastHeard: number;
  esp: number;
  /** A hint says the peer may have lost the SA: check without waiting for the interval. */
  urgent: boolean;
  timer: ClockTimer | null;
  /** Checks sent over the SA's life, for logs. */
  probes: number;
}

export function dpdIntervalMs(sa: IkeSa): number {
  const s = sa.cfg.dpdIntervalS ?? DEFAULT_DPD_INTERVAL_S;
  return s > 0 ? s * 1000 : 0;
}

/** One empty INFORMATIONAL request: any authentic answer proves the peer alive. */
class DpdTask implements IkeTask {
  readonly kind = 'dpd';
  readonly exchange = ExchangeType.INFORMATIONAL;

  constructor(private readonly onBuild: (sa: IkeSa) => void, private readonly onGiveUp: (tries: number) => void) {}

  build(sa: IkeSa): PayloadRepr[] {
    this.onBuild(sa);
    return [];
  }

  process(): void {
    // The engine marks the peer heard for every authentic message; nothing else to do.
  }

  giveUp(_sa: IkeSa, tries: number): void {
    this.onGiveUp(tries);
  }
}

export class DeadPeerDetector {
  private readonly watched = new Map<IkeSa, Watch>();

  constructor(private readonly h: DpdHooks) {}

  private now(): number {
    return this.h.clock.now();
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
    this.h.clock.clearTimeout(w.timer);
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
    this.h.clock.clearTimeout(w.timer);
    // unref: a daemon shutting down must not wait for a liveness check.
    w.timer = this.h.clock.setTimeout(() => {
      w.timer = null;
      this.tick(sa, w);
    }, ms, { unref: true });
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
    if (sa.tasks.busy) {
      this.arm(sa, w, this.period(w));
      return;
    }
    w.urgent = false;
    w.probes++;
    const started = t;
    sa.tasks.queue(new DpdTask(
      (s) => this.h.log.debug({ vlink: s.cfg.vlink, peer: s.remote.addr, ike: s.name, idleMs: idle }, `DPD: nothing from ${s.remote.addr} for ${idle} ms; liveness check sent`),
      (tries) => {
        if (this.watched.get(sa) !== w) return;
        this.unwatch(sa);
        const secs = ((this.now() - started) / 1000).toFixed(1);
        this.h.dead(sa, `peer ${sa.remote.addr} is dead: no answer to ${tries} DPD liveness checks over ${secs} s (nothing authentic from it for ${((this.now() - w.lastHeard) / 1000).toFixed(1)} s)`);
      },
    ));
    this.arm(sa, w, this.period(w));
  }
}
