// Topology validation, deterministic allocation and lab planning, without root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TopologyError, loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel, vlinkSpi } from '../../src/lab/topology-model.js';
import { flatActions, planLab, STEP_NAMES, type PlainAction } from '../../src/lab/plan.js';
import { nodePaths } from '../../src/lab/state.js';
import { birdConfig, parseOspfNeighbors } from '../../src/lab/bird.js';
import { nodeConfigYaml } from '../../src/lab/node-config.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

const shipped = (f: string) => loadTopology(path.join(REPO_ROOT, 'topologies', f));

function problems(yaml: string): string[] {
  try {
    buildModel(parseTopology(yaml));
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    assert.equal(e.code, 'IIPTRAN_ERR_TOPOLOGY');
    return e.problems.map((p) => `${p.field}: ${p.problem}`);
  }
  return [];
}

const BASE = `name: t
nodes: { a: {}, b: {} }
underlay: [[a, b]]
vlinks: [[a, b]]
`;

test('shipped topologies validate, each with a leading comment', () => {
  for (const f of ['pair.yaml', 'triangle.yaml', 'ring.yaml', 'nat.yaml', 'ring100.yaml']) {
    const m = buildModel(shipped(f));
    assert.ok(m.nodes.length >= 2, f);
    assert.match(fs.readFileSync(path.join(REPO_ROOT, 'topologies', f), 'utf8'), /^# \S+: /, `${f} starts with a comment saying what it shows`);
  }
  assert.ok(buildModel(shipped('ring.yaml')).nodes.length >= 6);
});

test('defaults: manual keying, aes-gcm-256, udp, static, liveness 200/1000, OSPF 1/4', () => {
  const t = parseTopology(BASE);
  assert.equal(t.keying, 'manual');
  assert.equal(t.suite, 'aes-gcm-256');
  assert.equal(t.vlinks[0]!.encap, 'udp');
  assert.equal(t.nodes[0]!.routing, 'static');
  assert.deepEqual(t.liveness, { intervalMs: 200, deadMs: 1000 });
  assert.deepEqual(t.ospf, { hello: 1, dead: 4 });
});

test('allocation is deterministic: VN /32 per node, /31 per vlink, /24 per underlay network, unique SPIs', () => {
  const m1 = buildModel(shipped('triangle.yaml'));
  const m2 = buildModel(shipped('triangle.yaml'));
  assert.deepEqual(m1, m2);
  assert.deepEqual(m1.nodes.map((n) => n.vn), ['10.10.0.1/32', '10.10.0.2/32', '10.10.0.3/32']);
  assert.deepEqual(m1.nodes.map((n) => n.underlayAddr), ['10.200.1.1', '10.200.1.2', '10.200.1.3']);
  const a = m1.nodes[0]!;
  assert.deepEqual(a.vlinks.map((v) => [v.ifname, v.address, v.peerLinkAddr]), [['vl-b', '10.255.0.0/31', '10.255.0.1'], ['vl-c', '10.255.0.2/31', '10.255.0.3']]);
  for (const n of m1.nodes) assert.equal(new Set(n.vlinks.map((v) => v.spiIn)).size, n.vlinks.length);
  const b = m1.nodes[1]!;
  assert.equal(a.vlinks[0]!.spiOut, b.vlinks[0]!.spiIn, "a's spi_out is b's spi_in");
  assert.equal(a.vlinks[0]!.spiOut, vlinkSpi(0, 1));
});

test('explicit vn is kept and allocation skips it', () => {
  const t = parseTopology(BASE.replace('a: {}', 'a: { vn: 10.10.0.2 }'));
  assert.deepEqual(t.nodes.map((n) => n.vn), ['10.10.0.2/32', '10.10.0.1/32']);
});

test('full-mesh derives every pair', () => {
  const t = parseTopology(`name: t\nnodes: { a: {}, b: {}, c: {}, d: {} }\nsegments: { s: {} }\nunderlay: [[a, s], [b, s], [c, s], [d, s]]\nvlinks: full-mesh\n`);
  assert.equal(t.vlinks.length, 6);
});

test('errors name the field path, with suggestions, all at once', () => {
  const p = problems(`name: Bad-Name
suite: aes-gcm-512
keying: ikev1
nodes:
  a: { routing: ospf }
  b: {}
  c: { vm: 10.1.1.1 }
underlay:
  - [a, b]
  - [c, nowhere]
vlinks:
  - [a, a]
  - { ends: [a, z] }
liveness: { interval_ms: 500, dead_ms: 100 }
`);
  const has = (re: RegExp) => assert.ok(p.some((x) => re.test(x)), `expected ${re} in:\n${p.join('\n')}`);
  has(/^name: must be 1\.\.12 of a-z 0-9/);
  has(/^suite: must be one of aes-gcm-128, aes-gcm-256, chacha20-poly1305/);
  has(/^keying: must be one of manual, ikev2/);
  has(/^nodes\.a\.routing: must be one of static, bird/);
  has(/^nodes\.c\.vm: unknown field; did you mean "vn"\?/);
  has(/^underlay\[1\]\[1\]: "nowhere" is not a declared node/);
  has(/^nodes\.c: must have exactly one underlay link/);
  has(/^vlinks\[0\]: joins a to itself/);
  has(/^vlinks\[1\]\.ends\[1\]: "z" is not a declared node/);
  has(/^liveness\.dead_ms: must be greater than liveness\.interval_ms/);
});

test('errors carry line numbers', () => {
  try {
    parseTopology(BASE.replace('vlinks: [[a, b]]', 'vlinks: [[a, q]]'));
    assert.fail('expected an error');
  } catch (e) {
    assert.match((e as Error).message, /vlinks\[0\]\[1\]: "q" is not a declared node.*\(line 4\)/);
  }
});

test('vlink between static and bird nodes is rejected', () => {
  assert.match(problems(BASE.replace('a: {}', 'a: { routing: bird }')).join('\n'), /vlinks\[0\]: joins a \(routing bird\) and b \(routing static\)/);
});

test('NAT: esp across NAT and two crossing nodes behind one NAT are rejected', () => {
  const nat = `name: t
nodes: { a: {}, c: {}, d: {} }
routers: { gw: { nat: { outside: wan } } }
segments: { wan: {}, home: {} }
underlay: [[a, wan], [gw, wan], [gw, home], [c, home], [d, home]]
`;
  assert.match(problems(nat + 'vlinks: [{ ends: [a, c], encap: esp }]\n').join('\n'), /vlinks\[0\]\.encap: c is behind NAT router gw; a vlink crossing NAT must use encap udp/);
  assert.match(problems(nat + 'vlinks: [[a, c], [a, d]]\n').join('\n'), /routers\.gw\.nat: nodes c, d are all behind it/);
  assert.deepEqual(problems(nat + 'vlinks: [[a, c], [c, d]]\n'), [], 'c-d stays inside the NAT');
  assert.match(problems(nat.replace('outside: wan', 'outside: mars') + 'vlinks: [[a, c]]\n').join('\n'), /routers\.gw\.nat\.outside: "mars" is not linked to router gw/);
});

test('NAT model: outside peers use the router outside address; public nodes do not route into the NAT', () => {
  const m = buildModel(shipped('nat.yaml'));
  const [a, , c] = m.nodes;
  const gw = m.routers[0]!;
  assert.equal(c!.behindNat, 'gw');
  assert.equal(a!.vlinks.find((v) => v.peer === 'c')!.peerUnderlay, gw.nat!.outsideAddr);
  assert.equal(c!.vlinks.find((v) => v.peer === 'a')!.peerUnderlay, a!.underlayAddr);
  assert.equal(a!.gateway, null);
  assert.equal(c!.gateway, '10.200.2.2');
});

test('routed underlay: nodes get a default route via their segment router', () => {
  const m = buildModel(shipped('ring.yaml'));
  const core = m.routers[0]!;
  assert.deepEqual(core.interfaces.map((i) => i.ifname), ['u-west', 'u-east']);
  for (const n of m.nodes) assert.ok(core.interfaces.some((i) => i.address.startsWith(n.gateway! + '/')), n.name);
});

test('routers learn networks behind other routers', () => {
  const m = buildModel(parseTopology(`name: t
nodes: { a: {}, b: {} }
routers: { r1: {}, r2: {} }
underlay: [[a, r1], [r1, r2], [r2, b]]
vlinks: [[a, b]]
`));
  const r1 = m.routers.find((r) => r.name === 'r1')!;
  assert.deepEqual(r1.routes, [{ dst: '10.200.3.0/24', via: '10.200.2.2' }]);
});

test('static routing over a partial mesh routes through the shortest vlink path', () => {
  const m = buildModel(parseTopology(`name: t
nodes: { a: {}, b: {}, c: {} }
segments: { s: {} }
underlay: [[a, s], [b, s], [c, s]]
vlinks: [[a, b], [b, c]]
`));
  assert.deepEqual(m.nodes[0]!.staticRoutes, [
    { dst: '10.10.0.2/32', via: '10.255.0.1', dev: 'vl-b' },
    { dst: '10.10.0.3/32', via: '10.255.0.1', dev: 'vl-b' },
  ]);
});

test('plan: named steps in order; namespaces, keys 0600 per direction, daemons detached', () => {
  // Manual keying: triangle.yaml itself is keyed by IKEv2 (topology-ikev2.test.ts plans that).
  const m = buildModel({ ...shipped('triangle.yaml'), keying: 'manual' });
  const steps = planLab(m, { labDir: '/run/iiptran/lab/triangle', cli: '/x/bin/iiptran.js', nodeBin: '/usr/bin/node', nodePaths: (n) => nodePaths('triangle', m, n), liveness: true });
  assert.deepEqual(steps.map((s) => s.name), [...STEP_NAMES]);
  const all = flatActions(steps);
  const of = <K extends PlainAction['kind']>(k: K) => all.filter((a): a is Extract<PlainAction, { kind: K }> => a.kind === k);
  assert.deepEqual(of('netns').map((a) => a.ns), ['iil-triangle-a', 'iil-triangle-b', 'iil-triangle-c', 'iil-triangle-lan']);
  assert.equal(of('key').length, 6);
  assert.deepEqual(of('key')[0]!.paths, ['/run/iiptran/lab/triangle/a/keys/a-to-b.key', '/run/iiptran/lab/triangle/b/keys/a-to-b.key']);
  assert.deepEqual(of('spawn').map((a) => `${a.role}@${a.node}`), ['iiptran@a', 'iiptran@b', 'iiptran@c', 'bird@a', 'bird@b', 'bird@c']);
  assert.ok(of('cmd').some((a) => a.argv.join(' ') === 'ip -n iil-triangle-a addr add 10.10.0.1/32 dev lo'));
});

test('generated node configs are accepted by the node config parser', () => {
  const m = buildModel({ ...shipped('nat.yaml'), keying: 'manual' });
  for (const n of m.nodes) {
    const cfg = parseNodeConfig(nodeConfigYaml(m, n, '/run/x.sock', true), { baseDir: '/tmp/k' });
    assert.equal(cfg.vlinks.length, 2);
    const k = cfg.vlinks[0]!.keying;
    assert.equal(k.mode === 'manual' && k.keyIn.startsWith('/tmp/k/keys/'), true);
  }
});

test('BIRD config: OSPF over vl-* as ptp with the topology timers, lo stub, kernel export', () => {
  const m = buildModel(parseTopology(`name: t\nrouting: bird\nbfd: true\nospf: { hello: 1, dead: 3 }\nnodes: { a: {}, b: {} }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n`));
  const c = birdConfig(m, m.nodes[0]!);
  assert.match(c, /router id 10\.10\.0\.1;/);
  assert.match(c, /interface "vl-\*" \{ type ptp; hello 1; dead 3; bfd yes; \};/);
  assert.match(c, /interface "lo" \{ stub yes; \};/);
  assert.match(c, /krt_prefsrc = 10\.10\.0\.1/);
  assert.match(c, /protocol bfd/);
  // A route the kernel dropped with a vanished TUN is only noticed by this scan (README "Reload (SIGHUP)").
  assert.match(c, /protocol kernel \{[^]*scan time 2;[^]*\}/);
});

test('BFD is on by default in BIRD labs; bfd: false leaves it out of the BIRD config', () => {
  const yaml = (extra: string) => `name: t\nrouting: bird\n${extra}nodes: { a: {}, b: {} }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n`;
  const on = buildModel(parseTopology(yaml('')));
  assert.equal(on.bfd, true);
  const c = birdConfig(on, on.nodes[0]!);
  assert.match(c, /interface "vl-\*" \{ type ptp; hello 1; dead 4; bfd yes; \};/);
  assert.match(c, /protocol bfd \{\n  interface "vl-\*" \{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; \};/);
  const off = buildModel(parseTopology(yaml('bfd: false\n')));
  assert.equal(off.bfd, false);
  assert.doesNotMatch(birdConfig(off, off.nodes[0]!), /bfd/);
  assert.deepEqual(problems(yaml('bfd: yes please\n')), ['bfd: must be true or false (got "yes please")']);
  assert.equal(buildModel(shipped('ring100.yaml')).bfd, false, 'ring100 turns it off (README: cost at scale)');
  assert.equal(buildModel(shipped('triangle.yaml')).bfd, true);
});

test('birdc neighbour output parses', () => {
  const out = `BIRD 2.0.12 ready.
overlay:
Router ID   \tPri\t     State     \tDTime\tInterface  Router IP
10.10.0.2   \t  1\tFull/PtP  \t3.390\tvl-b       10.255.0.1
10.10.0.3   \t  1\tExStart/PtP  \t3.100\tvl-c       10.255.0.3
`;
  assert.deepEqual(parseOspfNeighbors(out), [
    { routerId: '10.10.0.2', state: 'Full/PtP', iface: 'vl-b', address: '10.255.0.1' },
    { routerId: '10.10.0.3', state: 'ExStart/PtP', iface: 'vl-c', address: '10.255.0.3' },
  ]);
});
