// TunDevice over a kernel TUN (IFF_TUN | IFF_NO_PI): raw IPv4 packets in both directions.
// Reading is batched by the addon on the Node event loop; writing is a synchronous batch.
//
// With offloads (the daemon's default) the TUN is opened with IFF_VNET_HDR and TSO/USO and
// checksum offload: the kernel hands over TCP and UDP super-packets of up to 64 KiB, each after
// a virtio_net_hdr, which the data plane segments as it seals; writes carry a virtio_net_hdr
// too, and the addon coalesces TCP segments of one flow into super-packets (GRO). A kernel that
// refuses the offloads gets a plain TUN; `path` says which one runs.

import { readFileSync } from 'node:fs';
import { markAsUntransferable } from 'node:worker_threads';
import { loadNative, READ_HEADROOM, TUN_F_USO4, TW_GRO, TW_VNET, type NativeReader } from '../native/index.js';
import type { IoPath, TunBatch, TunDevice } from './types.js';

/** The virtio_net_hdr in front of every packet of a TUN with offloads. */
export const VNET_HDR_LEN = 10;
// An admin may raise a TUN's MTU to 65535 and a GSO super-packet is up to 64 KiB, and a short
// read would truncate the packet, so a slot holds the largest one after the reader's
// READ_HEADROOM and a virtio_net_hdr. 64 slots = 4 MiB per device.
export const TUN_SLOT_SIZE = 65536 + 16;
export const IO_BATCH_SIZE = 64;
/**
 * Slots per read batch where every slot may fill to 64 KiB (a TUN with TSO, a socket with UDP
 * GRO): 16 super-packets are 1 MiB a wakeup, as much data as 700 ordinary packets, in a quarter
 * of the memory a full batch would keep resident.
 */
export const OFFLOAD_BATCH_SIZE = 16;

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

export interface TunOptions {
  /** Ask for IFF_VNET_HDR with checksum, TSO and USO offloads (default false; the daemon turns it on). */
  offload?: boolean;
}

/** The tx_dropped and rx_dropped columns of /proc/net/dev (this process's namespace) for `name`. */
export function readKernelDrops(name: string): { tx: number; rx: number } | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/net/dev', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() !== name) continue;
    // rx: bytes packets errs drop fifo frame compressed multicast | tx: bytes packets errs drop ...
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    return { rx: f[3] ?? 0, tx: f[11] ?? 0 };
  }
  return null;
}

/**
 * One packet memory for all of a process's TUN readers, per batch geometry: a batch is consumed
 * (sealed into the sender's own buffer and sent) before the event loop reads another fd, so the
 * TUNs can take turns in it. A node's memory then no longer grows by a batch per vlink.
 */
const sharedArenas = new Map<number, ArrayBuffer>();

function tunArena(bytes: number): ArrayBuffer {
  let a = sharedArenas.get(bytes);
  if (a === undefined) {
    a = new ArrayBuffer(bytes);
    sharedArenas.set(bytes, a);
  }
  return a;
}

export class Tun implements TunDevice {
  readonly name: string;
  readonly ifindex: number;
  readonly fd: number;
  readonly errors: IoErrors = newIoErrors();
  readonly path: Pick<IoPath, 'tunOffload' | 'uso'>;
  /** Coalescing on writes; off for good once the kernel refuses a super-packet. */
  gro: boolean;
  private reader: NativeReader | undefined;
  private cb: ((pkts: Buffer[]) => void) | undefined;
  private batchCb: ((b: TunBatch) => void) | undefined;
  private batch: TunBatch | undefined;
  private closed = false;
  private readonly status = new Int32Array(2);
  private readonly vnet: boolean;
  /** For write(): packets copied behind a virtio_net_hdr (rare: ICMP errors, packets the node makes). */
  private scratch = Buffer.alloc(0);
  private wOff = new Int32Array(64);
  private wLen = new Int32Array(64);

  constructor(name: string, opts: TunOptions = {}) {
    const t = loadNative().tunOpen(name, opts.offload === true);
    this.fd = t.fd;
    this.name = t.name;
    this.ifindex = t.ifindex;
    this.vnet = t.vnet;
    this.gro = t.vnet;
    this.path = { tunOffload: t.vnet, uso: (t.offloads & TUN_F_USO4) !== 0 };
  }

  private startReader(): void {
    if (this.reader) return;
    const batch = this.vnet ? OFFLOAD_BATCH_SIZE : IO_BATCH_SIZE;
    const arena = tunArena((READ_HEADROOM + TUN_SLOT_SIZE) * batch);
    this.reader = new (loadNative().Reader)(this.fd, 'read', TUN_SLOT_SIZE, batch, (n) => this.deliver(n), arena);
  }

  onPackets(cb: (pkts: Buffer[]) => void): void {
    if (this.closed) return;
    this.cb = cb;
    this.batchCb = undefined;
    this.startReader();
  }

  onBatch(cb: (b: TunBatch) => void): void {
    if (this.closed) return;
    this.batchCb = cb;
    this.cb = undefined;
    this.startReader();
  }

  /** False before onPackets, after close, or once the kernel reported a fatal poll error (device deleted). */
  get reading(): boolean {
    return this.reader?.isActive() ?? false;
  }

  private deliver(n: number): void {
    const r = this.reader;
    if (r === undefined || this.closed) return;
    if (n < 0) {
      this.errors.read++;
      this.errors.lastErrno = -n;
      return;
    }
    const b = (this.batch ??= {
      buf: Buffer.from(r.data),
      off: new Int32Array(r.batchSize),
      len: new Int32Array(r.batchSize),
      count: 0,
      vnet: this.vnet,
    });
    const lens = r.lengths;
    const { stride, headroom } = r;
    const vh = this.vnet ? VNET_HDR_LEN : 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const len = lens[i]! - vh;
      if (len <= 0) {
        this.errors.dropped++;
        continue;
      }
      // Packets start after the headroom (and the virtio_net_hdr), so what is before is free.
      b.off[k] = i * stride + headroom + vh;
      b.len[k] = len;
      k++;
    }
    b.count = k;
    b.backlog = n === r.batchSize;
    if (k === 0) return;
    if (this.batchCb !== undefined) {
      this.batchCb(b);
      return;
    }
    const cb = this.cb;
    if (cb === undefined) return;
    // The Buffer[] form, for callers that want it; a TUN with offloads hands over super-packets.
    const pkts: Buffer[] = [];
    for (let i = 0; i < k; i++) pkts.push(b.buf.subarray(b.off[i]!, b.off[i]! + b.len[i]!));
    cb(pkts);
  }

  /**
   * The outbound fast path on this TUN's reader (dataplane/fast-state.ts, src/native/fastpath.c),
   * or none with nulls. False when there is no reader to put it on.
   */
  setFastOut(vlinkCells: Float64Array | null, saCells: Float64Array | null, sa: object | null): boolean {
    if (this.reader === undefined || this.closed) return false;
    if (vlinkCells !== null) {
      markAsUntransferable(vlinkCells.buffer);
      if (saCells !== null) markAsUntransferable(saCells.buffer);
    }
    loadNative().fastOutSet(this.reader, vlinkCells, saCells, sa);
    return true;
  }

  writeBatch(buf: Buffer, off: Int32Array, len: Int32Array, count: number): number {
    if (this.closed || count === 0) return 0;
    const flags = (this.vnet ? TW_VNET : 0) | (this.gro ? TW_GRO : 0);
    const n = loadNative().tunWrite(this.fd, buf, off, len, count, flags, this.status);
    if (this.status[1] === 1) this.gro = false;
    if (n < count) {
      this.errors.write += count - n;
      this.errors.lastErrno = this.status[0]!;
    }
    return n;
  }

  write(pkts: Buffer[]): number {
    if (this.closed || pkts.length === 0) return 0;
    if (!this.vnet) {
      const n = loadNative().writeBatch(this.fd, pkts, pkts.length, this.status);
      if (n < pkts.length) {
        this.errors.write += pkts.length - n;
        this.errors.lastErrno = this.status[0]!;
      }
      return n;
    }
    // Every write on a TUN with offloads needs a virtio_net_hdr: lay the packets out for tunWrite.
    let total = 0;
    for (const p of pkts) total += p.length;
    if (this.scratch.length < total) this.scratch = Buffer.alloc(Math.max(total, 2048));
    if (this.wOff.length < pkts.length) {
      this.wOff = new Int32Array(pkts.length);
      this.wLen = new Int32Array(pkts.length);
    }
    let at = 0;
    pkts.forEach((p, i) => {
      p.copy(this.scratch, at);
      this.wOff[i] = at;
      this.wLen[i] = p.length;
      at += p.length;
    });
    return this.writeBatch(this.scratch, this.wOff, this.wLen, pkts.length);
  }

  kernelDrops(): { tx: number; rx: number } | null {
    return readKernelDrops(this.name);
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
    this.batchCb = undefined;
    loadNative().closeFd(this.fd);
  }
}

/** Create (or attach to a persistent) TUN named `name` (at most 15 bytes). */
export function openTun(name: string, opts: TunOptions = {}): Tun {
  return new Tun(name, opts);
}
