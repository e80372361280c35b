// In-memory TunDevice for data-plane tests without root (after wireguard-go's tuntest).
// It keeps the real device's batch contract honest: packets arrive in batches of at most
// IO_BATCH_SIZE, as views that are overwritten ("poisoned") once the callback returns, so a
// consumer that keeps a view instead of copying fails its tests instead of production.

import type { TunDevice } from './types.js';

const BATCH = 64;
const POISON = 0xee;

export interface FakeOptions {
  /** Overwrite delivered views with 0xee after the callback returns (default true). */
  poison?: boolean;
  /** Largest batch handed to the callback (default 64, like the real reader). */
  batchSize?: number;
}

/** Deliver copies of `pkts` to `cb` in batches, then poison the copies if asked. */
export function deliverBatches<T>(
  items: T[],
  bytes: (t: T) => Buffer,
  rebuild: (t: T, copy: Buffer) => T,
  cb: (batch: T[]) => void,
  opts: Required<FakeOptions>,
): void {
  for (let i = 0; i < items.length; i += opts.batchSize) {
    const batch = items.slice(i, i + opts.batchSize).map((t) => rebuild(t, Buffer.from(bytes(t))));
    try {
      cb(batch);
    } finally {
      if (opts.poison) for (const t of batch) bytes(t).fill(POISON);
    }
  }
}

export function fakeOptions(o: FakeOptions): Required<FakeOptions> {
  const batchSize = o.batchSize ?? BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  return { poison: o.poison ?? true, batchSize };
}

export class FakeTun implements TunDevice {
  readonly name: string;
  readonly ifindex: number;
  /** Copies of every packet accepted by write(), in order. */
  readonly written: Buffer[] = [];
  /** Last value given to setCarrier (a new TUN has carrier). */
  carrier = true;
  /** When false, write() refuses everything, as a real TUN does (EIO) when the link is down. */
  adminUp = true;
  closed = false;
  private cb: ((pkts: Buffer[]) => void) | undefined;
  private pending: Buffer[] = [];
  private readonly opts: Required<FakeOptions>;

  constructor(name = 'fake0', ifindex = 1, opts: FakeOptions = {}) {
    this.name = name;
    this.ifindex = ifindex;
    this.opts = fakeOptions(opts);
  }

  onPackets(cb: (pkts: Buffer[]) => void): void {
    if (this.closed) return;
    this.cb = cb;
    if (this.pending.length > 0) {
      // Like a kernel queue drained on the next loop turn, not inside onPackets itself.
      setImmediate(() => {
        const q = this.pending;
        this.pending = [];
        this.inject(q);
      });
    }
  }

  /**
   * Packets "read from the kernel": delivered synchronously (copies, in batches) when a
   * callback is registered, otherwise queued until onPackets is called. Ignored after close.
   */
  inject(pkts: Buffer[]): void {
    if (this.closed || pkts.length === 0) return;
    const cb = this.cb;
    if (cb === undefined) {
      for (const p of pkts) this.pending.push(Buffer.from(p));
      return;
    }
    deliverBatches(pkts, (p) => p, (_p, c) => c, cb, this.opts);
  }

  write(pkts: Buffer[]): number {
    if (this.closed || !this.adminUp) return 0;
    for (const p of pkts) this.written.push(Buffer.from(p));
    return pkts.length;
  }

  setCarrier(up: boolean): void {
    if (!this.closed) this.carrier = up;
  }

  close(): void {
    this.closed = true;
    this.cb = undefined;
    this.pending = [];
  }
}
