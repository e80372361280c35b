// TunDevice over a kernel TUN (IFF_TUN | IFF_NO_PI): raw IPv4 packets in both directions.
// Reading is batched by the addon on the Node event loop; writing is a synchronous batch.

import { loadNative, type NativeReader } from '../native/index.js';
import type { TunDevice } from './types.js';

// An admin may raise a TUN's MTU to 65535, and a short read would truncate the packet, so a
// slot holds the largest possible IPv4 packet, after the reader's READ_HEADROOM. 64 slots =
// 4 MiB per device.
export const TUN_SLOT_SIZE = 65536;
export const IO_BATCH_SIZE = 64;

/** Counters the io wrappers keep instead of throwing on the hot path. */
export interface IoErrors {
  /** Receive calls that failed (the reader reported a negative errno). */
  read: number;
  /** Packets the kernel refused on write/send, or that could not be addressed. */
  write: number;
  /** Received packets dropped before delivery (truncated, malformed outer header). */
  dropped: number;
  /** Most recent errno behind `read` or `write`; 0 when none yet. */
  lastErrno: number;
}

export function newIoErrors(): IoErrors {
  return { read: 0, write: 0, dropped: 0, lastErrno: 0 };
}

export class Tun implements TunDevice {
  readonly name: string;
  readonly ifindex: number;
  readonly fd: number;
  readonly errors: IoErrors = newIoErrors();
  private reader: NativeReader | undefined;
  private cb: ((pkts: Buffer[]) => void) | undefined;
  private closed = false;
  private readonly status = new Int32Array(1);

  constructor(name: string) {
    const t = loadNative().tunOpen(name);
    this.fd = t.fd;
    this.name = t.name;
    this.ifindex = t.ifindex;
  }

  onPackets(cb: (pkts: Buffer[]) => void): void {
    if (this.closed) return;
    this.cb = cb;
    if (this.reader) return;
    this.reader = new (loadNative().Reader)(this.fd, 'read', TUN_SLOT_SIZE, IO_BATCH_SIZE, (n) => this.deliver(n));
  }

  /** False before onPackets, after close, or once the kernel reported a fatal poll error (device deleted). */
  get reading(): boolean {
    return this.reader?.isActive() ?? false;
  }

  private deliver(n: number): void {
    const r = this.reader;
    const cb = this.cb;
    if (r === undefined || cb === undefined || this.closed) return;
    if (n < 0) {
      this.errors.read++;
      this.errors.lastErrno = -n;
      return;
    }
    const pkts: Buffer[] = [];
    const lens = r.lengths;
    const { stride, headroom } = r;
    for (let i = 0; i < n; i++) {
      const len = lens[i]!;
      if (len <= 0) {
        this.errors.dropped++;
        continue;
      }
      // Views start after the headroom, so byteOffset - headroom is free for in-place ESP.
      pkts.push(Buffer.from(r.data, i * stride + headroom, len));
    }
    if (pkts.length > 0) cb(pkts);
  }

  write(pkts: Buffer[]): number {
    if (this.closed || pkts.length === 0) return 0;
    const n = loadNative().writeBatch(this.fd, pkts, pkts.length, this.status);
    if (n < pkts.length) {
      this.errors.write += pkts.length - n;
      this.errors.lastErrno = this.status[0]!;
    }
    return n;
  }

  setCarrier(up: boolean): void {
    if (this.closed) return;
    loadNative().tunSetCarrier(this.fd, up);
  }

  /** Stop reading and close the fd; the kernel removes a non-persistent TUN with it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader?.close();
    this.reader = undefined;
    this.cb = undefined;
    loadNative().closeFd(this.fd);
  }
}

/** Create (or attach to a persistent) TUN named `name` (at most 15 bytes). */
export function openTun(name: string): Tun {
  return new Tun(name);
}
