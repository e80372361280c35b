// Lab-changing commands serialise on the lab's lock: two of them at once both keep their
// change, a lock left by a dead process is taken over, and a held lock times out with a message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-lablock-'));
process.env['IIPTRAN_LAB_ROOT'] = root;
// state.ts reads IIPTRAN_LAB_ROOT when it is first imported, so import only after setting it.
const { saveState, readState } = await import('../../src/lab/state.js');
const { withLabLock } = await import('../../src/lab/state-lock.js');
type LabState = NonNullable<ReturnType<typeof readState>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(() => {
  fs.mkdirSync(path.join(root, 'l1'));
  saveState({ version: 1, name: 'l1', dir: path.join(root, 'l1'), processes: [], faults: [] } as unknown as LabState);
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('two changes at once: the second waits and sees the first one\'s state, so neither is lost', async () => {
  const change = (pid: number) => withLabLock('l1', async (s) => {
    await sleep(100); // a daemon restart takes time between reading and writing
    s.processes.push({ pid, role: 'iiptran', node: `n${pid}`, ns: 'x', log: 'x' });
    saveState(s);
  });
  await Promise.all([change(1), change(2)]);
  assert.deepEqual(readState('l1')!.processes.map((p) => p.pid).sort(), [1, 2]);
  assert.equal(fs.existsSync(path.join(root, 'l1', 'state.lock')), false, 'released');
});

test('a lock left by a process that is gone is taken over; a throwing change still releases', async () => {
  const dead = spawnSync('true').pid!;
  fs.writeFileSync(path.join(root, 'l1', 'state.lock'), `${dead}\n`);
  await assert.rejects(withLabLock('l1', async () => { throw new Error('boom'); }, 2000), /boom/);
  assert.equal(fs.existsSync(path.join(root, 'l1', 'state.lock')), false);
});

test('a lock held by a live process times out with a message naming it', async () => {
  fs.writeFileSync(path.join(root, 'l1', 'state.lock'), `${process.ppid}\n`);
  try {
    await assert.rejects(withLabLock('l1', async () => 1, 300), new RegExp(`another lab command \\(pid ${process.ppid}\\) has held`));
  } finally {
    fs.rmSync(path.join(root, 'l1', 'state.lock'));
  }
});
