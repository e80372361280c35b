// Randomness the DHCP client takes as a dependency (xids, the persistent chaddr octet, backoff
// jitter), so tests run it from a seed (test/helpers/seeded-random.ts); its clock is
// src/clock.ts's Clock.

export interface DhcpRandom {
  /** Uniform in [0, 1). */
  unit(): number;
  u32(): number;
}

export const systemRandom: DhcpRandom = {
  unit: () => Math.random(),
  u32: () => (Math.random() * 0x100000000) >>> 0,
};
