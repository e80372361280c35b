// What the benchmark and the soak both do before measuring: refuse to run without root or a
// needed tool, make their scratch directory, and on a signal remove every namespace and process
// they started before exiting, so an interrupted run leaves nothing behind.

import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { destroyAllSync } from './netns.js';
import { killAllLive, run } from './proc.js';

export async function which(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', 'command -v "$1"', 'sh', cmd]);
  return r.code === 0;
}

/** The scratch directory, or the exit code (2) after saying on stderr what is missing. */
export async function benchSetup(name: string, why: string, tools: readonly string[]): Promise<string | number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write(`${name}: must run as root (${why})\n`);
    return 2;
  }
  for (const exe of tools) {
    if (!(await which(exe))) {
      process.stderr.write(`${name}: required tool '${exe}' is not installed\n`);
      return 2;
    }
  }
  const root = await mkdtemp(join(os.tmpdir(), `iib-${name}-`));
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\n[${name}] ${sig}: cleaning up namespaces and processes\n`);
    killAllLive();
    destroyAllSync();
    rmSync(root, { recursive: true, force: true });
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  return root;
}
