// The native fast path's JS half (src/native/fastpath.c sends, fastpath_in.c receives). An idle ping costs a
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
//  - Inbound likewise: receive.ts installs an SA after it delivered one of its packets; the
//    replay window is the JS ReplayWindow's own memory; a batch with anything receive.ts would
//    not simply deliver (keepalives, IKE, probes, replays, forgeries, a moved NAT port, ECN to
//    rewrite, GRO trains) goes to JS with its bytes as they arrived. rxAlive is folded in before
//    each liveness probe (send.ts sendProbe), one interval late at most.

import type { EspCrypto, TunDevice } from '../io/types.js';
import type { InboundSa, OutboundSa } from './sa.js';
import type { Sad } from './sad.js';
import type { Spd, SpdEntry } from './spd.js';
import type { Suite } from './suite.js';
import type { Vlink } from './vlink.js';

// src/native/fastpath.h enum fo_cell.
export const FO_ON = 0, FO_FD = 1, FO_ADDR = 2, FO_PORT = 3, FO_MTU = 4, FO_VNET = 5, /* 6 unused */
  FO_TX_PACKETS = 7, FO_TX_BYTES = 8, FO_SEND_ERR = 9, FO_INTERNAL = 10, FO_BATCHES = 11, FO_FALLBACKS = 12,
  FI_RX_PACKETS = 13, FI_RX_BYTES = 14, FI_ALIVE = 15, FI_TUN_WRITE = 16, FI_TUN_FD = 17, FI_TUN_FLAGS = 18,
  FI_BATCHES = 19, FI_FALLBACKS = 20, FO_LEN = 21;
// enum si_cell.
export const SI_ON = 0, SI_SRC = 1, SI_PORT = 2, SI_PACKETS = 3, SI_BYTES = 4, SI_LEN = 5;
// src/native/tun_write.c.
const TW_VNET = 1, TW_GRO = 2;
// enum so_cell.
export const SO_SEQ = 0, SO_SEQ_MAX = 1, SO_SPI = 2, SO_IV_HI = 3, SO_IV_LO = 4, SO_ESN = 5, SO_PACKETS = 6,
  SO_BYTES = 7, SO_LEN = 8;

const SUITE_NUMBER: Readonly<Record<Suite, number>> = { 'aes-gcm-128': 0, 'aes-gcm-256': 1, 'chacha20-poly1305': 2 };
const MAX_SEQ_32 = 0xffffffff;

/** What a TUN and a socket must offer for the fast path (io/tun.ts, io/udp-underlay.ts). */
interface FastTun extends TunDevice {
  setFastOut(vlinkCells: Float64Array | null, saCells: Float64Array | null, sa: object | null): boolean;
}

/** What a socket must offer for the inbound half (io/udp-underlay.ts). */
interface FastSocket {
  readonly kind: string;
  setFastIn(
    spi: number, vlinkCells: Float64Array | null, saCells: Float64Array | null, top: Float64Array | null,
    bits: Uint32Array | null, size: number, sa: object | null,
  ): boolean;
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

/** show links `path.fast`: out = the TUN side, in = the socket side. */
export interface FastStats {
  on: boolean;
  batches: number;
  fallbacks: number;
  inSas: number;
  inBatches: number;
  inFallbacks: number;
}

interface VlinkFast {
  readonly cells: Float64Array;
  /** The SA the state was installed for; null while it is off. */
  sa: OutboundSa | null;
}

export class FastPath {
  private readonly vlinks = new Map<Vlink, VlinkFast>();
  private readonly saCells = new WeakMap<OutboundSa, Float64Array>();
  private readonly contexts = new WeakMap<OutboundSa | InboundSa, object>();
  /** Inbound SAs installed, with their cells and socket; emptied by clearAll. */
  private readonly inbound = new Map<InboundSa, { cells: Float64Array; socket: FastSocket }>();
  private readonly inCells = new WeakMap<InboundSa, Float64Array>();
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
   * Called by the send path for a batch of `v` it is about to seal with `pol` and `sa`: installs
   * the fast state when the vlink can have one and does not have it for this SA yet.
   */
  arm(v: Vlink, pol: SpdEntry, sa: OutboundSa): void {
    const f = this.vlinks.get(v);
    if ((f !== undefined && f.sa === sa && f.cells[FO_ON] === 1) || this.suspended) return;
    const tun = v.tun as Partial<FastTun>;
    const u = v.underlay as { fd?: unknown; kind: string };
    if (typeof tun.setFastOut !== 'function' || typeof u.fd !== 'number' || u.kind !== 'udp' || v.encap !== 'udp') return;
    if (pol.action !== 'protect' || pol.sa !== sa || sa.exhausted || v.policy !== pol) return;
    const dst = v.peerDst;
    if (dst.family !== 4 || dst.v4 <= 0 || !(v.peerPort > 0 && v.peerPort <= 65535)) return;
    const cells = this.cellsOf(v);
    const s = this.outSaCells(sa);
    this.watchPolicy(pol);
    cells[FO_FD] = u.fd;
    cells[FO_ADDR] = dst.v4;
    cells[FO_PORT] = v.peerPort;
    cells[FO_MTU] = v.mtu;
    cells[FO_VNET] = v.tun.path?.tunOffload === true ? 1 : 0;
    cells[FO_ON] = 1;
    if (!(tun as FastTun).setFastOut(cells, s, this.context(sa, true))) {
      cells[FO_ON] = 0;
      return;
    }
    this.vlinks.get(v)!.sa = sa;
  }

  /**
   * Called by the receive path after it delivered a packet of `sa` to `v`'s TUN: installs the
   * inbound state of that SA on the socket it came in on, unless it is there already.
   */
  armIn(v: Vlink, sa: InboundSa): void {
    const have = this.inbound.get(sa);
    if ((have !== undefined && have.cells[SI_ON] === 1) || this.suspended) return;
    const u = v.underlay as Partial<FastSocket> & { kind: string };
    const tun = v.tun as { fd?: unknown; gro?: unknown; path?: { tunOffload: boolean } };
    if (typeof u.setFastIn !== 'function' || u.kind !== 'udp' || v.encap !== 'udp' || typeof tun.fd !== 'number') return;
    if (sa.esn || sa.src.family !== 4 || !(v.peerPort > 0 && v.peerPort <= 65535)) return;
    const cells = this.cellsOf(v);
    cells[FI_TUN_FD] = tun.fd;
    cells[FI_TUN_FLAGS] = (tun.path?.tunOffload === true ? TW_VNET : 0) | (tun.gro === true ? TW_GRO : 0);
    const c = this.inSaCells(sa);
    c[SI_SRC] = sa.src.v4;
    c[SI_PORT] = v.peerPort;
    c[SI_ON] = 1;
    const w = sa.replay.shared;
    if (!u.setFastIn(sa.spi, cells, c, w.top, w.bits, sa.replay.size, this.context(sa, false))) {
      c[SI_ON] = 0;
      return;
    }
    this.inbound.set(sa, { cells: c, socket: u as FastSocket });
  }

  /** Every vlink back to the JS path (the native side checks FO_ON on each batch). */
  clearAll(): void {
    for (const [v, f] of this.vlinks) {
      if (f.sa === null) continue;
      f.cells[FO_ON] = 0;
      f.sa = null;
      (v.tun as Partial<FastTun>).setFastOut?.(null, null, null);
    }
    if (this.inbound.size === 0) return;
    const sockets = new Set<FastSocket>();
    for (const e of this.inbound.values()) {
      e.cells[SI_ON] = 0;
      sockets.add(e.socket);
    }
    for (const s of sockets) s.setFastIn(-1, null, null, null, null, 0, null);
    this.inbound.clear();
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
      v.stats.rxPackets += c[FI_RX_PACKETS]!;
      v.stats.rxBytes += c[FI_RX_BYTES]!;
      v.drops['tun-write'] += c[FI_TUN_WRITE]!;
      c[FI_RX_PACKETS] = c[FI_RX_BYTES] = c[FI_TUN_WRITE] = 0;
      if (c[FI_ALIVE] === 1) {
        v.rxAlive = true;
        c[FI_ALIVE] = 0;
      }
    }
  }

  /** Batches the native side handled and handed back to JS for `v` (show links). */
  stats(v: Vlink): FastStats | null {
    const f = this.vlinks.get(v);
    if (f === undefined) return null;
    const c = f.cells;
    let inbound = 0;
    for (const sa of this.inbound.keys()) if (v.inbound.includes(sa)) inbound++;
    return {
      on: c[FO_ON] === 1, batches: c[FO_BATCHES]!, fallbacks: c[FO_FALLBACKS]!,
      inSas: inbound, inBatches: c[FI_BATCHES]!, inFallbacks: c[FI_FALLBACKS]!,
    };
  }

  private cellsOf(v: Vlink): Float64Array {
    let f = this.vlinks.get(v);
    if (f === undefined) {
      f = { cells: new Float64Array(FO_LEN), sa: null };
      this.vlinks.set(v, f);
    }
    return f.cells;
  }

  private inSaCells(sa: InboundSa): Float64Array {
    let c = this.inCells.get(sa);
    if (c === undefined) {
      c = new Float64Array(SI_LEN);
      alias(sa.stats, 'packets', c, SI_PACKETS);
      alias(sa.stats, 'bytes', c, SI_BYTES);
      this.inCells.set(sa, c);
    }
    return c;
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

  private context(sa: OutboundSa | InboundSa, encrypt: boolean): object {
    let h = this.contexts.get(sa);
    if (h === undefined) {
      h = this.crypto.newSa(SUITE_NUMBER[sa.suite], sa.key, sa.salt, encrypt);
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
