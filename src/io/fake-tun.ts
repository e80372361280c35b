// In-memory TunDevice for data-plane tests without root (after wireguard-go's tuntest).
// It keeps the real device's batch contract honest: packets arrive in batches of at most
// IO_BATCH_SIZE, as views that are overwritten ("poisoned") once the callback returns, so a
// consumer that keeps a view instead of copying fails its tests instead of production.

import type { TunDevice } from './types.js';
import { FakeInbox, fakeOptions, type FakeOptions } from './fake-inbox.js';

export type { FakeOptions } from './fake-inbox.js';

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
  private readonly inbox: FakeInbox<Buffer>;

  constructor(name = 'fake0', ifindex = 1, opts: FakeOptions = {}) {
    this.name = name;
    this.ifindex = ifindex;
    this.inbox = new FakeInbox<Buffer>((p) => p, (_p, c) => c, fakeOptions(opts));
  }

  onPackets(cb: (pkts: Buffer[]) => void): void {
    if (!this.closed) this.inbox.subscribe(cb);
  }

  /**
   * Packets "read from the kernel": delivered synchronously (copies, in batches) when a
   * callback is registered, otherwise queued until onPackets is called. Ignored after close.
   */
  inject(pkts: Buffer[]): void {
    if (!this.closed) this.inbox.deliver(pkts);
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
    this.inbox.clear();
  }
}
