// `lab export --containerlab`: the topology file is checked against containerlab's documented
// schema (schemas/clab.schema.json in srl-labs/containerlab) for every field we write, the
// rules restated here by hand; then its contents against the lab model (same elements, same
// links), and what each container runs against the real parsers: the daemon's own config check
// on node.yaml and its keys, `bird -p` on bird.conf, `sh -n` on start.sh.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { loadTopology } from '../../src/lab/topology.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { CLAB_UNDERLAY_IF, DEFAULT_IMAGE, VNI_BASE, VXLAN_PORT, exportContainerlab } from '../../src/lab/export-containerlab.js';
import { checkNodeConfig } from '../../src/control/config-check.js';
import { requirePrograms } from '../netns/helpers.js';

const birdSkip = requirePrograms(['bird']);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-clab-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---- containerlab's schema, for the fields we use (clab.schema.json, definitions cited) ----
const TOP_KEYS = ['name', 'prefix', 'mgmt', 'topology', 'settings', 'debug'];
const TOPOLOGY_KEYS = ['nodes', 'groups', 'kinds', 'defaults', 'links'];
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9-._]*$/; // properties.name.pattern
const NODE_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9-._|]*$/; // topology.nodes.patternProperties
// definitions.node-config.properties (additionalProperties: false)
const NODE_KEYS = ['image', 'image-pull-policy', 'restart-policy', 'kind', 'license', 'type', 'group', 'startup-config', 'startup-delay', 'enforce-startup-config', 'suppress-startup-config', 'auto-remove', 'exec', 'binds', 'volumes', 'ports', 'env', 'credentials', 'env-files', 'user', 'hostname', 'entrypoint', 'cmd', 'labels', 'runtime', 'mgmt-ipv4', 'mgmt-ipv6', 'network-mode', 'link-apply-mode', 'cpu', 'memory', 'cpu-set', 'extras', 'config', 'stages', 'dns', 'certificate', 'healthcheck', 'components', 'aliases', 'shm-size', 'cap-add', 'privileged', 'cgroupns-mode', 'cgroup-parent', 'pid-mode', 'tmpfs', 'security-opts', 'sysctls', 'devices'];
const ENDPOINT_RE = /^\S+:\S+$/; // definitions.link-config-short.endpoints.prefixItems
const IPV4_RE = /^(([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$/; // definitions.ipv4-addr

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function keysWithin(o: Obj, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) assert.ok(allowed.includes(k), `${where}: ${k} is not a containerlab field`);
}
function uniqueStrings(v: unknown, where: string, minItems = 0): string[] {
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `${where}: array of strings`);
  assert.equal(new Set(v).size, v.length, `${where}: uniqueItems`);
  assert.ok(v.length >= minItems, `${where}: minItems ${minItems}`);
  return v as string[];
}
const intIn = (v: unknown, lo: number, hi: number, where: string) => assert.ok(Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi, `${where}: integer ${lo}..${hi}, got ${String(v)}`);

/** Throws on the first rule of the schema the document breaks. */
function checkClabSchema(doc: unknown): void {
  assert.ok(isObj(doc), 'top level is a mapping');
  keysWithin(doc, TOP_KEYS, 'top level');
  assert.ok(typeof doc['name'] === 'string' && NAME_RE.test(doc['name']), 'name matches its pattern');
  const topo = doc['topology'];
  assert.ok(isObj(topo), 'topology is required and a mapping');
  keysWithin(topo, TOPOLOGY_KEYS, 'topology');
  assert.ok(isObj(topo['nodes']));
  for (const [name, n] of Object.entries(topo['nodes'])) {
    assert.match(name, NODE_NAME_RE);
    assert.ok(isObj(n), `${name}: node-config`);
    keysWithin(n, NODE_KEYS, `nodes.${name}`);
    assert.equal(n['kind'], 'linux');
    for (const k of ['image', 'cmd', 'group']) if (k in n) assert.equal(typeof n[k], 'string', `${name}.${k} is a string`);
    uniqueStrings(n['binds'], `${name}.binds`, 1);
    for (const k of ['cap-add', 'devices']) if (k in n) uniqueStrings(n[k], `${name}.${k}`);
    for (const k of ['sysctls', 'labels']) {
      if (!(k in n)) continue;
      assert.ok(isObj(n[k]), `${name}.${k} is a mapping`);
      for (const [lk, lv] of Object.entries(n[k] as Obj)) {
        assert.ok(lk.length > 0);
        if (k === 'sysctls') assert.ok(typeof lv === 'string' || typeof lv === 'number', `${name}.sysctls.${lk}: string or number`);
        else assert.ok((typeof lv === 'string' && lv.length > 0) || (typeof lv === 'number' && lv >= 0), `${name}.labels.${lk}: non-empty string or number ≥ 0`);
      }
    }
  }
  const links = topo['links'];
  assert.ok(Array.isArray(links) && links.length >= 1, 'links: minItems 1');
  for (const [i, l] of links.entries()) {
    assert.ok(isObj(l), `links[${i}] is a mapping`);
    if (l['type'] === 'vxlan') {
      // definitions.link-type-vxlan: required type, endpoint, remote, vni, dst-port.
      keysWithin(l, ['type', 'endpoint', 'remote', 'vni', 'dst-port', 'src-port', 'mtu', 'vars', 'labels'], `links[${i}]`);
      const e = l['endpoint'];
      assert.ok(isObj(e) && typeof e['node'] === 'string' && typeof e['interface'] === 'string', `links[${i}].endpoint: node and interface`);
      keysWithin(e, ['node', 'interface', 'mac', 'ipv4', 'ipv6', 'vars'], `links[${i}].endpoint`);
      assert.match(String(l['remote']), IPV4_RE);
      intIn(l['vni'], 1, 16777215, `links[${i}].vni`);
      intIn(l['dst-port'], 1, 65535, `links[${i}].dst-port`);
    } else {
      // definitions.link-config-short.
      keysWithin(l, ['endpoints', 'mtu', 'ipv4', 'ipv6', 'vars'], `links[${i}]`);
      const ep = uniqueStrings(l['endpoints'], `links[${i}].endpoints`);
      assert.equal(ep.length, 2);
      for (const e of ep) assert.match(e, ENDPOINT_RE);
    }
    if ('mtu' in l) assert.ok(typeof l['mtu'] === 'number' && l['mtu'] >= 1 && l['mtu'] <= 65535, 'mtu: 1..65535');
  }
}

function exportLab(topo: string, out: string, hosts: Record<string, string> = {}) {
  const t = loadTopology(path.join(REPO_ROOT, 'topologies', topo));
  const model = buildModel(t);
  const r = exportContainerlab(t, model, { out, image: DEFAULT_IMAGE, hosts: new Map(Object.entries(hosts)) });
  return { model, r, docs: r.files.map((f) => YAML.parse(fs.readFileSync(f, 'utf8')) as { name: string; topology: { nodes: Record<string, Obj>; links: Obj[] } }) };
}

describe('lab export --containerlab', () => {
  test('the schema check itself refuses what containerlab would', () => {
    const good = { name: 'x', topology: { nodes: { a: { kind: 'linux', binds: ['a:/b'] } }, links: [{ endpoints: ['a:eth1', 'b:eth1'] }] } };
    checkClabSchema(good);
    const bad = (f: (d: typeof good & Obj) => void) => {
      const d = structuredClone(good) as typeof good & Obj;
      f(d);
      return d;
    };
    assert.throws(() => checkClabSchema(bad((d) => (d['nam'] = 1))), /nam is not a containerlab field/);
    assert.throws(() => checkClabSchema(bad((d) => ((d.topology.nodes.a as Obj)['capadd'] = []))), /capadd is not a containerlab field/);
    assert.throws(() => checkClabSchema(bad((d) => (d.topology.links[0]!.endpoints = ['a eth1', 'b:eth1']))), /did not match/);
    assert.throws(() => checkClabSchema(bad((d) => (d.topology.links = []))), /minItems 1/);
  });

  for (const topo of ['triangle.yaml', 'nat.yaml', 'ring.yaml']) {
    test(`${topo}: schema, same elements and links as the lab, every file accepted by its own parser`, () => {
      const out = path.join(tmp, topo.replace('.yaml', ''));
      const { model, r, docs } = exportLab(topo, out);
      assert.equal(docs.length, 1);
      const doc = docs[0]!;
      checkClabSchema(doc);
      assert.equal(doc.name, model.name);
      const names = [...model.nodes.map((n) => n.name), ...model.routers.map((x) => x.name), ...model.segments.map((s) => s.name)];
      assert.deepEqual(Object.keys(doc.topology.nodes).sort(), names.sort());
      assert.equal(doc.topology.links.length, model.veths.length);
      assert.equal(r.vxlanLinks, 0);
      // Every endpoint names a node of the file, and no interface is used twice.
      const used = new Set<string>();
      for (const l of doc.topology.links) {
        for (const e of l['endpoints'] as string[]) {
          const [node, iface] = e.split(':') as [string, string];
          assert.ok(node in doc.topology.nodes, `${e}: a node of the topology`);
          assert.ok(!used.has(e), `${e} used once`);
          assert.ok(iface !== 'eth0', 'eth0 is containerlab\'s management interface');
          used.add(e);
        }
      }
      for (const n of model.nodes) {
        assert.ok(used.has(`${n.name}:${CLAB_UNDERLAY_IF}`), `${n.name}'s underlay is ${CLAB_UNDERLAY_IF}`);
        const spec = doc.topology.nodes[n.name]!;
        assert.deepEqual(spec['devices'], ['/dev/net/tun']);
        assert.deepEqual(spec['binds'], [`${n.name}:/etc/iiptran:ro`]);
        const dir = path.join(out, n.name);
        // The daemon's own check: config, key files (0600) and public keys.
        const { cfg } = checkNodeConfig(path.join(dir, 'node.yaml'));
        assert.equal(cfg.underlay.address, n.underlayAddr);
        assert.deepEqual(cfg.vlinks.map((v) => v.name).sort(), n.vlinks.map((v) => v.ifname).sort());
        if (n.routing === 'bird' && birdSkip === false) {
          const b = spawnSync('bird', ['-p', '-c', path.join(dir, 'bird.conf')], { encoding: 'utf8' });
          assert.equal(b.status, 0, `bird -p ${n.name}: ${b.stderr}`);
        }
      }
      for (const name of names) {
        const script = path.join(out, name, 'start.sh');
        const sh = spawnSync('/bin/sh', ['-n', script], { encoding: 'utf8' });
        assert.equal(sh.status, 0, `sh -n ${script}: ${sh.stderr}`);
        assert.equal(doc.topology.nodes[name]!['cmd'], '/bin/sh /etc/iiptran/start.sh');
      }
      assert.throws(() => exportLab(topo, out), /the directory is not empty/);
    });
  }

  test('--host: one file per container host, links across hosts as VXLAN pairs', () => {
    const hosts = { a: '192.0.2.10', b: '192.0.2.10', lan: '192.0.2.10', c: '192.0.2.11' };
    const out = path.join(tmp, 'split');
    const { model, r, docs } = exportLab('triangle.yaml', out, hosts);
    assert.equal(docs.length, 2);
    assert.deepEqual(r.files.map((f) => path.basename(f)), ['triangle.192.0.2.10.clab.yml', 'triangle.192.0.2.11.clab.yml']);
    for (const d of docs) checkClabSchema(d);
    assert.deepEqual([Object.keys(docs[0]!.topology.nodes).sort(), Object.keys(docs[1]!.topology.nodes)], [['a', 'b', 'lan'], ['c']]);
    // c's only link (to the segment) crosses: one VXLAN link on each side, same VNI, each aimed at the other host.
    const vx = docs.map((d) => d.topology.links.filter((l) => l['type'] === 'vxlan'));
    assert.deepEqual(vx.map((l) => l.length), [1, 1]);
    const [l0, l1] = [vx[0]![0]!, vx[1]![0]!];
    assert.equal(l0['vni'], l1['vni']);
    assert.ok((l0['vni'] as number) >= VNI_BASE);
    assert.deepEqual([l0['remote'], l1['remote'], l0['dst-port']], ['192.0.2.11', '192.0.2.10', VXLAN_PORT]);
    assert.deepEqual([l0['endpoint'], l1['endpoint']], [{ node: 'lan', interface: 'p-c' }, { node: 'c', interface: CLAB_UNDERLAY_IF }]);
    assert.deepEqual(docs.map((d) => d.topology.links.length), [model.veths.length, 1], 'the other links stay veths on host .10');
    assert.throws(() => exportLab('triangle.yaml', path.join(tmp, 'x1'), { a: '192.0.2.10' }), /missing: b, c, lan/);
    assert.throws(() => exportLab('triangle.yaml', path.join(tmp, 'x2'), { ...hosts, z: '192.0.2.1' }), /z is not in lab triangle/);
    assert.throws(() => exportLab('triangle.yaml', path.join(tmp, 'x3'), { ...hosts, c: 'host2' }), /must be an IPv4 address/);
  });
});

test('a topology with the lab DNS service or Kea is refused with a clear error, not an internal one', () => {
  for (const file of ['dns.yaml', 'dhcp.yaml']) {
    const t = loadTopology(path.join(REPO_ROOT, 'topologies', file));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-clab-svc-'));
    assert.throws(() => exportContainerlab(t, buildModel(t), { out, image: DEFAULT_IMAGE, hosts: new Map() }),
      (e: Error & { code?: string }) => e.code === 'IIPTRAN_ERR_LAB' && /does not support yet/.test(e.message), file);
    fs.rmSync(out, { recursive: true, force: true });
  }
});
