// What every `iiptran lab ...` command file shares: printing, the root check, the exit-2
// handling of usage and topology errors, and the --lab option.

import { IiptranError } from '../errors.js';

export const print = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

export function needRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab ${what} needs root (network namespaces, TUN interfaces, nftables)`);
}

/** Topology and usage errors exit 2 like config errors; everything else goes to main's handler. */
export function guarded<A>(fn: (a: A) => Promise<void>): (a: A) => Promise<void> {
  return async (a) => {
    try {
      await fn(a);
    } catch (e) {
      const err = e as IiptranError;
      if (err.code !== 'IIPTRAN_ERR_TOPOLOGY' && err.code !== 'IIPTRAN_ERR_USAGE') throw e;
      process.stderr.write(`iiptran: ${err.message} [${err.code}]\n`);
      process.exitCode = 2;
    }
  };
}

export const labOpt = { type: 'string', describe: 'lab name; default: the only running lab' } as const;
