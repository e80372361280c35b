// Rekeying the IKE SA (RFC 7296 §1.3.2, §2.18, §2.8.2, §2.25.2): our CREATE_CHILD_SA as a task,
// and the answer to the peer's. The new SA gets new SPIs, nonces and a fresh DH exchange in the
// current group; the CHILD_SAs move to it untouched (RekeyContext.promote), and the rekey's
// initiator deletes the old one. When both ends rekey at once, the exchange holding the lowest
// nonce made the redundant SA, which its creator deletes.

import { randomBytes } from 'node:crypto';
import { ExchangeType, NotifyType, type PayloadRepr } from '../../wire/ike/index.js';
import { generate, type DhGroupId, type DhKeyPair } from '../crypto/dh.js';
import { isDhGroupId } from '../crypto/suites.js';
import {
  REKEY_NONCE_LEN, answerIkeRekey, checkIkeRekeyAnswer, ikeRekeyRequest, keyRekeyedIkeSa, lowestNonce, type CreateChildRequest,
} from '../exchange-child.js';
import { newIkeSpi, type IkeSa } from '../ike-sa.js';
import type { RekeyContext } from '../rekey-state.js';
import { tempFail } from './child-rekey.js';
import { deleteIke } from './delete.js';
import type { IkeTask } from './manager.js';

export class IkeRekeyTask implements IkeTask {
  readonly kind = 'ike-rekey';
  readonly exchange = ExchangeType.CREATE_CHILD_SA;
  private spi = 0n;
  private ni = Buffer.alloc(0);
  private dh: DhKeyPair | null = null;

  /** `group`: the one the peer asked for with INVALID_KE_PAYLOAD; null: the SA's current group. */
  constructor(private readonly rc: RekeyContext, private readonly group: DhGroupId | null = null) {}

  build(sa: IkeSa): PayloadRepr[] | null {
    const st = this.rc.ike(sa);
    if (st.replacedBy !== null) return null;
    this.spi = newIkeSpi();
    this.ni = randomBytes(REKEY_NONCE_LEN);
    this.dh = generate(this.group ?? sa.suite!.dh.id);
    this.rc.log.info({ vlink: sa.cfg.vlink, ike: sa.name }, `rekeying IKE_SA ${sa.name}`);
    return ikeRekeyRequest(sa.cfg, this.spi, this.ni, this.dh);
  }

  process(sa: IkeSa, ps: readonly PayloadRepr[]): void {
    const { rc, spi, ni } = this;
    const st = rc.ike(sa);
    const now = rc.now();
    const ans = checkIkeRekeyAnswer(sa, ps, spi, ni, this.dh!);
    const collision = st.collision;
    if (!ans.ok) {
      if (collision !== null) {
        rc.promote(sa, collision.sa, 'our rekey failed; the peer\'s crossing rekey stands');
        st.orphanAt = now + rc.o.orphanMs;
        return;
      }
      const want = ans.wantGroup;
      if (want !== null && this.group === null && isDhGroupId(want) && sa.cfg.ike.some((p) => (p.dhs as number[]).includes(want))) {
        sa.tasks.queue(new IkeRekeyTask(rc, want), true);
        return;
      }
      st.retryAt = now + rc.retryDelay(st.expireAt, now);
      const level = ans.notify === NotifyType.TEMPORARY_FAILURE ? 'info' : 'warn';
      rc.log[level]({ vlink: sa.cfg.vlink, ike: sa.name }, `rekey of IKE_SA ${sa.name} refused: ${ans.why}; retrying`);
      return;
    }
    const fresh = rc.h.newSa(sa.cfg, 'initiator', spi, { ...sa.remote });
    keyRekeyedIkeSa(rc.h.ctx, sa, fresh, ans.params);
    if (collision !== null) {
      if (Buffer.compare(lowestNonce([ni, ans.params.nr]), lowestNonce(collision.nonces)) < 0) {
        // Ours is redundant; we made it, we delete it. The peer deletes the old SA.
        rc.h.adopt(fresh, false);
        rc.ike(fresh).replacedBy = collision.sa;
        rc.promote(sa, collision.sa, 'simultaneous rekey, the peer\'s stands');
        st.orphanAt = now + rc.o.orphanMs;
        deleteIke(rc, fresh);
        return;
      }
      const lost = rc.ike(collision.sa);
      lost.replacedBy = fresh;
      lost.orphanAt = now + rc.o.orphanMs;
      // Polled only for that deadline: a replaced SA is never rekeyed.
      rc.watch(collision.sa);
      rc.log.info({ vlink: sa.cfg.vlink, redundant: collision.sa.name }, `IKE_SA ${sa.name}: simultaneous rekey; the peer's ${collision.sa.name} is redundant, the peer deletes it`);
    }
    rc.promote(sa, fresh, 'we rekeyed it');
    deleteIke(rc, sa);
  }

  giveUp(sa: IkeSa, tries: number): void {
    this.rc.h.ctx.failed(sa, `no answer to CREATE_CHILD_SA (IKE SA rekey) from ${sa.remote.addr} after ${tries} tries`, true);
  }
}

/** The peer rekeys the IKE SA: the inner payloads of our answer. */
export function answerPeerIkeRekey(rc: RekeyContext, sa: IkeSa, req: Extract<CreateChildRequest, { kind: 'ike-rekey' }>): PayloadRepr[] {
  const st = rc.ike(sa);
  // §2.25.2: a CHILD_SA exchange of ours in flight, or the SA already replaced: not now.
  if (st.replacedBy !== null || st.collision !== null) return tempFail(rc, sa, 'the IKE SA was already rekeyed');
  const active = sa.tasks.active?.kind;
  if (active === 'child-rekey' || active === 'child-delete' || active === 'ike-delete') return tempFail(rc, sa, 'a CHILD_SA exchange is in progress');
  if (sa.children.some((c) => rc.childIfKnown(c)?.phase === 'rekeying')) return tempFail(rc, sa, 'a CHILD_SA rekey is in progress');
  const ans = answerIkeRekey(req, sa.cfg, newIkeSpi());
  if (!ans.ok) {
    rc.log.warn({ vlink: sa.cfg.vlink, peer: sa.remote.addr }, `IKE SA rekey by ${sa.remote.addr} refused: ${ans.why}`);
    return ans.reply;
  }
  const fresh = rc.h.newSa(sa.cfg, 'responder', ans.params.spiI, { ...sa.remote });
  keyRekeyedIkeSa(rc.h.ctx, sa, fresh, ans.params);
  if (active === 'ike-rekey') {
    rc.h.adopt(fresh, false);
    st.collision = { sa: fresh, nonces: [ans.params.ni, ans.params.nr] };
    rc.log.info({ vlink: sa.cfg.vlink, ike: sa.name }, `IKE_SA ${sa.name}: the peer rekeys it while we do (simultaneous rekey)`);
    return ans.reply;
  }
  rc.promote(sa, fresh, 'the peer rekeyed it');
  // The peer, which made the new SA, deletes the old one.
  st.orphanAt = rc.now() + rc.o.orphanMs;
  return ans.reply;
}
