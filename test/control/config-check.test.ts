// check-config and the daemon share one validation path (config-check.ts): every file one of
// them refuses, the other refuses with the same code and message, and what check-config calls
// ok the daemon starts with.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { checkNodeConfig } from '../../src/control/config-check.js';
import { runDaemon } from '../../src/control/daemon.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { writeAuthKeyPair } from '../../src/control/credentials.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { IiptranError } from '../../src/errors.js';
import { fakeNodeIo } from './fake-node-io.js';

const BIN = fileURLToPath(new URL('../../../bin/iiptran.js', import.meta.url));
const log = pino({ level: 'silent' });
let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-check-'));
  writeKeyFile(path.join(dir, 'in.key'), 'aes-gcm-256');
  writeKeyFile(path.join(dir, 'out.key'), 'aes-gcm-256');
  writeKeyFile(path.join(dir, 'in2.key'), 'aes-gcm-256');
  writeKeyFile(path.join(dir, 'out2.key'), 'aes-gcm-256');
  fs.writeFileSync(path.join(dir, 'good.psk'), '0x' + '5a'.repeat(32) + '\n', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'short.psk'), 'tooshort\n', { mode: 0o600 });
  writeAuthKeyPair(path.join(dir, 'a.key'), 'ed25519');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Opts { mtu?: number | 'auto'; keyIn?: string; keyOut?: string; ike?: string }

function config(name: string, o: Opts = {}): string {
  const file = path.join(dir, `${name}.yaml`);
  const second = o.ike === undefined ? '' : `
  - name: vl-c
    peer: 192.0.2.3
    address: 10.255.1.0/31
    keying: { mode: ikev2, ${o.ike} }`;
  fs.writeFileSync(file, `node: n1
control_socket: ${dir}/${name}.sock
underlay: { address: 192.0.2.1 }
vlinks:
  - name: vl-b
    peer: 192.0.2.2
    address: 10.255.0.0/31
    mtu: ${o.mtu ?? 'auto'}
    liveness: off
    keying: { mode: manual, suite: aes-gcm-256, spi_in: 0x1001, spi_out: 0x2001, key_in: ${o.keyIn ?? 'in.key'}, key_out: ${o.keyOut ?? 'out.key'} }${second}
`);
  return file;
}

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function daemonOutcome(file: string): Promise<IiptranError | 'started'> {
  const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const io = fakeNodeIo(u, new Map<string, FakeTun>(), {
    openIkeUdp: async () => ({ send: () => undefined, close: () => undefined }),
  });
  try {
    const h = await runDaemon(file, io, log, path.join(dir, `d-${path.basename(file)}.sock`));
    await h.stop();
    return 'started';
  } catch (e) {
    assert.ok(e instanceof IiptranError, `daemon threw a non-IiptranError: ${String(e)}`);
    return e;
  }
}

function checkOutcome(file: string): IiptranError | 'ok' {
  try {
    checkNodeConfig(file);
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof IiptranError, `check threw a non-IiptranError: ${String(e)}`);
    return e;
  }
}

test('check-config refuses an MTU the daemon cannot use: exit 2, the field named', () => {
  const file = config('mtu1480', { mtu: 1480 });
  const r = cli('check-config', file);
  assert.equal(r.status, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, /vlinks\[0\]\.mtu: 1480 does not fit: .* at most 1438 .*\(line 8\) \[IIPTRAN_ERR_CONFIG\]/);
  assert.equal(r.stdout, '');
});

test('check-config names every unusable key file by its field, exit 2', () => {
  fs.writeFileSync(path.join(dir, 'open.key'), fs.readFileSync(path.join(dir, 'out2.key')), { mode: 0o644 });
  fs.chmodSync(path.join(dir, 'open.key'), 0o644);
  const file = config('keys', { keyIn: 'missing.key', keyOut: 'open.key', ike: 'psk_file: short.psk' });
  const r = cli('check-config', file);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /3 problems:/);
  assert.match(r.stderr, /vlinks\[0\]\.keying\.key_in: key file .*missing\.key: does not exist/);
  assert.match(r.stderr, /vlinks\[0\]\.keying\.key_out: key file .*open\.key: mode 0644 is too open/);
  assert.match(r.stderr, /vlinks\[1\]\.keying\.psk_file: key file .*short\.psk: PSK of 8 bytes is too short/);
  assert.match(r.stderr, /\[IIPTRAN_ERR_KEYFILE\]\n$/);
});

test('check-config on a good file: exit 0, each vlink with its MTU', () => {
  const file = config('good', { mtu: 1438, ike: 'auth: pubkey, private_key: a.key, peer_public_key: a.key.pub' });
  const r = cli('check-config', '--json', file);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { ok: boolean; vlinks: { name: string; mtu: number; maxMtu: number }[] };
  assert.equal(j.ok, true);
  assert.deepEqual(j.vlinks.map((v) => [v.name, v.mtu, v.maxMtu]), [['vl-b', 1438, 1438], ['vl-c', 1438, 1438]]);
});

test('the daemon and check-config agree on every file: same code, same message', async () => {
  fs.writeFileSync(path.join(dir, 'open2.key'), fs.readFileSync(path.join(dir, 'out2.key')), { mode: 0o644 });
  fs.chmodSync(path.join(dir, 'open2.key'), 0o644);
  const cases = {
    good: config('agree-good', { mtu: 1400, keyIn: 'in2.key', keyOut: 'out2.key', ike: 'psk_file: good.psk' }),
    mtu: config('agree-mtu', { mtu: 1480 }),
    mtu1439: config('agree-mtu1439', { mtu: 1439 }),
    keyMode: config('agree-keymode', { keyIn: 'open2.key' }),
    psk: config('agree-psk', { ike: 'psk_file: short.psk' }),
    pubkey: config('agree-pubkey', { ike: 'auth: pubkey, private_key: a.key, peer_public_key: nowhere.pub' }),
  };
  for (const [name, file] of Object.entries(cases)) {
    const c = checkOutcome(file);
    const d = await daemonOutcome(file);
    if (c === 'ok') {
      assert.equal(d, 'started', `${name}: check-config said ok, the daemon refused: ${d instanceof Error ? d.message : ''}`);
      continue;
    }
    assert.ok(d instanceof IiptranError, `${name}: check-config refused (${c.message}), the daemon started`);
    assert.equal(d.code, c.code, name);
    assert.equal(d.message, c.message, name);
    assert.ok(c.field !== undefined && c.message.includes(c.field), `${name}: the message names the field: ${c.message}`);
  }
  assert.equal(checkOutcome(cases.good), 'ok');
  assert.equal((checkOutcome(cases.pubkey) as IiptranError).field, 'vlinks[1].keying.peer_public_key');
});

test('a reload (SIGHUP) runs the same check: a file check-config refuses changes nothing', async () => {
  const file = config('reload', { mtu: 1400 });
  const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const tuns = new Map<string, FakeTun>();
  const lines: string[] = [];
  const rec = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
  const h = await runDaemon(file, fakeNodeIo(u, tuns), rec, path.join(dir, 'reload-d.sock'));
  try {
    config('reload', { mtu: 1480 });
    process.emit('SIGHUP', 'SIGHUP');
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const entry = JSON.parse(lines[0] ?? '{}') as { code?: string; err?: string; msg?: string };
    assert.equal(entry.msg, 'reload rejected; keeping the running config');
    assert.equal(entry.code, 'IIPTRAN_ERR_CONFIG');
    assert.match(entry.err ?? '', /vlinks\[0\]\.mtu: 1480 does not fit/);
    assert.equal(h.node.vlinks.get('vl-b')?.mtu, 1400);
  } finally {
    await h.stop();
  }
});

test('control_socket_group is resolved by the shared check; an unknown group is a config error naming the field', () => {
  const write = (name: string, group: string) => {
    const file = config(name);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('underlay:', `control_socket_group: ${group}\nunderlay:`));
    return file;
  };
  assert.equal(checkNodeConfig(write('grp-root', 'root')).controlSocketGid, 0);
  assert.equal(checkNodeConfig(write('grp-num', '4242')).controlSocketGid, 4242);
  assert.equal(checkNodeConfig(config('grp-none')).controlSocketGid, undefined);
  const file = write('grp-missing', 'no-such-group-iit');
  const e = checkOutcome(file);
  assert.ok(e instanceof IiptranError);
  assert.equal(e.code, 'IIPTRAN_ERR_CONFIG');
  assert.equal(e.field, 'control_socket_group');
  assert.match(e.message, /control_socket_group: no group named "no-such-group-iit"/);
  const r = cli('check-config', file);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /control_socket_group: no group named .*\[IIPTRAN_ERR_CONFIG\]/);
});
