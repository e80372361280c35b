// UnderlaySocket over a raw IPv4 protocol-50 socket (ESP directly on IP). Holding this socket
// open is also what stops the kernel from answering incoming ESP with "protocol unreachable".

import { loadNative, type NativeReader } from '../native/index.js';
import { SocketUnderlay } from './udp-underlay.js';
import type { Datagram, DatagramBatch } from './types.js';
import { formatAddr, type IpAddr } from '../wire/addr.js';

export const IPPROTO_ESP = 50;

/**
 * The payload of a received raw IPv4 datagram (a view, no copy), or undefined when the header
 * is malformed. The kernel reassembles fragments and trims to the total length before raw
 * delivery, so a mismatch here means a packet we should not trust.
 */
export function stripIpv4Header(pkt: Buffer): Buffer | undefined {
  if (pkt.length < 20) return undefined;
  const b0 = pkt[0]!;
  if (b0 >> 4 !== 4) return undefined;
  const hlen = (b0 & 0x0f) * 4;
  if (hlen < 20 || hlen > pkt.length) return undefined;
  const total = pkt.readUInt16BE(2);
  if (total < hlen || total > pkt.length) return undefined;
  return pkt.subarray(hlen, total);
}

export class RawEspUnderlay extends SocketUnderlay {
  readonly kind = 'esp' as const;
  readonly localAddr: string;

  constructor(bindAddr: string) {
    const six = bindAddr.includes(':');
    super(six ? loadNative().raw6Open(IPPROTO_ESP, bindAddr) : loadNative().rawOpen(IPPROTO_ESP, bindAddr), six ? 6 : 4);
    this.localAddr = formatAddr(this.localAddress().addr);
  }

  // IPv4: the outer TOS comes from the IPv4 header still in front of the ESP header, which makes
  // an IP_RECVTOS control message per datagram redundant on this socket. IPv6: a raw socket
  // delivers the payload alone (RFC 3542 §3), and the traffic class came as IPV6_TCLASS.
  protected decode(data: Buffer, addr: IpAddr, _port: number, tos: number): Datagram | undefined {
    if (this.family === 6) return { data, addr, port: 0, tos: tos < 0 ? undefined : tos };
    const esp = stripIpv4Header(data);
    return esp === undefined ? undefined : { data: esp, addr, port: 0, tos: data[1]! };
  }

  protected decodeSlot(b: DatagramBatch, r: NativeReader, i: number, o: number, l: number): void {
    if (this.family === 6) {
      b.off[i] = o;
      b.len[i] = l;
      b.tos[i] = r.tos![i]!;
      return;
    }
    const buf = b.buf;
    b.len[i] = -1;
    if (l < 20 || buf[o]! >> 4 !== 4) return;
    const hlen = (buf[o]! & 0x0f) * 4;
    const total = buf.readUInt16BE(o + 2);
    if (hlen < 20 || hlen > l || total < hlen || total > l) return;
    b.off[i] = o + hlen;
    b.len[i] = total - hlen;
    b.tos[i] = buf[o + 1]!;
  }

  // Raw IP has no ports: whatever the caller put there is ignored.
  protected wirePort(): number {
    return 0;
  }
}

/** Raw ESP underlay bound to bindAddr (receives only ESP addressed to it). Needs CAP_NET_RAW. */
export function openRawEsp(bindAddr: string): RawEspUnderlay {
  return new RawEspUnderlay(bindAddr);
}
