// When CHILD_SAs and IKE SAs are rekeyed (RFC 7296 §2.8): the scheduler. How a rekey runs is
// the tasks' business (tasks/child-rekey.ts, tasks/ike-rekey.ts, tasks/delete.ts); this file
// only decides that one is due and queues it, and answers the peer's CREATE_CHILD_SA.
//
// One poll per established IKE SA (sa.after, so it dies with the SA) compares each SA's jittered
// deadline (a random 85-95 % of its lifetime: the two ends rarely rekey at once) and the data
// plane's counters against the limits. A poll that finds our window busy leaves the work to the
// next poll: a rekey is queued only when it can start at once, so it is built from fresh state.

import type { PayloadRepr } from '../wire/ike/index.js';
import { NotifyType } from '../wire/ike/index.js';
import { classifyCreateChild, refusal } from './exchange-child.js';
import { refuseCreateChild } from './exchange-info.js';
import type { ChildSaRecord, IkeSa } from './ike-sa.js';
import { RekeyContext, type ChildState, type IkeState, type RekeyHooks, type RekeyOptions } from './rekey-state.js';
import { maybeActivateByTraffic } from './tasks/child-sas.js';
import { ChildRekeyTask, answerPeerChildRekey } from './tasks/child-rekey.js';
import { answerRekeyDeletes, deleteIke, orphanChild, type Answer } from './tasks/delete.js';
import { IkeRekeyTask, answerPeerIkeRekey } from './tasks/ike-rekey.js';
import { hex32x } from '../wire/hex.js';

export type { RekeyOptions } from './rekey-state.js';

/** RFC 4303 §3.3.3: a non-ESN SA must not wrap. Rekey with 2^20 packets to spare. */
export const SEQ_REKEY_AT = 2 ** 32 - 2 ** 20;

export class Rekeyer {
  readonly rc: RekeyContext;

  constructor(hooks: RekeyHooks, opts: RekeyOptions = {}) {
    this.rc = new RekeyContext(hooks, opts);
    this.rc.watch = (sa) => this.watch(sa);
  }

  stop(): void {
    this.rc.stop();
  }

  /** An IKE SA became ESTABLISHED (IKE_AUTH or a rekey): its deadlines start now. */
  watch(sa: IkeSa): void {
    const rc = this.rc;
    const st = rc.ike(sa);
    for (const c of sa.children) rc.child(c, sa);
    if (st.polling) return;
    st.polling = true;
    // Fine enough that the rekey window (the last 5-15 % of a lifetime) is never stepped over.
    const period = Math.max(1, Math.min(rc.o.pollMs, (Math.min(sa.cfg.childLifetimeS, sa.cfg.ikeLifetimeS) * 1000) / 50));
    const tick = () => {
      if (sa.state !== 'ESTABLISHED' || rc.isStopped) return;
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
    const rc = this.rc;
    if (sa.state !== 'ESTABLISHED') return `IKE SA is ${sa.state}`;
    const st = rc.ike(sa);
    if (st.replacedBy !== null) return 'IKE SA was already replaced';
    const now = rc.now();
    if (what === 'ike') {
      st.rekeyAt = now;
    } else {
      const c = sa.children.find((x) => rc.child(x, sa).phase === 'active');
      if (c === undefined) return 'no CHILD_SA to rekey';
      rc.child(c, sa).rekeyAt = now;
    }
    if (st.polling) this.poll(sa, st);
    return null;
  }

  private poll(sa: IkeSa, st: IkeState): void {
    const rc = this.rc;
    const now = rc.now();
    if (st.orphanAt !== null && now >= st.orphanAt) {
      st.orphanAt = null;
      rc.log.warn({ vlink: sa.cfg.vlink, ike: sa.name }, `IKE_SA ${sa.name}: the peer never deleted it after the rekey; deleting it ourselves`);
      deleteIke(rc, sa);
      return;
    }
    if (st.replacedBy !== null || st.collision !== null) return;
    for (const c of [...sa.children]) {
      const cs = rc.child(c, sa);
      if (!cs.outActive && cs.phase === 'active') maybeActivateByTraffic(rc, sa, c);
      if (cs.orphanAt !== null && now >= cs.orphanAt) orphanChild(rc, sa, c, cs);
    }
    if (sa.tasks.busy) return;
    if (now >= st.expireAt) {
      rc.h.ctx.failed(sa, `IKE_SA ${sa.name} reached its lifetime (ike_lifetime_s ${sa.cfg.ikeLifetimeS}) without being rekeyed`, true);
      return;
    }
    if (now >= st.rekeyAt && now >= st.retryAt) {
      sa.tasks.queue(new IkeRekeyTask(rc));
      return;
    }
    for (const c of sa.children) {
      const cs = rc.child(c, sa);
      if (cs.phase !== 'active' || now < cs.retryAt) continue;
      if (now >= cs.expireAt) {
        rc.h.ctx.failed(sa, `CHILD_SA ${hex32x(c.spiIn)} reached its lifetime (child_lifetime_s ${sa.cfg.childLifetimeS}) without being rekeyed`, true);
        return;
      }
      const why = this.due(sa, c, cs, now);
      if (why !== null) {
        sa.tasks.queue(new ChildRekeyTask(rc, c, why));
        return;
      }
    }
  }

  /** Why the CHILD_SA must be rekeyed now, or null. */
  private due(sa: IkeSa, c: ChildSaRecord, cs: ChildState, now: number): string | null {
    if (now >= cs.rekeyAt) return 'lifetime';
    const u = this.rc.h.host.childUsage?.(sa.cfg.vlink, c) ?? null;
    if (u === null) return null;
    if (!c.esn && u.outSeq >= SEQ_REKEY_AT) return `sequence number ${u.outSeq} near 2^32 (no ESN)`;
    if (cs.packetsAt !== null && Math.max(u.inPackets, u.outPackets) >= cs.packetsAt) return `${Math.max(u.inPackets, u.outPackets)} packets`;
    if (cs.bytesAt !== null && Math.max(u.inBytes, u.outBytes) >= cs.bytesAt) return `${Math.max(u.inBytes, u.outBytes)} bytes`;
    return null;
  }

  /** The inner payloads of our response to a CREATE_CHILD_SA request. */
  onCreateChildRequest(sa: IkeSa, ps: readonly PayloadRepr[]): PayloadRepr[] {
    const req = classifyCreateChild(ps);
    const peer = sa.remote.addr;
    switch (req.kind) {
      case 'invalid':
        this.rc.log.warn({ vlink: sa.cfg.vlink, peer }, `CREATE_CHILD_SA from ${peer} is malformed (${req.why}); answered INVALID_SYNTAX`);
        return refusal(NotifyType.INVALID_SYNTAX);
      case 'new-child':
        this.rc.log.warn({ vlink: sa.cfg.vlink, peer }, `CREATE_CHILD_SA from ${peer} asks for an additional CHILD_SA; refused with NO_ADDITIONAL_SAS (one per vlink)`);
        return refuseCreateChild();
      case 'child-rekey':
        return answerPeerChildRekey(this.rc, sa, req, ps);
      case 'ike-rekey':
        return answerPeerIkeRekey(this.rc, sa, req);
    }
  }

  /** Deletes that belong to a rekey: our answer, or null to let the ordinary INFORMATIONAL code have it. */
  onInformational(sa: IkeSa, ps: readonly PayloadRepr[]): Answer | null {
    return answerRekeyDeletes(this.rc, sa, ps);
  }
}
