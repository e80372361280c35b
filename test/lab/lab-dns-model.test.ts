// The lab DNS service as data, without root: the topology's dns: section, where the server
// sits, what each node's config says (resolver, trust anchor, named peers, FQDN identities),
// the plan's DNS actions, and how readdress picks and records a new address.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TopologyError, loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { flatActions, planLab, type PlainAction } from '../../src/lab/plan.js';
import { nodePaths } from '../../src/lab/state.js';
import { nodeConfigYaml } from '../../src/lab/node-config.js';
import { publishedAddress } from '../../src/lab/dns-model.js';
import { freeAddress, moveInModel } from '../../src/lab/readdress.js';
import { daemonSupportsNamedPeers } from '../../src/lab/apply.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

const dnsYaml = () => path.join(REPO_ROOT, 'topologies', 'dns.yaml');

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

const TRI = `name: t
nodes: { a: {}, b: {}, c: {} }
segments: { lan: {} }
underlay: [[a, lan], [b, lan], [c, lan]]
vlinks: full-mesh
`;

test('topologies/dns.yaml: the triangle with BIRD, IKEv2 raw keys, and a signed overlay.test.', () => {
  const t = loadTopology(dnsYaml());
  assert.deepEqual(t.nodes.map((n) => n.routing), ['bird', 'bird', 'bird']);
  assert.equal(t.keying, 'ikev2');
  assert.equal(t.ikeAuth, 'pubkey');
  assert.deepEqual(t.dns, { zone: 'overlay.test', ttl: 30, dnssec: 'require', segment: 'lan', peerResolve: 'dynamic', namedPeers: true });
  assert.match(fs.readFileSync(dnsYaml(), 'utf8'), /^# dns: /);
  const m = buildModel(t);
  assert.equal(m.vlinks.length, 3);
  assert.equal(m.dns!.address, '10.200.1.4', 'the first address after the three nodes');
  assert.equal(m.dns!.parent, 'test');
  assert.equal(m.dns!.nsName, 'ns.test');
  assert.equal(m.dns!.ns, 'iil-dns-dns');
  assert.deepEqual(m.veths.at(-1), { a: { ns: 'iil-dns-dns', ifname: 'eth0', address: '10.200.1.4/24' }, b: { ns: 'iil-dns-lan', ifname: 'p-dns', address: null } });
});

test('dns: defaults, and every bad field named', () => {
  const t = parseTopology(TRI + 'dns: { zone: Overlay.Test. }\n');
  assert.deepEqual(t.dns, { zone: 'overlay.test', ttl: 30, dnssec: 'require', segment: 'lan', peerResolve: 'dynamic', namedPeers: true });
  assert.deepEqual(t.nodes.map((n) => n.dnssec), ['require', 'require', 'require']);
  assert.equal(parseTopology(TRI).dns, null);
  assert.deepEqual(parseTopology(TRI).nodes.map((n) => n.dnssec), [null, null, null]);
  const bad = problems(TRI + 'dns: { zone: lab, ttl: 0, dnssec: maybe, segment: wan, peer_resolve: never, named_peers: yes, sign: true }\n');
  for (const want of [/^dns\.zone: needs at least two labels/, /^dns\.ttl: must be an integer 1\.\.86400/, /^dns\.dnssec: must be one of require, prefer, off/, /^dns\.segment: must name a declared segment \(lan\)/, /^dns\.peer_resolve: must be one of dynamic, once/, /^dns\.named_peers: must be true or false/, /^dns\.sign: unknown field/]) {
    assert.ok(bad.some((p) => want.test(p)), `${want} in ${bad.join(' | ')}`);
  }
  assert.match(problems(TRI + 'dns: { ttl: 5 }\n').join(), /dns\.zone: is required/);
  assert.match(problems(TRI + 'dns: { zone: "a_b.test" }\n').join(), /label "a_b" must be/);
  assert.match(problems(TRI + 'dns: { zone: ns.test }\n').join(), /must not start with "ns"/);
  assert.match(problems(`name: t\nnodes: { a: {}, b: {} }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\ndns: { zone: o.test }\n`).join(), /^dns: the DNS server is attached to a segment/);
  assert.match(problems(TRI.replace('c: {}', 'c: { dnssec: prefer }')).join(), /nodes\.c\.dnssec: is only used with a dns: section/);
  assert.match(problems(TRI.replace(/c/g, 'dns') + 'dns: { zone: o.test }\n').join(), /nodes\.dns: the name "dns" is the lab DNS server's/);
  const t2 = parseTopology(TRI.replace('c: {}', 'c: { dnssec: prefer }') + 'dns: { zone: o.test, dnssec: off }\n');
  assert.deepEqual(t2.nodes.map((n) => n.dnssec), ['off', 'off', 'prefer']);
});

test('a routed underlay: the server gets the segment router as gateway; a node with no way to it is refused', () => {
  const ring = fs.readFileSync(path.join(REPO_ROOT, 'topologies', 'ring.yaml'), 'utf8') + 'dns: { zone: ring.example.test, segment: west }\n';
  const m = buildModel(parseTopology(ring));
  assert.equal(m.dns!.network, 'west');
  assert.equal(m.dns!.parent, 'example.test');
  assert.ok(m.dns!.gateway !== null && m.dns!.gateway.startsWith('10.200.'), `gateway ${m.dns!.gateway}`);
  const plan = flatActions(planLab(m, { labDir: '/l', cli: '/c', nodeBin: '/n', nodePaths: (n) => nodePaths('ring', m, n), liveness: true }));
  assert.ok(plan.some((a) => a.kind === 'cmd' && a.argv.join(' ') === `ip -n ${m.dns!.ns} route add default via ${m.dns!.gateway}`));
  const isolated = `name: t\nnodes: { a: {}, b: {}, c: {}, d: {} }\nsegments: { lan: {} }\nunderlay: [[a, lan], [b, lan], [c, d]]\nvlinks: [[a, b], [c, d]]\ndns: { zone: o.test }\n`;
  assert.match(problems(isolated).join(), /nodes\.c: cannot reach the DNS server on segment lan: its network c-d has no router/);
});

test('NAT: a node behind it is published at its router\'s outside address; a server inside a NAT is refused', () => {
  const nat = fs.readFileSync(path.join(REPO_ROOT, 'topologies', 'nat.yaml'), 'utf8');
  const m = buildModel(parseTopology(nat + 'dns: { zone: nat.test }\n'));
  const c = m.nodes.find((n) => n.behindNat !== null)!;
  const router = m.routers.find((r) => r.name === c.behindNat)!;
  assert.equal(publishedAddress(m, c), router.nat!.outsideAddr);
  const a = m.nodes.find((n) => n.behindNat === null)!;
  assert.equal(publishedAddress(m, a), a.underlayAddr);
  const t = parseTopology(nat);
  const inside = t.segments.find((s) => t.underlay.some(([x, y]) => (x === s || y === s) && [x, y].includes(c.name)));
  if (inside !== undefined) assert.match(problems(nat + `dns: { zone: nat.test, segment: ${inside} }\n`).join(), /is inside NAT router/);
});

test('node configs: the resolver, the trust anchor file, named peers and FQDN identities', () => {
  const m = buildModel(loadTopology(dnsYaml()));
  const a = m.nodes[0]!;
  const y = nodeConfigYaml(m, a, '/run/x.sock', true);
  assert.match(y, /^dns:\n {2}servers: \[10\.200\.1\.4\]\n {2}trust_anchors: keys\/trust-anchor\.ds\n {2}dnssec: require$/m);
  assert.match(y, /- name: vl-b\n {4}peer: b\.overlay\.test\n {4}peer_resolve: dynamic\n/);
  assert.match(y, /local_id: a\.overlay\.test\n {6}remote_id: b\.overlay\.test/);
  assert.doesNotMatch(y, /peer: 10\./);
  // named_peers: false: addresses as before, and no resolver section the daemon does not need.
  const m2 = buildModel(parseTopology(fs.readFileSync(dnsYaml(), 'utf8').replace('segment: lan', 'segment: lan\n  named_peers: false')));
  const y2 = nodeConfigYaml(m2, m2.nodes[0]!, '/run/x.sock', true);
  assert.doesNotMatch(y2, /^dns:/m);
  assert.match(y2, /peer: 10\.200\.1\.2\n/);
  assert.match(y2, /remote_id: 10\.200\.1\.2/);
  // A node's dnssec override reaches its config only.
  const m3 = buildModel(parseTopology(fs.readFileSync(dnsYaml(), 'utf8').replace('  c: {}', '  c: { dnssec: prefer }')));
  assert.match(nodeConfigYaml(m3, m3.nodes[2]!, '/s', true), /dnssec: prefer/);
  assert.match(nodeConfigYaml(m3, m3.nodes[0]!, '/s', true), /dnssec: require/);
});

test('node configs with named peers are accepted by the node config parser, anchor file included', () => {
  const m = buildModel(loadTopology(dnsYaml()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-dnscfg-'));
  try {
    fs.mkdirSync(path.join(dir, 'keys'));
    fs.writeFileSync(path.join(dir, 'keys', 'trust-anchor.ds'), `test.\t3600\tIN\tDS\t17472 13 2 ${'05'.repeat(32)}\n`);
    for (const n of m.nodes) {
      const cfg = parseNodeConfig(nodeConfigYaml(m, n, '/run/x.sock', true), { baseDir: dir });
      assert.deepEqual(cfg.dns?.servers, [{ address: '10.200.1.4', port: 53 }]);
      assert.equal(cfg.dns?.dnssec, 'require');
      assert.equal(cfg.dns?.trustAnchors.length, 1);
      assert.deepEqual(cfg.vlinks.map((v) => v.peerName), m.nodes.filter((x) => x !== n).map((x) => `${x.name}.overlay.test`));
      assert.deepEqual(cfg.vlinks.map((v) => v.peerResolve), ['dynamic', 'dynamic']);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('plan: the DNS namespace and veth, zones in the keys step, NSD serving before the first node daemon', () => {
  const m = buildModel(loadTopology(dnsYaml()));
  const steps = planLab(m, { labDir: '/run/iiptran/lab/dns', cli: '/x/bin/iiptran.js', nodeBin: '/usr/bin/node', nodePaths: (n) => nodePaths('dns', m, n), liveness: true });
  const all = flatActions(steps);
  const of = <K extends PlainAction['kind']>(k: K) => all.filter((a): a is Extract<PlainAction, { kind: K }> => a.kind === k);
  assert.deepEqual(of('netns').map((a) => a.ns), ['iil-dns-a', 'iil-dns-b', 'iil-dns-c', 'iil-dns-lan', 'iil-dns-dns']);
  assert.ok(of('cmd').some((a) => a.argv.join(' ') === 'ip link add eth0 netns iil-dns-dns mtu 1500 type veth peer name p-dns netns iil-dns-lan mtu 1500'));
  assert.ok(of('cmd').some((a) => a.argv.join(' ') === 'ip -n iil-dns-lan link set p-dns master br0'));
  const keys = flatActions([steps.find((s) => s.name === 'keys')!]);
  assert.deepEqual(keys.at(-1), { kind: 'dns', phase: 'zones', zone: 'overlay.test' });
  const daemons = flatActions([steps.find((s) => s.name === 'daemons')!]);
  assert.deepEqual(daemons[0], { kind: 'dns', phase: 'server', zone: 'overlay.test' });
  assert.equal(daemons.slice(1).every((a) => a.kind === 'spawn'), true);
  assert.match(steps.find((s) => s.name === 'daemons')!.title, /start NSD \(10\.200\.1\.4, serving overlay\.test\.\), then 3 iiptran/);
  // No dns: section, no DNS actions.
  const plain = flatActions(planLab(buildModel(parseTopology(TRI)), { labDir: '/l', cli: '/c', nodeBin: '/n', nodePaths: (n) => nodePaths('t', buildModel(parseTopology(TRI)), n), liveness: true }));
  assert.equal(plain.some((a) => a.kind === 'dns'), false);
});

test('this build has named peers, so lab up accepts a named-peer lab', () => {
  assert.equal(daemonSupportsNamedPeers(), true);
});

test('readdress: the lowest free address (not the node\'s own, not the server\'s); the model follows', () => {
  const m = buildModel(loadTopology(dnsYaml()));
  assert.equal(freeAddress(m, 'lan', ['10.200.1.2']), '10.200.1.5');
  moveInModel(m, 'b', '10.200.1.5');
  const b = m.nodes.find((n) => n.name === 'b')!;
  assert.equal(b.underlayAddr, '10.200.1.5');
  assert.equal(m.networks.find((n) => n.name === 'lan')!.members.find((x) => x.element === 'b')!.address, '10.200.1.5');
  for (const n of m.nodes.filter((x) => x.name !== 'b')) {
    const e = n.vlinks.find((v) => v.peer === 'b')!;
    assert.deepEqual([e.peerUnderlay, e.peerId], ['10.200.1.5', '10.200.1.5'], n.name);
  }
  assert.match(nodeConfigYaml(m, b, '/s', true), /^ {2}address: 10\.200\.1\.5$/m);
  // .2 is free again, and is the lowest.
  assert.equal(freeAddress(m, 'lan', ['10.200.1.5']), '10.200.1.2');
});
