// The shared YAML schema module: one error class for node configs and topologies (told apart
// by code), IPv6 where it is accepted and named where it is not, line numbers through aliases.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { ConfigError, IiptranError } from '../../src/errors.js';
import { ConfigErrors, parseNodeConfig, type ConfigProblem } from '../../src/control/config.js';
import { TopologyError, parseTopology } from '../../src/lab/topology.js';
import { hex32x, hexShort } from '../../src/wire/hex.js';

type Raw = Record<string, any>;

function minimal(): Raw {
  return {
    node: 'n1',
    underlay: { address: '192.0.2.1' },
    vlinks: [{
      name: 'vl0', peer: '192.0.2.10', address: '10.0.0.0/31',
      keying: { mode: 'manual', suite: 'aes-gcm-128', spi_in: 0x1000, spi_out: 0x2000, key_in: 'k/in.key', key_out: 'k/out.key' },
    }],
  };
}

function configProblems(c: Raw | string): ConfigProblem[] {
  try {
    parseNodeConfig(typeof c === 'string' ? c : stringify(c), { file: 'node.yaml', baseDir: '/etc/iiptran' });
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, String(e));
    assert.equal(e.code, 'IIPTRAN_ERR_CONFIG');
    return [...e.problems];
  }
  assert.fail('config was accepted');
}

function topologyProblems(yaml: string): ConfigProblem[] {
  try {
    parseTopology(yaml, 't.yaml');
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    assert.equal(e.code, 'IIPTRAN_ERR_TOPOLOGY');
    return [...e.problems];
  }
  assert.fail('topology was accepted');
}

test('node config and topology problems are one class, told apart by code', () => {
  let cfgErr: unknown;
  let topoErr: unknown;
  try { parseNodeConfig('node: n1\n', { baseDir: '/' }); } catch (e) { cfgErr = e; }
  try { parseTopology('name: t\n'); } catch (e) { topoErr = e; }
  for (const e of [cfgErr, topoErr]) {
    assert.ok(e instanceof ConfigErrors);
    assert.ok(e instanceof TopologyError);
    assert.ok(e instanceof ConfigError);
    assert.ok(e instanceof IiptranError);
  }
  assert.equal((cfgErr as ConfigErrors).code, 'IIPTRAN_ERR_CONFIG');
  assert.equal((topoErr as ConfigErrors).code, 'IIPTRAN_ERR_TOPOLOGY');
  assert.equal((cfgErr as ConfigErrors).name, 'ConfigErrors');
  assert.equal((topoErr as ConfigErrors).name, 'TopologyError');
  // `errors` is the name config code used; `problems` the name topology code used.
  assert.equal((cfgErr as ConfigErrors).errors, (cfgErr as ConfigErrors).problems);
  assert.deepEqual((topoErr as ConfigErrors).problems.map((p) => p.field), ['nodes', 'underlay', 'vlinks']);
});

test('IPv6 where a node config takes it, and a named refusal where it does not', () => {
  // Accepted: an IPv6 underlay with IPv6 peers, IPv6 VN prefixes, a vlink's address6.
  const ok = minimal();
  ok.underlay.address = '2001:DB8::1';
  ok.vlinks[0].peer = '2001:db8:0::2';
  ok.vlinks[0].address6 = 'fd00:255::0/127';
  ok.vn_prefixes = ['fd00::/8', '10.0.0.0/8'];
  const cfg = parseNodeConfig(stringify(ok), { baseDir: '/' });
  assert.equal(cfg.underlay.address, '2001:db8::1', 'kept in RFC 5952 form');
  assert.equal(cfg.vlinks[0]!.peer, '2001:db8::2');
  assert.deepEqual(cfg.vnPrefixes, ['fd00::/8', '10.0.0.0/8']);
  const cases: [string, (c: Raw) => void, RegExp][] = [
    ['vlinks[0].peer', (c) => { c.vlinks[0].peer = '2001:db8::2'; }, /is an IPv6 address but underlay\.address 192\.0\.2\.1 is IPv4/],
    ['vlinks[0].address', (c) => { c.vlinks[0].address = 'fd00::1/64'; }, /IPv4 VN address; an IPv6 one goes in address6/],
    ['vlinks[0].peer_address', (c) => { c.vlinks[0].address = '10.0.0.0/32'; c.vlinks[0].peer_address = 'fd00::2'; }, /^IPv6 is not supported yet; must be an IPv4 /],
    ['underlay.address', (c) => { c.underlay.address = 'ff02::1'; }, /must be a unicast IPv6 address, not a multicast address/],
    ['underlay.address', (c) => { c.underlay.address = 'fe80::1'; }, /not a link-local address/],
  ];
  for (const [field, f, re] of cases) {
    const c = minimal();
    f(c);
    const ps = configProblems(c);
    assert.ok(ps.some((p) => p.field === field && re.test(p.problem)), `${field}: ${JSON.stringify(ps)}`);
  }
});

test('the IPv4 rules stay strict: leading zeros, multicast and broadcast are refused', () => {
  for (const [addr, re] of [
    ['192.0.2.01', /dotted-quad form/],
    ['010.0.0.1', /dotted-quad form/],
    ['224.0.0.5', /must be a unicast IPv4 address, not 224\.0\.0\.5/],
    ['239.255.255.255', /must be a unicast IPv4 address/],
    ['255.255.255.255', /must be a unicast IPv4 address/],
    ['0.0.0.0', /must be a unicast IPv4 address/],
  ] as const) {
    const c = minimal();
    c.underlay.address = addr;
    const ps = configProblems(c);
    assert.equal(ps[0]!.field, 'underlay.address', addr);
    assert.match(ps[0]!.problem, re, addr);
  }
  const c = minimal();
  c.underlay.address = '223.255.255.254';
  assert.equal(parseNodeConfig(stringify(c), { baseDir: '/' }).underlay.address, '223.255.255.254');
});

test('topology prefixes: IPv6 is not supported yet, host bits are refused', () => {
  const base = 'name: t\nnodes: { a: {}, b: {} }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n';
  const v6 = topologyProblems(base + 'addressing: { vn: "fd00::/48" }\n');
  assert.deepEqual(v6.map((p) => [p.field, p.line]), [['addressing.vn', 5]]);
  assert.match(v6[0]!.problem, /^IPv6 is not supported yet; must be an IPv4 prefix like 10\.10\.0\.0\/16/);
  const host = topologyProblems(base + 'addressing: { vlinks: 10.255.0.1/16 }\n');
  assert.match(host[0]!.problem, /has host bits set/);
  assert.equal(parseTopology(base + 'addressing: { vlinks: 10.254.0.0/16 }\n').pools.vlinks, '10.254.0.0/16');
});

test('problem lines follow YAML aliases to where the value is written', () => {
  const yaml = [
    'defaults: &d',
    '  suite: aes-gcm-128',
    '  spi_in: 5',
    '  spi_out: 0x2000',
    '  key_in: k/in.key',
    '  key_out: k/out.key',
    '  mode: manual',
    'node: n1',
    'underlay: { address: 192.0.2.1 }',
    'vlinks:',
    '  - { name: vl0, peer: 192.0.2.10, address: 10.0.0.0/31, keying: *d }',
  ].join('\n');
  const ps = configProblems(yaml);
  const spi = ps.find((p) => p.field === 'vlinks[0].keying.spi_in');
  assert.ok(spi, JSON.stringify(ps));
  assert.equal(spi.line, 3);
  assert.match(spi.problem, /must be an integer 0x100\.\.0xffffffff; 0 is invalid and 1\.\.255 are reserved by RFC 4303 \(got 5 = 0x5\)/);
  assert.ok(ps.some((p) => p.field === 'defaults' && /unknown field/.test(p.problem)));
});

test('hex helpers: shortest form and fixed 32-bit width', () => {
  assert.equal(hexShort(0x100), '0x100');
  assert.equal(hexShort(0xffffffff), '0xffffffff');
  assert.equal(hex32x(0x100), '0x00000100');
  assert.equal(hex32x(0xdeadbeef), '0xdeadbeef');
});
