// Rekeying a CHILD_SA (RFC 7296 §1.3.3, §2.8, §2.8.1): our CREATE_CHILD_SA as a task, and the
// answer to the peer's. The messages are exchange-child.ts's; the data-plane steps child-sas.ts's.
//
// Collisions (§2.8.1): when both ends rekey the same CHILD_SA at once, both answer as usual, and
// the exchange holding the lowest of the four nonces made a redundant SA, which its creator
// deletes.

import { randomBytes } from 'node:crypto';
import { ExchangeType, NotifyType, type PayloadRepr } from '../../wire/ike/index.js';
import {
  REKEY_NONCE_LEN, answerChildRekey, checkChildRekeyAnswer, childRekeyRequest, lowestNonce, rekeyedChild, refusal, type CreateChildRequest,
} from '../exchange-child.js';
import type { ChildSaRecord, IkeSa } from '../ike-sa.js';
import { natInstall } from '../nat.js';
import { spi4, type RekeyContext } from '../rekey-state.js';
import { installRekeyed, replacedByPeer } from './child-sas.js';
import { ChildDeleteTask, deleteOldChild } from './delete.js';
import type { IkeTask } from './manager.js';
import { hex32x } from '../../wire/hex.js';

export class ChildRekeyTask implements IkeTask {
  readonly kind = 'child-rekey';
  readonly exchange = ExchangeType.CREATE_CHILD_SA;
  private spiIn = 0;
  private ni = Buffer.alloc(0);

  constructor(private readonly rc: RekeyContext, private readonly c: ChildSaRecord, private readonly why: string) {}

  build(sa: IkeSa): PayloadRepr[] | null {
    const { rc, c } = this;
    const cs = rc.child(c, sa);
    if (!sa.children.includes(c) || cs.phase !== 'active') return null;
    this.spiIn = rc.h.host.allocSpi();
    this.ni = randomBytes(REKEY_NONCE_LEN);
    cs.phase = 'rekeying';
    rc.log.info({ vlink: sa.cfg.vlink, spiIn: hex32x(c.spiIn), why: this.why }, `rekeying CHILD_SA ${hex32x(c.spiIn)}/${hex32x(c.spiOut)} (${this.why})`);
    return childRekeyRequest(sa.cfg, c.spiIn, this.spiIn, this.ni);
  }

  process(sa: IkeSa, ps: readonly PayloadRepr[]): void {
    const { rc, c, spiIn, ni } = this;
    const cs = rc.child(c, sa);
    const now = rc.now();
    const ans = checkChildRekeyAnswer(sa.cfg, ps);
    const collision = cs.collision;
    cs.collision = null;
    if (!ans.ok) {
      if (collision !== null) {
        // Only the peer's rekey happened: its SA is the successor, and the peer deletes ours.
        rc.log.info({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex32x(c.spiIn)}: our rekey failed (${ans.why}), the peer's crossing rekey stands`);
        replacedByPeer(rc, cs, collision.child);
        return;
      }
      if (cs.phase === 'rekeying') cs.phase = 'active';
      if (ans.notify === NotifyType.CHILD_SA_NOT_FOUND) {
        rc.log.warn({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex32x(c.spiIn)}: the peer no longer has it (CHILD_SA_NOT_FOUND)`);
        return;
      }
      cs.retryAt = now + rc.retryDelay(cs.expireAt, now);
      const level = ans.notify === NotifyType.TEMPORARY_FAILURE ? 'info' : 'warn';
      rc.log[level]({ vlink: sa.cfg.vlink, retryInMs: Math.round(cs.retryAt - now) }, `rekey of CHILD_SA ${hex32x(c.spiIn)} refused: ${ans.why}; retrying`);
      return;
    }
    const fresh = natInstall(sa, rekeyedChild(sa, ans.choice, ni, ans.nr, spiIn, true, ans.protocols));
    if (collision !== null) {
      const ours = lowestNonce([ni, ans.nr]);
      const theirs = lowestNonce(collision.nonces);
      if (Buffer.compare(ours, theirs) < 0) {
        // Ours holds the lowest nonce, so ours is the redundant one, and we made it: we delete
        // it. It was never installed here; the peer holds only its inbound half.
        rc.log.info({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex32x(c.spiIn)}: simultaneous rekey; ours (in ${hex32x(spiIn)}) is redundant, deleting it`);
        replacedByPeer(rc, cs, collision.child);
        sa.tasks.queue(new ChildDeleteTask(rc, [spiIn], () => {}));
        return;
      }
      rc.log.info({ vlink: sa.cfg.vlink }, `CHILD_SA ${hex32x(c.spiIn)}: simultaneous rekey; the peer's (in ${hex32x(collision.child.spiIn)}) is redundant, the peer deletes it`);
      const lost = rc.childIfKnown(collision.child);
      if (lost !== undefined) {
        lost.phase = 'redundant';
        lost.orphanAt = now + rc.o.orphanMs;
      }
    }
    const rec = installRekeyed(rc, sa, fresh, true);
    if (rec === null) {
      if (cs.phase === 'rekeying') cs.phase = 'active';
      cs.retryAt = now + rc.retryDelay(cs.expireAt, now);
      return;
    }
    cs.successor = rec;
    cs.phase = 'replaced';
    if (cs.owner.children.includes(c)) deleteOldChild(rc, cs.owner, c);
  }

  giveUp(sa: IkeSa, tries: number): void {
    this.rc.h.ctx.failed(sa, `no answer to CREATE_CHILD_SA (rekey of CHILD_SA ${hex32x(this.c.spiIn)}) from ${sa.remote.addr} after ${tries} tries`, true);
  }
}

export function tempFail(rc: RekeyContext, sa: IkeSa, why: string): PayloadRepr[] {
  rc.log.info({ vlink: sa.cfg.vlink, peer: sa.remote.addr }, `CREATE_CHILD_SA from ${sa.remote.addr} answered TEMPORARY_FAILURE: ${why}`);
  return refusal(NotifyType.TEMPORARY_FAILURE);
}

/** The peer rekeys one of our CHILD_SAs: the inner payloads of our answer. */
export function answerPeerChildRekey(
  rc: RekeyContext, sa: IkeSa, req: Extract<CreateChildRequest, { kind: 'child-rekey' }>, ps: readonly PayloadRepr[],
): PayloadRepr[] {
  const st = rc.ike(sa);
  const peer = sa.remote.addr;
  // §2.25.2: not while the IKE SA itself is being replaced.
  if (st.replacedBy !== null || sa.tasks.active?.kind === 'ike-rekey' || st.collision !== null) return tempFail(rc, sa, 'the IKE SA is being rekeyed');
  const c = sa.children.find((x) => x.spiOut === req.rekeySpi);
  if (c === undefined) {
    rc.log.info({ vlink: sa.cfg.vlink, peer }, `CREATE_CHILD_SA from ${peer} rekeys CHILD_SA ${hex32x(req.rekeySpi)}, which we do not have; answered CHILD_SA_NOT_FOUND`);
    return refusal(NotifyType.CHILD_SA_NOT_FOUND, spi4(req.rekeySpi));
  }
  const cs = rc.child(c, sa);
  // §2.25.1: we are closing it (replaced, or a collision loser).
  if (cs.phase === 'replaced' || cs.phase === 'redundant') return tempFail(rc, sa, `CHILD_SA ${hex32x(c.spiIn)} is being deleted`);
  const spiIn = rc.h.host.allocSpi();
  const ans = answerChildRekey(sa, req, ps, spiIn);
  if (!ans.ok) {
    rc.log.warn({ vlink: sa.cfg.vlink, peer }, `rekey of CHILD_SA ${hex32x(c.spiIn)} by ${peer} refused: ${ans.why}`);
    return ans.reply;
  }
  const rec = installRekeyed(rc, sa, natInstall(sa, ans.install), false);
  if (rec === null) return refusal(NotifyType.NO_PROPOSAL_CHOSEN);
  if (cs.phase === 'rekeying') {
    // §2.8.1: answer as usual; the nonces decide once our own exchange is done.
    cs.collision = { child: rec, nonces: [req.ni, ans.nr] };
    rc.log.info({ vlink: sa.cfg.vlink, peer }, `CHILD_SA ${hex32x(c.spiIn)}: the peer rekeys it while we do (simultaneous rekey)`);
  } else {
    replacedByPeer(rc, cs, rec);
  }
  return ans.reply;
}
