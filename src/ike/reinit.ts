// When an initiator tries again after a failure or a dead peer. Exponential, so a peer that is
// gone for an hour costs one IKE_SA_INIT a minute rather than a storm; capped, so a peer that
// comes back is found within a minute; and jittered (always shorter, never beyond the cap), so
// many nodes that lost the same responder at the same moment do not come back in lock step.

export interface ReinitPolicy {
  /** Wait before the first retry; doubles with each consecutive failure. */
  baseMs: number;
  /** Cap on one wait. */
  maxMs: number;
  /** Up to this fraction is taken off each wait at random (0 = none). */
  jitter: number;
}

export const DEFAULT_REINIT: ReinitPolicy = Object.freeze({ baseMs: 1000, maxMs: 60000, jitter: 0.2 });

/** The wait after `failures` consecutive failures (1 = the first). `random` is in [0, 1). */
export function reinitDelay(failures: number, p: ReinitPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, failures);
  const raw = Math.min(p.baseMs * 2 ** Math.min(n - 1, 30), p.maxMs);
  const j = Math.min(Math.max(p.jitter, 0), 1);
  return Math.max(1, Math.round(raw * (1 - j * random())));
}
