// Deterministic DhcpRandom for tests: the same seed gives the same xids and jitter, so the
// client's whole timeline replays exactly.

import type { DhcpRandom } from '../../src/dhcp/random.js';

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
