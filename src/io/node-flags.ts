// The daemon's own node options. V8 sizes its young generation from the command line only, so
// a daemon started without them re-executes itself with them (same pid: whoever started it
// still supervises it). See README "Data path" (memory).

import { loadNative } from '../native/index.js';

/**
 * `--max-semi-space-size=1`: the packet path allocates almost nothing, so a 1 MiB young
 * generation costs no throughput and keeps about 15 MiB of the default's out of the resident set.
 * `--interrupt-budget=8192`: optimise hot functions sooner. The packet path's entry points are
 * small and, on a lightly used link, run a few hundred times a second: with V8's default (~200 KB
 * of bytecode before optimising) they would stay unoptimised for minutes, and every interactive
 * packet would pay for it.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--interrupt-budget=8192'];

/**
 * Re-executes node with DAEMON_NODE_FLAGS unless the process already runs with them (or with
 * its own `--max-semi-space-size`, which wins). Returns normally only when nothing was done;
 * `reason` then says why (for the log).
 */
export function ensureDaemonNodeFlags(): string {
  const has = (f: string): boolean => process.execArgv.some((a) => a.split('=')[0] === f.split('=')[0]) ||
    (process.env['NODE_OPTIONS'] ?? '').split(/\s+/).some((a) => a.split('=')[0] === f.split('=')[0]);
  const missing = DAEMON_NODE_FLAGS.filter((f) => !has(f));
  if (missing.length === 0) return 'node options in place';
  if (process.env['IIPTRAN_REEXEC'] === '0') return 'IIPTRAN_REEXEC=0: running without the daemon node options';
  try {
    return loadNative().execSelf([process.execPath, ...process.execArgv, ...missing, ...process.argv.slice(1)]);
  } catch (e) {
    return `could not re-execute with ${missing.join(' ')}: ${(e as Error).message}`;
  }
}
