// Which control socket a `show` command talks to: --socket, else --node NAME, else the only
// daemon socket under /run/iiptran (a lone daemon needs no flags).

import fs from 'node:fs';
import path from 'node:path';
import { IiptranError } from '../errors.js';

export const RUN_DIR = '/run/iiptran';

export function resolveSocket(opts: { socket?: string | undefined; node?: string | undefined }): string {
  if (opts.socket) return opts.socket;
  if (opts.node) return path.join(RUN_DIR, `${opts.node}.sock`);
  let socks: string[] = [];
  try {
    socks = fs.readdirSync(RUN_DIR).filter((f) => f.endsWith('.sock'));
  } catch {
    /* no run dir: no daemon */
  }
  if (socks.length === 1) return path.join(RUN_DIR, socks[0]!);
  if (socks.length === 0) {
    throw new IiptranError('IIPTRAN_ERR_USAGE', `no daemon control socket in ${RUN_DIR}; start \`iiptran node --config FILE\` or pass --socket`);
  }
  throw new IiptranError('IIPTRAN_ERR_USAGE', `several daemons run here (${socks.join(', ')}); choose one with --node NAME or --socket PATH`);
}
