// UnderlaySocket over a UDP socket (RFC 3948 encapsulation, normally port 4500), plus the
// socket plumbing that raw-esp.ts reuses: batched recvmmsg delivery and sendmmsg sends.

import { loadNative, SEG_F_GSO, type NativeReader } from '../native/index.js';
import { addrFromString, formatAddr, ipv4, type Endpoint, type IpAddr } from '../wire/addr.js';
import { Ipv6Send, sourceOf } from './underlay6.js';
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

  /** The socket's family: 6 sends through Ipv6Send and reads sources from the Reader's addrs6. */
  protected readonly family: 4 | 6;
  private readonly v6send: Ipv6Send | null;

  protected constructor(fd: number, family: 4 | 6 = 4) {
    this.fd = fd;
    this.family = family;
    this.v6send = family === 6 ? new Ipv6Send() : null;
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
      addr6: this.family === 6 ? r.addrs6 : null,
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
      // [ipv6] an IPv6 socket's sources come from the Reader's addrs6 (underlay6.ts).
      const src = this.family === 6 ? sourceOf(r, i) : { family: 4 as const, v4: addrs[i]! };
      const d = this.decode(Buffer.from(r.data, i * r.slotSize, len), src, ports[i]!, tos[i]!);
      if (d === undefined) this.errors.dropped++;
      else out.push(d);
    }
    if (out.length > 0) cb(out);
  }

  send(dgrams: Datagram[]): number {
    if (this.closed || dgrams.length === 0) return 0;
    if (this.v6send !== null) return this.v6send.send(this.fd, dgrams, (d) => this.wirePort(d.port), this.errors);
    if (this.addrs.length < dgrams.length) {
      this.addrs = new Uint32Array(dgrams.length);
      this.ports = new Uint16Array(dgrams.length);
      this.tos = new Uint8Array(dgrams.length);
    }
    const bufs = this.bufs;
    let k = 0;
    for (const d of dgrams) {
      const addr = d.addr;
      // An IPv6 destination on an IPv4 socket: counted as a write error, like a bad port.
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
    // The destination in the socket's family: 0.0.0.0 or :: would be delivered to this host, and
    // the other family cannot be sent on this socket (counted like a bad port).
    let a: number | Uint8Array = 0;
    if (this.family === 4 && addr.family === 4) a = addr.v4;
    else if (this.family === 6 && addr.family === 6 && addr.v6.some((x) => x !== 0)) a = addr.v6;
    const p = this.wirePort(port);
    if (a === 0 || p < 0) {
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
    if (this.family === 6) {
      const s6 = loadNative().sockName6(this.fd);
      return { addr: addrFromString(s6.addr), port: s6.port };
    }
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
    // An IPv6 underlay address opens an IPv6 socket (sock6.c).
    const six = bindAddr.includes(':');
    super(six ? loadNative().udp6Open(bindAddr, port) : loadNative().udpOpen(bindAddr, port), six ? 6 : 4);
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
