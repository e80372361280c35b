// The peer's requests inside an IKE SA, once the engine has checked their message ID and opened
// SK: which exchange answers them, and what happens after the answer has left (an SA closed,
// established, or retired). Our own requests are tasks (tasks/manager.ts); these are the passive
// half of the same exchanges.

import { ExchangeType, NotifyType, notify, type PayloadRepr } from '../wire/ike/index.js';
import type { ExchangeContext } from './context.js';
import type { IkeDrops } from './drop-reasons.js';
import { onAuthRequest } from './exchange-auth.js';
import { onInformationalRequest } from './exchange-info.js';
import type { IkeSa } from './ike-sa.js';
import { hasNotify } from './payloads.js';
import type { PeerTable } from './peers.js';
import type { Rekeyer } from './rekey.js';

export interface ResponderDeps {
  ctx: ExchangeContext;
  peers: PeerTable;
  rekey: Rekeyer;
  drops: IkeDrops;
  /** Work that finishes later threw: count and log it like a synchronous handler bug. */
  internalError(e: unknown, sample: Buffer): void;
}

export class Responder {
  constructor(private readonly d: ResponderDeps) {}

  /**
   * Answers one authenticated request (`ps` are its inner payloads) through `reply`, which
   * seals and caches the response. `raw` is the request as received.
   */
  handle(sa: IkeSa, exchangeType: number, ps: readonly PayloadRepr[], raw: Buffer, reply: (ps: PayloadRepr[]) => void): void {
    switch (exchangeType) {
      case ExchangeType.IKE_AUTH:
        this.auth(sa, ps, raw, reply);
        return;
      case ExchangeType.INFORMATIONAL: {
        const rekeyed = this.d.rekey.onInformational(sa, ps);
        if (rekeyed !== null) {
          reply(rekeyed.reply);
          rekeyed.after?.();
          return;
        }
        const out = onInformationalRequest(this.d.ctx, sa, ps);
        reply(out.reply);
        if (out.closeSa !== null) this.d.peers.failed(sa, out.closeSa, true);
        return;
      }
      case ExchangeType.CREATE_CHILD_SA:
        if (sa.state !== 'ESTABLISHED') {
          reply([notify(NotifyType.INVALID_SYNTAX)]);
          return;
        }
        reply(this.d.rekey.onCreateChildRequest(sa, ps));
        return;
      default:
        reply([notify(NotifyType.INVALID_SYNTAX)]);
        this.d.drops.drop('unknown-exchange', sa.remote.addr, `exchange type ${exchangeType}; answered INVALID_SYNTAX`);
    }
  }

  /** IKE_AUTH as responder: answered once the peer's authorisation is decided, maybe a little later. */
  private auth(sa: IkeSa, ps: readonly PayloadRepr[], raw: Buffer, reply: (ps: PayloadRepr[]) => void): void {
    if (sa.role !== 'responder' || sa.state !== 'CONNECTING') {
      reply([notify(NotifyType.INVALID_SYNTAX)]);
      return;
    }
    if (sa.nat?.unbound === true || sa.addrUnproven) this.d.peers.rebind(sa, ps);
    sa.beginRequest(raw);
    onAuthRequest(this.d.ctx, sa, ps).then((out) => {
      if (out === null) {
        this.d.drops.drop('deleted-sa', sa.remote.addr, `IKE_AUTH on IKE SA ${sa.name}, which was deleted while the peer's authorisation was pending`);
        return;
      }
      reply(out.reply);
      if (out.error !== null) {
        this.d.peers.failed(sa, out.error, false);
        return;
      }
      // First, so the operator reads "peer restarted" rather than a plain replacement.
      if (hasNotify(ps, NotifyType.INITIAL_CONTACT)) this.d.peers.initialContact(sa);
      this.d.peers.established(sa);
    }).catch((e: unknown) => this.d.internalError(e, raw));
  }
}
