// The receive side shared by the fakes: a callback registered late still gets what was
// injected before (on the next loop turn, like a kernel queue), and delivered batches follow
// the real readers' view/poison contract (see fake-tun.ts).

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

/** Holds a fake's receive callback and its backlog. */
export class FakeInbox<T> {
  private cb: ((batch: T[]) => void) | undefined;
  private pending: T[] = [];

  constructor(
    private readonly bytes: (t: T) => Buffer,
    private readonly rebuild: (t: T, copy: Buffer) => T,
    private readonly opts: Required<FakeOptions>,
  ) {}

  subscribe(cb: (batch: T[]) => void): void {
    this.cb = cb;
    if (this.pending.length > 0) {
      setImmediate(() => {
        const q = this.pending;
        this.pending = [];
        this.deliver(q);
      });
    }
  }

  /** Synchronous delivery of copies when subscribed; queued copies otherwise. */
  deliver(items: T[]): void {
    if (items.length === 0) return;
    const cb = this.cb;
    if (cb === undefined) {
      for (const t of items) this.pending.push(this.rebuild(t, Buffer.from(this.bytes(t))));
      return;
    }
    deliverBatches(items, this.bytes, this.rebuild, cb, this.opts);
  }

  clear(): void {
    this.cb = undefined;
    this.pending = [];
  }
}
