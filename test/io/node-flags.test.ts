// The daemon re-executes itself with its node options: same pid, options in place, stdio (its
// log) still where it was, and no second re-execution.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DAEMON_NODE_FLAGS } from '../../src/io/node-flags.js';

const script = (mod: string) => `
  const { ensureDaemonNodeFlags } = await import(${JSON.stringify(mod)});
  const pid = process.pid;
  console.error('start ' + pid + ' ' + process.execArgv.join(' '));
  const why = ensureDaemonNodeFlags();
  console.log(JSON.stringify({ pid, execArgv: process.execArgv, why }));
`;

test('ensureDaemonNodeFlags: re-executes once with the flags, same pid, stdout and stderr kept', () => {
  const mod = new URL('../../src/io/node-flags.js', import.meta.url).href;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iiptran-flags-'));
  try {
    const file = path.join(dir, 's.mjs');
    fs.writeFileSync(file, script(mod));
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 0, r.stderr);
    const starts = r.stderr.trim().split('\n');
    assert.equal(starts.length, 2, `two starts, one re-execution: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim()) as { pid: number; execArgv: string[]; why: string };
    assert.equal(starts[0]!.split(' ')[1], String(out.pid), 'the same pid before and after');
    for (const f of DAEMON_NODE_FLAGS) assert.ok(out.execArgv.includes(f), `${f} in ${out.execArgv.join(' ')}`);
    assert.equal(out.why, 'node options in place');
    const off = spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', IIPTRAN_REEXEC: '0' } });
    assert.match(JSON.parse(off.stdout.trim()).why, /IIPTRAN_REEXEC=0/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
