// The CHILD_SAs IKE negotiates, into and out of the data plane: installation (inbound first),
// the deferred switch of outbound traffic after a rekey, usage for rekey decisions, removal,
// and the carrier that follows IKE where liveness cannot see. The node owns the tables; this
// holds only the outbound halves waiting for activation.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { IiptranError } from '../errors.js';
import { newInboundSa, newOutboundSa, type OutboundSa } from '../dataplane/sa.js';
import type { Sad } from '../dataplane/sad.js';
import type { Vlink } from '../dataplane/vlink.js';
import type { NodeConfig } from './config-types.js';
import type { ChildSaParams } from './node.js';
import type { PreparedVlink } from './node-vlinks.js';
import type { ChildUsage } from '../ike/types.js';
import { addrFromString, formatAddr } from '../wire/addr.js';

/** What of the node the CHILD_SA code reads. */
export interface ChildSaNode {
  readonly cfg: NodeConfig;
  readonly sad: Sad;
  readonly vlinks: Map<string, Vlink>;
}

export class ChildSas {
  /** Outbound halves of rekeyed CHILD_SAs that wait for activateChildSa, by SPI. */
  private readonly pendingOut = new Map<number, { vlink: string; sa: OutboundSa }>();

  constructor(
    private readonly node: ChildSaNode,
    private readonly log: Logger,
    private readonly preparedOf: () => Map<string, PreparedVlink>,
    private readonly isStopped: () => boolean,
  ) {}

  private get cfg(): NodeConfig {
    return this.node.cfg;
  }
  private get sad(): Sad {
    return this.node.sad;
  }
  private get vlinks(): Map<string, Vlink> {
    return this.node.vlinks;
  }
  private get prepared(): Map<string, PreparedVlink> {
    return this.preparedOf();
  }
  private get stopped(): boolean {
    return this.isStopped();
  }

  /** A random inbound SPI no SA on this node uses, nor any manual spi_in of the config. */
  allocSpi(): number {
    const manual = new Set(this.cfg.vlinks.map((v) => (v.keying.mode === 'manual' ? v.keying.spiIn : 0)));
    for (;;) {
      const spi = randomBytes(4).readUInt32BE(0);
      if (spi >= 0x100 && this.sad.get(spi) === undefined && !manual.has(spi)) return spi;
    }
  }

  /**
   * Puts a negotiated CHILD_SA into the data plane: the inbound SA first, so the peer's first
   * packet under the new SA is already accepted, then the outbound one.
   */
  installChildSa(vlink: string, c: ChildSaParams, opts?: { outbound?: boolean }): void {
    const v = this.vlinks.get(vlink);
    const p = this.prepared.get(vlink);
    if (v === undefined || p === undefined) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `no vlink ${vlink}`);
    const local = this.cfg.underlay.address;
    // Behind a NAT the peer's packets arrive from the NAT's address, and receive.ts accepts an
    // authentic packet only from its SA's source: so the inbound SA's source is the address IKE
    // saw (RFC 3948 transport mode; no NAT-OA is needed, IPIP has no checksum to fix up). An
    // install without one (a rekey) keeps what the vlink learned. The ESP port follows the IKE
    // SA's port when IKE runs on 4500: both share the NAT mapping.
    const seen = c.peerAddr === undefined ? v.peerDst : addrFromString(c.peerAddr, 'IKE peer address');
    v.peerDst = seen;
    if (c.peerPort !== undefined && v.encap === 'udp') v.peerPort = c.peerPort;
    // IPv6 inside only if the traffic selectors named protocol 41 (child.ts).
    const ipv6 = c.protocols === undefined || c.protocols.includes(41);
    const inn = newInboundSa({
      spi: c.spiIn, suite: c.suite, key: c.keyIn, salt: c.saltIn, esn: c.esn, src: seen, dst: local, replayWindow: p.cfg.replayWindow, keying: 'ikev2', ipv6,
    });
    const out = newOutboundSa({ spi: c.spiOut, suite: c.suite, key: c.keyOut, salt: c.saltOut, esn: c.esn, src: local, dst: seen, keying: 'ikev2', ipv6 });
    this.sad.add(inn, vlink);
    v.inbound.push(inn);
    if (opts?.outbound === false) this.pendingOut.set(c.spiOut, { vlink, sa: out });
    else {
      const back = v.policy.sa === null;
      v.policy.sa = out;
      // IKE just authenticated the peer: the link is usable again without waiting for liveness.
      if (back) this.ikeCarrier(v, true, 'CHILD_SA installed');
    }
  }

  /** Switches a vlink's outbound traffic to an SA installed with `outbound: false`. */
  activateChildSa(vlink: string, c: { spiIn: number; spiOut: number }): void {
    const p = this.pendingOut.get(c.spiOut);
    const v = this.vlinks.get(vlink);
    if (p === undefined || p.vlink !== vlink || v === undefined) return;
    this.pendingOut.delete(c.spiOut);
    v.policy.sa = p.sa;
  }

  childUsage(vlink: string, c: { spiIn: number; spiOut: number }): ChildUsage | null {
    const v = this.vlinks.get(vlink);
    if (v === undefined) return null;
    const inn = this.sad.get(c.spiIn);
    const out = v.policy.sa?.spi === c.spiOut ? v.policy.sa : this.pendingOut.get(c.spiOut)?.sa;
    return {
      inPackets: inn?.sa.stats.packets ?? 0,
      inBytes: inn?.sa.stats.bytes ?? 0,
      outPackets: out?.stats.packets ?? 0,
      outBytes: out?.stats.bytes ?? 0,
      outSeq: out?.seq ?? 0,
    };
  }

  /** Takes a CHILD_SA out of the data plane; the vlink drops packets as no-sa until the next one. */
  removeChildSa(vlink: string, c: { spiIn: number; spiOut: number }): void {
    const v = this.vlinks.get(vlink);
    if (v === undefined) return;
    const i = v.inbound.findIndex((s) => s.spi === c.spiIn);
    if (i >= 0) {
      v.inbound.splice(i, 1);
      this.sad.remove(c.spiIn);
    }
    if (v.policy.sa?.spi === c.spiOut) {
      v.policy.sa = null;
      this.ikeCarrier(v, false, 'no CHILD_SA left');
    }
    this.pendingOut.delete(c.spiOut);
  }

  /**
   * Carrier follows IKE on the transitions liveness cannot see: off as soon as the last SA goes
   * (DPD, a Delete, a restarted peer), on when one is back. With no inbound SA no packet can
   * authenticate, so the liveness monitor cannot raise the carrier in between; after a new SA it
   * gets a fresh dead interval of grace.
   */
  ikeCarrier(v: Vlink, up: boolean, why: string): void {
    if (this.stopped) return;
    v.rxAlive = false;
    v.lastAliveAt = Date.now();
    if (v.carrier === up) return;
    v.carrier = up;
    v.tun.setCarrier(up);
    if (up) this.log.info({ vlink: v.name, peer: formatAddr(v.peer) }, `${why}: carrier on`);
    else this.log.warn({ vlink: v.name, peer: formatAddr(v.peer) }, `${why}: carrier off (routing daemons see the link down; packets drop as no-sa)`);
  }
}
