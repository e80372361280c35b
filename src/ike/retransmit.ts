// Retransmission of our outstanding request (RFC 7296 §2.1): the same bytes, never re-sealed
// (crypto/sk.ts's IV counter must not be spent twice on one message), with exponential backoff.
// Only the initiator of an exchange retransmits; a responder only repeats its cached response
// when the request comes again.

import type { Clock, ClockTimer } from '../clock.js';

export interface RetransmitPolicy {
  /** Wait after the first transmission; doubles after each one. Default 500 ms. */
  initialMs: number;
  /** Transmissions in total, the first included. Default 5 (0.5 + 1 + 2 + 4 + 8 s = 15.5 s to give up). */
  tries: number;
  /** Cap on one wait. Default 30 s. */
  maxMs: number;
}

export const DEFAULT_RETRANSMIT: RetransmitPolicy = Object.freeze({ initialMs: 500, tries: 5, maxMs: 30000 });

export class Retransmitter {
  private timer: ClockTimer | null = null;
  private sent = 0;

  constructor(
    private readonly policy: RetransmitPolicy,
    private readonly transmit: () => void,
    private readonly giveUp: (tries: number) => void,
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.fire();
  }

  /** Transmissions so far. */
  get count(): number {
    return this.sent;
  }

  private fire(): void {
    this.sent++;
    this.transmit();
    const wait = Math.min(this.policy.initialMs * 2 ** (this.sent - 1), this.policy.maxMs);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (this.sent >= this.policy.tries) this.giveUp(this.sent);
      else this.fire();
    }, wait);
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
