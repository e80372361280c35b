/* Inbound pipeline for the node's underlay socket(s) (like wireguard-go's receive.go):
 *
 *   1. read     a batch of datagrams arrives on UDP 4500 (RFC 3948) or raw IP protocol 50
 *   2. classify UDP only: a lone 0xff byte is a NAT keepalive; four zero bytes are the
 *               non-ESP marker, i.e. IKE, handed to the IKE hook if one is installed
 *   3. sad      SA lookup by SPI
 *   4. verify   length, anti-replay pre-check, AEAD verify, trailer; nothing recorded yet
 *   5. policy   the packet's outer header must match the SA's selectors: source = the peer
 *               underlay, arriving on the vlink's encap (the destination is implied: the
 *               socket is bound to our underlay address). Only a packet that passes enters
 *               the replay window (RFC 4301 §5.2 orders it so): a captured packet re-sent
 *               from elsewhere is dropped as policy-mismatch and the genuine copy still gets
 *               in. Then next header 59 is a liveness dummy (RFC 4303 §2.6), consumed;
 *               anything else but 4 (IPIP) and 41 (IPv6, inner-v6.ts) is dropped.
 *   6. decap    the IPIP payload must be a sane IPv4 packet (41: a sane IPv6 packet, its
 *               extension-header chain well formed); then RFC 6040 §4.2: the outer
 *               ECN (when the socket told us the outer TOS) is combined with the inner one,
 *               a CE mark survives decapsulation, CE over a Not-ECT inner packet is dropped
 *   7. write    per-vlink batches into the TUNs, but for what the node itself takes
 *               (onLocal: DHCP for the node's client or relay)
 *
 * Every failure is a named counter, on the vlink once the SA is known, on the node before.
 */

import type { Datagram } from '../io/types.js';
import { addrEquals } from '../wire/addr.js';
import type { DropCounters } from './drop-reasons.js';
import { espCommit, espVerify } from './esp-engine.js';
import { ipv4Check, Ipv4Packet, IPPROTO_IPIP, IPPROTO_NONE } from '../wire/ipv4.js';
import { ecnDecapsulate } from '../wire/ipip.js';
import type { Sad } from './sad.js';
import { inboundV6, ipipVersionMismatch, IPPROTO_IPV6 } from './inner-v6.js';
import type { Vlink } from './vlink.js';

export type NonEspHandler = (d: Datagram) => void;

export class Receiver {
  /** Per-vlink output batches, reused across calls. */
  private readonly pending = new Map<Vlink, Buffer[]>();
  /** One re-pointed view for ECN rewrites, so a marked packet costs no allocation. */
  private readonly view = new Ipv4Packet(Buffer.alloc(0));

  constructor(
    private readonly sad: Sad,
    private readonly vlinkByName: (name: string) => Vlink | undefined,
    /** Counters for drops that happen before an SA (and so a vlink) is known. */
    readonly nodeDrops: DropCounters,
    public onNonEsp: NonEspHandler | null = null,
  ) {}

  /**
   * Inner packets the node answers itself instead of the kernel (DHCP over the vlink,
   * control/node-dhcp.ts); true means taken, and the packet does not reach the TUN.
   */
  onLocal: ((v: Vlink, inner: Buffer) => boolean) | null = null;

  process(kind: 'udp' | 'esp', dgrams: Datagram[]): void {
    const nd = this.nodeDrops;
    for (const d of dgrams) {
      const data = d.data;
      // Stage 2: classify.
      if (kind === 'udp') {
        if (data.length === 1 && data[0] === 0xff) {
          nd.keepalive++;
          continue;
        }
        if (data.length >= 4 && data.readUInt32BE(0) === 0) {
          if (this.onNonEsp !== null) this.onNonEsp(d);
          else nd['non-esp-marker']++;
          continue;
        }
      }
      if (data.length < 8) {
        nd.malformed++;
        continue;
      }
      // Stage 3: SAD.
      const entry = this.sad.get(data.readUInt32BE(0));
      if (entry === undefined) {
        nd['unknown-spi']++;
        continue;
      }
      const v = this.vlinkByName(entry.vlink);
      if (v === undefined) {
        nd['unknown-spi']++;
        continue;
      }
      // Stage 4: verify.
      const r = espVerify(entry.sa, data);
      if (typeof r === 'string') {
        v.drops[r]++;
        continue;
      }
      // Stage 5: policy, checked only after authentication so forged headers cannot be
      // used to probe which selectors exist.
      if (kind !== v.encap || !addrEquals(d.addr, entry.sa.src)) {
        v.drops['policy-mismatch']++;
        continue;
      }
      espCommit(entry.sa, r);
      // Authentic and from the right peer: the link is alive, and behind a NAT the peer's
      // port is whatever the NAT last mapped it to.
      v.rxAlive = true;
      if (kind === 'udp' && d.port !== v.peerPort) {
        v.peerPort = d.port;
        v.stats.peerPortChanges++;
      }
      if (r.nextHeader === IPPROTO_NONE) {
        v.stats.probesRx++;
        continue;
      }
      // 4 is also what tunnel-mode ESP of an IPv4 packet carries (child_mode tunnel-any): same bytes.
      const inner = r.payload;
      let innerLen: number;
      if (r.nextHeader === IPPROTO_IPV6) {
        // [ipv6] next header 41 (inner-v6.ts): must be IPv6; RFC 6040 on its traffic class.
        innerLen = inboundV6(v, inner, 0, inner.length, d.tos);
        if (innerLen < 0) continue;
      } else {
        if (r.nextHeader !== IPPROTO_IPIP) {
          v.drops['bad-next-header']++;
          continue;
        }
        // Stage 6: decap.
        if (ipipVersionMismatch(v, inner, 0, inner.length)) continue;
        if (ipv4Check(inner) !== null) {
          v.drops.malformed++;
          continue;
        }
        const outerTos = d.tos;
        if (outerTos !== undefined) {
          const innerEcn = inner[1]! & 3;
          const ecn = ecnDecapsulate(outerTos & 3, innerEcn);
          if (ecn < 0) {
            v.drops['ecn-ce-not-ect']++;
            continue;
          }
          // espVerify returned a fresh buffer, so patching it in place touches nothing shared.
          if (ecn !== innerEcn) this.view.reset(inner).setEcn(ecn);
        }
        innerLen = inner.readUInt16BE(2);
      }
      if (this.onLocal !== null && this.onLocal(v, innerLen === inner.length ? inner : inner.subarray(0, innerLen))) continue;
      let batch = this.pending.get(v);
      if (batch === undefined) {
        batch = [];
        this.pending.set(v, batch);
      }
      batch.push(innerLen === inner.length ? inner : inner.subarray(0, innerLen));
      v.stats.rxPackets++;
      v.stats.rxBytes += innerLen;
    }
    // Stage 7: write.
    for (const [v, batch] of this.pending) {
      if (batch.length === 0) continue;
      const w = v.tun.write(batch);
      if (w < batch.length) v.drops['tun-write'] += batch.length - w;
      batch.length = 0;
    }
  }

  /** Forget a removed vlink's pending batch so the map does not pin its TUN. */
  forget(v: Vlink): void {
    this.pending.delete(v);
  }
}
