// Buffer[] and Datagram[] batches (fakes, tests, packets the node makes itself) laid out as the
// data plane's PacketBatch: one copy per packet into a buffer that grows and is then reused. The
// real TUN and sockets hand over PacketBatches directly and never come through here.

import type { Datagram, DatagramBatch, TunBatch } from '../io/types.js';

function grow(a: Int32Array, n: number): Int32Array {
  return a.length >= n ? a : new Int32Array(Math.max(n, a.length * 2));
}

export class BatchPacker {
  private buf = Buffer.alloc(0);
  private off: Int32Array = new Int32Array(64);
  private len: Int32Array = new Int32Array(64);
  private addr = new Uint32Array(64);
  private port = new Uint16Array(64);
  private tos = new Int16Array(64);
  private addr6 = new Uint8Array(64 * 16);

  private layout(bytes: (i: number) => Buffer, n: number): void {
    let total = 0;
    for (let i = 0; i < n; i++) total += bytes(i).length;
    if (this.buf.length < total) this.buf = Buffer.alloc(Math.max(total, this.buf.length * 2));
    this.off = grow(this.off, n);
    this.len = grow(this.len, n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const b = bytes(i);
      b.copy(this.buf, at);
      this.off[i] = at;
      this.len[i] = b.length;
      at += b.length;
    }
  }

  packets(pkts: readonly Buffer[]): TunBatch {
    this.layout((i) => pkts[i]!, pkts.length);
    return { buf: this.buf, off: this.off, len: this.len, count: pkts.length, vnet: false };
  }

  datagrams(dgrams: readonly Datagram[]): DatagramBatch {
    const n = dgrams.length;
    this.layout((i) => dgrams[i]!.data, n);
    if (this.addr.length < n) {
      this.addr = new Uint32Array(this.off.length);
      this.port = new Uint16Array(this.off.length);
      this.tos = new Int16Array(this.off.length);
      this.addr6 = new Uint8Array(this.off.length * 16);
    }
    for (let i = 0; i < n; i++) {
      const d = dgrams[i]!;
      // An IPv6 source: addr says 0 and the 16 bytes go to addr6, as the native Reader does.
      this.addr[i] = d.addr.family === 4 ? d.addr.v4 : 0;
      if (d.addr.family === 6) this.addr6.set(d.addr.v6, i * 16);
      this.port[i] = d.port;
      this.tos[i] = d.tos ?? -1;
    }
    return { buf: this.buf, off: this.off, len: this.len, count: n, addr: this.addr, port: this.port, tos: this.tos, gso: null, addr6: this.addr6 };
  }
}
