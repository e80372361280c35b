// One lab-changing command at a time per lab. Commands that change a lab (restart, readdress,
// link, dns) read state.json, act for seconds, and write it back: two of them at once (a script
// restarting nodes in parallel) would each write the state they read, and the later write would
// lose the earlier one's new pid. The lock is a file created with O_EXCL that holds the owner's
// pid, so a lock left by a killed command is taken over instead of blocking the lab forever.

import fs from 'node:fs';
import path from 'node:path';
import { IiptranError } from '../errors.js';
import { labDir, readState, type LabState } from './state.js';

const POLL_MS = 50;
export const LOCK_WAIT_MS = 120_000;

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryLock(file: string): boolean {
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const owner = Number(fs.readFileSync(file, 'utf8').trim() || 'NaN');
  if (alive(owner)) return false;
  // Its owner is gone. Renaming it away is atomic, so of two commands that found it stale only one
  // removes it; both then race on O_EXCL again.
  try {
    fs.renameSync(file, `${file}.stale.${process.pid}`);
    fs.rmSync(`${file}.stale.${process.pid}`, { force: true });
  } catch {
    /* another command took it over first */
  }
  return false;
}

/**
 * Runs `fn` on the lab's state as it is once the lock is held (not as it was before waiting),
 * and releases the lock afterwards, also when `fn` throws.
 */
export async function withLabLock<T>(name: string, fn: (s: LabState) => Promise<T>, waitMs = LOCK_WAIT_MS): Promise<T> {
  const file = path.join(labDir(name), 'state.lock');
  const t0 = Date.now();
  while (!tryLock(file)) {
    if (Date.now() - t0 > waitMs) {
      throw new IiptranError('IIPTRAN_ERR_USAGE', `lab ${name}: another lab command (pid ${fs.readFileSync(file, 'utf8').trim()}) has held ${file} for ${Math.round(waitMs / 1000)} s; try again when it ends`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    const s = readState(name);
    if (s === null) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab ${name} went away while waiting for its lock`);
    return await fn(s);
  } finally {
    fs.rmSync(file, { force: true });
  }
}
