// Fairness where the daemon itself is the bottleneck. The kernel's TUN queue drops whatever
// arrives when it is full, so a saturating TCP flow and an interactive ping lose packets alike.
// When a read fills its whole batch, more is waiting and the daemon is behind: then one packet
// of the flow with the most packets in the batch is dropped here, on purpose, so that flow
// backs off before the queue overflows, and the packets of small flows are not the ones lost.

import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';

const SLOTS = 256; // open addressing: twice the largest batch

export class FairDrop {
  private readonly used = new Int32Array(SLOTS);
  private readonly src = new Int32Array(SLOTS);
  private readonly dst = new Int32Array(SLOTS);
  private readonly ports = new Int32Array(SLOTS);
  private readonly proto = new Int32Array(SLOTS);
  private readonly count = new Int32Array(SLOTS);
  private readonly last = new Int32Array(SLOTS);
  private stamp = 0;

  /**
   * The index of the packet to drop among items 0..n-1 of `buf` whose status is ok (status[i]
   * === okStatus): the last packet of the largest flow, when that flow holds at least a quarter
   * of the batch; -1 otherwise. Flows are IPv4 or IPv6 (source, destination, protocol, ports).
   */
  pick(buf: Buffer, off: Int32Array, status: Int32Array, okStatus: number, n: number): number {
    if (++this.stamp === 0x7fffffff) {
      this.used.fill(0);
      this.stamp = 1;
    }
    const st = this.stamp;
    let best = -1;
    let bestCount = 0;
    for (let i = 0; i < n; i++) {
      if (status[i] !== okStatus) continue;
      const o = off[i]!;
      // IPv6 (checked by the caller, so at least 40 bytes): the low words of the addresses.
      const v6 = buf[o]! >> 4 === 6;
      const s = buf.readInt32BE(o + (v6 ? 20 : 12));
      const d = buf.readInt32BE(o + (v6 ? 36 : 16));
      const p = buf[o + (v6 ? 6 : 9)]!;
      const ihl = v6 ? 40 : (buf[o]! & 0x0f) * 4;
      const ports = (p === IPPROTO_TCP || p === IPPROTO_UDP) && o + ihl + 4 <= buf.length ? buf.readInt32BE(o + ihl) : 0;
      let h = (Math.imul(s ^ Math.imul(d, 0x9e3779b1) ^ ports, 0x85ebca6b) ^ p) >>> 24;
      for (;;) {
        if (this.used[h] !== st) {
          this.used[h] = st;
          this.src[h] = s;
          this.dst[h] = d;
          this.ports[h] = ports;
          this.proto[h] = p;
          this.count[h] = 0;
          break;
        }
        if (this.src[h] === s && this.dst[h] === d && this.ports[h] === ports && this.proto[h] === p) break;
        h = (h + 1) & (SLOTS - 1);
      }
      const c = ++this.count[h]!;
      this.last[h] = i;
      if (c > bestCount) {
        bestCount = c;
        best = h;
      }
    }
    return best >= 0 && bestCount * 4 >= n ? this.last[best]! : -1;
  }
}
