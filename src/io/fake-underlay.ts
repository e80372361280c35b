// In-memory UnderlaySocket pair for data-plane tests without root. What one end sends reaches
// the other on a later loop turn (setImmediate), like a real network: never re-entrantly
// inside send(). Received batches follow the same view/poison contract as FakeTun.

import { FakeInbox, fakeOptions, type FakeOptions } from './fake-inbox.js';
import type { Datagram, UnderlaySocket } from './types.js';
import { addrEquals, addrFromString, type IpAddr } from '../wire/addr.js';

export class FakeUnderlay implements UnderlaySocket {
  readonly kind: 'udp' | 'esp';
  readonly localAddr: string;
  readonly localIp: IpAddr;
  readonly localPort: number;
  /** Copies of every datagram accepted by send(), with the destination as given. */
  readonly sent: Datagram[] = [];
  /** The other end; undefined for a lone socket (sends are logged, never delivered). */
  peer: FakeUnderlay | undefined;
  /** Accept sends but deliver nothing: a dead underlay path. */
  blackhole = false;
  /**
   * What the path does to the outer TOS of datagrams this end sends, e.g. a router marking CE:
   * `(tos) => (tos ?? 0) | 3`. Unset, the TOS arrives as sent (undefined stays undefined).
   */
  pathTos: ((tos: number | undefined) => number | undefined) | undefined;
  closed = false;
  private readonly inbox: FakeInbox<Datagram>;

  constructor(localAddr: string, localPort: number, kind: 'udp' | 'esp' = 'udp', opts: FakeOptions = {}) {
    this.kind = kind;
    this.localAddr = localAddr;
    this.localIp = addrFromString(localAddr, 'FakeUnderlay localAddr');
    this.localPort = kind === 'esp' ? 0 : localPort;
    this.inbox = new FakeInbox<Datagram>((d) => d.data, copy, fakeOptions(opts));
  }

  /** Two connected ends. For kind 'esp' the ports are ignored (raw IP has none). */
  static pair(
    addrA: string,
    portA: number,
    addrB: string,
    portB: number,
    kind: 'udp' | 'esp' = 'udp',
    opts: FakeOptions = {},
  ): [FakeUnderlay, FakeUnderlay] {
    const a = new FakeUnderlay(addrA, portA, kind, opts);
    const b = new FakeUnderlay(addrB, portB, kind, opts);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  onDatagrams(cb: (dgrams: Datagram[]) => void): void {
    if (!this.closed) this.inbox.subscribe(cb);
  }

  /**
   * Datagrams "received from the network": delivered synchronously (copies, in batches) when
   * a callback is registered, otherwise queued until onDatagrams. Ignored after close.
   */
  inject(dgrams: Datagram[]): void {
    if (!this.closed) this.inbox.deliver(dgrams);
  }

  /** Accepts everything while open. Only datagrams addressed to the peer reach it. */
  send(dgrams: Datagram[]): number {
    if (this.closed) return 0;
    const copies = dgrams.map((d) => copy(d, Buffer.from(d.data)));
    for (const c of copies) this.sent.push(c);
    const peer = this.peer;
    if (peer !== undefined && !this.blackhole) {
      const path = this.pathTos;
      const arriving = copies
        .filter((d) => addrEquals(d.addr, peer.localIp) && (this.kind === 'esp' || d.port === peer.localPort))
        .map((d) =>
          copy({ ...d, addr: this.localIp, port: this.localPort, tos: path ? path(d.tos) : d.tos }, Buffer.from(d.data)),
        );
      if (arriving.length > 0) setImmediate(() => peer.inject(arriving));
    }
    return dgrams.length;
  }

  close(): void {
    this.closed = true;
    this.inbox.clear();
  }
}

/** A copy with new bytes; `tos` only when set, so datagrams without one compare as before. */
function copy(d: Datagram, data: Buffer): Datagram {
  const c: Datagram = { data, addr: d.addr, port: d.port };
  if (d.tos !== undefined) c.tos = d.tos;
  return c;
}
