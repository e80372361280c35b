// The systemd unit: the shipped file has the hardening the deployment docs promise, and
// systemd's own parser (`systemd-analyze verify`) accepts it as installed by `iiptran
// install-systemd`, drop-in included, without a single warning. A unit that systemd would
// partly ignore (a misspelt key, a bad value, a program that is not there) fails here.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { IKE_DROP_IN, UNIT_NAME, defaultExec, ikeDropIn, installSystemd, renderUnit, shippedUnit } from '../../src/cli/install-systemd-cmd.js';
import { requirePrograms } from '../netns/helpers.js';

const skip = requirePrograms(['systemd-analyze']);
const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');

/** Directive -> values, in order, of one section ("Service"), comments dropped. */
function section(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur = '';
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(l);
    if (s) {
      cur = s[1]!;
      continue;
    }
    if (cur !== name) continue;
    const eq = l.indexOf('=');
    const k = l.slice(0, eq);
    out.set(k, [...(out.get(k) ?? []), l.slice(eq + 1)]);
  }
  return out;
}

function verify(unitDir: string, instance: string): { status: number | null; out: string } {
  // verify reads a template through an instance name; the symlink is what `systemctl enable` makes.
  const inst = path.join(unitDir, `iiptran@${instance}.service`);
  fs.symlinkSync(UNIT_NAME, inst);
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', inst], { encoding: 'utf8', timeout: 60_000 });
  fs.rmSync(inst);
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('contrib/systemd/iiptran@.service', () => {
  const unit = shippedUnit(REPO_ROOT);
  const svc = section(unit, 'Service');
  const one = (k: string) => {
    const v = svc.get(k);
    assert.ok(v !== undefined && v.length === 1, `${k} set exactly once`);
    return v[0]!;
  };

  test('capabilities: CAP_NET_ADMIN and CAP_NET_RAW, nothing else', () => {
    const caps = (k: string) => one(k).split(/\s+/).sort();
    assert.deepEqual(caps('CapabilityBoundingSet'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    assert.deepEqual(caps('AmbientCapabilities'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    assert.equal(one('NoNewPrivileges'), 'yes');
  });

  test('sandbox, runtime directory, reload, restart', () => {
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('ProtectHome'), 'yes');
    assert.equal(one('PrivateTmp'), 'yes');
    assert.equal(one('RuntimeDirectory'), 'iiptran');
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('ExecStart'), '/usr/bin/iiptran node --config /etc/iiptran/%i.yaml');
    assert.equal(one('ExecStartPre'), '/usr/bin/iiptran check-config /etc/iiptran/%i.yaml');
    assert.deepEqual(section(unit, 'Install').get('WantedBy'), ['multi-user.target']);
  });

  test('install-systemd points ExecStart at this installation and refuses paths systemd would misread', () => {
    const r = renderUnit(unit, defaultExec(REPO_ROOT));
    const s = section(r, 'Service');
    assert.deepEqual(s.get('ExecStart'), [`${process.execPath} ${CLI} node --config /etc/iiptran/%i.yaml`]);
    assert.deepEqual(s.get('ExecStartPre'), [`${process.execPath} ${CLI} check-config /etc/iiptran/%i.yaml`]);
    assert.throws(() => renderUnit(unit, 'iiptran'), /must be absolute paths/);
    assert.throws(() => renderUnit(unit, '/opt/my dir/iiptran'), /must be absolute paths/);
    assert.throws(() => renderUnit(unit, '/opt/%i/iiptran'), /must be absolute paths/);
  });

  test('systemd-analyze verify: the installed unit and its IKE drop-in, no warning', { skip }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-systemd-'));
    try {
      const r = installSystemd({ unitDir: dir, exec: defaultExec(REPO_ROOT), ike: true, reload: false });
      assert.equal(r.unit, path.join(dir, UNIT_NAME));
      assert.equal(fs.readFileSync(path.join(dir, `${UNIT_NAME}.d`, IKE_DROP_IN), 'utf8'), ikeDropIn());
      const ok = verify(dir, 'a');
      assert.equal(ok.out, '', 'systemd-analyze printed nothing');
      assert.equal(ok.status, 0);

      // The check can fail: a misspelt key in the drop-in (so the drop-in is read) and a
      // program that is not there are both reported.
      fs.appendFileSync(path.join(dir, `${UNIT_NAME}.d`, IKE_DROP_IN), 'AmbientCapabilites=CAP_SYS_ADMIN\n');
      const typo = verify(dir, 'a');
      assert.match(typo.out, /Unknown key 'AmbientCapabilites'/);
      installSystemd({ unitDir: dir, exec: '/nonexistent/node /nonexistent/iiptran.js', ike: false, reload: false });
      assert.equal(fs.existsSync(path.join(dir, `${UNIT_NAME}.d`, IKE_DROP_IN)), false, '--no-ike removes the drop-in');
      const missing = verify(dir, 'a');
      assert.notEqual(missing.status, 0);
      assert.match(missing.out, /\/nonexistent\/node is not executable/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the CLI: --stdout prints the unit and the drop-in; --json reports where it installed', () => {
    const printed = spawnSync(process.execPath, [CLI, 'install-systemd', '--stdout'], { encoding: 'utf8' });
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, /^# iiptran@\.service\n/);
    assert.ok(printed.stdout.includes(`ExecStart=${process.execPath} ${CLI} node --config /etc/iiptran/%i.yaml`));
    assert.ok(printed.stdout.includes('CapabilityBoundingSet=CAP_NET_BIND_SERVICE'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-systemd-'));
    try {
      const r = spawnSync(process.execPath, [CLI, 'install-systemd', '--unit-dir', dir, '--no-reload', '--json'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { unit: string; dropIn: string; reloaded: boolean };
      assert.equal(j.unit, path.join(dir, UNIT_NAME));
      assert.equal(j.dropIn, path.join(dir, `${UNIT_NAME}.d`, IKE_DROP_IN));
      assert.equal(j.reloaded, false);
      assert.equal(fs.statSync(j.unit).mode & 0o777, 0o644);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
