// The unit's capability set is enough, and nothing more is needed: a daemon started under
// setpriv with exactly the capabilities of contrib/systemd/iiptran@.service (read from the file;
// plus the IKE drop-in's CAP_NET_BIND_SERVICE for an ikev2 vlink) creates its TUNs, addresses,
// raw ESP socket and the guard (nft and ip run as its children, inheriting them), answers
// `show`, and stops cleanly. Without the drop-in an ikev2 node cannot bind UDP 500.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { addNs, delNsSync, nsExec } from '../../src/lab/netns.js';
import { controlCall } from '../../src/control/control-client.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { shippedUnit } from '../../src/cli/install-systemd-cmd.js';
import { netnsSkip, uniquePrefix } from './helpers.js';

const skip = netnsSkip(['ip', 'nft', 'setpriv']);
const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');
const ns = uniquePrefix('cap');
const dir = fs.mkdtempSync(`/tmp/${ns}-`);
after(() => {
  delNsSync(ns);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The unit's CapabilityBoundingSet as setpriv's list: net_admin,net_raw. */
function unitCaps(): string[] {
  const line = /^CapabilityBoundingSet=(.*)$/m.exec(shippedUnit(REPO_ROOT))![1]!;
  return line.trim().split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
}

function config(name: string, keying: string): string {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, [
    `node: ${name}`, `control_socket: ${dir}/${name}.sock`, 'underlay: { address: 10.201.0.1 }', 'vn_prefixes: [10.10.0.0/16, 10.255.0.0/16]', 'vlinks:',
    `  - { name: vl-b, peer: 10.201.0.2, encap: esp, address: 10.255.0.0/31, liveness: off, keying: ${keying} }`, '',
  ].join('\n'));
  return file;
}

function startCapped(file: string, caps: string[]) {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  const p = spawn('ip', ['netns', 'exec', ns, 'setpriv', `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`, process.execPath, CLI, 'node', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += String(d)));
  return { p, log: () => err, exited: new Promise<number | null>((r) => p.once('exit', (c) => r(c))) };
}

describe('the systemd unit\'s capabilities', { skip }, () => {
  test('exactly those run a node with raw ESP and the guard; IKE needs the drop-in\'s CAP_NET_BIND_SERVICE', async () => {
    const caps = unitCaps();
    assert.deepEqual(caps.sort(), ['net_admin', 'net_raw']);
    await addNs(ns);
    await nsExec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    await nsExec(ns, ['ip', 'addr', 'add', '10.201.0.1/24', 'dev', 'lo']);
    writeKeyFile(path.join(dir, 'in.key'), 'aes-gcm-128');
    writeKeyFile(path.join(dir, 'out.key'), 'aes-gcm-128');
    const manual = startCapped(config('m', '{ mode: manual, suite: aes-gcm-128, spi_in: 0x1001, spi_out: 0x2001, key_in: in.key, key_out: out.key }'), caps);
    try {
      const t0 = Date.now();
      type Links = { links: { name: string }[] };
      const poll = async (): Promise<Links> => {
        for (;;) {
          const l = (await controlCall(path.join(dir, 'm.sock'), 'show', { what: 'links' }).catch(() => null)) as Links | null;
          if (l !== null) return l;
          assert.ok(Date.now() - t0 < 15_000 && manual.p.exitCode === null, `daemon did not answer: ${manual.log()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      assert.equal((await poll()).links[0]!.name, 'vl-b');
      const guard = (await controlCall(path.join(dir, 'm.sock'), 'show', { what: 'guard' })) as { installed: boolean };
      assert.equal(guard.installed, true, 'nft and ip ran with the inherited capabilities');
    } finally {
      manual.p.kill('SIGTERM');
    }
    assert.equal(await manual.exited, 0, `clean stop: ${manual.log()}`);
    assert.match(manual.log(), /guard removed \(clean stop\)/);

    fs.writeFileSync(path.join(dir, 'psk'), 'a pre-shared key of some length\n', { mode: 0o600 });
    const ikeCfg = config('i', '{ mode: ikev2, psk_file: psk }');
    const without = startCapped(ikeCfg, caps);
    assert.notEqual(await without.exited, 0);
    assert.match(without.log(), /EACCES|permission denied/i, 'UDP 500 needs CAP_NET_BIND_SERVICE');
    const withDropIn = startCapped(ikeCfg, [...caps, 'net_bind_service']);
    try {
      const t0 = Date.now();
      while (!fs.existsSync(path.join(dir, 'i.sock'))) {
        assert.ok(Date.now() - t0 < 15_000 && withDropIn.p.exitCode === null, `ikev2 daemon did not start: ${withDropIn.log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const ike = (await controlCall(path.join(dir, 'i.sock'), 'show', { what: 'ike' })) as { peers: unknown[] };
      assert.equal(ike.peers.length, 1);
    } finally {
      withDropIn.p.kill('SIGTERM');
    }
    assert.equal(await withDropIn.exited, 0, withDropIn.log());
  });
});
