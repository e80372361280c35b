// npm conventions, the way a user meets them, in a temporary directory: a git clone of this
// repository (its committed HEAD), `npm install` there (dependencies, the addon, and `prepare`
// compiling the TypeScript) gives a working `npx iiptran`; `npm install -g .` puts `iiptran` on
// PATH; `npm pack` makes a tarball that installs into an empty prefix and runs from there with
// nothing of the clone (the addon compiled from the sources in the tarball). Packages come
// from npm's cache when they are there (--prefer-offline), else from the registry.
// Not in test:unit: it takes a minute or two and needs g++, make and python3 for node-gyp.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { requirePrograms } from '../netns/helpers.js';

const skip = requirePrograms(['g++', 'make', 'python3']);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-npm-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// node-gyp finds Python through PATH; a version manager's shim there may not answer outside
// its own directories, so name the Debian one that setup.sh installs.
const env = { ...process.env, PYTHON: '/usr/bin/python3', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

function sh(cmd: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} in ${cwd}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `doctor --json` may fail on checks that have nothing to do with the package (exit 1): read its rows anyway. */
function doctorAddon(cmd: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}) {
  const r = spawnSync(cmd, [...args, 'doctor', '--json'], { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  return addonRow(r.stdout.replace(/^[^{]*/, ''));
}
const addonRow = (out: string) => (JSON.parse(out) as { rows: { name: string; status: string; detail: string }[] }).rows.find((r) => r.name === 'native addon')!;

describe('npm: clone, install -g, pack', { skip }, () => {
  const clone = path.join(tmp, 'clone');

  test('npm install in a fresh clone builds everything: npx iiptran runs, the addon loads', () => {
    sh('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone], tmp);
    assert.equal(fs.existsSync(path.join(clone, 'dist')), false, 'a clone has no build output');
    sh('npm', ['install', '--prefer-offline'], clone);
    assert.ok(fs.existsSync(path.join(clone, 'dist', 'src', 'cli', 'main.js')), 'prepare compiled the TypeScript');
    const version = (JSON.parse(fs.readFileSync(path.join(clone, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(sh('npx', ['--no-install', 'iiptran', '--version'], clone).trim(), version);
    assert.match(sh('npx', ['--no-install', 'iiptran', 'genkey', '--suite', 'aes-gcm-128'], clone), /^[0-9a-f]{40}$/m);
    const row = doctorAddon('npx', ['--no-install', 'iiptran'], clone);
    assert.equal(row.status, 'ok', row.detail);
  });

  test('npm install -g . in the clone puts iiptran on PATH', () => {
    const prefix = path.join(tmp, 'global');
    sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '.'], clone);
    const bin = path.join(prefix, 'bin');
    assert.match(sh('iiptran', ['--help'], tmp, { PATH: `${bin}:${process.env.PATH}` }), /iiptran: RFC 3884 overlay router/);
  });

  test('npm pack: the tarball holds the build and the sources of the addon, not the tests; it installs into an empty prefix and runs', () => {
    const packDir = path.join(tmp, 'pack');
    fs.mkdirSync(packDir);
    // prepare already ran in the clone; --ignore-scripts only skips compiling the same thing again.
    const name = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir, '--silent'], clone).trim().split('\n').pop()!;
    const tarball = path.join(packDir, name);
    const files = sh('tar', ['tzf', tarball], tmp).split('\n');
    for (const f of ['package/bin/iiptran.js', 'package/dist/src/cli/main.js', 'package/binding.gyp', 'package/src/native/module.c', 'package/contrib/systemd/iiptran@.service', 'package/topologies/triangle.yaml', 'package/README.md']) {
      assert.ok(files.includes(f), `${f} in the tarball`);
    }
    assert.ok(!files.some((f) => f.startsWith('package/dist/test/') || f.startsWith('package/test/') || f.startsWith('package/node_modules/') || f.startsWith('package/build/')), 'no tests, dependencies or build products of this machine');

    // Somewhere the clone is not: an empty prefix, another working directory.
    const prefix = path.join(tmp, 'fresh');
    const elsewhere = path.join(tmp, 'elsewhere');
    fs.mkdirSync(elsewhere);
    sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', tarball], elsewhere);
    const installed = fs.realpathSync(path.join(prefix, 'lib', 'node_modules', 'iiptran'));
    assert.ok(!installed.startsWith(clone), 'a copy, not a link to the clone');
    assert.ok(fs.existsSync(path.join(installed, 'build', 'Release', 'iiptran_native.node')), 'the addon was compiled on install');
    const PATH = `${path.join(prefix, 'bin')}:${process.env.PATH}`;
    assert.match(sh('iiptran', ['install-systemd', '--stdout'], elsewhere, { PATH }), new RegExp(`ExecStart=${process.execPath} ${installed}/bin/iiptran.js node`));
    const row = doctorAddon('iiptran', [], elsewhere, { PATH });
    assert.equal(row.status, 'ok', row.detail);
    fs.copyFileSync(path.join(REPO_ROOT, 'topologies', 'pair.yaml'), path.join(elsewhere, 'pair.yaml'));
    assert.match(sh('iiptran', ['lab', 'export', 'pair.yaml', '--containerlab', 'clab'], elsewhere, { PATH }), /pair\.clab\.yml/);
  });
});
