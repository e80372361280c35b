// Dual-stack labs without root (issue #10): the `ipv6` topology fields and their errors, the
// model's IPv6 addresses, link-local addresses and static routes, the node configs (accepted by
// the node config parser), BIRD's OSPFv3 and FRR's ospf6d configs, the plan, and the status
// parsers on the daemons' and the kernel's real output.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigErrors } from '../../src/control/yaml-doc.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { nodeConfigYaml, hostsFile } from '../../src/lab/node-config.js';
import { birdConfig } from '../../src/lab/bird.js';
import { frrConfigs, frrDaemons } from '../../src/lab/frr.js';
import { flatActions, planLab } from '../../src/lab/plan.js';
import { nodePaths } from '../../src/lab/state.js';
import { parseBirdOspf3Neighbors, parseFrrOspf6Neighbors, parseProcRoutes6 } from '../../src/lab/status6.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import path from 'node:path';

const BASE = 'name: t\nnodes: { a: {}, b: {}, c: {} }\nsegments: { lan: {} }\nunderlay: [[a, lan], [b, lan], [c, lan]]\nvlinks: full-mesh\n';

function problems(text: string): { field: string; problem: string }[] {
  try {
    parseTopology(text);
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, String(e));
    return e.problems.map((p) => ({ field: p.field, problem: p.problem }));
  }
  return assert.fail('accepted');
}

test('ipv6 topology fields: defaults, and every misuse named', () => {
  const t = parseTopology(BASE + 'ipv6: true\n');
  assert.deepEqual(t.ipv6, { vn6: 'fd00:10::/64', vlinks6: 'fd00:255::/64', nodeVn6: {} });
  assert.equal(parseTopology(BASE).ipv6, undefined);
  const ps = problems(BASE.replace('a: {}', 'a: { vn6: "fd00:10::9" }') + 'addressing: { vn6: "fd00:10::/64" }\n');
  assert.deepEqual(ps.map((p) => p.field).sort(), ['addressing.vn6', 'nodes.a.vn6']);
  assert.ok(ps.every((p) => /only used with ipv6: true/.test(p.problem)));
  assert.match(problems(BASE + 'ipv6: true\naddressing: { vn6: "fd00:10::1/64" }\n')[0]!.problem, /host bits set/);
  assert.match(problems(BASE + 'ipv6: true\naddressing: { vlinks6: "fe80::/64" }\n')[0]!.problem, /not a link-local address/);
  assert.match(problems(BASE + 'ipv6: true\naddressing: { vn6: "fd00::/48", vlinks6: "fd00::/64" }\n')[0]!.problem, /overlaps addressing\.vn6/);
  assert.match(problems(BASE + 'ipv6: true\naddressing: { vn6: "10.0.0.0/8" }\n')[0]!.problem, /IPv6 prefix/);
  // BGP labs carry IPv6 too (MP-BGP sessions over the IPv6 vlink addresses: lab-bgp-rr.test.ts).
  assert.equal(parseTopology(BASE.replace('name: t', 'name: t\nrouting: bgp') + 'ipv6: true\n').ipv6!.vn6, 'fd00:10::/64');
  assert.equal(parseTopology(BASE.replace('a: {}', 'a: { vn6: "fd00:99::1" }') + 'ipv6: true\n').ipv6!.nodeVn6['a'], 'fd00:99::1/128');
});

test('the model: IPv6 VN /128s, /127s per vlink, distinct link-local addresses, guarded prefixes', () => {
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'dual-stack.yaml')));
  assert.equal(m.ipv6, true);
  assert.deepEqual(m.nodes.map((n) => n.vn6), ['fd00:10::1/128', 'fd00:10::2/128', 'fd00:10::3/128']);
  const a = m.nodes[0]!;
  assert.deepEqual(a.vlinks.map((v) => [v.ifname, v.address6, v.peerLinkAddr6, v.linkLocal, v.peerLinkLocal]), [
    ['vl-b', 'fd00:255::/127', 'fd00:255::1', 'fe80::aff:0', 'fe80::aff:1'],
    ['vl-c', 'fd00:255::2/127', 'fd00:255::3', 'fe80::aff:2', 'fe80::aff:3'],
  ]);
  const b = m.nodes[1]!;
  assert.deepEqual(b.vlinks.find((v) => v.peer === 'a')!.linkLocal, 'fe80::aff:1', 'the two ends of a vlink differ');
  assert.deepEqual(m.vnPrefixes, ['10.10.0.0/16', '10.255.0.0/16', 'fd00:10::/64', 'fd00:255::/64']);
  // An explicit vn6 outside the pool is guarded too, and skipped by the allocation.
  const m2 = buildModel(parseTopology(BASE.replace('b: {}', 'b: { vn6: "fd00:99::7" }').replace('a: {}', 'a: { vn6: "fd00:10::2" }') + 'ipv6: true\n'));
  assert.deepEqual(m2.nodes.map((n) => n.vn6), ['fd00:10::2/128', 'fd00:99::7/128', 'fd00:10::1/128']);
  assert.ok(m2.vnPrefixes!.includes('fd00:99::7/128'));
});

test('static routing: an IPv6 route to every IPv6 VN prefix beside each IPv4 one, through the same vlink', () => {
  const m = buildModel(parseTopology(BASE.replace('vlinks: full-mesh', 'vlinks: [[a, b], [b, c]]') + 'ipv6: true\n'));
  const a = m.nodes[0]!;
  assert.deepEqual(a.staticRoutes.map((r) => r.dev), ['vl-b', 'vl-b']);
  assert.deepEqual(a.staticRoutes6, [
    { dst: 'fd00:10::2/128', via: 'fd00:255::1', dev: 'vl-b' },
    { dst: 'fd00:10::3/128', via: 'fd00:255::1', dev: 'vl-b' },
  ]);
  const plan = flatActions(planLab(m, { labDir: '/run/x', cli: 'cli', nodeBin: 'node', nodePaths: (n) => nodePaths('t', m, n), liveness: true }));
  const argv = plan.filter((x) => x.kind === 'cmd').map((x) => (x as { argv: string[] }).argv.join(' '));
  assert.ok(argv.includes('ip -n iil-t-a -6 route add fd00:10::3/128 via fd00:255::1 dev vl-b src fd00:10::1 proto static'));
  assert.ok(argv.includes('ip -n iil-t-a -6 addr add fd00:10::1/128 dev lo'));
  assert.ok(plan.some((x) => x.kind === 'cmd' && x.ns === 'iil-t-b' && x.argv.join(' ') === 'sysctl -q -w net.ipv6.conf.all.forwarding=1'));
});

test('node configs carry address6 and link_local, and the node config parser accepts them', () => {
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'dual-stack.yaml')));
  for (const n of m.nodes) {
    const yaml = nodeConfigYaml(m, n, '/run/x.sock', true);
    const cfg = parseNodeConfig(yaml, { baseDir: '/run/x' });
    assert.deepEqual(cfg.vlinks.map((v) => [v.address6, v.linkLocal]), n.vlinks.map((v) => [v.address6, v.linkLocal]));
    assert.deepEqual(cfg.vnPrefixes, m.vnPrefixes);
  }
  assert.match(hostsFile(m), /^fd00:10::2 b$/m);
  assert.match(hostsFile(m), /^10\.10\.0\.2 b$/m);
});

test('BIRD: OSPFv3 beside OSPFv2, the VN /128 as a stub network, a kernel protocol for IPv6 with the VN source', () => {
  const t = loadTopology(path.join(REPO_ROOT, 'topologies', 'dual-stack.yaml'));
  t.nodes.forEach((n) => (n.routing = 'bird'));
  const m = buildModel(t);
  const c = birdConfig(m, m.nodes[0]!);
  assert.match(c, /protocol ospf v2 overlay \{/);
  assert.match(c, /protocol ospf v3 overlay6 \{\n {2}ipv6 \{ import all; export none; \};\n {2}area 0 \{\n.*\n {4}stubnet fd00:10::1\/128;\n {4}interface "vl-\*" \{ type ptp; hello 1; dead 4; bfd yes; \};/);
  assert.match(c, /protocol kernel kernel6 \{\n {2}ipv6 \{\n {4}import none;\n {4}export filter \{\n {6}if source = RTS_OSPF && net != fd00:10::1\/128 then \{ krt_prefsrc = fd00:10::1; accept; \}/);
  assert.doesNotMatch(birdConfig(buildModel(parseTopology(BASE.replace('name: t', 'name: t\nrouting: bird'))), buildModel(parseTopology(BASE.replace('name: t', 'name: t\nrouting: bird'))).nodes[0]!), /ospf v3/);
});

test('FRR: ospf6d joins the daemons, with point-to-point vlinks, BFD, passive lo and the IPv6 VN source', () => {
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'dual-stack.yaml')));
  const a = m.nodes[0]!;
  assert.deepEqual(frrDaemons(m, a), ['zebra', 'bfdd', 'ospfd', 'ospf6d']);
  const c = frrConfigs(m, a);
  assert.match(c['ospf6d']!, /interface vl-b\n ipv6 ospf6 area 0\n ipv6 ospf6 network point-to-point\n ipv6 ospf6 hello-interval 1\n ipv6 ospf6 dead-interval 4\n ipv6 ospf6 retransmit-interval 1\n ipv6 ospf6 bfd profile overlay\nexit/);
  assert.match(c['ospf6d']!, /interface lo\n ipv6 ospf6 area 0\n ipv6 ospf6 passive\nexit/);
  assert.match(c['ospf6d']!, /router ospf6\n ospf6 router-id 10\.10\.0\.1\n log-adjacency-changes\n timers throttle spf 0 50 1000\n timers lsa min-arrival 0\nexit/);
  assert.match(c['zebra']!, /route-map VNSRC6 permit 10\n set src fd00:10::1\nexit\n!\nipv6 protocol ospf6 route-map VNSRC6/);
  assert.doesNotMatch(c['ospf6d']!, /eth0/, 'the underlay stays out of OSPFv3');
  const v4 = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'frr-triangle.yaml')));
  assert.deepEqual(frrDaemons(v4, v4.nodes[0]!), ['zebra', 'bfdd', 'ospfd']);
});

test('status parsers on real output: BIRD and FRR OSPFv3 neighbours, /proc/net/ipv6_route', () => {
  const bird = [
    'BIRD 2.0.12 ready.', 'overlay6:', 'Router ID   \tPri\t     State     \tDTime\tInterface  Router IP',
    '10.10.0.2   \t  1\tFull/PtP  \t 3.582\tvl-b       fe80::aff:1', '10.10.0.3   \t  1\tFull/PtP  \t 3.581\tvl-c       fe80::aff:3',
  ].join('\n');
  assert.deepEqual(parseBirdOspf3Neighbors(bird), [
    { routerId: '10.10.0.2', state: 'Full/PtP', iface: 'vl-b', address: 'fe80::aff:1' },
    { routerId: '10.10.0.3', state: 'Full/PtP', iface: 'vl-c', address: 'fe80::aff:3' },
  ]);
  const frr = '{"neighbors":[{"neighborId":"10.10.0.1","priority":1,"deadTime":"00:00:03","state":"Full","ifState":"PointToPoint","duration":"00:00:05","interfaceName":"vl-a","interfaceState":"PointToPoint"}]}';
  assert.deepEqual(parseFrrOspf6Neighbors(frr), [{ routerId: '10.10.0.1', state: 'Full', iface: 'vl-a', address: '' }]);
  assert.deepEqual(parseFrrOspf6Neighbors('% ospf6d is not running'), []);
  const proc = [
    'fd000010000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00200200       lo',
    'fd000010000000000000000000000002 80 00000000000000000000000000000000 00 fe80000000000000000000000aff0001 00000020 00000002 00000000 00000003     vl-b',
    'fd000255000000000000000000000000 7f 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     vl-b',
    'fd000010000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 ee6b2800 00000002 00000000 00200200       lo',
    'fd000010000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo',
    'ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     vl-b',
  ].join('\n');
  assert.deepEqual(parseProcRoutes6(proc), [
    { dst: 'fd00:10::2/128', dev: 'vl-b', gateway: 'fe80::aff:1' },
    { dst: 'fd00:255::/127', dev: 'vl-b' },
  ]);
});

test('an IPv6 underlay: /64 networks from addressing.underlay, nodad addresses, IPv6 forwarding, ip6 faults', async () => {
  const { underlayPool } = await import('../../src/lab/underlay-pool.js');
  const { faultRuleset } = await import('../../src/lab/fault.js');
  const p6 = underlayPool('fd00:200::/48');
  assert.deepEqual([p6.family, p6.netLen, p6.subnet(0), p6.host(0, 1), p6.subnet(255), p6.host(1, 2)], [6, 64, 'fd00:200:0:1::/64', 'fd00:200:0:1::1', 'fd00:200:0:100::/64', 'fd00:200:0:2::2']);
  const p4 = underlayPool('10.200.0.0/16');
  assert.deepEqual([p4.family, p4.subnet(0), p4.host(1, 3)], [4, '10.200.1.0/24', '10.200.2.3']);
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'v6-underlay.yaml')));
  assert.equal(m.underlayFamily, 6);
  assert.deepEqual(m.nodes.map((n) => [n.underlayAddr, n.gateway]), [
    ['fd00:200:0:1::1', 'fd00:200:0:1::3'], ['fd00:200:0:1::2', 'fd00:200:0:1::3'], ['fd00:200:0:2::2', 'fd00:200:0:2::1'],
  ]);
  const cfg = parseNodeConfig(nodeConfigYaml(m, m.nodes[0]!, '/run/x.sock', true), { baseDir: '/run/x' });
  assert.equal(cfg.underlay.address, 'fd00:200:0:1::1');
  assert.deepEqual(cfg.vlinks.map((v) => [v.peer, v.encap]), [['fd00:200:0:1::2', 'udp'], ['fd00:200:0:2::2', 'esp']]);
  const ike = cfg.vlinks[0]!.keying;
  assert.ok(ike.mode === 'ikev2' && ike.localId === 'fd00:200:0:1::1' && ike.remoteId === 'fd00:200:0:1::2');
  const plan = flatActions(planLab(m, { labDir: '/run/x', cli: 'cli', nodeBin: 'node', nodePaths: (n) => nodePaths('v6under', m, n), liveness: true }));
  const argv = plan.filter((x) => x.kind === 'cmd').map((x) => (x as { argv: string[] }).argv.join(' '));
  assert.ok(argv.includes('ip -n iil-v6under-a addr add fd00:200:0:1::1/64 dev eth0 nodad'));
  assert.ok(argv.includes('ip -n iil-v6under-a route add default via fd00:200:0:1::3 dev eth0'));
  assert.ok(plan.some((x) => x.kind === 'cmd' && x.ns === 'iil-v6under-r' && x.argv.join(' ') === 'sysctl -q -w net.ipv6.conf.all.forwarding=1'));
  assert.match(faultRuleset('b', 'fd00:200:0:1::2'), /^table ip6 iiptran_fault_b \{\n.*ip6 saddr fd00:200:0:1::2 drop;.*\n.*ip6 daddr fd00:200:0:1::2 drop;/);
  assert.match(faultRuleset('b', '10.200.1.2'), /^table ip iiptran_fault_b/);
});

test('an IPv6 underlay refuses what needs IPv4 under the overlay: NAT, the lab DNS service', () => {
  const base = 'name: t\naddressing: { underlay: "fd00:200::/48" }\nnodes: { a: {}, b: {} }\nrouters: { r: { nat: { outside: lan } } }\nsegments: { lan: {}, in: {} }\nunderlay: [[a, in], [r, in], [r, lan], [b, lan]]\nvlinks: [[a, b]]\n';
  const ps = problems(base);
  assert.ok(ps.some((p) => p.field === 'routers.r.nat' && /needs an IPv4 underlay/.test(p.problem)), JSON.stringify(ps));
  const dns = problems('name: t\naddressing: { underlay: "fd00:200::/48" }\nnodes: { a: {}, b: {} }\nsegments: { lan: {} }\nunderlay: [[a, lan], [b, lan]]\nvlinks: [[a, b]]\ndns: { zone: overlay.test }\n');
  assert.ok(dns.some((p) => p.field === 'dns' && /A records/.test(p.problem)), JSON.stringify(dns));
  assert.match(problems('name: t\naddressing: { underlay: "fd00:200::/60" }\nnodes: { a: {} }\nsegments: { lan: {} }\nunderlay: [[a, lan]]\nvlinks: []\n')[0]!.problem, /length 1\.\.56/);
});
