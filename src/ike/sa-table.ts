// Where the engine finds an IKE SA: by our SPI, and for a responder between IKE_SA_INIT and
// IKE_AUTH by (peer address, SPIi), since the peer may retransmit IKE_SA_INIT before it knows our
// SPI. And, for a short while, the SAs just deleted: their last exchange with the peer.
//
// Why keep a deleted SA's last answer: when the peer deletes an IKE SA (after a rekey, say) and
// our answer to its Delete is lost, its retransmission finds the SA already gone. Answered with
// INVALID_IKE_SPI it would be unauthenticated, which the peer ignores (strongSwan then keeps
// retransmitting, the old SA DELETING for minutes), and our log would blame a restart that never
// happened. RFC 7296 §2.1 wants a retransmitted request to get the same response, so it does,
// byte for byte, from here.

import { ExchangeType } from '../wire/ike/index.js';
import type { Clock } from '../clock.js';
import type { IkeSa, LastExchange, Remote } from './ike-sa.js';

/** Long enough for several of the peer's retransmissions (ours: 0.5 to 15.5 s; charon: 4 s, 11 s, 24 s, 48 s). */
export const DEFAULT_DELETED_SA_KEEP_MS = 60000;
/** Deleted SAs remembered at once; the oldest goes first. */
const DELETED_SA_MAX = 1024;

export interface DeletedSa extends LastExchange {
  /** Where the peer was: only it may have the answer again. */
  addr: string;
  name: string;
  deletedAt: number;
}

export class SaTable {
  private readonly bySpi = new Map<bigint, IkeSa>();
  /** Responder SAs between IKE_SA_INIT and IKE_AUTH, by (peer address, SPIi): SPIr is not yet known to the peer. */
  private readonly halfOpen = new Map<string, IkeSa>();
  private readonly deleted = new Map<bigint, DeletedSa>();

  constructor(private readonly clock: Clock, private readonly keepDeletedMs = DEFAULT_DELETED_SA_KEEP_MS) {}

  get halfOpenCount(): number {
    return this.halfOpen.size;
  }

  get(ourSpi: bigint): IkeSa | undefined {
    return this.bySpi.get(ourSpi);
  }

  /** Under its own SPI (known once IKE_SA_INIT is done, or at once for a rekeyed SA). */
  index(sa: IkeSa): void {
    this.bySpi.set(sa.ourSpi, sa);
    this.deleted.delete(sa.ourSpi);
  }

  private static halfOpenKey(addr: string, spiI: bigint): string {
    return `${addr}:${spiI}`;
  }

  halfOpenSa(remote: Pick<Remote, 'addr'>, spiI: bigint): IkeSa | undefined {
    return this.halfOpen.get(SaTable.halfOpenKey(remote.addr, spiI));
  }

  addHalfOpen(sa: IkeSa): void {
    this.halfOpen.set(SaTable.halfOpenKey(sa.remote.addr, sa.spiI), sa);
  }

  /** IKE_AUTH done: the peer knows our SPI now. */
  endHalfOpen(sa: IkeSa): void {
    const k = SaTable.halfOpenKey(sa.remote.addr, sa.spiI);
    if (this.halfOpen.get(k) === sa) this.halfOpen.delete(k);
  }

  /** Out of every table; an SA that answered a request since IKE_SA_INIT is remembered for a while. */
  remove(sa: IkeSa): void {
    if (this.bySpi.get(sa.ourSpi) === sa) {
      this.bySpi.delete(sa.ourSpi);
      this.remember(sa);
    }
    this.endHalfOpen(sa);
  }

  private remember(sa: IkeSa): void {
    const ex = sa.lastExchange();
    // IKE_SA_INIT's retransmissions are the half-open table's; before IKE_AUTH nothing else is worth keeping.
    if (ex === null || ex.exchangeType === ExchangeType.IKE_SA_INIT || this.keepDeletedMs <= 0) return;
    this.expire();
    if (this.deleted.size >= DELETED_SA_MAX) this.deleted.delete(this.deleted.keys().next().value!);
    this.deleted.set(sa.ourSpi, { ...ex, addr: sa.remote.addr, name: sa.name, deletedAt: this.clock.now() });
  }

  /** The deleted SA a message from `addr` names by our SPI, if it is still remembered. */
  deletedSa(ourSpi: bigint, addr: string): DeletedSa | undefined {
    this.expire();
    const d = this.deleted.get(ourSpi);
    return d !== undefined && d.addr === addr ? d : undefined;
  }

  /** Insertion order is deletion order, so the expired ones are at the front. */
  private expire(): void {
    const limit = this.clock.now() - this.keepDeletedMs;
    for (const [spi, d] of this.deleted) {
      if (d.deletedAt > limit) break;
      this.deleted.delete(spi);
    }
  }
}
