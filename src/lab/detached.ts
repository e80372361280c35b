// Starting and stopping one lab daemon outside `lab up`'s plan (the DNS server, a node daemon
// restarted by `lab readdress` or `lab restart`): started detached in its namespace so it
// outlives the command, stopped by its recorded pid only.

import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { IiptranError } from '../errors.js';

export function spawnDetached(ns: string, argv: string[], log: string): ChildProcess & { pid: number } {
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'a');
  // Own session and no pipes back to us: the daemon must outlive the command that started it.
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new IiptranError('IIPTRAN_ERR_LAB', `cannot start ${argv.join(' ')} in ${ns}`);
  return child as ChildProcess & { pid: number };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether pid is still the process we started: its command line names `marker` (the lab dir), against pid reuse. */
export function isOurs(pid: number, marker: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the pid is gone. */
export async function stopPid(pid: number, graceMs: number): Promise<'exited' | 'killed' | 'absent'> {
  if (!alive(pid)) return 'absent';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'absent';
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (!alive(pid)) return 'exited';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
  while (alive(pid)) await new Promise((r) => setTimeout(r, 25));
  return 'killed';
}

export function logTail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    | ${l}`).join('\n');
  } catch {
    return '    | (no log)';
  }
}
