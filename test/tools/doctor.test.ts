// The pure parts of `iiptran doctor`: the program -> package table against setup.sh and the
// tests' charon plugin list, rendering, the exit code and the per-check time bound.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { CHARON_PLUGINS, PROGRAMS, aptFix, locate } from '../../src/tools/doctor-programs.js';
import { doctorExitCode, renderDoctor, runCheck, runDoctor, type DoctorRow } from '../../src/tools/doctor.js';
import { doctorChecks, parseLoadedPlugins, versionAtLeast } from '../../src/tools/doctor-checks.js';

const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

/** Packages in setup.sh's DEB_PACKAGES array, comments stripped. */
function setupPackages(): Set<string> {
  const m = /DEB_PACKAGES=\(\n([\s\S]*?)\n\)/.exec(read('scripts/setup.sh'));
  assert.ok(m, 'setup.sh has a DEB_PACKAGES=( ... ) array');
  return new Set(m[1]!.split('\n').flatMap((l) => l.replace(/#.*/, '').trim().split(/\s+/)).filter((w) => w !== ''));
}

/** Plugin names on a strongswan.conf `load =` line, including both arms of a `${a ? 'x' : 'y'}`. */
function loadLine(src: string): string[] {
  const line = /^\s*load = (.*)$/m.exec(src)?.[1];
  assert.ok(line !== undefined, 'a load = line');
  const words: string[] = [];
  for (const part of line.split(/(\$\{[^}]*\})/)) {
    if (part.startsWith('${')) for (const q of part.matchAll(/'([^']*)'/g)) words.push(...q[1]!.split(/\s+/));
    else words.push(...part.split(/\s+/).filter((w) => /^[a-z0-9-]+$/.test(w)));
  }
  return words.filter((w) => w !== '');
}

describe('program -> package table', () => {
  test('setup.sh installs every package the table names, for programs and charon plugins', () => {
    const pkgs = setupPackages();
    assert.ok(pkgs.has('libstrongswan-standard-plugins'), 'the package whose absence broke charon on a fresh machine');
    for (const [prog, info] of Object.entries(PROGRAMS)) assert.ok(pkgs.has(info.pkg), `${prog}: setup.sh lacks ${info.pkg}`);
    for (const [plugin, pkg] of Object.entries(CHARON_PLUGINS)) assert.ok(pkgs.has(pkg), `charon plugin ${plugin}: setup.sh lacks ${pkg}`);
  });

  test('setup.sh ends by running iiptran doctor and fails when it does', () => {
    const s = read('scripts/setup.sh');
    assert.match(s, /if ! node bin\/iiptran\.js doctor; then\n[^\n]*\n\s*exit 1/);
    assert.ok(s.lastIndexOf('doctor') > s.lastIndexOf('npm run build'), 'doctor runs after the build');
  });

  test("the doctor checks every plugin the tests' strongswan.conf loads", () => {
    const harness = loadLine(read('test/netns/ike-charon-harness.ts'));
    assert.ok(harness.includes('gcm') && harness.includes('kernel-libipsec') && harness.includes('kernel-netlink'), harness.join(' '));
    const capture = loadLine(read('test/wire/ike/capture/strongswan.conf.in'));
    for (const p of [...harness, ...capture]) assert.ok(p in CHARON_PLUGINS, `plugin ${p} is loaded by a test but not in CHARON_PLUGINS`);
  });

  test('openssl and gcm come from libstrongswan-standard-plugins, charon from outside PATH', () => {
    assert.equal(CHARON_PLUGINS.openssl, 'libstrongswan-standard-plugins');
    assert.equal(CHARON_PLUGINS.gcm, 'libstrongswan-standard-plugins');
    assert.equal(PROGRAMS.charon!.path, '/usr/lib/ipsec/charon');
    assert.equal(PROGRAMS.bird!.pkg, 'bird2');
  });

  test('locate searches PATH like spawn does, and only finds executables', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-doctor-'));
    try {
      fs.writeFileSync(path.join(dir, 'iit-prog'), '#!/bin/sh\n', { mode: 0o755 });
      fs.writeFileSync(path.join(dir, 'iit-noexec'), '', { mode: 0o644 });
      const t = { 'iit-prog': { pkg: 'x', level: 'required', usedBy: 't' }, 'iit-noexec': { pkg: 'y', level: 'required', usedBy: 't' } } as const;
      assert.equal(locate('iit-prog', t, `/nonexistent:${dir}`), path.join(dir, 'iit-prog'));
      assert.equal(locate('iit-prog', t, '/nonexistent'), null);
      assert.equal(locate('iit-noexec', t, dir), null);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('aptFix names each package once', () => {
    assert.equal(aptFix(['bird2', 'bird2', 'tshark']), 'apt-get install bird2 tshark');
  });
});

const row = (name: string, status: DoctorRow['status'], fix: string | null = null): DoctorRow => ({ name, status, detail: `${name} detail`, fix });

describe('doctor: exit code, rendering, time bound', () => {
  test('exit 0 with only ok and warn rows, 1 as soon as one fails', () => {
    assert.equal(doctorExitCode([]), 0);
    assert.equal(doctorExitCode([row('a', 'ok'), row('b', 'warn', 'apt-get install openvpn')]), 0);
    assert.equal(doctorExitCode([row('a', 'ok'), row('b', 'fail', 'x'), row('c', 'warn', 'y')]), 1);
  });

  test('the table has one line per check with its status and fix, and a verdict', () => {
    const rows = [row('root', 'ok'), row('charon plugins', 'fail', 'apt-get install libstrongswan-standard-plugins'), row('openvpn', 'warn', 'apt-get install openvpn')];
    const out = renderDoctor({ schema: 1, ok: false, rows });
    const lines = out.split('\n');
    assert.match(lines[0]!, /^CHECK\s+STATUS\s+DETAIL\s+FIX$/);
    assert.match(lines.find((l) => l.startsWith('charon plugins'))!, /fail\s+charon plugins detail\s+apt-get install libstrongswan-standard-plugins$/);
    assert.match(lines.find((l) => l.startsWith('root'))!, /ok\s+root detail\s+-$/);
    assert.match(out, /1 required check\(s\) FAIL \(1 ok, 1 warn\)/);
    assert.match(renderDoctor({ schema: 1, ok: true, rows: [rows[0]!, rows[2]!] }), /all required checks pass \(1 ok, 1 warn\)$/);
  });

  test('a check that throws becomes a failed row with its message', async () => {
    const r = await runCheck({ name: 'boom', run: async () => { throw new Error('no such\nthing'); } });
    assert.deepEqual(r, { name: 'boom', status: 'fail', detail: 'no such thing', fix: 'run scripts/setup.sh' });
  });

  test('a check that hangs fails after its bound; minTimeoutMs is a floor', async () => {
    const hang = () => new Promise<never>(() => {});
    const t0 = Date.now();
    const r = await runCheck({ name: 'hang', run: hang }, 100);
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /no answer within 0\.1 s/);
    assert.ok(Date.now() - t0 < 2000);
    const floor = await runCheck({ name: 'hang', minTimeoutMs: 300, run: hang }, 50);
    assert.match(floor.detail, /within 0\.3 s/);
  });

  test('runDoctor keeps the rows in check order and sets ok from them', async () => {
    const slow = { name: 'slow', run: async () => { await new Promise((r) => setTimeout(r, 50)); return { status: 'ok' as const, detail: '', fix: null }; } };
    const bad = { name: 'bad', run: async () => ({ status: 'fail' as const, detail: 'x', fix: 'y' }) };
    const r = await runDoctor([slow, bad]);
    assert.deepEqual(r.rows.map((x) => x.name), ['slow', 'bad']);
    assert.equal(r.ok, false);
    assert.equal(r.schema, 1);
  });

  test('the check list covers what the issue asks for, one row per program in the table', () => {
    const names = doctorChecks().map((c) => c.name);
    for (const n of ['root', 'node', 'native addon', 'TUN', 'netns', 'nftables', 'charon plugins', 'charon loads plugins', ...Object.keys(PROGRAMS)]) assert.ok(names.includes(n), n);
    assert.equal(new Set(names).size, names.length, 'names are unique');
  });

  test('versionAtLeast compares numerically', () => {
    assert.ok(versionAtLeast('20.19.0', '20.19'));
    assert.ok(versionAtLeast('v22.1.0', '20.19'));
    assert.ok(versionAtLeast('20.100.0', '20.19'));
    assert.ok(!versionAtLeast('20.18.9', '20.19'));
    assert.ok(!versionAtLeast('18.19.0', '20.19'));
  });

  test("charon's plugin line is parsed; without one there is no answer", () => {
    const log = `00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.1.0, x86_64)
00[LIB] plugin 'openssl': failed to load - openssl_plugin_create not found and no plugin file available
00[LIB] loaded plugins: charon random nonce aes sha1 sha2 hmac chapoly curve25519 kdf
`;
    const got = parseLoadedPlugins(log)!;
    assert.ok(got.has('aes') && got.has('kdf') && !got.has('openssl'));
    assert.equal(parseLoadedPlugins('00[DMN] Starting IKE charon daemon\n'), null);
  });
});
