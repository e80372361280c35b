// Where the engine finds an IKE SA: by our SPI, and for a responder between IKE_SA_INIT and
// IKE_AUTH by (peer address, SPIi), since the peer may retransmit IKE_SA_INIT before it knows our
// SPI.

import type { IkeSa, Remote } from './ike-sa.js';

export class SaTable {
  private readonly bySpi = new Map<bigint, IkeSa>();
  /** Responder SAs between IKE_SA_INIT and IKE_AUTH, by (peer address, SPIi): SPIr is not yet known to the peer. */
  private readonly halfOpen = new Map<string, IkeSa>();

  get halfOpenCount(): number {
    return this.halfOpen.size;
  }

  get(ourSpi: bigint): IkeSa | undefined {
    return this.bySpi.get(ourSpi);
  }

  /** Under its own SPI (known once IKE_SA_INIT is done, or at once for a rekeyed SA). */
  index(sa: IkeSa): void {
    this.bySpi.set(sa.ourSpi, sa);
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

  /** Out of every table. */
  remove(sa: IkeSa): void {
    if (this.bySpi.get(sa.ourSpi) === sa) this.bySpi.delete(sa.ourSpi);
    this.endHalfOpen(sa);
  }
}
