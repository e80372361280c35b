// What rekeying (RFC 7296 §2.8) remembers about each CHILD_SA and IKE SA: deadlines, the phase
// of a replacement, collisions, and the SA that replaced it. The scheduler (rekey.ts) and the
// tasks (tasks/child-rekey.ts, tasks/ike-rekey.ts, tasks/delete.ts) share it through one
// RekeyContext per engine.

import type { Logger } from 'pino';
import type { Clock, ClockTimer } from '../clock.js';
import type { ExchangeContext } from './context.js';
import type { ChildSaRecord, IkeSa, Remote } from './ike-sa.js';
import type { IkeHost, IkePeerConfig } from './types.js';

export interface RekeyOptions {
  /** How often deadlines and counters are checked. Default 500 ms. */
  pollMs?: number;
  /** How long an old inbound SA outlives its replacement's switch. Default 2000 ms. */
  graceMs?: number;
  /** Rekey point as a fraction of the lifetime: uniform in [lo, hi). Default 0.85..0.95. */
  jitter?: [number, number];
  /**
   * An SA the peer should delete (the one it replaced, or its redundant collision loser) but
   * does not within this long is deleted by us. Default 30 s.
   */
  orphanMs?: number;
  random?: () => number;
}

export interface RekeyHooks {
  ctx: ExchangeContext;
  host: IkeHost;
  log: Logger;
  clock: Clock;
  /** A new IKE SA object wired to the engine's I/O; not yet in any table. */
  newSa(cfg: IkePeerConfig, role: 'initiator' | 'responder', spiI: bigint, remote: Remote): IkeSa;
  /** Into the engine's tables; `current` makes it the vlink's SA. */
  adopt(sa: IkeSa, current: boolean): void;
  /** Out of the engine's tables, without a reconnect: whatever it still holds goes with it. */
  retire(sa: IkeSa, why: string): void;
}

export type ChildPhase =
  /** Carrying traffic (or, for a responder's new SA, ready to once `outActive`). */
  | 'active'
  /** Our CREATE_CHILD_SA for it is in flight. */
  | 'rekeying'
  /** Has a successor; waits for the Delete (ours or the peer's). */
  | 'replaced'
  /** Lost a §2.8.1 collision: the peer, which created it, deletes it. */
  | 'redundant';

export interface ChildState {
  phase: ChildPhase;
  owner: IkeSa;
  /** False for a rekey responder's new SA until the switch (see tasks/child-rekey.ts). */
  outActive: boolean;
  rekeyAt: number;
  expireAt: number;
  bytesAt: number | null;
  packetsAt: number | null;
  retryAt: number;
  successor: ChildSaRecord | null;
  /** The peer's rekey of this SA that crossed ours: the SA it made and its exchange's nonces. */
  collision: { child: ChildSaRecord; nonces: Buffer[] } | null;
  /** When we stop waiting for the peer's Delete (phases replaced-by-peer and redundant). */
  orphanAt: number | null;
}

export interface IkeState {
  rekeyAt: number;
  expireAt: number;
  retryAt: number;
  /** The SA that replaced this one: it only waits for its Delete now. */
  replacedBy: IkeSa | null;
  /** The peer's IKE rekey that crossed ours. */
  collision: { sa: IkeSa; nonces: Buffer[] } | null;
  /** Lost a collision or was replaced by the peer: the peer must delete it by then. */
  orphanAt: number | null;
  polling: boolean;
}

const childStates = new WeakMap<ChildSaRecord, ChildState>();
const ikeStates = new WeakMap<IkeSa, IkeState>();


export function spi4(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function childRekeyView(c: ChildSaRecord, now: number): { rekeyInSeconds: number | null; rekeyState: string } {
  const s = childStates.get(c);
  if (s === undefined) return { rekeyInSeconds: null, rekeyState: 'active' };
  return {
    rekeyInSeconds: s.phase === 'active' ? Math.max(0, Math.round((s.rekeyAt - now) / 1000)) : null,
    rekeyState: s.phase === 'active' && !s.outActive ? 'pending' : s.phase,
  };
}

export function ikeRekeyInSeconds(sa: IkeSa, now: number): number | null {
  const s = ikeStates.get(sa);
  if (s === undefined || s.replacedBy !== null || sa.state !== 'ESTABLISHED') return null;
  return Math.max(0, Math.round((s.rekeyAt - now) / 1000));
}

/** The shared part of rekeying: hooks into the engine, options, state records, timers. */
export class RekeyContext {
  readonly o: Required<RekeyOptions>;
  private readonly timers = new Set<ClockTimer>();
  private stopped = false;
  /** The scheduler (rekey.ts) starts watching an SA's deadlines; set by it. */
  watch: (sa: IkeSa) => void = () => {};

  constructor(readonly h: RekeyHooks, opts: RekeyOptions = {}) {
    this.o = { pollMs: 500, graceMs: 2000, jitter: [0.85, 0.95], orphanMs: 30000, random: Math.random, ...opts };
  }

  get log(): Logger {
    return this.h.log;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  now(): number {
    return this.h.clock.now();
  }

  jittered(lifetimeMs: number): number {
    const [lo, hi] = this.o.jitter;
    return lifetimeMs * (lo + (hi - lo) * this.o.random());
  }

  /** RFC 7296 §2.25: retry after a random delay, but while the SA still has time to be replaced. */
  retryDelay(expireAt: number, now: number): number {
    return Math.min(500 + 1500 * this.o.random(), Math.max(50, (expireAt - now) / 4));
  }

  /** A timer that outlives the SA it concerns (grace periods) but not the engine. */
  later(ms: number, fn: () => void): void {
    const t = this.h.clock.setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) this.h.clock.clearTimeout(t);
    this.timers.clear();
  }

  ike(sa: IkeSa): IkeState {
    let s = ikeStates.get(sa);
    if (s === undefined) {
      const base = sa.establishedAt ?? this.now();
      const life = sa.cfg.ikeLifetimeS * 1000;
      s = { rekeyAt: base + this.jittered(life), expireAt: base + life, retryAt: 0, replacedBy: null, collision: null, orphanAt: null, polling: false };
      ikeStates.set(sa, s);
    }
    return s;
  }

  /** Only if rekeying has seen the SA already. */
  ikeIfKnown(sa: IkeSa): IkeState | undefined {
    return ikeStates.get(sa);
  }

  child(c: ChildSaRecord, owner: IkeSa, outActive = true): ChildState {
    let s = childStates.get(c);
    if (s === undefined) {
      const cfg = owner.cfg;
      const life = cfg.childLifetimeS * 1000;
      const vol = (n: number | undefined) => (n === undefined || n <= 0 ? null : Math.max(1, Math.floor(this.jittered(n))));
      s = {
        phase: 'active', owner, outActive, rekeyAt: c.createdAt + this.jittered(life), expireAt: c.createdAt + life,
        bytesAt: vol(cfg.childLifetimeBytes), packetsAt: vol(cfg.childLifetimePackets), retryAt: 0, successor: null, collision: null, orphanAt: null,
      };
      childStates.set(c, s);
    }
    return s;
  }

  childIfKnown(c: ChildSaRecord): ChildState | undefined {
    return childStates.get(c);
  }

  /** `fresh` replaces `old`: it becomes current and takes the CHILD_SAs along. */
  promote(old: IkeSa, fresh: IkeSa, why: string): void {
    const st = this.ike(old);
    st.replacedBy = fresh;
    st.collision = null;
    this.h.adopt(fresh, true);
    for (const c of old.children.splice(0)) {
      fresh.children.push(c);
      const cs = childStates.get(c);
      if (cs !== undefined) cs.owner = fresh;
    }
    this.watch(fresh);
    this.log.info({ vlink: fresh.cfg.vlink, old: old.name, new: fresh.name }, `IKE_SA ${old.name} rekeyed (${why}): now ${fresh.name} with ${fresh.children.length} CHILD_SA(s)`);
  }
}
