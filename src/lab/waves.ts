// How fast `lab up` may start daemons and how long it waits for them, sized to the lab and the
// machine. Starting every daemon at once makes each one's start-up (module loading, config
// parsing, TUN set-up) compete with all the others and with the daemons already negotiating
// IKE: 100 at once on 2 cores, and the first missed a fixed 20 s deadline. So start-ups are
// admitted through a window, and deadlines grow with the work per core. No I/O here.

import os from 'node:os';

/**
 * An `iiptran node` start-up takes about 0.5 s of CPU (0.44-0.62 s measured) plus some waiting
 * (process spawn, netlink, files). On a busy 2-core machine 24 of them took 14.6 s through a
 * window of 2, 7.3 s through 4 and 7.2 s all at once: one per core leaves the cores idle part
 * of the time, two fill them. Four per core leave margin for a busier machine's waits, and each
 * start-up still answers within seconds (median 2.5 s for 100 daemons on 2 cores).
 */
export const IIPTRAN_STARTS_PER_CORE = 4;
/** BIRD starts in milliseconds; the window only keeps a burst of 100 from piling onto the cores at once. */
export const BIRD_STARTS_PER_CORE = 8;
/** Deadlines and the convergence wait grow once a lab has more nodes than this per core. */
export const NODES_PER_CORE_BASE = 8;
export const READY_BASE_MS = 20_000;
export const CONVERGE_BASE_MS = 60_000;

export interface LabScale {
  /** Cores taken into account (os.availableParallelism() unless given). */
  parallelism: number;
  /** At most this many daemons of each kind are starting (spawned, not yet answering) at once. */
  window: { iiptran: number; bird: number };
  /** Per daemon, from its spawn: how long it may take to answer. */
  readyMs: number;
  /** How long `lab up` waits for routing to converge once every daemon answers. */
  convergeMs: number;
  /** Load factor: nodes per core over NODES_PER_CORE_BASE, at least 1. */
  factor: number;
}

/**
 * factor = max(1, nodes / (NODES_PER_CORE_BASE × cores)): 1 for every lab up to 8 nodes per
 * core (16 on a 2-core machine), 6.25 for 100 nodes on 2 cores.
 * readyMs = 20 s × factor × stretch and convergeMs = 60 s × factor, or `--timeout` when given;
 * stretch = max(1, timeout / default convergeMs), so asking for more patience also gives
 * slow start-ups more, while a short `--timeout` never makes start-up deadlines tighter.
 */
export function labScale(nodes: number, opts: { parallelism?: number; timeoutS?: number | undefined } = {}): LabScale {
  const p = opts.parallelism;
  const parallelism = Math.max(1, Math.floor(p !== undefined && Number.isFinite(p) ? p : os.availableParallelism()));
  const factor = Math.max(1, nodes / (NODES_PER_CORE_BASE * parallelism));
  const defaultConverge = Math.round(CONVERGE_BASE_MS * factor);
  const convergeMs = opts.timeoutS === undefined ? defaultConverge : Math.round(opts.timeoutS * 1000);
  const stretch = Math.max(1, convergeMs / defaultConverge);
  return {
    parallelism,
    window: { iiptran: Math.max(2, IIPTRAN_STARTS_PER_CORE * parallelism), bird: Math.max(2, BIRD_STARTS_PER_CORE * parallelism) },
    readyMs: Math.round(READY_BASE_MS * factor * stretch),
    convergeMs,
    factor,
  };
}

/** The waves a step of `count` start-ups goes through with a window of `size` if all took equally long: for progress output and tests. */
export function waveCount(count: number, size: number): number {
  return count === 0 ? 0 : Math.ceil(count / Math.max(1, size));
}

/**
 * Admits at most `size` start-ups at once: `enter()` resolves when a slot is free, `leave()`
 * frees it. A sliding window rather than lock-step waves: a slow daemon holds one slot, not a
 * whole wave. After `fail()` every waiting and later `enter()` rejects with that error, so a
 * failed start-up stops the step without starting the rest.
 */
export class StartWindow {
  private inFlight = 0;
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private failure: { error: unknown } | null = null;
  /** Most start-ups ever in flight at once (tests check the window held). */
  peak = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be a positive integer (got ${size})`);
  }

  enter(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error);
    if (this.inFlight < this.size) {
      this.take();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  leave(): void {
    this.inFlight--;
    const next = this.waiting.shift();
    if (next === undefined) return;
    this.take();
    next.resolve();
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    for (const w of this.waiting.splice(0)) w.reject(this.failure.error);
  }

  private take(): void {
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
  }
}

/** How many nodes a convergence round probes (control socket, BIRD socket, `ip route`) or pings from at once. */
export function probeConcurrency(parallelism: number): number {
  return Math.max(4, 4 * parallelism);
}

/**
 * fn over items with at most `limit` calls in flight; results in item order. After a failure
 * no further item starts, and the first error is thrown once the calls in flight have
 * settled, so a caller that rolls back never races work still being done.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | null = null;
  const worker = async () => {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failed !== null) throw (failed as { error: unknown }).error;
  return out;
}
