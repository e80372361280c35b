// UnderlaySocket over a UDP socket (RFC 3948 encapsulation, normally port 4500), plus the
// socket plumbing that raw-esp.ts reuses: batched recvmmsg delivery and sendmmsg sends.

import { loadNative, SEG_F_GSO, type NativeReader } from '../native/index.js';
import { formatAddr, ipv4, type Endpoint, type IpAddr } from '../wire/addr.js';
import { IO_BATCH_SIZE, newIoErrors, OFFLOAD_BATCH_SIZE, type IoErrors } from './tun.js';
import type { Datagram, DatagramBatch, IoPath, UnderlaySocket } from './types.js';

// The largest IPv4 datagram; anything smaller could truncate a legal (fragmented) packet.
export const UDP_SLOT_SIZE = 65536;

export abstract class SocketUnderlay implements UnderlaySocket {
  abstract readonly kind: 'udp' | 'esp';
  readonly fd: number;
  readonly errors: IoErrors = newIoErrors();
  readonly path: Pick<IoPath, 'udpGso' | 'udpGro'> = { udpGso: false, udpGro: false };
  private reader: NativeReader | undefined;
  private cb: ((dgrams: Datagram[]) => void) | undefined;
  private batchCb: ((b: DatagramBatch) => void) | undefined;
  private batch: DatagramBatch | undefined;
  private closed = false;
  private readonly status = new Int32Array(2);
  private bufs: Buffer[] = [];
  private addrs = new Uint32Array(IO_BATCH_SIZE);
  private ports = new Uint16Array(IO_BATCH_SIZE);
  private tos = new Uint8Array(IO_BATCH_SIZE);

  protected constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * Turn one received slot into a Datagram, or undefined to drop it (counted). `tos` is the
   * outer TOS byte from the IP_TOS control message, -1 when there was none.
   */
  protected abstract decode(data: Buffer, addr: IpAddr, port: number, tos: number): Datagram | undefined;

  /**
   * Batch form of decode for slot i (at `o`, `l` bytes): set b.off[i], b.len[i] (-1 to drop it,
   * counted by the caller) and b.tos[i] from what the kernel delivered.
   */
  protected abstract decodeSlot(b: DatagramBatch, r: NativeReader, i: number, o: number, l: number): void;

  /** Port to put on the wire for a datagram to `port`, or -1 if it cannot be sent. */
  protected abstract wirePort(port: number): number;

  private startReader(): void {
    if (this.reader) return;
    const batch = this.path.udpGro ? OFFLOAD_BATCH_SIZE : IO_BATCH_SIZE;
    this.reader = new (loadNative().Reader)(this.fd, 'recvmmsg', UDP_SLOT_SIZE, batch, (n) =>
      this.batchCb !== undefined ? this.deliverBatch(n) : this.deliver(n),
    );
  }

  onDatagrams(cb: (dgrams: Datagram[]) => void): void {
    if (this.closed) return;
    this.cb = cb;
    this.batchCb = undefined;
    this.startReader();
  }

  onBatch(cb: (b: DatagramBatch) => void): void {
    if (this.closed) return;
    this.batchCb = cb;
    this.cb = undefined;
    this.startReader();
  }

  private deliverBatch(n: number): void {
    const r = this.reader;
    const cb = this.batchCb;
    if (r === undefined || cb === undefined || this.closed) return;
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
      addr: r.addrs!,
      port: r.ports!,
      tos: new Int16Array(r.batchSize),
      gso: this.path.udpGro ? r.gso : null,
    });
    const lens = r.lengths;
    for (let i = 0; i < n; i++) {
      const l = lens[i]!;
      if (l < 0) {
        b.len[i] = -1;
        this.errors.dropped++;
        continue;
      }
      this.decodeSlot(b, r, i, i * r.slotSize, l);
      if (b.len[i]! < 0) this.errors.dropped++;
    }
    b.count = n;
    cb(b);
  }

  /** False before onDatagrams, after close, or once the kernel reported a fatal poll error. */
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
    const lens = r.lengths;
    const addrs = r.addrs!;
    const ports = r.ports!;
    const tos = r.tos!;
    const out: Datagram[] = [];
    for (let i = 0; i < n; i++) {
      const len = lens[i]!;
      if (len < 0) {
        this.errors.dropped++;
        continue;
      }
      // The addon's recvmmsg path is IPv4 (host-order u32); an IPv6 socket will add a 16-byte
      // address array and the family-6 case here.
      const d = this.decode(Buffer.from(r.data, i * r.slotSize, len), { family: 4, v4: addrs[i]! }, ports[i]!, tos[i]!);
      if (d === undefined) this.errors.dropped++;
      else out.push(d);
    }
    if (out.length > 0) cb(out);
  }

  send(dgrams: Datagram[]): number {
    if (this.closed || dgrams.length === 0) return 0;
    if (this.addrs.length < dgrams.length) {
      this.addrs = new Uint32Array(dgrams.length);
      this.ports = new Uint16Array(dgrams.length);
      this.tos = new Uint8Array(dgrams.length);
    }
    const bufs = this.bufs;
    let k = 0;
    for (const d of dgrams) {
      const addr = d.addr;
      // IPv6 has no sendmmsg path in the addon yet: counted as a write error, like a bad port.
      const a = addr.family === 4 ? addr.v4 : 0;
      const p = this.wirePort(d.port);
      const t = d.tos ?? 0;
      // 0.0.0.0 would be delivered to this host, never to a peer. A TOS that is not a byte
      // would be silently truncated by the Uint8Array: refuse it like a bad port.
      if (a <= 0 || p < 0 || (t & 0xff) !== t) {
        this.errors.write++;
        continue;
      }
      bufs[k] = d.data;
      this.addrs[k] = a;
      this.ports[k] = p;
      this.tos[k] = t;
      k++;
    }
    bufs.length = k;
    const sent =
      k === 0 ? 0 : loadNative().sendBatch(this.fd, bufs, this.addrs, this.ports, k, this.status, this.tos);
    // Do not pin the caller's buffers until the next send.
    bufs.length = 0;
    if (sent < k) {
      this.errors.write += k - sent;
      this.errors.lastErrno = this.status[0]!;
    }
    return sent;
  }

  sendBatch(buf: Buffer, off: Int32Array, len: Int32Array, tos: Uint8Array, count: number, addr: IpAddr, port: number): number {
    if (this.closed || count === 0) return 0;
    // IPv6 has no send path in the addon yet; 0.0.0.0 would be delivered to this host.
    const a = addr.family === 4 ? addr.v4 : 0;
    const p = this.wirePort(port);
    if (a <= 0 || p < 0) {
      this.errors.write += count;
      return 0;
    }
    const sent = loadNative().sendSeg(this.fd, buf, off, len, tos, count, a, p, this.path.udpGso ? SEG_F_GSO : 0, this.status);
    // The kernel refused GSO (no checksum offload on the way out, say): stop asking.
    if (this.status[1] === 1) this.path.udpGso = false;
    if (sent < count) {
      this.errors.write += count - sent;
      this.errors.lastErrno = this.status[0]!;
    }
    return sent;
  }

  /**
   * The inbound fast path for one SA on this socket's reader (dataplane/fast-state.ts,
   * src/native/fastpath_in.c); null cells remove it, spi -1 with nulls removes all. False when
   * there is no reader.
   */
  setFastIn(
    spi: number, vlinkCells: Float64Array | null, saCells: Float64Array | null, top: Float64Array | null,
    bits: Uint32Array | null, size: number, sa: object | null,
  ): boolean {
    if (this.reader === undefined || this.closed) return false;
    loadNative().fastInSet(this.reader, spi, vlinkCells, saCells, top, bits, size, sa);
    return true;
  }

  /** Local address and port the socket is bound to (port 0 for raw sockets). */
  localAddress(): Endpoint {
    const s = loadNative().sockName(this.fd);
    return { addr: ipv4(s.addr), port: s.port };
  }

  /** Stop reading and close the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader?.close();
    this.reader = undefined;
    this.cb = undefined;
    loadNative().closeFd(this.fd);
  }
}

export class UdpUnderlay extends SocketUnderlay {
  readonly kind = 'udp' as const;
  readonly localAddr: string;
  readonly localPort: number;

  constructor(bindAddr: string, port: number, opts: { offload?: boolean } = {}) {
    super(loadNative().udpOpen(bindAddr, port));
    const local = this.localAddress();
    this.localAddr = formatAddr(local.addr);
    this.localPort = local.port;
    if (opts.offload === true) {
      const o = loadNative().udpOffload(this.fd, true);
      this.path.udpGso = o.gso;
      this.path.udpGro = o.gro;
    }
  }

  protected decode(data: Buffer, addr: IpAddr, port: number, tos: number): Datagram {
    // Same shape whether or not the TOS is known, so the receive path stays monomorphic.
    return { data, addr, port, tos: tos < 0 ? undefined : tos };
  }

  protected decodeSlot(b: DatagramBatch, r: NativeReader, i: number, o: number, l: number): void {
    b.off[i] = o;
    b.len[i] = l;
    b.tos[i] = r.tos![i]!;
  }

  protected wirePort(p: number): number {
    return Number.isInteger(p) && p > 0 && p <= 65535 ? p : -1;
  }
}

/**
 * UDP underlay bound to bindAddr:port; port 0 lets the kernel choose (see localPort). With
 * `offload`, UDP GSO sends and UDP GRO receives where the kernel has them (see `path`).
 */
export function openUdpUnderlay(bindAddr: string, port: number, opts: { offload?: boolean } = {}): UdpUnderlay {
  return new UdpUnderlay(bindAddr, port, opts);
}
