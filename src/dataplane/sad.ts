// Inbound Security Association Database: SPI -> SA (RFC 4301 §4.4.2). Outbound SAs hang off
// SPD entries instead, because outbound selection is by policy, inbound by SPI.

import type { InboundSa } from './sa.js';
import { hexShort } from '../wire/hex.js';
import { IiptranError } from '../errors.js';

export interface SadEntry {
  readonly sa: InboundSa;
  /** Name of the vlink whose TUN receives what this SA decrypts. */
  readonly vlink: string;
}

export class Sad {
  private readonly bySpi = new Map<number, SadEntry>();
  /** Called on every change, before it takes effect (the fast path turns off: fast-state.ts). */
  onChange: (() => void) | null = null;

  add(sa: InboundSa, vlink: string): void {
    if (this.bySpi.has(sa.spi)) {
      throw new IiptranError('IIPTRAN_ERR_INTERNAL', `SAD already has inbound SPI ${hexShort(sa.spi)}`);
    }
    this.onChange?.();
    this.bySpi.set(sa.spi, { sa, vlink });
  }

  get(spi: number): SadEntry | undefined {
    return this.bySpi.get(spi);
  }

  /** Removes one inbound SA (an IKE CHILD_SA that was replaced or deleted). */
  remove(spi: number): boolean {
    this.onChange?.();
    return this.bySpi.delete(spi);
  }

  removeVlink(vlink: string): void {
    this.onChange?.();
    for (const [spi, e] of this.bySpi) if (e.vlink === vlink) this.bySpi.delete(spi);
  }

  entries(): SadEntry[] {
    return [...this.bySpi.values()];
  }
}
