// Labs with DHCP (topologies/dhcp.yaml): nodes with `vn: dhcp`, the `dhcp` section, Kea's
// namespace and config, node and BIRD configs the daemons accept, and what the plan does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { TopologyError, loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { flatActions, planLab } from '../../src/lab/plan.js';
import { nodePaths } from '../../src/lab/state.js';
import { hostsFile, nodeConfigYaml } from '../../src/lab/node-config.js';
import { birdConfig } from '../../src/lab/bird.js';
import { keaConfig, keaPaths } from '../../src/lab/kea.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const model = () => buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'dhcp.yaml')));

test('dhcp.yaml: Kea behind the hub on a service /24, clients on address dhcp, the hub relaying with peer_address dhcp', () => {
  const m = model();
  const d = m.dhcp!;
  assert.deepEqual([d.relay, d.ns, d.relayAddr, d.serverAddr, d.subnet, d.pool, d.leaseS, d.renewS, d.rebindS],
    ['hub', 'iil-dhcp-kea', '10.200.2.1', '10.200.2.2', '10.10.0.0/16', ['10.10.5.10', '10.10.5.200'], 60, 30, 52]);
  assert.deepEqual(d.reservations, [{ circuitId: 'vl-b', node: 'b', ip: '10.10.5.5' }]);
  assert.deepEqual(m.veths.at(-1), { a: { ns: 'iil-dhcp-hub', ifname: 'kea0', address: '10.200.2.1/24' }, b: { ns: 'iil-dhcp-kea', ifname: 'eth0', address: '10.200.2.2/24' } });
  const by = (n: string) => m.nodes.find((x) => x.name === n)!;
  assert.deepEqual(m.nodes.map((n) => `${n.name}:${n.dhcp ?? '-'}:${n.vnAddr}`), ['hub:relay:10.10.0.1', 'a:client:', 'b:client:', 'c:client:']);
  const cfg = (n: string) => parseNodeConfig(nodeConfigYaml(m, by(n), '/run/x.sock', true), { baseDir: '/run/iiptran/lab/dhcp/' + n });
  const hub = cfg('hub');
  assert.deepEqual(hub.dhcpRelay, { address: '10.200.2.1', servers: ['10.200.2.2'], vlinks: ['vl-a', 'vl-b', 'vl-c'], rate: { burst: 10, perSecond: 2 }, serverId: 'server', routeMetric: 64 });
  for (const v of hub.vlinks) assert.deepEqual([v.address, v.peerAddress, v.dhcp], ['10.10.0.1/32', undefined, { role: 'peer' }]);
  const a = cfg('a').vlinks[0]!;
  assert.deepEqual([a.name, a.address, a.peerAddress, a.dhcp], ['vl-hub', 'dhcp', '10.10.0.1', { role: 'client', clientId: 'a', hostname: 'a', leaseFile: '/run/iiptran/lab/dhcp/a/dhcp-vl-hub.json', release: true }]);
  assert.equal(cfg('a').vnPrefixes!.includes('10.10.0.0/16'), true);
  assert.equal(hostsFile(m), '127.0.0.1 localhost\n10.10.0.1 hub\n');
});

test('BIRD: clients use their underlay address as router id and take external routes; the hub learns protocol-16 routes and exports them', () => {
  const m = model();
  const a = birdConfig(m, m.nodes.find((n) => n.name === 'a')!);
  assert.match(a, /router id 10\.200\.1\.1;/);
  assert.match(a, /if source ~ \[RTS_OSPF, RTS_OSPF_IA, RTS_OSPF_EXT1, RTS_OSPF_EXT2\] then accept;/);
  assert.doesNotMatch(a, /learn/);
  const hub = birdConfig(m, m.nodes.find((n) => n.name === 'hub')!);
  assert.match(hub, /router id 10\.10\.0\.1;/);
  assert.match(hub, /learn yes;\n {2}ipv4 \{\n {4}import where krt_source = 16;/);
  assert.match(hub, /export where source = RTS_INHERIT;/);
  // Labs without DHCP keep their BIRD config.
  const tri = buildModel(loadTopology(path.join(REPO_ROOT, 'topologies', 'triangle.yaml')));
  const t = birdConfig(tri, tri.nodes[0]!);
  assert.match(t, /import none;\n.*\n {4}export filter \{\n {6}if source = RTS_OSPF && net != 10\.10\.0\.1\/32 then \{ krt_prefsrc = 10\.10\.0\.1; accept; \}/);
  assert.match(t, /ipv4 \{ import all; export none; \};/);
});

test('Kea config: relay-selected subnet, the hub as server identifier, circuit-id reservations, memfile CSV in the lab dir', () => {
  const m = model();
  const k = keaConfig(m.dhcp!, keaPaths('/run/iiptran/lab/dhcp')) as Obj;
  const s = k.Dhcp4.subnet4[0];
  assert.deepEqual(k.Dhcp4['interfaces-config'].interfaces, ['eth0/10.200.2.2']);
  assert.deepEqual(k.Dhcp4['lease-database'], { type: 'memfile', persist: true, name: '/run/iiptran/lab/dhcp/kea/kea-leases4.csv', 'lfc-interval': 0 });
  assert.deepEqual([k.Dhcp4['valid-lifetime'], k.Dhcp4['renew-timer'], k.Dhcp4['rebind-timer']], [60, 30, 52]);
  assert.deepEqual(s.relay, { 'ip-addresses': ['10.200.2.1'] });
  assert.deepEqual(s['option-data'], [{ name: 'dhcp-server-identifier', data: '10.200.2.1' }]);
  assert.deepEqual(s.reservations, [{ 'circuit-id': "'vl-b'", 'ip-address': '10.10.5.5', hostname: 'b' }]);
});

test('plan: Kea\'s namespace and veth, no VN address on lo for the clients, Kea started before the daemons', () => {
  const m = model();
  const steps = planLab(m, { labDir: '/run/iiptran/lab/dhcp', cli: '/x/bin/iiptran.js', nodeBin: '/usr/bin/node', nodePaths: (n) => nodePaths('dhcp', m, n), liveness: true });
  const all = flatActions(steps);
  assert.ok(all.some((a) => a.kind === 'netns' && a.ns === 'iil-dhcp-kea'));
  const cmds = all.filter((a) => a.kind === 'cmd').map((a) => (a.kind === 'cmd' ? a.argv.join(' ') : ''));
  assert.ok(cmds.includes('ip -n iil-dhcp-hub addr add 10.10.0.1/32 dev lo'));
  assert.ok(!cmds.some((c) => / -n iil-dhcp-[abc] addr add .* dev lo/.test(c)), 'no lo address for a dhcp node');
  assert.ok(cmds.some((c) => c.startsWith('ip link add kea0 netns iil-dhcp-hub') && c.includes('peer name eth0 netns iil-dhcp-kea')));
  const daemons = steps.find((s) => s.name === 'daemons')!;
  assert.equal(daemons.title, 'start Kea DHCPv4 and 4 iiptran node daemons');
  assert.deepEqual(daemons.actions[0], { kind: 'kea', ns: 'iil-dhcp-kea' });
});

test('dhcp section errors name their field', () => {
  const base = (nodes: string, dhcp: string, extra = '') =>
    `name: t\nrouting: bird\nnodes: { ${nodes} }\n${dhcp}segments: { s: {} }\nunderlay: [[h, s], [a, s], [b, s]]\nvlinks: [[h, a]]\n${extra}`;
  const problems = (text: string) => {
    try {
      buildModel(parseTopology(text));
    } catch (e) {
      assert.ok(e instanceof TopologyError, String(e));
      return e.problems.map((p) => `${p.field}: ${p.problem}`);
    }
    return [];
  };
  assert.deepEqual(problems(base('h: {}, a: { vn: dhcp }, b: {}', '')), ['nodes.a.vn: dhcp needs a top-level dhcp section (relay: NODE, the node that relays to the lab\'s Kea server)']);
  assert.deepEqual(problems(base('h: {}, a: { vn: dhcp }, b: { vn: dhcp, routing: static }', 'dhcp: { relay: a, pool: 10.10.9.9 - 10.10.9.1, reservations: { b: 10.10.5.5, h: 10.10.0.9 }, lease: 5 }\n')), [
    'dhcp.lease: unknown field; did you mean "lease_s"? (allowed here: relay, lease_s, pool, reservations)',
    'dhcp.relay: a has vn: dhcp itself; the relay needs a fixed VN address',
    'nodes.b.routing: must be bird in a lab with DHCP: static routes cannot name addresses a server hands out',
    'dhcp.pool: must be FIRST - LAST, e.g. 10.10.5.10 - 10.10.5.200 (got "10.10.9.9 - 10.10.9.1")',
    'dhcp.reservations.h: h is not a node with vn: dhcp',
  ]);
  assert.deepEqual(problems(base('h: {}, a: { vn: dhcp }, b: { vn: dhcp }', 'dhcp: { relay: h, pool: 10.10.5.10 - 10.10.5.20, reservations: { a: 10.10.5.12, b: 10.11.0.1 } }\n')), [
    'nodes.b.vn: dhcp needs a vlink to the relay h: DHCP runs over it',
    'dhcp.reservations.a: 10.10.5.12 is inside the dynamic pool; reserve an address outside it',
    'dhcp.reservations.b: must lie inside addressing.vn (10.10.0.0/16)',
  ]);
});
