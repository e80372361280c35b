// `vn_prefixes` in the node config and in generated lab configs: every rule names its field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { ConfigErrors, parseNodeConfig } from '../../src/control/config.js';
import { coveredBy } from '../../src/control/vn-prefixes.js';
import { parseTopology } from '../../src/lab/topology.js';
import { buildModel, labVnPrefixes } from '../../src/lab/topology-model.js';
import { nodeConfigYaml } from '../../src/lab/node-config.js';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function cfg(vnPrefixes?: unknown): Raw {
  return {
    node: 'n1',
    underlay: { address: '192.0.2.1' },
    ...(vnPrefixes === undefined ? {} : { vn_prefixes: vnPrefixes }),
    vlinks: [0, 1].map((i) => ({
      name: `vl${i}`,
      peer: `192.0.2.${10 + i}`,
      address: `10.255.${i}.0/31`,
      keying: { mode: 'manual', suite: 'aes-gcm-128', spi_in: 0x1000 + i, spi_out: 0x2000 + i, key_in: `in${i}.key`, key_out: `out${i}.key` },
    })),
  };
}

const parse = (raw: Raw) => parseNodeConfig(stringify(raw), { file: 'node.yaml', baseDir: '/etc/iiptran' });

function problems(raw: Raw): { field: string; problem: string }[] {
  try {
    parse(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, String(e));
    assert.equal(e.code, 'IIPTRAN_ERR_CONFIG');
    return e.errors.map((p) => ({ field: p.field, problem: p.problem }));
  }
  return assert.fail('accepted');
}

test('vn_prefixes: absent means no guard; a valid list is kept in canonical form', () => {
  assert.equal(parse(cfg()).vnPrefixes, undefined);
  assert.ok(!('vnPrefixes' in parse(cfg())), 'absent field adds no key (configs compare equal as before)');
  assert.deepEqual(parse(cfg(['10.10.0.0/16', '10.255.0.0/16', '172.16.5.7/32'])).vnPrefixes, ['10.10.0.0/16', '10.255.0.0/16', '172.16.5.7/32']);
});

test('vn_prefixes: each bad entry is reported on its own index', () => {
  const ps = problems(cfg(['10.10.0.0/16', '10.10.0.0', 'x', 7, '10.20.0.0/33']));
  assert.deepEqual(ps.map((p) => p.field), ['vn_prefixes[1]', 'vn_prefixes[2]', 'vn_prefixes[3]', 'vn_prefixes[4]']);
  for (const p of ps) assert.match(p.problem, /must be an IPv4 prefix a\.b\.c\.d\/n/);
});

test('vn_prefixes: not a list, or an empty one', () => {
  assert.match(problems(cfg('10.10.0.0/16'))[0]!.problem, /non-empty list of IPv4 or IPv6 prefixes/);
  const empty = problems(cfg([]));
  assert.equal(empty[0]!.field, 'vn_prefixes');
  assert.match(empty[0]!.problem, /omit the field to run without a guard/);
});

test('vn_prefixes: host bits, overlaps, and prefixes that would swallow the tunnel itself', () => {
  const host = problems(cfg(['10.10.0.1/16']));
  assert.deepEqual(host, [{ field: 'vn_prefixes[0]', problem: '10.10.0.1/16 has host bits set; did you mean 10.10.0.0/16?' }]);
  const over = problems(cfg(['10.10.0.0/16', '10.10.4.0/24']));
  assert.equal(over[0]!.field, 'vn_prefixes[1]');
  assert.match(over[0]!.problem, /overlaps vn_prefixes\[0\] \(10\.10\.0\.0\/16\)/);
  const wider = problems(cfg(['10.10.4.0/24', '10.0.0.0/8']));
  assert.match(wider[0]!.problem, /10\.0\.0\.0\/8 overlaps vn_prefixes\[0\]/);
  const under = problems(cfg(['10.0.0.0/8', '192.0.2.0/24']));
  assert.deepEqual(under.map((p) => p.field), ['vn_prefixes[1]']);
  assert.match(under[0]!.problem, /contains underlay\.address 192\.0\.2\.1; the guard would drop the tunnel's own packets/);
  const raw = cfg(['192.0.2.8/29']);
  const peer = problems(raw);
  assert.match(peer[0]!.problem, /contains vlinks\[0\]\.peer 192\.0\.2\.10, an underlay address/);
  assert.match(problems(cfg(['0.0.0.0/0']))[0]!.problem, /contains underlay\.address/);
});

test('a misspelt vn_prefixes is an unknown field with a suggestion', () => {
  const raw = cfg();
  raw['vn_prefix'] = ['10.10.0.0/16'];
  assert.match(problems(raw)[0]!.problem, /did you mean "vn_prefixes"/);
});

test('coveredBy: a vlink address inside a prefix, or not', () => {
  assert.equal(coveredBy('10.255.0.0/31', ['10.255.0.0/16']), true);
  assert.equal(coveredBy('10.255.0.0/31', ['10.10.0.0/16']), false);
  assert.equal(coveredBy('10.0.0.0/8', ['10.10.0.0/16']), false, 'a wider range is not covered by a narrower one');
});

test('lab: every node config carries the VN pool, the vlink pool and explicit node prefixes outside them', () => {
  const t = parseTopology('name: t\nnodes: { a: {}, b: {}, c: { vn: 172.16.3.1/24 } }\nsegments: { s: {} }\nunderlay: [[a, s], [b, s], [c, s]]\nvlinks: full-mesh\n');
  const m = buildModel(t);
  assert.deepEqual(m.vnPrefixes, ['10.10.0.0/16', '10.255.0.0/16', '172.16.3.0/24']);
  for (const n of m.nodes) {
    const c = parseNodeConfig(nodeConfigYaml(m, n, '/run/x.sock', true), { baseDir: '/k' });
    assert.deepEqual(c.vnPrefixes, m.vnPrefixes, `node ${n.name}`);
    for (const v of c.vlinks) assert.ok(coveredBy(v.address, c.vnPrefixes!), `${n.name} ${v.name} ${v.address} guarded`);
    assert.ok(coveredBy(n.vn, c.vnPrefixes!), `${n.name} VN ${n.vn} guarded`);
  }
});

test('lab: a node prefix inside the VN pool is not listed twice; a wider one replaces what it holds', () => {
  const inside = parseTopology('name: t\nnodes: { a: { vn: 10.10.9.1/32 }, b: {} }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n');
  assert.deepEqual(labVnPrefixes(inside), ['10.10.0.0/16', '10.255.0.0/16']);
  const wide = parseTopology('name: t\naddressing: { vn: 10.10.0.0/24 }\nnodes: { a: { vn: 10.10.0.0/20 }, b: { vn: 10.20.0.1/32 } }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n');
  assert.deepEqual(labVnPrefixes(wide), ['10.255.0.0/16', '10.10.0.0/20', '10.20.0.1/32']);
});
