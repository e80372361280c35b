// `iiptran show ... --watch`: frames redrawn in place on a terminal, appended into a pipe, a
// daemon that goes away shown and retried, and Ctrl-C (SIGINT) ending it with status 0 at once.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { runDaemon } from '../../src/control/daemon.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { parseInterval, watch } from '../../src/cli/watch-cmd.js';
import { fakeNodeIo, manualKeying, pairYaml, writePairKeys } from '../control/fake-node-io.js';

const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-watch-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('watch(): in place on a terminal, appended into a pipe, errors shown and retried', async () => {
  for (const tty of [true, false]) {
    const out: string[] = [];
    let n = 0;
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const frames = await watch({
      intervalMs: 10, title: 'Every 0.0s: t', tty, json: false, write: (s) => out.push(s), stop: stopped,
      frame: async () => {
        n++;
        if (n === 2) throw new Error('daemon gone');
        if (n === 4) stop();
        return `frame ${n}`;
      },
    });
    assert.equal(frames, 3, 'the frame being fetched when stopped is not drawn');
    const all = out.join('');
    assert.match(all, /frame 1[\s\S]*error: daemon gone[\s\S]*frame 3/);
    assert.ok(!all.includes('frame 4'));
    if (tty) {
      assert.equal(all.split('\x1b[H\x1b[2J').length - 1, 3, 'each frame starts with cursor home + clear');
      assert.ok(all.startsWith('\x1b[?25l') && all.endsWith('\x1b[?25h'), 'cursor hidden while watching, shown again after');
    } else {
      assert.ok(!all.includes('\x1b'), 'no escape codes into a pipe');
    }
  }
  assert.throws(() => parseInterval(0.01), /--interval: must be 0\.1\.\.3600 seconds/);
  assert.equal(parseInterval(0.5), 500);
});

test('the CLI: show links --watch repeats until SIGINT, then exits 0 at once; --json gives one document per line', async () => {
  writePairKeys(dir, 'aes-gcm-128');
  const file = path.join(dir, 'a.yaml');
  fs.writeFileSync(file, pairYaml(dir, 'a', manualKeying('a', 'aes-gcm-128')));
  const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const h = await runDaemon(file, fakeNodeIo(u, new Map<string, FakeTun>()), pino({ level: 'silent' }));
  try {
    for (const json of [false, true]) {
      const p = spawn(process.execPath, [CLI, 'show', 'links', '--watch', '--interval', '0.2', '--socket', path.join(dir, 'a.sock'), ...(json ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += String(d)));
      const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
      const t0 = Date.now();
      while ((out.match(json ? /\n/g : /Every 0\.2s: iiptran show links/g) ?? []).length < 3) {
        if (Date.now() - t0 > 10_000) throw new Error(`fewer than 3 frames in 10 s: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const tKill = Date.now();
      p.kill('SIGINT');
      assert.equal(await exited, 0, 'Ctrl-C is a clean exit');
      assert.ok(Date.now() - tKill < 1000, `stopped within a second (${Date.now() - tKill} ms)`);
      if (json) {
        const docs = out.trim().split('\n').map((l) => JSON.parse(l) as { node: string; links: { name: string }[] });
        assert.ok(docs.every((d) => d.node === 'a' && d.links[0]!.name === 'vl-b'));
      } else {
        assert.match(out, /node a\n[\s\S]*vl-b/);
      }
    }
  } finally {
    await h.stop();
  }
});
