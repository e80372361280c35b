/* Link liveness for one vlink, so routing daemons see a dead peer as a down link at once:
 *
 *   1. probe   every interval, send an authenticated ESP dummy packet (next header 59,
 *              RFC 4303 §2.6); a peer must discard those, so this needs nothing from it
 *   2. mark    the receive path sets `rxAlive` on any authentic packet from the peer, data or
 *              dummy (receive.ts), which costs one store per packet
 *   3. dead    nothing authentic for dead_ms: carrier off (TUNSETCARRIER)
 *   4. alive   an authentic packet again: carrier on
 *
 * Probes go through the SA, so an attacker cannot keep a dead link up by spoofing them.
 * On IKE vlinks the node also sets the carrier itself when the last SA goes and when one comes
 * back (node.ts ikeCarrier); with no inbound SA nothing can mark the link alive, so this monitor
 * cannot undo the first, and it gets a fresh dead interval after the second.
 */

import { realClock, type Clock, type ClockTimer } from '../clock.js';
import type { Vlink } from './vlink.js';

export interface LivenessParams {
  intervalMs: number;
  deadMs: number;
}

export class LivenessMonitor {
  private timer: ClockTimer | null = null;

  constructor(
    private readonly v: Vlink,
    readonly params: LivenessParams,
    private readonly sendProbe: (v: Vlink) => void,
    private readonly onChange: (v: Vlink, up: boolean) => void,
    private readonly clock: Clock = realClock,
  ) {}

  start(): void {
    // A fresh link gets one dead interval of grace before it can be declared down.
    this.v.lastAliveAt = this.clock.now();
    this.sendProbe(this.v);
    this.arm();
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => {
      this.arm();
      this.tick();
    }, this.params.intervalMs, { unref: true });
  }

  tick(): void {
    const v = this.v;
    const t = this.clock.now();
    if (v.rxAlive) {
      v.rxAlive = false;
      v.lastAliveAt = t;
      if (!v.carrier) this.set(true);
    } else if (v.carrier && t - v.lastAliveAt >= this.params.deadMs) {
      this.set(false);
    }
    this.sendProbe(v);
  }

  private set(up: boolean): void {
    this.v.carrier = up;
    this.v.tun.setCarrier(up);
    this.onChange(this.v, up);
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
