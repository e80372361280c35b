// INFORMATIONAL (RFC 7296 §1.4) as the peer's requests reach us: an empty one is a liveness
// check and gets an empty answer; Delete removes CHILD_SAs (answered with the Delete of our own
// halves, §1.4.1) or the whole IKE SA; a notify of AUTHENTICATION_FAILED ends the SA.
// Our own liveness checks are dpd.ts's; Delete on shutdown goes out once and is not waited for.

import { ExchangeType, NotifyType, PayloadType, ProtocolId, type DeletePayload, type PayloadRepr } from '../wire/ike/index.js';
import type { IkeSa } from './ike-sa.js';
import { hasNotify } from './payloads.js';
import type { ExchangeContext } from './context.js';
import { hex32 } from '../wire/hex.js';

export interface InfoOutcome {
  reply: PayloadRepr[];
  /** The peer deleted the IKE SA or gave up on it: close after answering. */
  closeSa: string | null;
}

export function onInformationalRequest(ctx: ExchangeContext, sa: IkeSa, ps: readonly PayloadRepr[]): InfoOutcome {
  const peer = sa.remote.addr;
  const deletes = ps.filter((p): p is DeletePayload => p.type === PayloadType.DELETE);
  if (deletes.some((d) => d.protocolId === ProtocolId.IKE)) {
    return { reply: [], closeSa: `peer ${peer} deleted the IKE SA` };
  }
  if (hasNotify(ps, NotifyType.AUTHENTICATION_FAILED)) {
    return { reply: [], closeSa: `peer ${peer} says AUTHENTICATION_FAILED after IKE_AUTH (${sa.cfg.pubkey !== undefined ? 'it does not accept our public key' : 'PSK mismatch?'})` };
  }
  const ours: Buffer[] = [];
  for (const d of deletes) {
    if (d.protocolId !== ProtocolId.ESP || d.spiSize !== 4) continue;
    for (const spi of d.spis) {
      const out = spi.readUInt32BE(0);
      const i = sa.children.findIndex((c) => c.spiOut === out);
      if (i < 0) continue;
      const [c] = sa.children.splice(i, 1);
      ctx.host.removeChild(sa.cfg.vlink, { spiIn: c!.spiIn, spiOut: c!.spiOut });
      ctx.log.warn({ vlink: sa.cfg.vlink, peer, spiOut: out.toString(16) }, `peer ${peer} deleted the CHILD_SA 0x${hex32(out)}; the vlink has no SA until IKE negotiates a new one`);
      const b = Buffer.alloc(4);
      b.writeUInt32BE(c!.spiIn);
      ours.push(b);
    }
  }
  const reply: PayloadRepr[] = ours.length > 0 ? [{ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spiSize: 4, spis: ours }] : [];
  return { reply, closeSa: null };
}

/** CREATE_CHILD_SA (rekeys, extra children) is a later slice: refuse it the way RFC 7296 §1.3 allows. */
export function refuseCreateChild(): PayloadRepr[] {
  return [{ type: PayloadType.NOTIFY, protocolId: 0, spi: Buffer.alloc(0), notifyType: NotifyType.NO_ADDITIONAL_SAS, data: Buffer.alloc(0) }];
}

/** Best effort on shutdown: tell the peer the IKE SA (and so its children) is gone. */
export function sendDeleteIke(sa: IkeSa): void {
  if (sa.sk === null || sa.state !== 'ESTABLISHED' || sa.tasks.busy) return;
  const id = sa.takeRequestId();
  sa.sendRaw(sa.sk.seal(sa.header(ExchangeType.INFORMATIONAL, false, id), [{ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }]));
}
