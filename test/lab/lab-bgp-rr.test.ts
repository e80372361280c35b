// iBGP with route reflectors and MP-BGP IPv6 in BGP labs (issue #10), without root: the
// topology fields and their misuse, the model (one AS, reflectors marked), the configs BIRD and
// FRR get (reflection only towards clients, next-hop-self, one best path, IPv6 sessions over
// the IPv6 vlink addresses), and FRR's summary of both families parsed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TopologyError, loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { birdBgpConfig, bgpPeers, frrBgpdConfig } from '../../src/lab/bgp.js';
import { frrConfigs } from '../../src/lab/frr.js';
import { parseFrrBgpSummary } from '../../src/lab/bgp-status.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

function problems(yaml: string): string[] {
  try {
    buildModel(parseTopology(yaml));
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e.problems.map((p) => `${p.field}: ${p.problem}`);
  }
  return [];
}

// A ring a-b-c-d-a, optionally with the chord a-c.
const ring = (bgp: string, chord = true, extra = '') =>
  `name: t\nrouting: bgp\nbgp: ${bgp}\n${extra}nodes:\n  a: {}\n  b: { bgp_daemon: bird }\n  c: { bgp_daemon: bird }\n  d: {}\nsegments: { lan: {} }\nunderlay: [[a, lan], [b, lan], [c, lan], [d, lan]]\nvlinks: [[a, b], [b, c], [c, d], [d, a]${chord ? ', [a, c]' : ''}]\n`;

test('topologies/bgp-rr.yaml validates: one AS, a and c reflect, dual stack', () => {
  const file = path.join(REPO_ROOT, 'topologies', 'bgp-rr.yaml');
  assert.match(fs.readFileSync(file, 'utf8'), /^# bgp-rr: /);
  const m = buildModel(loadTopology(file));
  assert.equal(m.bgpMode, 'ibgp');
  assert.equal(m.ipv6, true);
  assert.deepEqual(m.nodes.map((n) => n.bgp), [
    { daemon: 'frr', asn: 65000, rr: true }, { daemon: 'bird', asn: 65000 }, { daemon: 'bird', asn: 65000, rr: true }, { daemon: 'frr', asn: 65000 },
  ]);
});

test('bgp.mode and bgp.route_reflectors: every misuse named', () => {
  const has = (p: string[], re: RegExp) => assert.ok(p.some((x) => re.test(x)), `expected ${re} in:\n${p.join('\n')}`);
  assert.deepEqual(problems(ring('{ mode: ibgp, route_reflectors: [a, c] }')), []);
  has(problems(ring('{ mode: ibgp }')), /^bgp\.route_reflectors: is required with mode: ibgp/);
  has(problems(ring('{ route_reflectors: [a] }')), /^bgp\.route_reflectors: is only used with mode: ibgp/);
  has(problems(ring('{ mode: confed }')), /^bgp\.mode: must be one of ebgp, ibgp/);
  has(problems(ring('{ mode: ibgp, route_reflectors: [] }')), /^bgp\.route_reflectors: must be a non-empty list/);
  has(problems(ring('{ mode: ibgp, route_reflectors: a }')), /^bgp\.route_reflectors: must be a non-empty list/);
  has(problems(ring('{ mode: ibgp, route_reflectors: [a, a] }')), /names a twice/);
  has(problems(ring('{ mode: ibgp, route_reflectors: [x] }')), /names x, which is not a node/);
  // A client with no vlink to a reflector would learn nothing.
  has(problems(ring('{ mode: ibgp, route_reflectors: [a] }', false)), /node c has no vlink to a route reflector/);
  // Two reflectors without a vlink between them would not pass each other's non-client routes.
  has(problems(ring('{ mode: ibgp, route_reflectors: [a, c] }', false)), /a and c have no vlink between them/);
  has(problems(ring('{ mode: ibgp, route_reflectors: [a, c] }', true).replace('  d: {}', '  d: { routing: static }')), /names|joins/);
});

test('eBGP stays as it was: one AS per node, ECMP, no reflection', () => {
  const m = buildModel(parseTopology(ring('{ daemon: frr }')));
  assert.equal(m.bgpMode, undefined);
  assert.deepEqual(m.nodes.map((n) => n.bgp?.asn), [65001, 65002, 65003, 65004]);
  const frr = frrBgpdConfig(m, m.nodes[0]!, 'overlay');
  assert.doesNotMatch(frr, /route-reflector-client|next-hop-self|maximum-paths|ipv6 unicast/);
  const bird = birdBgpConfig(m, m.nodes[1]!, 10);
  assert.doesNotMatch(bird, /rr client|next hop self|vlink6|kernel6/);
  assert.match(bird, /merge paths yes/);
});

test('FRR under iBGP: reflection towards clients only, next-hop-self force, one best path; IPv6 sessions carry IPv6 unicast', () => {
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'bgp-rr.yaml')));
  const [a, , , d] = m.nodes;
  const peersA = bgpPeers(m, a!);
  // a reflects for b and d (clients), not for c (the other reflector).
  assert.deepEqual(peersA.map((p) => [p.peer, p.rrClient, p.asn]), [['b', true, 65000], ['d', true, 65000], ['c', false, 65000]]);
  const cfg = frrBgpdConfig(m, a!, 'overlay');
  const [v4, v6] = [cfg.split(' address-family ipv4 unicast')[1]!.split('exit-address-family')[0]!, cfg.split(' address-family ipv6 unicast')[1]!.split('exit-address-family')[0]!];
  for (const p of peersA) {
    assert.match(cfg, new RegExp(` neighbor ${p.address} remote-as 65000\\n`));
    assert.match(cfg, new RegExp(` neighbor ${p.address6} remote-as 65000\\n[^!]* neighbor ${p.address6} bfd profile overlay\\n`));
    assert.match(v4, new RegExp(`  neighbor ${p.address} next-hop-self force\\n`));
    assert.match(v4, new RegExp(`  no neighbor ${p.address6} activate\\n`));
    assert.match(v6, new RegExp(`  neighbor ${p.address6} activate\\n  neighbor ${p.address6} next-hop-self force\\n`));
    assert.equal(v4.includes(`neighbor ${p.address} route-reflector-client`), p.rrClient, p.peer);
    assert.equal(v6.includes(`neighbor ${p.address6} route-reflector-client`), p.rrClient, p.peer);
  }
  assert.match(v4, /  network 10\.10\.0\.1\/32\n  maximum-paths ibgp 1\n/);
  assert.match(v6, /  network fd00:10::1\/128\n  maximum-paths ibgp 1\n/);
  // A client reflects nothing.
  assert.doesNotMatch(frrBgpdConfig(m, d!, 'overlay'), /route-reflector-client/);
  // zebra gives BGP's IPv6 routes the IPv6 VN source.
  assert.match(frrConfigs(m, a!)['zebra']!, /^ipv6 protocol bgp route-map VNSRC6$/m);
});

test('BIRD under iBGP: rr client on a reflector\'s client sessions, next hop self, gateway direct, no merged paths; vlink6 sessions', () => {
  const m = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'bgp-rr.yaml')));
  const [, b, c] = m.nodes;
  const rr = birdBgpConfig(m, c!, 10);
  assert.match(rr, /protocol bgp bgp_b from vlink \{ neighbor 10\.255\.0\.2 as 65000; description "vl-b"; rr client; \}/);
  assert.match(rr, /protocol bgp bgp6_b from vlink6 \{ neighbor fd00:255::2 as 65000; description "vl-b"; rr client; \}/);
  assert.match(rr, /protocol bgp bgp_a from vlink \{ neighbor 10\.255\.0\.8 as 65000; description "vl-a"; \}/);
  assert.match(rr, /template bgp vlink6 \{[^}]*ipv6 \{\n    import all;\n    export where source = RTS_BGP \|\| proto = "vn6";\n    next hop self;\n    gateway direct;/);
  assert.match(rr, /protocol static vn6 \{\n  ipv6;\n  route fd00:10::3\/128 unreachable;/);
  assert.match(rr, /protocol kernel kernel6 \{\n  ipv6 \{[^]*krt_prefsrc = fd00:10::3;[^]*merge paths no;/);
  assert.doesNotMatch(rr, /merge paths yes/);
  assert.doesNotMatch(birdBgpConfig(m, b!, 10), /rr client/);
});

test('FRR summary: IPv4 and IPv6 sessions, each under its family', () => {
  const states = parseFrrBgpSummary(JSON.stringify({
    ipv4Unicast: { peers: { '10.255.0.1': { state: 'Established', pfxRcd: 3 } } },
    ipv6Unicast: { peers: { 'fd00:255::1': { state: 'Active' } } },
  }));
  assert.deepEqual(states.get('10.255.0.1'), { state: 'Established', prefixes: 3 });
  assert.deepEqual(states.get('fd00:255::1'), { state: 'Active', prefixes: null });
});
