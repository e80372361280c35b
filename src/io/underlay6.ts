// The IPv6 half of an underlay socket (issue #10): the batch send through the addon's
// sendBatch6 (16-byte addresses, a traffic class per datagram) and the source address of a
// received datagram from the Reader's addrs6. udp-underlay.ts and raw-esp.ts call these for a
// socket bound to an IPv6 address; the IPv4 path is untouched.

import { loadNative, type NativeReader } from '../native/index.js';
import { ipv6, type IpAddr } from '../wire/addr.js';
import type { Datagram } from './types.js';
import type { IoErrors } from './tun.js';

export class Ipv6Send {
  private readonly status = new Int32Array(1);
  private bufs: Buffer[] = [];
  private addrs = new Uint8Array(0);
  private ports = new Uint16Array(0);
  private tclass = new Uint8Array(0);

  /** `wirePort` as the socket's: -1 refuses a datagram (counted as a write error). */
  send(fd: number, dgrams: Datagram[], wirePort: (d: Datagram) => number, errors: IoErrors): number {
    if (this.ports.length < dgrams.length) {
      this.addrs = new Uint8Array(16 * dgrams.length);
      this.ports = new Uint16Array(dgrams.length);
      this.tclass = new Uint8Array(dgrams.length);
    }
    const bufs = this.bufs;
    let k = 0;
    for (const d of dgrams) {
      const p = wirePort(d);
      const t = d.tos ?? 0;
      // An IPv4 destination on an IPv6 socket, or an unspecified one, cannot be sent.
      if (d.addr.family !== 6 || d.addr.v6.every((b) => b === 0) || p < 0 || (t & 0xff) !== t) {
        errors.write++;
        continue;
      }
      bufs[k] = d.data;
      this.addrs.set(d.addr.v6, 16 * k);
      this.ports[k] = p;
      this.tclass[k] = t;
      k++;
    }
    bufs.length = k;
    const sent = k === 0 ? 0 : loadNative().sendBatch6(fd, bufs, this.addrs, this.ports, k, this.status, this.tclass);
    bufs.length = 0;
    if (sent < k) {
      errors.write += k - sent;
      errors.lastErrno = this.status[0]!;
    }
    return sent;
  }
}

/** Slot i's source address: IPv4 from `addrs`, else the 16 bytes of `addrs6` (copied: the slot is reused). */
export function sourceOf(r: NativeReader, i: number): IpAddr {
  const v4 = r.addrs![i]!;
  if (v4 !== 0 || r.addrs6 === null) return { family: 4, v4 };
  return ipv6(r.addrs6.subarray(16 * i, 16 * i + 16));
}
