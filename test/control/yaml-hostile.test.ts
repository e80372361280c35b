// Hostile YAML (an alias bomb, absurd nesting) in a node config or a topology file is a config
// error with its stable code and the file's name: exit 2 from the CLI, and a reload that logs the
// same code and keeps the running config.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ConfigErrors, loadNodeConfig } from '../../src/control/config.js';
import { TopologyError, loadTopology } from '../../src/lab/topology.js';
import { runDaemon } from '../../src/control/daemon.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { fakeNodeIo } from './fake-node-io.js';

const BIN = fileURLToPath(new URL('../../../bin/iiptran.js', import.meta.url));
let dir: string;

/** 9^7 = 4.8 million strings from seven lines: the "billion laughs" shape. */
const BOMB = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-yaml-'));
  fs.writeFileSync(path.join(dir, 'bomb.yaml'), BOMB);
  fs.writeFileSync(path.join(dir, 'deep.yaml'), 'a: ' + '['.repeat(20000) + ']'.repeat(20000) + '\n');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

test('an alias bomb in a node config is IIPTRAN_ERR_CONFIG naming the file', () => {
  const file = path.join(dir, 'bomb.yaml');
  const t0 = Date.now();
  assert.throws(() => loadNodeConfig(file), (e: unknown) => {
    assert.ok(e instanceof ConfigErrors, String(e));
    assert.equal(e.code, 'IIPTRAN_ERR_CONFIG');
    assert.equal(e.errors[0]!.field, '(yaml)');
    assert.match(e.message, new RegExp(`^${file}: \\(yaml\\): aliases expand to too many nodes`));
    return true;
  });
  assert.ok(Date.now() - t0 < 2000, `refused in ${Date.now() - t0} ms`);
});

test('check-config on an alias bomb or absurd nesting: exit 2, file and code on stderr', () => {
  for (const name of ['bomb.yaml', 'deep.yaml']) {
    const file = path.join(dir, name);
    const r = cli('check-config', file);
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^iiptran: ${file}: \\(yaml\\): .*\\[IIPTRAN_ERR_CONFIG\\]\\n$`));
  }
});

test('an alias bomb in a topology file is IIPTRAN_ERR_TOPOLOGY naming the file', () => {
  const file = path.join(dir, 'bomb.yaml');
  assert.throws(() => loadTopology(file), (e: unknown) => {
    assert.ok(e instanceof TopologyError, String(e));
    assert.equal(e.code, 'IIPTRAN_ERR_TOPOLOGY');
    assert.equal(e.problems[0]!.field, '(yaml)');
    assert.match(e.message, new RegExp(`^${file}: \\(yaml\\): aliases expand to too many nodes`));
    return true;
  });
});

test('lab up on an alias bomb: exit 2 with IIPTRAN_ERR_TOPOLOGY', { skip: process.getuid?.() !== 0 && !process.env['CI'] ? 'lab up needs root' : false }, () => {
  const file = path.join(dir, 'bomb.yaml');
  const r = cli('lab', 'up', file);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^iiptran: ${file}: \\(yaml\\): aliases expand .*\\[IIPTRAN_ERR_TOPOLOGY\\]\\n$`));
});

test('a reload onto an alias bomb logs IIPTRAN_ERR_CONFIG and keeps the running config', async () => {
  writeKeyFile(path.join(dir, 'in.key'), 'aes-gcm-128');
  writeKeyFile(path.join(dir, 'out.key'), 'aes-gcm-128');
  const file = path.join(dir, 'node.yaml');
  fs.writeFileSync(file, `node: n1
underlay: { address: 192.0.2.1 }
vlinks:
  - { name: vl-b, peer: 192.0.2.2, address: 10.255.0.0/31, liveness: off,
      keying: { mode: manual, suite: aes-gcm-128, spi_in: 0x1001, spi_out: 0x2001, key_in: in.key, key_out: out.key } }
`);
  const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
  const h = await runDaemon(file, fakeNodeIo(u, new Map<string, FakeTun>()), log, path.join(dir, 'n1.sock'));
  try {
    const before = h.node.vlinks.get('vl-b');
    fs.writeFileSync(file, BOMB);
    process.emit('SIGHUP', 'SIGHUP');
    for (let i = 0; i < 200 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const entry = JSON.parse(lines[0] ?? '{}') as { code?: string; err?: string; msg?: string };
    assert.equal(entry.msg, 'reload rejected; keeping the running config');
    assert.equal(entry.code, 'IIPTRAN_ERR_CONFIG');
    assert.match(entry.err ?? '', /node\.yaml: \(yaml\): aliases expand to too many nodes/);
    assert.equal(h.node.vlinks.get('vl-b'), before);
  } finally {
    await h.stop();
  }
});
