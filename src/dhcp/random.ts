// Randomness the DHCP client takes as a dependency (xids, the persistent chaddr octet, backoff
// jitter), so tests run it from a seed; its clock is src/clock.ts's Clock.

export interface DhcpRandom {
  /** Uniform in [0, 1). */
  unit(): number;
  u32(): number;
}

export const systemRandom: DhcpRandom = {
  unit: () => Math.random(),
  u32: () => (Math.random() * 0x100000000) >>> 0,
};

/** xorshift32: the same seed gives the same xids and jitter. */
export class SeededRandom implements DhcpRandom {
  private s: number;
  constructor(seed = 1) {
    this.s = seed >>> 0 || 1;
  }
  u32(): number {
    this.s ^= this.s << 13;
    this.s ^= this.s >>> 17;
    this.s ^= this.s << 5;
    return this.s >>> 0;
  }
  unit(): number {
    return this.u32() / 0x100000000;
  }
}
