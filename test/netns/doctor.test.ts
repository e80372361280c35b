// `iiptran doctor` through the real CLI on this machine. CI runs scripts/setup.sh first, which
// installs every package the doctor checks, so every row must be ok here; and with the
// programs out of reach the same command must fail, each fix naming its package.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import type { DoctorReport } from '../../src/tools/doctor.js';
import { netnsSkip } from './helpers.js';
import { listNs } from '../../src/lab/netns.js';

const skip = netnsSkip(['ip', 'unshare', 'mount', 'nft', 'charon']);
const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('iiptran doctor on this machine', { skip }, () => {
  test('--json: every row ok, exit 0, no scratch namespace left behind', async () => {
    const t0 = Date.now();
    const r = await cli(['doctor', '--json']);
    const ms = Date.now() - t0;
    const rep = JSON.parse(r.stdout) as DoctorReport;
    const bad = rep.rows.filter((x) => x.status !== 'ok').map((x) => `${x.name}: ${x.status}: ${x.detail} -> ${x.fix}`);
    assert.deepEqual(bad, [], 'rows that are not ok');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(rep.schema, 1);
    assert.equal(rep.ok, true);
    const names = rep.rows.map((x) => x.name);
    for (const n of ['root', 'node', 'native addon', 'TUN', 'netns', 'nftables', 'bird', 'birdc', 'charon', 'swanctl', 'tshark', 'iperf3', 'charon plugins', 'charon loads plugins']) assert.ok(names.includes(n), `row ${n}`);
    assert.match(rep.rows.find((x) => x.name === 'charon loads plugins')!.detail, /loaded all \d+ plugins/);
    assert.deepEqual((await listNs()).filter((n) => n.startsWith(`iitdoc`)), [], 'scratch namespaces removed');
    console.log(`MEASURED doctor --json: ${rep.rows.length} rows in ${ms} ms`);
  });

  test('the table form exits 0 and says so', async () => {
    const r = await cli(['doctor']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^CHECK\s+STATUS\s+DETAIL\s+FIX$/m);
    assert.match(r.stdout, /all required checks pass/);
  });

  test('with nothing on PATH it fails (exit 1) and each fix names the Debian package', async () => {
    const r = await cli(['doctor', '--json'], { PATH: '/iit-nonexistent' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(rep.ok, false);
    const by = (n: string) => rep.rows.find((x) => x.name === n)!;
    assert.deepEqual([by('tshark').status, by('tshark').fix], ['fail', 'apt-get install tshark']);
    assert.deepEqual([by('bird').status, by('bird').fix], ['fail', 'apt-get install bird2']);
    assert.deepEqual([by('nftables').status, by('nftables').fix], ['fail', 'apt-get install iproute2 nftables'], 'nft runs through ip netns exec');
    assert.deepEqual([by('openvpn').status, by('openvpn').fix], ['warn', 'apt-get install openvpn'], 'a benchmark peer only warns');
    assert.equal(by('charon').status, 'ok', 'charon is found at its fixed path, not on PATH');
    assert.deepEqual([by('netns').status, by('netns').fix], ['fail', 'apt-get install iproute2']);
  });
});
