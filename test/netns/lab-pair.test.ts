// topologies/pair.yaml through the real CLI: static routes, VN ping both ways, ESP only on
// the underlay, daemons that outlive `lab up`, and a `lab down` that leaves nothing.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { capture, netnsSkip } from './helpers.js';
import { readPcap } from './pcap.js';
import { PATTERN, assertGone, cli, labUp, node, vnPing } from './lab-harness.js';
import type { LabState } from '../../src/lab/state.js';

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'tcpdump', 'fping']);

describe('lab: pair with static routes', { skip }, () => {
  let name = '';
  let s: LabState;
  before(async () => {
    ({ name, state: s } = await labUp('pair.yaml', 'pair'));
  });
  after(async () => {
    if (name !== '') await cli(['lab', 'down', name]);
  });

  test('daemons outlive the lab up command', () => {
    for (const p of s.processes) assert.doesNotThrow(() => process.kill(p.pid, 0), `${p.role} on ${p.node} (pid ${p.pid}) is running`);
    assert.equal(s.processes.length, 2);
  });

  test('VN ping both ways', async () => {
    assert.equal(await vnPing(s, 'a', 'b', 5), 5);
    assert.equal(await vnPing(s, 'b', 'a', 5), 5);
  });

  test('lab exec resolves node names to VN addresses', async () => {
    const r = await cli(['lab', 'exec', 'a', '--lab', name, '--', 'ping', '-c', '1', '-W', '2', 'b']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(node(s, 'b').vnAddr.replace(/\./g, '\\.')));
  });

  test('underlay capture shows only ESP-in-UDP 4500, no VN cleartext', async () => {
    const file = path.join(s.dir, 'u.pcap');
    const cap = await capture(node(s, 'a').ns, 'eth0', file);
    assert.equal(await vnPing(s, 'a', 'b'), 3);
    await cap.stop();
    const pkts = readPcap(file);
    assert.ok(pkts.length >= 6);
    for (const p of pkts) assert.ok(p.proto === 17 && (p.dport === 4500), `saw proto ${p.proto} port ${p.dport}`);
    assert.ok(!fs.readFileSync(file).toString('hex').includes(PATTERN));
  });

  test('key files are 0600 and each direction has its own key', () => {
    const a = fs.readFileSync(path.join(s.dir, 'a/keys/a-to-b.key'), 'utf8');
    const b = fs.readFileSync(path.join(s.dir, 'b/keys/a-to-b.key'), 'utf8');
    assert.equal(a, b, "A's key_out equals B's key_in");
    assert.notEqual(a, fs.readFileSync(path.join(s.dir, 'a/keys/b-to-a.key'), 'utf8'));
    for (const f of ['a/keys/a-to-b.key', 'a/keys/b-to-a.key', 'b/keys/a-to-b.key', 'b/keys/b-to-a.key']) {
      assert.equal(fs.statSync(path.join(s.dir, f)).mode & 0o777, 0o600, f);
    }
  });

  test('a second lab of the same topology runs at the same time without colliding', async () => {
    const second = await labUp('pair.yaml', 'pairtwo');
    try {
      assert.notEqual(second.name, name);
      const mine = new Set(s.model.nodes.map((n) => n.ns));
      for (const n of second.state.model.nodes) assert.ok(!mine.has(n.ns), `namespace ${n.ns} is not shared`);
      assert.equal(await vnPing(second.state, 'a', 'b'), 3, 'second lab carries traffic');
      assert.equal(await vnPing(s, 'a', 'b'), 3, 'first lab still carries traffic');
    } finally {
      const r = await cli(['lab', 'down', second.name]);
      assert.equal(r.code, 0, r.stderr);
    }
    await assertGone(second.name);
    assert.equal(await vnPing(s, 'a', 'b'), 3, 'first lab untouched by the second one going down');
  });

  test('lab down removes namespaces, interfaces, processes and files', async () => {
    const r = await cli(['lab', 'down', name]);
    assert.equal(r.code, 0, r.stderr);
    await assertGone(name);
    name = '';
  });
});
