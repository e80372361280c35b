// Rekeying (RFC 7296 §2.8, §2.8.1, §2.18, §2.25): when CHILD_SAs and IKE SAs are replaced, how,
// and how collisions end. The messages themselves are exchange-child.ts.
//
// Make-before-break for a CHILD_SA, so that no packet meets a missing SA:
//   initiator: response arrives -> new inbound + outbound installed, outbound switched at once
//              (the responder installed its inbound before answering) -> Delete(old) -> after the
//              Delete's response, plus a grace period for reordered packets, the old inbound goes.
//   responder: request arrives -> new inbound installed, outbound NOT switched: the response may
//              still be on its way, and until the initiator reads it the initiator cannot decrypt
//              the new SA. The outbound switches when the initiator's Delete(old) arrives or when
//              the first packet arrives on the new inbound SA, whichever is first; the old inbound
//              stays for the grace period after that.
//
// Timers: one poll per established IKE SA (sa.after, so it dies with the SA) compares each SA's
// jittered deadline (a random 85-95 % of its lifetime: the two ends rarely rekey at once) and
// the data plane's counters against the limits. Only one of our own requests is in flight per
// IKE SA (window 1); a rekey that finds the window busy waits for the next poll.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ExchangeType, NotifyType, PayloadType, ProtocolId, type DeletePayload, type PayloadRepr } from '../../wire/ike/index.js';
import { generate, type DhGroupId } from './crypto/dh.js';
import { isDhGroupId } from './crypto/suites.js';
import type { ExchangeContext } from './context.js';
import {
  REKEY_NONCE_LEN, answerChildRekey, answerIkeRekey, checkChildRekeyAnswer, checkIkeRekeyAnswer, childRekeyRequest, classifyCreateChild,
  ikeRekeyRequest, keyRekeyedIkeSa, lowestNonce, rekeyedChild, refusal,
} from './exchange-child.js';
import { refuseCreateChild } from './exchange-info.js';
import { newIkeSpi, type ChildSaRecord, type IkeSa, type Remote } from './ike-sa.js';
import { natInstall } from './nat.js';
import type { ChildSaInstall, IkeHost, IkePeerConfig } from './types.js';

/** RFC 4303 §3.3.3: a non-ESN SA must not wrap. Rekey with 2^20 packets to spare. */
export const SEQ_REKEY_AT = 2 ** 32 - 2 ** 20;

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
  /** A new IKE SA object wired to the engine's I/O; not yet in any table. */
  newSa(cfg: IkePeerConfig, role: 'initiator' | 'responder', spiI: bigint, remote: Remote): IkeSa;
  /** Into the engine's tables; `current` makes it the vlink's SA. */
  adopt(sa: IkeSa, current: boolean): void;
  /** Out of the engine's tables, without a reconnect: whatever it still holds goes with it. */
  retire(sa: IkeSa, why: string): void;
}

type ChildPhase =
  /** Carrying traffic (or, for a responder's new SA, ready to once `outActive`). */
  | 'active'
  /** Our CREATE_CHILD_SA for it is in flight. */
  | 'rekeying'
  /** Has a successor; waits for the Delete (ours or the peer's). */
  | 'replaced'
  /** Lost a §2.8.1 collision: the peer, which created it, deletes it. */
  | 'redundant';

interface ChildState {
  phase: ChildPhase;
  owner: IkeSa;
  /** False for a rekey responder's new SA until the switch (see the top of this file). */
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

interface IkeState {
  rekeyAt: number;
  expireAt: number;
  retryAt: number;
  /** Our own request in flight, if it is one of ours. */
  busy: null | 'child' | 'ike' | 'delete';
  handlers: Map<number, (ps: readonly PayloadRepr[]) => void>;
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

const hex8 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

function spi4(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export class Rekeyer {
  private readonly o: Required<RekeyOptions>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly h: RekeyHooks, opts: RekeyOptions = {}) {
    this.o = { pollMs: 500, graceMs: 2000, jitter: [0.85, 0.95], orphanMs: 30000, random: Math.random, ...opts };
  }

  private get log(): Logger {
    return this.h.log;
  }

  private jittered(lifetimeMs: number): number {
    const [lo, hi] = this.o.jitter;
    return lifetimeMs * (lo + (hi - lo) * this.o.random());
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private ike(sa: IkeSa): IkeState {
    let s = ikeStates.get(sa);
    if (s === undefined) {
      const base = sa.establishedAt ?? Date.now();
      const life = sa.cfg.ikeLifetimeS * 1000;
      s = { rekeyAt: base + this.jittered(life), expireAt: base + life, retryAt: 0, busy: null, handlers: new Map(), replacedBy: null, collision: null, orphanAt: null, polling: false };
      ikeStates.set(sa, s);
    }
    return s;
  }

  private child(c: ChildSaRecord, owner: IkeSa, outActive = true): ChildState {
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

  /** An IKE SA became ESTABLISHED (IKE_AUTH or a rekey): its deadlines start now. */
  watch(sa: IkeSa): void {
    const st = this.ike(sa);
    for (const c of sa.children) this.child(c, sa);
    if (st.polling) return;
    st.polling = true;
    // Fine enough that the rekey window (the last 5-15 % of a lifetime) is never stepped over.
    const period = Math.max(1, Math.min(this.o.pollMs, (Math.min(sa.cfg.childLifetimeS, sa.cfg.ikeLifetimeS) * 1000) / 50));
    const tick = () => {
      if (sa.state !== 'ESTABLISHED' || this.stopped) return;
      sa.after(period, tick);
      this.poll(sa, st);
    };
    sa.after(period, tick);
  }

  /**
   * Makes the SA (or the vlink's first CHILD_SA) due at once; the next poll starts the rekey, and
   * a refused one is retried like any other. For operators and tests. Null, or why not.
   */
  rekeyNow(sa: IkeSa, what: 'ike' | 'child'): string | null {
    if (sa.state !== 'ESTABLISHED') return `IKE SA is ${sa.state}`;
    const st = this.ike(sa);
    if (st.replacedBy !== null) return 'IKE SA was already replaced';
    const now = Date.now();
    if (what === 'ike') {
      st.rekeyAt = now;
    } else {
      const c = sa.children.find((x) => this.child(x, sa).phase === 'active');
      if (c === undefined) return 'no CHILD_SA to rekey';
      this.child(c, sa).rekeyAt = now;
    }
    if (st.polling) this.poll(sa, st);
    return null;
  }

  private poll(sa: IkeSa, st: IkeState): void {
    const now = Date.now();
    if (st.orphanAt !== null && now >= st.orphanAt) {
      st.orphanAt = null;
      this.log.warn({ vlink: sa.cfg.vlink, ike: sa.name }, `IKE_SA ${sa.name}: the peer never deleted it after the rekey; deleting it ourselves`);
      this.deleteIke(sa);
      return;
    }
    if (st.replacedBy !== null || st.collision !== null) return;
    for (const c of [...sa.children]) {
      const cs = this.child(c, sa);
      if (!cs.outActive && cs.phase === 'active') this.maybeActivateByTraffic(sa, c);
      if (cs.orphanAt !== null && now >= cs.orphanAt) this.orphanChild(sa, c, cs);
    }
    if (st.busy !== null || sa.requestPending) return;
    if (now >= st.expireAt) {
      this.h.ctx.failed(sa, `IKE_SA ${sa.name} reached its lifetime (ike_lifetime_s ${sa.cfg.ikeLifetimeS}) without being rekeyed`, true);
      return;
    }
    if (now >= st.rekeyAt && now >= st.retryAt) {
      this.startIkeRekey(sa, st, null);
      return;
    }
    for (const c of sa.children) {
      const cs = this.child(c, sa);
      if (cs.phase !== 'active' || now < cs.retryAt) continue;
      if (now >= cs.expireAt) {
        this.h.ctx.failed(sa, `CHILD_SA ${hex8(c.spiIn)} reached its lifetime (child_lifetime_s ${sa.cfg.childLifetimeS}) without being rekeyed`, true);
        return;
      }
      const why = this.due(sa, c, cs, now);
      if (why !== null) {
        this.startChildRekey(sa, st, c, cs, why);
        return;
      }
    }
  }

  /** Why the CHILD_SA must be rekeyed now, or null. */
  private due(sa: IkeSa, c: ChildSaRecord, cs: ChildState, now: number): string | null {
    if (now >= cs.rekeyAt) return 'lifetime';
    const u = this.h.host.childUsage?.(sa.cfg.vlink, c) ?? null;
    if (u === null) return null;
    if (!c.esn && u.outSeq >= SEQ_REKEY_AT) return `sequence number ${u.outSeq} near 2^32 (no ESN)`;
    if (cs.packetsAt !== null && Math.max(u.inPackets, u.outPackets) >= cs.packetsAt) return `${Math.max(u.inPackets, u.outPackets)} packets`;
    if (cs.bytesAt !== null && Math.max(u.inBytes, u.outBytes) >= cs.bytesAt) return `${Math.max(u.inBytes, u.outBytes)} bytes`;
    return null;
  }

  // -------------------------------------------------------------------------------------------
  // Sending our requests.

  private send(sa: IkeSa, st: IkeState, type: number, payloads: PayloadRepr[], what: string, onResponse: (ps: readonly PayloadRepr[]) => void, onGiveUp?: () => void): void {
    const id = sa.takeRequestId();
    st.handlers.set(id, onResponse);
    sa.request(type, id, sa.sk!.seal(sa.header(type, false, id), payloads), (n) => {
      st.handlers.delete(id);
      st.busy = null;
      if (onGiveUp !== undefined) onGiveUp();
      else this.h.ctx.failed(sa, `no answer to ${what} from ${sa.remote.addr} after ${n} tries`, true);
    });
  }

  /** Runs `fn` once no request of ours (or of another task) is outstanding on the SA. */
  private whenIdle(sa: IkeSa, fn: () => void): void {
    if (sa.state !== 'ESTABLISHED') return;
    if (!sa.requestPending && this.ike(sa).busy === null) fn();
    else sa.after(10, () => this.whenIdle(sa, fn));
  }

  /** The engine hands us every response; true if it answered one of our requests. */
  onResponse(sa: IkeSa, messageId: number, ps: readonly PayloadRepr[]): boolean {
    const st = ikeStates.get(sa);
    const fn = st?.handlers.get(messageId);
    if (st === undefined || fn === undefined) return false;
    st.handlers.delete(messageId);
    fn(ps);
    return true;
  }

  private retryDelay(expireAt: number, now: number): number {
    // RFC 7296 §2.25: retry after a random delay, but while the SA still has time to be replaced.
    return Math.min(500 + 1500 * this.o.random(), Math.max(50, (expireAt - now) / 4));
  }

  // -------------------------------------------------------------------------------------------
  // CHILD_SA rekey, initiator.

  private startChildRekey(sa: IkeSa, st: IkeState, c: ChildSaRecord, cs: ChildState, why: string): void {
    const spiIn = this.h.host.allocSpi();
    const ni = randomBytes(REKEY_NONCE_LEN);
    st.busy = 'child';
    cs.phase = 'rekeying';
    this.log.info({ vlink: sa.cfg.vlink, spiIn: hex8(c.spiIn), why }, `rekeying CHILD_SA ${hex8(c.spiIn)}/${hex8(c.spiOut)} (${why})`);
    this.send(sa, st, ExchangeType.CREATE_CHILD_SA, childRekeyRequest(sa.cfg, c.spiIn, spiIn, ni), `CREATE_CHILD_SA (rekey of CHILD_SA ${hex8(c.spiIn)})`,
      (ps) => this.childRekeyDone(sa, st, c, cs, spiIn, ni, ps));
  }

  private childRekeyDone(sa: IkeSa, st: IkeState, c: ChildSaRecord, cs: ChildState, spiIn: number, ni: Buffer, ps: readonly PayloadRepr[]): void {
    st.busy = null;
    const now = Date.now();
    const ans = checkChildRekeyAnswer(sa.cfg, ps);
    const collision = cs.collision;
    cs.collision = null;
    if (!ans.ok) {
      if (collision !== null) {
        // Only the peer's rekey happened: its SA is the successor, and the peer deletes ours.
        this.log.info({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex8(c.spiIn)}: our rekey failed (${ans.why}), the peer's crossing rekey stands`);
        this.replacedByPeer(c, cs, collision.child);
        return;
      }
      if (cs.phase === 'rekeying') cs.phase = 'active';
      if (ans.notify === NotifyType.CHILD_SA_NOT_FOUND) {
        this.log.warn({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex8(c.spiIn)}: the peer no longer has it (CHILD_SA_NOT_FOUND)`);
        return;
      }
      cs.retryAt = now + this.retryDelay(cs.expireAt, now);
      const level = ans.notify === NotifyType.TEMPORARY_FAILURE ? 'info' : 'warn';
      this.log[level]({ vlink: sa.cfg.vlink, retryInMs: Math.round(cs.retryAt - now) }, `rekey of CHILD_SA ${hex8(c.spiIn)} refused: ${ans.why}; retrying`);
      return;
    }
    const fresh = natInstall(sa, rekeyedChild(sa, ans.choice, ni, ans.nr, spiIn, true));
    if (collision !== null) {
      const ours = lowestNonce([ni, ans.nr]);
      const theirs = lowestNonce(collision.nonces);
      if (Buffer.compare(ours, theirs) < 0) {
        // §2.8.1: ours holds the lowest nonce, so ours is the redundant one, and we made it: we
        // delete it. It was never installed here; the peer holds only its inbound half.
        this.log.info({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex8(c.spiIn)}: simultaneous rekey; ours (in ${hex8(spiIn)}) is redundant, deleting it`);
        this.replacedByPeer(c, cs, collision.child);
        this.whenIdle(sa, () => this.sendDelete(sa, [spiIn], () => {}));
        return;
      }
      this.log.info({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex8(c.spiIn)}: simultaneous rekey; the peer's (in ${hex8(collision.child.spiIn)}) is redundant, the peer deletes it`);
      const lost = childStates.get(collision.child);
      if (lost !== undefined) {
        lost.phase = 'redundant';
        lost.orphanAt = now + this.o.orphanMs;
      }
    }
    const rec = this.install(sa, fresh, true);
    if (rec === null) {
      if (cs.phase === 'rekeying') cs.phase = 'active';
      cs.retryAt = now + this.retryDelay(cs.expireAt, now);
      return;
    }
    cs.successor = rec;
    cs.phase = 'replaced';
    if (this.owns(cs, c)) this.whenIdle(cs.owner, () => this.deleteOldChild(cs.owner, c));
  }

  private owns(cs: ChildState, c: ChildSaRecord): boolean {
    return cs.owner.children.includes(c);
  }

  /** Into the data plane and the IKE SA; null if the host refused. */
  private install(sa: IkeSa, c: ChildSaInstall, outbound: boolean): ChildSaRecord | null {
    const canDefer = this.h.host.activateChild !== undefined;
    try {
      this.h.host.installChild(sa.cfg.vlink, c, { outbound: outbound || !canDefer });
    } catch (e) {
      this.log.error({ vlink: sa.cfg.vlink, err: (e as Error).message }, 'could not install the rekeyed CHILD_SA into the data plane');
      return null;
    }
    const rec: ChildSaRecord = { spiIn: c.spiIn, spiOut: c.spiOut, suite: c.suite, esn: c.esn, createdAt: Date.now() };
    sa.children.push(rec);
    this.child(rec, sa, outbound || !canDefer);
    this.h.ctx.keyLog({
      type: 'child', vlink: sa.cfg.vlink, spiIn: c.spiIn.toString(16).padStart(8, '0'), spiOut: c.spiOut.toString(16).padStart(8, '0'), suite: c.suite,
      keyIn: Buffer.concat([c.keyIn, c.saltIn]).toString('hex'), keyOut: Buffer.concat([c.keyOut, c.saltOut]).toString('hex'), rekey: 1,
    });
    this.log.info(
      { vlink: sa.cfg.vlink, spiIn: hex8(c.spiIn), spiOut: hex8(c.spiOut), suite: c.suite, outbound },
      `rekeyed CHILD_SA installed for ${sa.cfg.vlink}: in ${hex8(c.spiIn)}, out ${hex8(c.spiOut)}${outbound ? '' : ' (outbound switches when the peer is ready)'}`,
    );
    return rec;
  }

  private replacedByPeer(c: ChildSaRecord, cs: ChildState, successor: ChildSaRecord): void {
    cs.phase = 'replaced';
    cs.successor = successor;
    cs.orphanAt = Date.now() + this.o.orphanMs;
  }

  private sendDelete(sa: IkeSa, spis: number[], done: () => void): void {
    const st = this.ike(sa);
    st.busy = 'delete';
    const del: DeletePayload = { type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spiSize: 4, spis: spis.map(spi4) };
    this.send(sa, st, ExchangeType.INFORMATIONAL, [del], `INFORMATIONAL (delete of CHILD_SA ${spis.map(hex8).join(', ')})`, () => {
      st.busy = null;
      done();
    });
  }

  /** Our Delete of the SA we replaced; its inbound half outlives the exchange by the grace period. */
  private deleteOldChild(sa: IkeSa, c: ChildSaRecord): void {
    if (!sa.children.includes(c)) return;
    this.sendDelete(sa, [c.spiIn], () => this.retireChild(sa, c, this.o.graceMs));
  }

  /** Out of the IKE SA now, out of the data plane after `graceMs`. */
  private retireChild(sa: IkeSa, c: ChildSaRecord, graceMs: number): void {
    const i = sa.children.indexOf(c);
    if (i >= 0) sa.children.splice(i, 1);
    const vlink = sa.cfg.vlink;
    const remove = () => {
      this.h.host.removeChild(vlink, { spiIn: c.spiIn, spiOut: c.spiOut });
      this.log.info({ vlink, spiIn: hex8(c.spiIn), spiOut: hex8(c.spiOut) }, `old CHILD_SA ${hex8(c.spiIn)}/${hex8(c.spiOut)} removed`);
    };
    if (graceMs <= 0) remove();
    else this.later(graceMs, remove);
  }

  private activate(sa: IkeSa, c: ChildSaRecord): void {
    const cs = childStates.get(c);
    if (cs === undefined || cs.outActive) return;
    cs.outActive = true;
    this.h.host.activateChild?.(sa.cfg.vlink, c);
    this.log.info({ vlink: sa.cfg.vlink, spiOut: hex8(c.spiOut) }, `outbound traffic switched to CHILD_SA ${hex8(c.spiOut)}`);
  }

  /** The initiator sends on the new SA only once it holds both halves: safe for us to switch too. */
  private maybeActivateByTraffic(sa: IkeSa, c: ChildSaRecord): void {
    const u = this.h.host.childUsage?.(sa.cfg.vlink, c) ?? null;
    if (u !== null && u.inPackets > 0) this.activate(sa, c);
  }

  private orphanChild(sa: IkeSa, c: ChildSaRecord, cs: ChildState): void {
    cs.orphanAt = null;
    if (cs.phase === 'replaced' && cs.successor !== null) this.activate(sa, cs.successor);
    this.log.warn({ vlink: sa.cfg.vlink, spiIn: hex8(c.spiIn) }, `CHILD_SA ${hex8(c.spiIn)}: the peer never deleted it; deleting it ourselves`);
    this.whenIdle(sa, () => {
      if (!sa.children.includes(c)) return;
      this.sendDelete(sa, [c.spiIn], () => this.retireChild(sa, c, cs.phase === 'redundant' ? 0 : this.o.graceMs));
    });
  }

  // -------------------------------------------------------------------------------------------
  // CREATE_CHILD_SA requests from the peer.

  /** The inner payloads of our response to a CREATE_CHILD_SA request. */
  onCreateChildRequest(sa: IkeSa, ps: readonly PayloadRepr[]): PayloadRepr[] {
    const req = classifyCreateChild(ps);
    const st = this.ike(sa);
    const peer = sa.remote.addr;
    switch (req.kind) {
      case 'invalid':
        this.log.warn({ vlink: sa.cfg.vlink, peer }, `CREATE_CHILD_SA from ${peer} is malformed (${req.why}); answered INVALID_SYNTAX`);
        return refusal(NotifyType.INVALID_SYNTAX);
      case 'new-child':
        this.log.warn({ vlink: sa.cfg.vlink, peer }, `CREATE_CHILD_SA from ${peer} asks for an additional CHILD_SA; refused with NO_ADDITIONAL_SAS (one per vlink)`);
        return refuseCreateChild();
      case 'child-rekey': {
        // §2.25.2: not while the IKE SA itself is being replaced.
        if (st.replacedBy !== null || st.busy === 'ike' || st.collision !== null) return this.tempFail(sa, 'the IKE SA is being rekeyed');
        const c = sa.children.find((x) => x.spiOut === req.rekeySpi);
        if (c === undefined) {
          this.log.info({ vlink: sa.cfg.vlink, peer }, `CREATE_CHILD_SA from ${peer} rekeys CHILD_SA ${hex8(req.rekeySpi)}, which we do not have; answered CHILD_SA_NOT_FOUND`);
          return refusal(NotifyType.CHILD_SA_NOT_FOUND, spi4(req.rekeySpi));
        }
        const cs = this.child(c, sa);
        // §2.25.1: we are closing it (replaced, or a collision loser).
        if (cs.phase === 'replaced' || cs.phase === 'redundant') return this.tempFail(sa, `CHILD_SA ${hex8(c.spiIn)} is being deleted`);
        const spiIn = this.h.host.allocSpi();
        const ans = answerChildRekey(sa, req, ps, spiIn);
        if (!ans.ok) {
          this.log.warn({ vlink: sa.cfg.vlink, peer }, `rekey of CHILD_SA ${hex8(c.spiIn)} by ${peer} refused: ${ans.why}`);
          return ans.reply;
        }
        const rec = this.install(sa, natInstall(sa, ans.install), false);
        if (rec === null) return refusal(NotifyType.NO_PROPOSAL_CHOSEN);
        if (cs.phase === 'rekeying') {
          // §2.8.1: answer as usual; the nonces decide once our own exchange is done.
          cs.collision = { child: rec, nonces: [req.ni, ans.nr] };
          this.log.info({ vlink: sa.cfg.vlink, peer }, `CHILD_SA ${hex8(c.spiIn)}: the peer rekeys it while we do (simultaneous rekey)`);
        } else {
          this.replacedByPeer(c, cs, rec);
        }
        return ans.reply;
      }
      case 'ike-rekey':
        return this.onIkeRekeyRequest(sa, st, req);
    }
  }

  private tempFail(sa: IkeSa, why: string): PayloadRepr[] {
    this.log.info({ vlink: sa.cfg.vlink, peer: sa.remote.addr }, `CREATE_CHILD_SA from ${sa.remote.addr} answered TEMPORARY_FAILURE: ${why}`);
    return refusal(NotifyType.TEMPORARY_FAILURE);
  }

  // -------------------------------------------------------------------------------------------
  // IKE SA rekey.

  private onIkeRekeyRequest(sa: IkeSa, st: IkeState, req: Extract<ReturnType<typeof classifyCreateChild>, { kind: 'ike-rekey' }>): PayloadRepr[] {
    // §2.25.2: a CHILD_SA exchange of ours in flight, or the SA already replaced: not now.
    if (st.replacedBy !== null || st.collision !== null) return this.tempFail(sa, 'the IKE SA was already rekeyed');
    if (st.busy === 'child' || st.busy === 'delete') return this.tempFail(sa, 'a CHILD_SA exchange is in progress');
    if (sa.children.some((c) => { const p = childStates.get(c)?.phase; return p === 'rekeying'; })) return this.tempFail(sa, 'a CHILD_SA rekey is in progress');
    const ans = answerIkeRekey(req, sa.cfg, newIkeSpi());
    if (!ans.ok) {
      this.log.warn({ vlink: sa.cfg.vlink, peer: sa.remote.addr }, `IKE SA rekey by ${sa.remote.addr} refused: ${ans.why}`);
      return ans.reply;
    }
    const fresh = this.h.newSa(sa.cfg, 'responder', ans.params.spiI, { ...sa.remote });
    keyRekeyedIkeSa(this.h.ctx, sa, fresh, ans.params);
    if (st.busy === 'ike') {
      this.h.adopt(fresh, false);
      st.collision = { sa: fresh, nonces: [ans.params.ni, ans.params.nr] };
      this.log.info({ vlink: sa.cfg.vlink, ike: sa.name }, `IKE_SA ${sa.name}: the peer rekeys it while we do (simultaneous rekey)`);
      return ans.reply;
    }
    this.promote(sa, fresh, 'the peer rekeyed it');
    // The peer, which made the new SA, deletes the old one.
    st.orphanAt = Date.now() + this.o.orphanMs;
    return ans.reply;
  }

  /** `fresh` replaces `old`: it becomes current and takes the CHILD_SAs along. */
  private promote(old: IkeSa, fresh: IkeSa, why: string): void {
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

  private startIkeRekey(sa: IkeSa, st: IkeState, group: DhGroupId | null): void {
    const g = group ?? sa.suite!.dh.id;
    const spi = newIkeSpi();
    const ni = randomBytes(REKEY_NONCE_LEN);
    const dh = generate(g);
    st.busy = 'ike';
    this.log.info({ vlink: sa.cfg.vlink, ike: sa.name }, `rekeying IKE_SA ${sa.name}`);
    this.send(sa, st, ExchangeType.CREATE_CHILD_SA, ikeRekeyRequest(sa.cfg, spi, ni, dh), 'CREATE_CHILD_SA (IKE SA rekey)', (ps) => {
      st.busy = null;
      const now = Date.now();
      const ans = checkIkeRekeyAnswer(sa, ps, spi, ni, dh);
      const collision = st.collision;
      if (!ans.ok) {
        if (collision !== null) {
          this.promote(sa, collision.sa, 'our rekey failed; the peer\'s crossing rekey stands');
          st.orphanAt = now + this.o.orphanMs;
          return;
        }
        const want = ans.wantGroup;
        if (want !== null && group === null && isDhGroupId(want) && sa.cfg.ike.some((p) => (p.dhs as number[]).includes(want))) {
          this.startIkeRekey(sa, st, want);
          return;
        }
        st.retryAt = now + this.retryDelay(st.expireAt, now);
        const level = ans.notify === NotifyType.TEMPORARY_FAILURE ? 'info' : 'warn';
        this.log[level]({ vlink: sa.cfg.vlink, ike: sa.name }, `rekey of IKE_SA ${sa.name} refused: ${ans.why}; retrying`);
        return;
      }
      const fresh = this.h.newSa(sa.cfg, 'initiator', spi, { ...sa.remote });
      keyRekeyedIkeSa(this.h.ctx, sa, fresh, ans.params);
      if (collision !== null) {
        if (Buffer.compare(lowestNonce([ni, ans.params.nr]), lowestNonce(collision.nonces)) < 0) {
          // §2.8.2: ours is redundant; we made it, we delete it. The peer deletes the old SA.
          this.h.adopt(fresh, false);
          this.ike(fresh).replacedBy = collision.sa;
          this.promote(sa, collision.sa, 'simultaneous rekey, the peer\'s stands');
          st.orphanAt = now + this.o.orphanMs;
          this.deleteIke(fresh);
          return;
        }
        const lost = this.ike(collision.sa);
        lost.replacedBy = fresh;
        lost.orphanAt = now + this.o.orphanMs;
        // Polled only for that deadline: a replaced SA is never rekeyed.
        this.watch(collision.sa);
        this.log.info({ vlink: sa.cfg.vlink, redundant: collision.sa.name }, `IKE_SA ${sa.name}: simultaneous rekey; the peer's ${collision.sa.name} is redundant, the peer deletes it`);
      }
      this.promote(sa, fresh, 'we rekeyed it');
      this.deleteIke(sa);
    });
  }

  /** Delete of a replaced or redundant IKE SA, then out of the tables whatever the answer. */
  private deleteIke(sa: IkeSa): void {
    this.whenIdle(sa, () => {
      const st = this.ike(sa);
      st.busy = 'delete';
      const gone = () => this.h.retire(sa, 'deleted after rekeying');
      this.send(sa, st, ExchangeType.INFORMATIONAL, [{ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }],
        'INFORMATIONAL (delete of the old IKE SA)', gone, gone);
    });
  }

  // -------------------------------------------------------------------------------------------
  // INFORMATIONAL Deletes that end a rekey.

  /**
   * Deletes that belong to a rekey: the reply payloads if we handled the request, or null to
   * let the ordinary INFORMATIONAL code have it.
   */
  onInformational(sa: IkeSa, ps: readonly PayloadRepr[]): PayloadRepr[] | null {
    const deletes = ps.filter((p): p is DeletePayload => p.type === PayloadType.DELETE);
    if (deletes.length === 0) return null;
    const st = ikeStates.get(sa);
    if (deletes.some((d) => d.protocolId === ProtocolId.IKE)) {
      if (st === undefined) return null;
      if (st.replacedBy !== null) {
        // The rekey (ours or the peer's) already moved everything to the new SA.
        setImmediate(() => this.h.retire(sa, 'the peer deleted it after rekeying'));
        return [];
      }
      if (st.collision !== null) {
        // The peer resolved the collision first: its new SA stands; our pending exchange dies with this one.
        this.promote(sa, st.collision.sa, 'the peer\'s crossing rekey stands');
        setImmediate(() => this.h.retire(sa, 'the peer deleted it after rekeying'));
        return [];
      }
      return null;
    }
    const ours: Buffer[] = [];
    let handled = false;
    for (const d of deletes) {
      if (d.protocolId !== ProtocolId.ESP || d.spiSize !== 4) return null;
      for (const b of d.spis) {
        const spi = b.readUInt32BE(0);
        const c = sa.children.find((x) => x.spiOut === spi);
        if (c === undefined) continue;
        const cs = childStates.get(c);
        if (cs === undefined) return null;
        if (cs.phase === 'redundant') {
          // Never carried traffic here: no grace needed.
          this.retireChild(sa, c, 0);
        } else if (cs.successor !== null || cs.collision !== null) {
          const next = cs.successor ?? cs.collision!.child;
          cs.successor = next;
          cs.phase = 'replaced';
          this.activate(sa, next);
          this.retireChild(sa, c, this.o.graceMs);
        } else {
          return null;
        }
        handled = true;
        ours.push(spi4(c.spiIn));
      }
    }
    if (!handled) return null;
    return ours.length > 0 ? [{ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spiSize: 4, spis: ours }] : [];
  }
}
