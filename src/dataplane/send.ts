/* Outbound pipeline for one vlink (read top to bottom, like wireguard-go's send.go):
 *
 *   1. read    a batch of inner VN packets arrives from the vlink's TUN
 *   2. check   IPv4 or IPv6, header sane; too big for the vlink MTU: with DF set, an ICMP
 *              fragmentation-needed goes back into the TUN to the VN sender (RFC 1191); an
 *              IPv6 packet always gets ICMPv6 Packet Too Big (inner-v6.ts)
 *   3. policy  the IPIP outer header is (local underlay -> peer underlay, protocol 4); the SPD
 *              is consulted with exactly that triple. Every packet of a vlink shares it, so
 *              the lookup is done once per batch. No entry, DISCARD, or no usable SA: drop.
 *              There is no bypass path.
 *   4. seal    ESP transport mode over the IPIP packet's payload, next header 4 (RFC 3884 §3),
 *              or 41 for an IPv6 inner packet (the same SA and SPD entry)
 *   5. send    one batch on the underlay socket
 *
 * The outer IPv4 header itself is written by the kernel's underlay socket from the same
 * (source, destination) pair the SPD matched: source = the socket's bound underlay address,
 * destination = the peer, TTL 64, DF always set (RFC 2003 §3.1 requires DF when the inner
 * has it and allows it otherwise; the vlink MTU guarantees the outer packet fits). Its TOS is
 * the inner TOS byte as is, handed to the socket per datagram: DSCP by the RFC 2983 uniform
 * model, ECN by RFC 6040 §4.1 normal mode (CE included), so congestion marks and priorities
 * set inside the VN are visible to the underlay, and probes go best effort.
 */

import type { Datagram } from '../io/types.js';
import { ipv4Check, Ipv4Packet, IPPROTO_IPIP, IPPROTO_NONE } from '../wire/ipv4.js';
import { buildFragNeeded } from '../wire/icmp.js';
import { espSeal } from './esp-engine.js';
import { IPPROTO_IPV6, ipv6TrafficClass, outboundV6 } from './inner-v6.js';
import type { Spd } from './spd.js';
import type { Vlink } from './vlink.js';

/** Room for the largest inner packet a TUN can hand us plus every header we add. */
const SLOT_SIZE = 65536 + 128;
const EMPTY = Buffer.alloc(0);

export class Sender {
  private readonly slots: Buffer[] = [];
  private readonly out: Datagram[] = [];

  constructor(private readonly spd: Spd) {}

  private slot(i: number): Buffer {
    let b = this.slots[i];
    if (b === undefined) {
      b = Buffer.allocUnsafe(SLOT_SIZE);
      this.slots[i] = b;
    }
    return b;
  }

  /** A liveness probe: an authenticated ESP dummy packet (next header 59, empty payload). */
  sendProbe(v: Vlink): void {
    const sa = this.spd.lookup(v.local, v.peer, IPPROTO_IPIP)?.sa;
    if (sa === null || sa === undefined || sa.exhausted) return;
    const buf = this.slot(0);
    const r = espSeal(sa, EMPTY, IPPROTO_NONE, buf, 0);
    if (typeof r !== 'number') {
      v.drops[r]++;
      return;
    }
    const sent = v.underlay.send([
      { data: buf.subarray(0, r), addr: v.peerDst, port: v.encap === 'udp' ? v.peerPort : 0, tos: 0 },
    ]);
    if (sent === 1) v.stats.probesTx++;
    else v.drops['send-error']++;
  }

  /** Runs stages 2..5 for one batch from vlink `v`'s TUN. Never throws on packet content. */
  process(v: Vlink, pkts: Buffer[]): void {
    const drops = v.drops;
    // Stage 3 first for the whole batch: if nothing may leave, nothing is inspected further.
    const pol = this.spd.lookup(v.local, v.peer, IPPROTO_IPIP);
    if (pol === undefined || pol.action !== 'protect') {
      drops['spd-discard'] += pkts.length;
      return;
    }
    const sa = pol.sa;
    if (sa === null || sa.exhausted) {
      drops[sa === null ? 'no-sa' : 'sa-exhausted'] += pkts.length;
      return;
    }

    let n = 0;
    let icmp: Buffer[] | undefined;
    for (const pkt of pkts) {
      // Stage 2: check.
      let len: number;
      let nh = IPPROTO_IPIP;
      if (pkt.length > 0 && pkt[0]! >> 4 === 6) {
        // [ipv6] IPv6 inner (inner-v6.ts): checked, Packet Too Big when oversize, next header 41.
        len = outboundV6(v, pkt, 0, pkt.length, (icmp ??= []));
        if (len < 0) continue;
        nh = IPPROTO_IPV6;
      } else {
        if (pkt.length < 1 || pkt[0]! >> 4 !== 4) {
          drops['not-ip']++;
          continue;
        }
        if (ipv4Check(pkt) !== null) {
          drops.malformed++;
          continue;
        }
        const inner = new Ipv4Packet(pkt);
        len = inner.totalLength;
        if (len > v.mtu) {
          drops.mtu++;
          if (inner.dontFragment) {
            const err = buildFragNeeded(pkt, v.mtu, v.icmpSrcU32);
            if (err !== null) {
              (icmp ??= []).push(err);
              v.stats.icmpFragNeeded++;
            }
          }
          continue;
        }
      }
      // Stage 4: seal. The TUN may hand us trailing bytes past totalLength; never send them.
      const payload = len === pkt.length ? pkt : pkt.subarray(0, len);
      const buf = this.slot(n);
      const r = espSeal(sa, payload, nh, buf, 0);
      if (typeof r !== 'number') {
        drops[r]++;
        continue;
      }
      let d = this.out[n];
      if (d === undefined) {
        d = { data: buf, addr: v.peerDst, port: v.peerPort, tos: 0 };
        this.out[n] = d;
      }
      d.data = buf.subarray(0, r);
      d.addr = v.peerDst;
      d.port = v.encap === 'udp' ? v.peerPort : 0;
      d.tos = nh === IPPROTO_IPIP ? pkt[1]! : ipv6TrafficClass(pkt, 0);
      n++;
      v.stats.txPackets++;
      v.stats.txBytes += len;
    }

    // Stage 5: send.
    if (n > 0) {
      const batch = n === this.out.length ? this.out : this.out.slice(0, n);
      const sent = v.underlay.send(batch);
      if (sent < n) drops['send-error'] += n - sent;
    }
    if (icmp !== undefined && icmp.length > 0) {
      const w = v.tun.write(icmp);
      if (w < icmp.length) drops['tun-write'] += icmp.length - w;
    }
  }
}
