// The outbound fast path's JS half (src/native/fastpath.c is the other). An idle ping costs a
// daemon a JS entry per packet (the libuv wakeup into V8, the pipeline, a dozen N-API argument
// conversions); once a vlink's SA is established, its TUN reader can seal and send an ordinary
// batch itself. JS stays the owner of everything:
//
//  - It installs the state only after one of its own batches went through the pipeline (send.ts)
//    with the same policy and SA, so the fast path never makes a decision JS did not just make.
//  - The outbound SA's counter and stats become views of Float64Array cells the addon moves
//    too, so sa.seq is one number whichever path sealed (outbound SAs are read once per batch,
//    so their slower accessor properties cost nothing per packet). The vlink's own counters,
//    read per packet by the receive path, stay plain: the addon counts into cells that sync()
//    folds in before anything shows them.
//  - It fails closed: any change to the SPD or the SAD, to a policy's SA, action or peer, a
//    peer's NAT port moving (receive.ts), or a reload under way (node.ts) turns off the state of
//    every vlink before the change takes effect; the next JS batch installs it again.
//  - Whatever the native side cannot handle exactly as send.ts would (fair drops, ICMP errors,
//    super-packets, other IP versions, malformed packets, an SA near exhaustion) goes to JS.

import type { EspCrypto, TunDevice } from '../io/types.js';
import type { OutboundSa } from './sa.js';
import type { Sad } from './sad.js';
import type { Spd, SpdEntry } from './spd.js';
import type { Suite } from './suite.js';
import type { Vlink } from './vlink.js';

// src/native/fastpath.h enum fo_cell.
export const FO_ON = 0, FO_FD = 1, FO_ADDR = 2, FO_PORT = 3, FO_MTU = 4, FO_VNET = 5, FO_GSO = 6,
  FO_TX_PACKETS = 7, FO_TX_BYTES = 8, FO_SEND_ERR = 9, FO_INTERNAL = 10, FO_BATCHES = 11, FO_FALLBACKS = 12,
  FO_LEN = 13;
// enum so_cell.
export const SO_SEQ = 0, SO_SEQ_MAX = 1, SO_SPI = 2, SO_IV_HI = 3, SO_IV_LO = 4, SO_ESN = 5, SO_PACKETS = 6,
  SO_BYTES = 7, SO_LEN = 8;

const SUITE_NUMBER: Readonly<Record<Suite, number>> = { 'aes-gcm-128': 0, 'aes-gcm-256': 1, 'chacha20-poly1305': 2 };
const MAX_SEQ_32 = 0xffffffff;

/** What a TUN and a socket must offer for the fast path (io/tun.ts, io/udp-underlay.ts). */
interface FastTun extends TunDevice {
  setFastOut(vlinkCells: Float64Array | null, saCells: Float64Array | null, sa: object | null): boolean;
}

/** Turns a data property into a view of cells[i]; the value moves over. */
function alias<T extends object>(obj: T, key: keyof T & string, cells: Float64Array, i: number): void {
  cells[i] = obj[key] as number;
  Object.defineProperty(obj, key, {
    get: () => cells[i],
    set: (x: number) => {
      cells[i] = x;
    },
    enumerable: true,
    configurable: true,
  });
}

/** Calls `changed` before any write that changes obj[key] takes effect. */
function watch<T extends object>(obj: T, key: keyof T & string, changed: () => void): void {
  let value = obj[key];
  Object.defineProperty(obj, key, {
    get: () => value,
    set: (x: T[typeof key]) => {
      if (x !== value) changed();
      value = x;
    },
    enumerable: true,
    configurable: true,
  });
}

interface VlinkFast {
  readonly cells: Float64Array;
  /** The SA the state was installed for; null while it is off. */
  sa: OutboundSa | null;
}

export class FastPath {
  private readonly vlinks = new Map<Vlink, VlinkFast>();
  private readonly saCells = new WeakMap<OutboundSa, Float64Array>();
  private readonly contexts = new WeakMap<OutboundSa, object>();
  private readonly watched = new WeakSet<object>();
  private readonly off = (): void => this.clearAll();
  private suspended = false;

  constructor(
    spd: Spd,
    private readonly crypto: EspCrypto,
  ) {
    spd.onChange = this.off;
  }

  /** The SAD too: a CHILD_SA installed, rekeyed or deleted. */
  watchSad(sad: Sad): void {
    sad.onChange = this.off;
  }

  /** While a reload changes vlinks in place (over several turns of the loop): off, and not installed again. */
  suspend(): void {
    this.suspended = true;
    this.clearAll();
  }

  resume(): void {
    this.suspended = false;
  }

  /**
   * Called by the send path after it sealed and sent a batch of `v` with `pol` and `sa`: installs
   * the fast state when the vlink can have one and does not have it for this SA yet.
   */
  arm(v: Vlink, pol: SpdEntry, sa: OutboundSa): void {
    const f = this.vlinks.get(v);
    if ((f !== undefined && f.sa === sa && f.cells[FO_ON] === 1) || this.suspended) return;
    const tun = v.tun as Partial<FastTun>;
    const u = v.underlay as { fd?: unknown; kind: string; path?: { udpGso: boolean } };
    if (typeof tun.setFastOut !== 'function' || typeof u.fd !== 'number' || u.kind !== 'udp' || v.encap !== 'udp') return;
    if (pol.action !== 'protect' || pol.sa !== sa || sa.exhausted || v.policy !== pol) return;
    const dst = v.peerDst;
    if (dst.family !== 4 || dst.v4 <= 0 || !(v.peerPort > 0 && v.peerPort <= 65535)) return;
    const cells = f?.cells ?? new Float64Array(FO_LEN);
    const s = this.outSaCells(sa);
    this.watchPolicy(pol);
    cells[FO_FD] = u.fd;
    cells[FO_ADDR] = dst.v4;
    cells[FO_PORT] = v.peerPort;
    cells[FO_MTU] = v.mtu;
    cells[FO_VNET] = v.tun.path?.tunOffload === true ? 1 : 0;
    cells[FO_GSO] = u.path?.udpGso === true ? 1 : 0;
    cells[FO_ON] = 1;
    if (!(tun as FastTun).setFastOut(cells, s, this.context(sa))) {
      cells[FO_ON] = 0;
      return;
    }
    this.vlinks.set(v, { cells, sa });
  }

  /** Every vlink back to the JS path (the native side checks FO_ON on each batch). */
  clearAll(): void {
    for (const [v, f] of this.vlinks) {
      f.cells[FO_ON] = 0;
      f.sa = null;
      (v.tun as Partial<FastTun>).setFastOut?.(null, null, null);
    }
  }

  /** Folds what the native side counted into the vlinks' stats and drops; before anything shows them. */
  sync(): void {
    for (const [v, f] of this.vlinks) {
      const c = f.cells;
      v.stats.txPackets += c[FO_TX_PACKETS]!;
      v.stats.txBytes += c[FO_TX_BYTES]!;
      v.drops['send-error'] += c[FO_SEND_ERR]!;
      v.drops['internal-error'] += c[FO_INTERNAL]!;
      c[FO_TX_PACKETS] = c[FO_TX_BYTES] = c[FO_SEND_ERR] = c[FO_INTERNAL] = 0;
    }
  }

  /** Batches the native side handled and handed back to JS for `v` (show links). */
  stats(v: Vlink): { on: boolean; batches: number; fallbacks: number } | null {
    const f = this.vlinks.get(v);
    if (f === undefined) return null;
    return { on: f.cells[FO_ON] === 1, batches: f.cells[FO_BATCHES]!, fallbacks: f.cells[FO_FALLBACKS]! };
  }

  /** Forgets a vlink that is gone (its counts folded in first). */
  forget(v: Vlink): void {
    this.sync();
    this.vlinks.delete(v);
  }

  private outSaCells(sa: OutboundSa): Float64Array {
    let c = this.saCells.get(sa);
    if (c === undefined) {
      c = new Float64Array(SO_LEN);
      c[SO_SEQ_MAX] = sa.esn ? Number.MAX_SAFE_INTEGER : MAX_SEQ_32;
      c[SO_SPI] = sa.spi;
      c[SO_IV_HI] = sa.ivHi;
      c[SO_IV_LO] = sa.ivLo;
      c[SO_ESN] = sa.esn ? 1 : 0;
      alias(sa, 'seq', c, SO_SEQ);
      alias(sa.stats, 'packets', c, SO_PACKETS);
      alias(sa.stats, 'bytes', c, SO_BYTES);
      this.saCells.set(sa, c);
    }
    return c;
  }

  private context(sa: OutboundSa): object {
    let h = this.contexts.get(sa);
    if (h === undefined) {
      h = this.crypto.newSa(SUITE_NUMBER[sa.suite], sa.key, sa.salt, true);
      this.contexts.set(sa, h);
    }
    return h;
  }

  private watchPolicy(pol: SpdEntry): void {
    if (this.watched.has(pol)) return;
    watch(pol, 'sa', this.off);
    watch(pol, 'action', this.off);
    watch(pol, 'dst', this.off);
    this.watched.add(pol);
  }
}
