// `show routes` with multipath (ECMP) kernel routes, read back through rtnetlink by a running
// daemon: first a hand-made `ip route ... nexthop ... nexthop` over two vlinks of one daemon,
// then what OSPF (BIRD) installs in a four-node ring for the node across the ring.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { addNs, delNsSync, nsExec, nsSpawn } from '../../src/lab/netns.js';
import { controlCall } from '../../src/control/control-client.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { netnsSkip, uniquePrefix } from './helpers.js';
import { assertGone, cli, node, vnPing, waitFor } from './lab-harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'nft', 'bird', 'birdc', 'sysctl']);
const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');

function vlinkYaml(dir: string, name: string, peer: string, addr: string, spiOut: string, spiIn: string): string[] {
  for (const k of ['out', 'in']) writeKeyFile(path.join(dir, `${name}-${k}.key`), 'aes-gcm-128');
  return [
    `  - name: ${name}`,
    `    peer: ${peer}`,
    `    address: ${addr}`,
    `    liveness: off`,
    `    keying: { mode: manual, suite: aes-gcm-128, spi_out: '${spiOut}', spi_in: '${spiIn}', key_out: ${name}-out.key, key_in: ${name}-in.key }`,
  ];
}

describe('one daemon, two vlinks, an ECMP route over both', { skip }, () => {
  const ns = uniquePrefix('ecmp');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${ns}-`));
  const sock = path.join(dir, 'a.sock');
  let proc: ChildProcess | null = null;

  before(async () => {
    await addNs(ns);
    // The underlay is a veth with both ends in the namespace: the peers do not exist, and
    // nothing here needs them; the vlinks, their TUNs and their manual SAs do.
    await nsExec(ns, ['ip', 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
    await nsExec(ns, ['ip', 'addr', 'add', '10.200.0.1/24', 'dev', 'u0']);
    for (const d of ['lo', 'u0', 'u1']) await nsExec(ns, ['ip', 'link', 'set', d, 'up']);
    const cfg = path.join(dir, 'a.yaml');
    fs.writeFileSync(cfg, [
      'node: a',
      `control_socket: ${sock}`,
      'underlay: { address: 10.200.0.1 }',
      'vlinks:',
      ...vlinkYaml(dir, 'vl-b', '10.200.0.2', '10.255.0.0/31', '0x0000a001', '0x0000b001'),
      ...vlinkYaml(dir, 'vl-c', '10.200.0.3', '10.255.0.2/31', '0x0000a002', '0x0000c001'),
    ].join('\n') + '\n');
    proc = nsSpawn(ns, [process.execPath, CLI, 'node', '--config', cfg], path.join(dir, 'a.log'));
    await waitFor(async () => {
      if (proc!.exitCode !== null) throw new Error(`daemon exited: ${fs.readFileSync(path.join(dir, 'a.log'), 'utf8')}`);
      return controlCall(sock, 'ping', {}, 1000).then(() => true, () => false);
    }, 'the control socket', 15000);
    await nsExec(ns, ['ip', 'route', 'add', '10.10.0.9/32', 'nexthop', 'via', '10.255.0.1', 'dev', 'vl-b', 'nexthop', 'via', '10.255.0.3', 'dev', 'vl-c', 'weight', '2']);
    await nsExec(ns, ['ip', 'route', 'add', '10.10.9.0/24', 'nexthop', 'dev', 'vl-b', 'nexthop', 'via', '10.200.0.254', 'dev', 'u0']);
    await nsExec(ns, ['ip', 'route', 'add', '10.10.0.2/32', 'via', '10.255.0.1', 'dev', 'vl-b']);
  });

  after(async () => {
    if (proc !== null && proc.exitCode === null) {
      const done = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    }
    delNsSync(ns);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('show routes --json: both next hops with their vlinks and SAs; the single-path route as before', async () => {
    const r = await cli(['show', 'routes', '--json', '--socket', sock]);
    assert.equal(r.code, 0, r.stderr);
    const routes = JSON.parse(r.stdout).routes as Obj[];
    const ecmp = routes.find((x) => x.dst === '10.10.0.9/32');
    assert.ok(ecmp, `the ECMP route is shown: ${r.stdout}`);
    assert.equal(ecmp.vlink, null);
    assert.equal(ecmp.dev, null);
    assert.deepEqual(ecmp.nexthops.map((h: Obj) => [h.gateway, h.dev, h.vlink, h.weight, h.saOut.spi, h.saIn.spi, h.outer.dst, h.policy.action]), [
      ['10.255.0.1', 'vl-b', 'vl-b', 1, '0x0000a001', '0x0000b001', '10.200.0.2', 'protect'],
      ['10.255.0.3', 'vl-c', 'vl-c', 2, '0x0000a002', '0x0000c001', '10.200.0.3', 'protect'],
    ]);
    for (const h of ecmp.nexthops) assert.equal(typeof h.ifindex, 'number');

    const mixed = routes.find((x) => x.dst === '10.10.9.0/24');
    assert.ok(mixed, 'a route with one vlink path among others is shown');
    assert.deepEqual(mixed.nexthops.map((h: Obj) => [h.gateway, h.dev, h.vlink]), [[null, 'vl-b', 'vl-b'], ['10.200.0.254', 'u0', null]]);

    const single = routes.find((x) => x.dst === '10.10.0.2/32')!;
    assert.equal(single.vlink, 'vl-b');
    assert.equal(single.gateway, '10.255.0.1');
    assert.equal(single.saOut.spi, '0x0000a001');
    assert.equal(single.nexthops.length, 1);
    assert.equal(single.nexthops[0].vlink, 'vl-b');
  });

  test('show routes as text: one row per next hop', async () => {
    const r = await cli(['show', 'routes', '--socket', sock]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^10\.10\.0\.9\/32 \[1\/2\]\s+10\.255\.0\.1\s+\S+\s+vl-b\s+up\s+10\.200\.0\.1 > 10\.200\.0\.2 ipip\/udp:4500\s+#\d+ protect\s+0x0000a001/m);
    assert.match(r.stdout, /^10\.10\.0\.9\/32 \[2\/2 w2\]\s+10\.255\.0\.3\s+\S+\s+vl-c\s+up\s+10\.200\.0\.1 > 10\.200\.0\.3 ipip\/udp:4500\s+#\d+ protect\s+0x0000a002/m);
    assert.match(r.stdout, /^10\.10\.9\.0\/24 \[2\/2\]\s+10\.200\.0\.254\s+\S+\s+-\s+-\s+-/m);
  });
});

const SQUARE = (name: string) => `
name: ${name}
routing: bird
nodes: { a: {}, b: {}, c: {}, d: {} }
segments: { lan: {} }
underlay: [[a, lan], [b, lan], [c, lan], [d, lan]]
vlinks: [[a, b], [b, c], [c, d], [d, a]]
`;

describe('OSPF in a ring of four: the node across is reached over two vlinks', { skip }, () => {
  const name = `sq${process.pid % 100000}${Math.floor(Math.random() * 100)}`.slice(0, 12);
  let s: LabState | null = null;

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-test-'));
    const file = path.join(dir, 'square.yaml');
    fs.writeFileSync(file, SQUARE(name));
    const out = await cli(['lab', 'up', file, '--timeout', '90']);
    s = readState(name);
    if (out.code !== 0 || s === null) throw new Error(`lab up failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  });

  after(async () => {
    await cli(['lab', 'down', name]);
    await assertGone(name);
  });

  test('lab show a routes --json lists both next hops to c, each with its vlink and SAs', async () => {
    const c = node(s!, 'c');
    const cDst = c.vn.includes('/') ? c.vn : `${c.vn}/32`;
    let route: Obj | undefined;
    // OSPF may first install one path while the second adjacency's LSAs are still flooding.
    await waitFor(async () => {
      const r = await cli(['lab', 'show', 'a', 'routes', '--json', '--lab', name]);
      route = (JSON.parse(r.stdout).routes as Obj[]).find((x) => x.dst === cDst);
      return route?.nexthops.length === 2;
    }, `two next hops for ${cDst} on a`, 20000);
    assert.equal(route!.protocol, 'bird');
    assert.deepEqual(route!.nexthops.map((h: Obj) => h.vlink).sort(), ['vl-b', 'vl-d']);
    const sas = (JSON.parse((await cli(['lab', 'show', 'a', 'sas', '--json', '--lab', name])).stdout).sas as Obj[]);
    for (const h of route!.nexthops) {
      assert.equal(h.state, 'up');
      assert.equal(h.policy.action, 'protect');
      assert.equal(h.saOut.spi, sas.find((x) => x.dir === 'out' && x.vlink === h.vlink)!.spi, `${h.vlink} out SA`);
      assert.equal(h.saIn.spi, sas.find((x) => x.dir === 'in' && x.vlink === h.vlink)!.spi, `${h.vlink} in SA`);
      assert.equal(h.outer.dst, node(s!, h.vlink.slice(3)).underlayAddr, `${h.vlink} outer destination`);
    }
    assert.equal(await vnPing(s!, 'a', 'c'), 3, 'and traffic to c flows');
    const text = (await cli(['lab', 'show', 'a', 'routes', '--lab', name])).stdout;
    assert.match(text, new RegExp(`^${cDst.replace(/\./g, '\\.').replace('/', '\\/')} \\[1/2\\]`, 'm'));
    assert.match(text, new RegExp(`^${cDst.replace(/\./g, '\\.').replace('/', '\\/')} \\[2/2\\]`, 'm'));
  });
});
