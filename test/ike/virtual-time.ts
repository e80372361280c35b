// Time for IKE tests without waiting for it: the engines run on a FakeClock, messages between
// them still travel on the event loop (setImmediate, like a network), and the test moves the
// clock from one timer to the next once everything in flight has been delivered. A test that
// waited 15 s for retransmissions to run out now takes as long as the work itself.

import { FakeClock } from '../../src/fake-clock.js';
import type { IkeUdpReceive, IkeUdpSocket } from '../../src/io/ike-udp.js';

export class VirtualTime {
  readonly clock = new FakeClock();
  private inflight = 0;

  /** Runs `fn` on a later loop turn, as a network delivers; settle() waits for it. */
  deliver(fn: () => void): void {
    this.inflight++;
    setImmediate(() => {
      this.inflight--;
      fn();
    });
  }

  /** A delivery that some other code schedules has begun; call the result when it has arrived. */
  inFlight(): () => void {
    this.inflight++;
    let done = false;
    return () => {
      if (!done) this.inflight--;
      done = true;
    };
  }

  /** Lets every delivery in flight (and what it sends in turn, and pending promises) run. */
  async settle(): Promise<void> {
    do await new Promise((r) => setImmediate(r));
    while (this.inflight > 0);
  }

  /** Waits until `cond` holds, moving the clock timer by timer; fails past `ms` of clock time. */
  async until(cond: () => boolean, ms = 3000, explain: () => string = () => ''): Promise<void> {
    const t0 = this.clock.now();
    for (;;) {
      await this.settle();
      if (cond()) return;
      const next = this.clock.nextDue();
      if (next === null || next - t0 > ms) throw new Error(`condition not met in time${explain()}`);
      this.clock.runNext();
    }
  }

  /** `ms` of clock time pass, every timer and the deliveries it causes in order. */
  async advance(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    await this.settle();
    for (let next = this.clock.nextDue(); next !== null && next <= target; next = this.clock.nextDue()) {
      this.clock.runNext();
      await this.settle();
    }
    this.clock.advance(target - this.clock.now());
    await this.settle();
  }

  /** `fn` every `ms` of clock time until the returned function is called. */
  every(ms: number, fn: () => void): () => void {
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      fn();
      this.clock.setTimeout(tick, ms);
    };
    this.clock.setTimeout(tick, ms);
    return () => {
      stopped = true;
    };
  }
}

type OpenIkeUdp = (addr: string, port: number, onMessage: IkeUdpReceive, onError: (e: Error) => void) => Promise<IkeUdpSocket>;

/**
 * An in-memory IKE wire (fake-node-io.ts ikeWire) whose datagrams `time` knows to be in flight,
 * so that settle() waits for them before the clock moves on.
 */
export function trackedIkeWire(wire: { cut: boolean; open: OpenIkeUdp }, time: VirtualTime): OpenIkeUdp {
  const arrivals: (() => void)[] = [];
  return async (addr, port, onMessage, onError) => {
    const sock = await wire.open(addr, port, (data, from) => {
      arrivals.shift()?.();
      onMessage(data, from);
    }, onError);
    return {
      send: (data, to, p) => {
        if (!wire.cut) arrivals.push(time.inFlight());
        sock.send(data, to, p);
      },
      close: () => sock.close(),
    };
  };
}
