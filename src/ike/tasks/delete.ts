// INFORMATIONAL Deletes that end a rekey (RFC 7296 §1.4.1, §2.8): ours as tasks (the old
// CHILD_SA, a redundant collision loser, a replaced IKE SA), and the peer's as a responder.

import { ExchangeType, PayloadType, ProtocolId, type DeletePayload, type PayloadRepr } from '../../wire/ike/index.js';
import type { ChildSaRecord, IkeSa } from '../ike-sa.js';
import { spi4, type ChildState, type RekeyContext } from '../rekey-state.js';
import { activate, retireChild } from './child-sas.js';
import type { IkeTask } from './manager.js';
import { hex32x } from '../../wire/hex.js';

/** What a responder sends back, and what to do once it has left. */
export interface Answer {
  reply: PayloadRepr[];
  after?: () => void;
}

/** Our Delete of CHILD_SAs by their inbound SPIs; `wanted` can call it off before it is sent. */
export class ChildDeleteTask implements IkeTask {
  readonly kind = 'child-delete';
  readonly exchange = ExchangeType.INFORMATIONAL;

  constructor(
    private readonly rc: RekeyContext,
    private readonly spis: number[],
    private readonly done: () => void,
    private readonly wanted: (sa: IkeSa) => boolean = () => true,
  ) {}

  build(sa: IkeSa): PayloadRepr[] | null {
    if (!this.wanted(sa)) return null;
    const del: DeletePayload = { type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spiSize: 4, spis: this.spis.map(spi4) };
    return [del];
  }

  process(): void {
    this.done();
  }

  giveUp(sa: IkeSa, tries: number): void {
    this.rc.h.ctx.failed(sa, `no answer to INFORMATIONAL (delete of CHILD_SA ${this.spis.map(hex32x).join(', ')}) from ${sa.remote.addr} after ${tries} tries`, true);
  }
}

/** Our Delete of a replaced or redundant IKE SA; out of the tables whatever the answer. */
export class IkeDeleteTask implements IkeTask {
  readonly kind = 'ike-delete';
  readonly exchange = ExchangeType.INFORMATIONAL;

  constructor(private readonly rc: RekeyContext) {}

  build(): PayloadRepr[] {
    return [{ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }];
  }

  process(sa: IkeSa): void {
    this.rc.h.retire(sa, 'deleted after rekeying');
  }

  giveUp(sa: IkeSa): void {
    this.rc.h.retire(sa, 'deleted after rekeying');
  }
}

export function deleteIke(rc: RekeyContext, sa: IkeSa): void {
  sa.tasks.queue(new IkeDeleteTask(rc));
}

/** Our Delete of the SA we replaced; its inbound half outlives the exchange by the grace period. */
export function deleteOldChild(rc: RekeyContext, sa: IkeSa, c: ChildSaRecord): void {
  sa.tasks.queue(new ChildDeleteTask(rc, [c.spiIn], () => retireChild(rc, sa, c, rc.o.graceMs), (s) => s.children.includes(c)));
}

/** The peer should have deleted `c` by now (it replaced it, or it lost a collision): we do. */
export function orphanChild(rc: RekeyContext, sa: IkeSa, c: ChildSaRecord, cs: ChildState): void {
  cs.orphanAt = null;
  if (cs.phase === 'replaced' && cs.successor !== null) activate(rc, sa, cs.successor);
  rc.log.warn({ vlink: sa.cfg.vlink, spiIn: hex32x(c.spiIn) }, `CHILD_SA ${hex32x(c.spiIn)}: the peer never deleted it; deleting it ourselves`);
  sa.tasks.queue(new ChildDeleteTask(rc, [c.spiIn], () => retireChild(rc, sa, c, cs.phase === 'redundant' ? 0 : rc.o.graceMs), (s) => s.children.includes(c)));
}

/**
 * The peer's Deletes that belong to a rekey: the answer if they do, or null to let the ordinary
 * INFORMATIONAL code (exchange-info.ts) have the request.
 */
export function answerRekeyDeletes(rc: RekeyContext, sa: IkeSa, ps: readonly PayloadRepr[]): Answer | null {
  const deletes = ps.filter((p): p is DeletePayload => p.type === PayloadType.DELETE);
  if (deletes.length === 0) return null;
  const st = rc.ikeIfKnown(sa);
  if (deletes.some((d) => d.protocolId === ProtocolId.IKE)) {
    if (st === undefined) return null;
    const retire = () => rc.h.retire(sa, 'the peer deleted it after rekeying');
    if (st.replacedBy !== null) {
      // The rekey (ours or the peer's) already moved everything to the new SA.
      return { reply: [], after: retire };
    }
    if (st.collision !== null) {
      // The peer resolved the collision first: its new SA stands; our pending exchange dies with this one.
      rc.promote(sa, st.collision.sa, 'the peer\'s crossing rekey stands');
      return { reply: [], after: retire };
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
      const cs = rc.childIfKnown(c);
      if (cs === undefined) return null;
      if (cs.phase === 'redundant') {
        // Never carried traffic here: no grace needed.
        retireChild(rc, sa, c, 0);
      } else if (cs.successor !== null || cs.collision !== null) {
        const next = cs.successor ?? cs.collision!.child;
        cs.successor = next;
        cs.phase = 'replaced';
        activate(rc, sa, next);
        retireChild(rc, sa, c, rc.o.graceMs);
      } else {
        return null;
      }
      handled = true;
      ours.push(spi4(c.spiIn));
    }
  }
  if (!handled) return null;
  return { reply: ours.length > 0 ? [{ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spiSize: 4, spis: ours }] : [] };
}
