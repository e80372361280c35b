// FRR and BGP labs without root: topology rules (routing frr and bgp, per-node daemons, the
// protocol rule across a vlink), the generated FRR and BIRD configs, the plan (FRR as the frr
// user from its own directory, zebra first), and the parsers of FRR's and BIRD's answers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TopologyError, loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel, routingDaemon } from '../../src/lab/topology-model.js';
import { flatActions, planLab } from '../../src/lab/plan.js';
import { nodePaths } from '../../src/lab/state.js';
import { frrArgv, frrConfigs, frrDaemons } from '../../src/lab/frr.js';
import { birdBgpConfig, bgpPeers, frrBgpdConfig } from '../../src/lab/bgp.js';
import { parseFrrOspfNeighbors } from '../../src/lab/frr-status.js';
import { parseBirdBgpStates, parseFrrBgpSummary } from '../../src/lab/bgp-status.js';
import { replyEnd } from '../../src/lab/frr-ctl.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

const shipped = (f: string) => loadTopology(path.join(REPO_ROOT, 'topologies', f));

function problems(yaml: string): string[] {
  try {
    buildModel(parseTopology(yaml));
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e.problems.map((p) => `${p.field}: ${p.problem}`);
  }
  return [];
}

const tri = (routing: string, nodes = 'a: {}\n  b: {}\n  c: {}', extra = '') =>
  `name: t\nrouting: ${routing}\n${extra}nodes:\n  ${nodes}\nsegments: { lan: {} }\nunderlay: [[a, lan], [b, lan], [c, lan]]\nvlinks: full-mesh\n`;

test('shipped FRR, mixed and BGP topologies validate, each with a leading comment', () => {
  for (const f of ['frr-triangle.yaml', 'mixed.yaml', 'bgp.yaml']) {
    assert.ok(buildModel(shipped(f)).nodes.length >= 3, f);
    assert.match(fs.readFileSync(path.join(REPO_ROOT, 'topologies', f), 'utf8'), /^# \S+: /, f);
  }
  const mixed = buildModel(shipped('mixed.yaml'));
  assert.deepEqual(mixed.nodes.map(routingDaemon), ['bird', 'frr', 'frr']);
  const bgp = buildModel(shipped('bgp.yaml'));
  assert.deepEqual(bgp.nodes.map((n) => [n.bgp?.daemon, n.bgp?.asn]), [['frr', 65001], ['bird', 65002], ['frr', 65003], ['bird', 65004]]);
  assert.equal(bgp.bgpHold, 3);
});

test('a vlink needs one protocol at both ends, not one daemon', () => {
  assert.deepEqual(problems(tri('frr', 'a: { routing: bird }\n  b: {}\n  c: {}')), [], 'BIRD and FRR share OSPF');
  assert.match(problems(tri('frr', 'a: { routing: static }\n  b: {}\n  c: {}')).join('\n'), /vlinks: joins a \(routing static\) and b \(routing frr\); both ends of a vlink must speak the same protocol/);
  assert.match(problems(tri('bgp', 'a: { routing: bird }\n  b: {}\n  c: {}')).join('\n'), /joins a \(routing bird\) and b \(routing bgp\)/);
  assert.deepEqual(problems(tri('bgp', 'a: { bgp_daemon: bird }\n  b: {}\n  c: {}')), [], 'BIRD and FRR share BGP');
});

test('bgp fields: daemon, asn_base, hold; bgp_daemon only on bgp nodes; bgp only with a bgp node', () => {
  const m = buildModel(parseTopology(tri('bgp', 'a: {}\n  b: { bgp_daemon: frr }\n  c: {}', 'bgp: { daemon: bird, asn_base: 4200000000, hold: 9 }\n')));
  assert.deepEqual(m.nodes.map((n) => n.bgp), [{ daemon: 'bird', asn: 4200000001 }, { daemon: 'frr', asn: 4200000002 }, { daemon: 'bird', asn: 4200000003 }]);
  assert.equal(m.bgpHold, 9);
  const has = (p: string[], re: RegExp) => assert.ok(p.some((x) => re.test(x)), `expected ${re} in:\n${p.join('\n')}`);
  has(problems(tri('frr', 'a: { bgp_daemon: bird }\n  b: {}\n  c: {}')), /^nodes\.a\.bgp_daemon: is only used with routing: bgp/);
  has(problems(tri('frr', undefined, 'bgp: { daemon: frr }\n')), /^bgp: is only used when some node has routing: bgp/);
  has(problems(tri('bgp', undefined, 'bgp: { daemon: quagga, hold: 2 }\n')), /^bgp\.daemon: must be one of bird, frr/);
  has(problems(tri('bgp', undefined, 'bgp: { hold: 2 }\n')), /^bgp\.hold: /);
  has(problems(tri('bgp', undefined, 'bgp: { asn: 1 }\n')), /^bgp\.asn: unknown field \(allowed here: daemon, asn_base, hold, mode, route_reflectors\)/);
  has(problems(tri('ospf')), /^routing: must be one of static, bird, frr, bgp/);
});

test('FRR OSPF configs: ptp vlinks with the timers, BFD profile 100 ms x 3, SPF throttle, VN source route-map', () => {
  const m = buildModel(parseTopology(tri('frr', undefined, 'ospf: { hello: 1, dead: 4 }\n')));
  const a = m.nodes[0]!;
  assert.deepEqual(frrDaemons(m, a), ['zebra', 'bfdd', 'ospfd']);
  const c = frrConfigs(m, a);
  assert.match(c['zebra']!, /route-map VNSRC permit 10\n set src 10\.10\.0\.1\nexit/);
  assert.match(c['zebra']!, /^ip protocol ospf route-map VNSRC$/m);
  assert.match(c['bfdd']!, /profile overlay\n  detect-multiplier 3\n  receive-interval 100\n  transmit-interval 100/);
  for (const v of ['vl-b', 'vl-c']) {
    assert.match(c['ospfd']!, new RegExp(`interface ${v}\\n ip ospf network point-to-point\\n ip ospf hello-interval 1\\n ip ospf dead-interval 4\\n[^!]* ip ospf bfd\\n ip ospf bfd profile overlay\\nexit`));
  }
  assert.match(c['ospfd']!, / ospf router-id 10\.10\.0\.1\n/);
  assert.match(c['ospfd']!, / timers throttle spf 0 50 1000\n/);
  // The VN prefix and the vlink /31s enter OSPF; the underlay and 127/8 never do.
  assert.deepEqual([...c['ospfd']!.matchAll(/ network (\S+) area 0/g)].map((x) => x[1]), ['10.10.0.1/32', '10.255.0.0/31', '10.255.0.2/31']);
  assert.doesNotMatch(c['ospfd']!, /10\.200\./);
  const off = buildModel(parseTopology(tri('frr', undefined, 'bfd: false\n')));
  assert.deepEqual(frrDaemons(off, off.nodes[0]!), ['zebra', 'ospfd']);
  assert.doesNotMatch(frrConfigs(off, off.nodes[0]!)['ospfd']!, /bfd/);
});

test('BGP configs: one eBGP session per vlink, from FRR and from BIRD, with BFD and short timers', () => {
  const m = buildModel(shipped('bgp.yaml'));
  const [a, b] = [m.nodes[0]!, m.nodes[1]!];
  assert.deepEqual(bgpPeers(m, a).map((p) => [p.iface, p.address, p.asn]), [['vl-b', '10.255.0.1', 65002], ['vl-d', '10.255.0.6', 65004]]);
  assert.deepEqual(frrDaemons(m, a), ['zebra', 'bfdd', 'bgpd']);
  const f = frrBgpdConfig(m, a, 'overlay');
  assert.match(f, /^router bgp 65001$/m);
  assert.match(f, / no bgp ebgp-requires-policy\n/);
  assert.match(f, / timers bgp 1 3\n/);
  assert.match(f, / neighbor 10\.255\.0\.1 remote-as 65002\n[^]* neighbor 10\.255\.0\.1 bfd profile overlay\n/);
  assert.match(f, / network 10\.10\.0\.1\/32\n/);
  assert.match(frrConfigs(m, a)['zebra']!, /^ip protocol bgp route-map VNSRC$/m);
  const bird = birdBgpConfig(m, b, 2);
  assert.match(bird, /protocol bgp bgp_a from vlink \{ neighbor 10\.255\.0\.0 as 65001; description "vl-a"; \}/);
  assert.match(bird, /protocol bgp bgp_c from vlink \{ neighbor 10\.255\.0\.3 as 65003; description "vl-c"; \}/);
  assert.match(bird, /local as 65002;[^]*hold time 3;[^]*keepalive time 1;[^]*error wait time 1, 5; bfd yes;/);
  assert.match(bird, /route 10\.10\.0\.2\/32 unreachable;/);
  assert.match(bird, /if source = RTS_BGP && net != 10\.10\.0\.2\/32 then \{ krt_prefsrc = 10\.10\.0\.2; accept; \}/);
});

test('plan: FRR runs from its own directory as the frr user, zebra first, the others after it answers', () => {
  const m = buildModel(shipped('mixed.yaml'));
  const dir = '/run/iiptran/lab/mixed';
  const steps = planLab(m, { labDir: dir, cli: '/x/iiptran.js', nodeBin: '/usr/bin/node', nodePaths: (n) => nodePaths('mixed', m, n), liveness: true });
  const acts = flatActions(steps);
  const b = nodePaths('mixed', m, 'b');
  assert.equal(b.frrDir, `${dir}/b/frr`);
  assert.equal(nodePaths('mixed', m, 'a').frrDir, null);
  assert.ok(acts.some((x) => x.kind === 'file' && x.path === `${dir}/b/frr/ospfd.conf` && x.mode === 0o640));
  assert.ok(acts.some((x) => x.kind === 'cmd' && x.argv.join(' ') === `chown -R frr:frr ${dir}/b/frr`));
  const chmod = acts.find((x) => x.kind === 'cmd' && x.argv[0] === 'chmod' && x.argv[1] === 'o+x');
  assert.deepEqual(chmod?.kind === 'cmd' ? chmod.argv.slice(2) : [], [dir, '/run/iiptran/lab', '/run/iiptran', '/run']);
  const spawns = acts.filter((x): x is Extract<typeof x, { kind: 'spawn' }> => x.kind === 'spawn' && x.node === 'b' && x.role === 'frr');
  assert.deepEqual(spawns.map((x) => path.basename(x.argv[0]!)), ['zebra', 'bfdd', 'ospfd']);
  assert.equal(spawns[0]!.after, undefined);
  for (const s of spawns.slice(1)) assert.equal(s.after, `${dir}/b/frr/zebra.vty`);
  assert.deepEqual(frrArgv('bfdd', '/d', 'iil-x-b'), ['/usr/lib/frr/bfdd', '-N', 'iil-x-b', '-f', '/d/bfdd.conf', '-i', '/d/bfdd.pid', '-z', '/d/zserv.api', '--vty_socket', '/d', '-P', '0', '--bfdctl', '/d/bfdd.sock']);
  assert.ok(acts.some((x) => x.kind === 'spawn' && x.node === 'a' && x.role === 'bird'));
});

test('FRR and BIRD answers parse', () => {
  const nb = JSON.stringify({ neighbors: { '10.10.0.2': [{ nbrState: 'Full/-', ifaceName: 'vl-b:10.255.0.0', ifaceAddress: '10.255.0.1' }], '10.10.0.3': [{ nbrState: 'ExStart/-', ifaceName: 'vl-c:10.255.0.2', ifaceAddress: '10.255.0.3' }] } });
  assert.deepEqual(parseFrrOspfNeighbors(nb), [
    { routerId: '10.10.0.2', state: 'Full/-', iface: 'vl-b', address: '10.255.0.1' },
    { routerId: '10.10.0.3', state: 'ExStart/-', iface: 'vl-c', address: '10.255.0.3' },
  ]);
  assert.deepEqual(parseFrrOspfNeighbors('% not json'), []);
  const sum = JSON.stringify({ ipv4Unicast: { peers: { '10.255.0.1': { state: 'Established', pfxRcd: 3 }, '10.255.0.6': { state: 'Active' } } } });
  assert.deepEqual([...parseFrrBgpSummary(sum)], [['10.255.0.1', { state: 'Established', prefixes: 3 }], ['10.255.0.6', { state: 'Active', prefixes: null }]]);
  assert.deepEqual([...parseFrrBgpSummary('{}')], []);
  const protos = `Name       Proto      Table      State  Since         Info
device1    Device     ---        up     21:39:25.123
bgp_a      BGP        ---        up     21:39:26.600  Established
bgp_c      BGP        ---        start  21:39:26.765  Active        Socket: Connection refused
bgp_e      BGP        ---        down   21:39:26.765
`;
  assert.deepEqual([...parseBirdBgpStates(protos)], [['bgp_a', 'Established'], ['bgp_c', 'Active'], ['bgp_e', 'Idle']]);
  // A vty reply ends with three NULs and a status byte.
  assert.equal(replyEnd(Buffer.from('abc\0\0\0\x00')), 3);
  assert.equal(replyEnd(Buffer.from('abc\0\0')), -1);
});
