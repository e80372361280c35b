import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ConfigError, IiptranError } from '../../src/errors.js';
import { ConfigErrors, loadNodeConfig, parseNodeConfig, suggestField, type ConfigProblem } from '../../src/control/config.js';
import type { Keying, ManualKeying, NodeConfig } from '../../src/control/config-types.js';

const BASE = '/etc/iiptran';

type Raw = Record<string, any>;

/** The manual keying of a parsed vlink; fails the test if it is something else. */
function manual(k: Keying): ManualKeying {
  assert.equal(k.mode, 'manual');
  return k as ManualKeying;
}

function minimal(): Raw {
  return {
    node: 'n1',
    underlay: { address: '192.0.2.1' },
    vlinks: [vlink(0)],
  };
}

function vlink(i: number): Raw {
  return {
    name: `vl${i}`,
    peer: `192.0.2.${10 + i}`,
    address: `10.0.${i}.0/31`,
    keying: {
      mode: 'manual', suite: 'aes-gcm-128',
      spi_in: 0x1000 + i, spi_out: 0x2000 + i,
      key_in: `k/in${i}.key`, key_out: `k/out${i}.key`,
    },
  };
}

function parse(text: string | Raw): NodeConfig {
  return parseNodeConfig(typeof text === 'string' ? text : stringify(text), { file: 'node.yaml', baseDir: BASE });
}

function problems(text: string | Raw): ConfigProblem[] {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `expected ConfigErrors, got ${String(err)}`);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'IIPTRAN_ERR_CONFIG');
    return [...err.errors];
  }
  assert.fail('config was accepted but should have been rejected');
}

/** Asserts exactly one problem, on `field`, whose text matches `re`. */
function rejects(text: string | Raw, field: string, re: RegExp): ConfigProblem {
  const ps = problems(text);
  assert.equal(ps.length, 1, `expected one problem, got:\n${ps.map((p) => `${p.field}: ${p.problem}`).join('\n')}`);
  assert.equal(ps[0]!.field, field);
  assert.match(ps[0]!.problem, re);
  return ps[0]!;
}

function mut(f: (c: Raw) => void): Raw {
  const c = minimal();
  f(c);
  return c;
}

test('the documented example parses to the exact expected object', () => {
  const file = fileURLToPath(new URL('../../../topologies/examples/node-a.yaml', import.meta.url));
  const cfg = loadNodeConfig(file);
  const dir = join(fileURLToPath(new URL('../../../topologies/examples/', import.meta.url)));
  assert.deepEqual(cfg, {
    node: 'node-a',
    controlSocket: '/run/iiptran/node-a.sock',
    logLevel: 'info',
    underlay: { address: '192.0.2.1', mtu: 1500, port: 4500 },
    vlinks: [
      {
        name: 'vl-b', peer: '192.0.2.2', peerResolve: 'dynamic', peerPort: 4500, encap: 'udp',
        address: '10.255.0.0/31', prefixLen: 31, peerAddress: undefined, mtu: 'auto', replayWindow: 1024,
        liveness: { intervalMs: 1000, deadMs: 4000 },
        keying: {
          mode: 'manual', suite: 'aes-gcm-256', spiIn: 0x1001, spiOut: 0x2001,
          keyIn: join(dir, 'keys/b-to-a.key'), keyOut: join(dir, 'keys/a-to-b.key'), esn: false,
        },
      },
      {
        name: 'vl-c', peer: '192.0.2.3', peerResolve: 'dynamic', peerPort: 4500, encap: 'esp',
        address: '10.255.1.1/32', prefixLen: 32, peerAddress: '10.255.1.2', mtu: 1400, replayWindow: 4096,
        liveness: null,
        keying: {
          mode: 'manual', suite: 'chacha20-poly1305', spiIn: 0x1002, spiOut: 0x3001,
          keyIn: '/etc/iiptran/keys/c-to-a.key', keyOut: '/etc/iiptran/keys/a-to-c.key', esn: true,
        },
      },
    ],
  } satisfies NodeConfig);
});

test('defaults are filled in', () => {
  assert.deepEqual(parse(minimal()), {
    node: 'n1',
    controlSocket: '/run/iiptran/n1.sock',
    logLevel: 'info',
    underlay: { address: '192.0.2.1', mtu: 1500, port: 4500 },
    vlinks: [{
      name: 'vl0', peer: '192.0.2.10', peerResolve: 'dynamic', peerPort: 4500, encap: 'udp',
      address: '10.0.0.0/31', prefixLen: 31, peerAddress: undefined, mtu: 'auto', replayWindow: 1024,
      liveness: { intervalMs: 1000, deadMs: 4000 },
      keying: {
        mode: 'manual', suite: 'aes-gcm-128', spiIn: 0x1000, spiOut: 0x2000,
        keyIn: '/etc/iiptran/k/in0.key', keyOut: '/etc/iiptran/k/out0.key', esn: false,
      },
    }],
  } satisfies NodeConfig);
});

test('control_socket, log_level and underlay fields override defaults', () => {
  const cfg = parse(mut((c) => {
    c.control_socket = 'run/n1.sock';
    c.log_level = 'debug';
    c.underlay = { address: '198.51.100.7', mtu: 9000, port: 14500 };
  }));
  assert.equal(cfg.controlSocket, '/etc/iiptran/run/n1.sock');
  assert.equal(cfg.logLevel, 'debug');
  assert.deepEqual(cfg.underlay, { address: '198.51.100.7', mtu: 9000, port: 14500 });
});

test('YAML syntax errors report line and column', () => {
  const p = rejects('node: n1\nunderlay:\n  address: [192.0.2.1\nvlinks: []\n', '(yaml)', /^syntax error at line \d+, column \d+: /);
  assert.doesNotMatch(p.problem, /\n/);
  rejects('node: n1\nnode: n2\n', '(yaml)', /line 2, column 1: .*unique/);
});

test('an empty document or a non-mapping is rejected', () => {
  rejects('', '(config)', /config is empty/);
  rejects('- a\n- b\n', '(config)', /must be a mapping .*\(got a list\)/);
});

test('required fields are named', () => {
  const ps = problems('log_level: info\n');
  assert.deepEqual(ps.map((p) => p.field), ['node', 'underlay', 'vlinks']);
  for (const p of ps) assert.match(p.problem, /^is required/);
  rejects(mut((c) => { delete c.underlay.address; }), 'underlay.address', /is required/);
  for (const f of ['name', 'peer', 'address', 'keying']) {
    rejects(mut((c) => { delete c.vlinks[0][f]; }), `vlinks[0].${f}`, /is required/);
  }
  for (const f of ['mode', 'suite', 'spi_in', 'spi_out', 'key_in', 'key_out']) {
    rejects(mut((c) => { delete c.vlinks[0].keying[f]; }), `vlinks[0].keying.${f}`, /is required/);
  }
});

test('node name', () => {
  rejects(mut((c) => { c.node = 'Node_A'; }), 'node', /a-z, 0-9 and "-".*\(got "Node_A"\)/);
  rejects(mut((c) => { c.node = 'a'.repeat(33); }), 'node', /1\.\.32/);
  rejects(mut((c) => { c.node = '-a'; }), 'node', /starting with/);
  rejects(mut((c) => { c.node = 7; }), 'node', /\(got 7\)/);
  assert.equal(parse(mut((c) => { c.node = '0' + 'a'.repeat(31); })).node.length, 32);
});

test('control_socket', () => {
  rejects(mut((c) => { c.control_socket = ''; }), 'control_socket', /non-empty path/);
  rejects(mut((c) => { c.control_socket = '/' + 'x'.repeat(110); }), 'control_socket', /107-byte limit/);
});

test('control_socket_group: a group name or a gid, absent by default', () => {
  assert.equal('controlSocketGroup' in parse(minimal()), false);
  assert.equal(parse(mut((c) => { c.control_socket_group = 'iiptran'; })).controlSocketGroup, 'iiptran');
  assert.equal(parse(mut((c) => { c.control_socket_group = '_ops-team.1'; })).controlSocketGroup, '_ops-team.1');
  assert.equal(parse(mut((c) => { c.control_socket_group = 0; })).controlSocketGroup, 0);
  assert.equal(parse(mut((c) => { c.control_socket_group = 4294967294; })).controlSocketGroup, 4294967294);
  for (const bad of [-1, 4294967295, 1.5, '', '1abc', '-x', 'a b', 'x'.repeat(33), true, ['adm']]) {
    rejects(mut((c) => { c.control_socket_group = bad; }), 'control_socket_group', /must be a group name .* or a numeric gid 0\.\.4294967294 \(got /);
  }
  rejects(mut((c) => { c.control_socket_gruop = 'adm'; }), 'control_socket_gruop', /did you mean "control_socket_group"/);
});

test('log_level', () => {
  rejects(mut((c) => { c.log_level = 'verbose'; }), 'log_level', /one of fatal, error, warn, info, debug, trace \(got "verbose"\)/);
});

test('underlay', () => {
  rejects(mut((c) => { c.underlay = '192.0.2.1'; }), 'underlay', /must be a mapping/);
  rejects(mut((c) => { c.underlay.address = '192.0.2'; }), 'underlay.address', /IPv4 address .*\(got "192.0.2"\)/);
  rejects(mut((c) => { c.underlay.address = '0.0.0.0'; }), 'underlay.address', /unicast/);
  rejects(mut((c) => { c.underlay.mtu = 575; }), 'underlay.mtu', /integer 576\.\.65535 \(got 575\)/);
  rejects(mut((c) => { c.underlay.mtu = 65536; }), 'underlay.mtu', /576\.\.65535/);
  rejects(mut((c) => { c.underlay.port = 0; }), 'underlay.port', /integer 1\.\.65535 \(got 0\)/);
  rejects(mut((c) => { c.underlay.port = '4500'; }), 'underlay.port', /\(got "4500"\)/);
});

test('vlink name', () => {
  rejects(mut((c) => { c.vlinks[0].name = 'a-very-long-ifname'; }), 'vlinks[0].name', /1\.\.15 characters/);
  rejects(mut((c) => { c.vlinks[0].name = 'vl 0'; }), 'vlinks[0].name', /\(got "vl 0"\)/);
  rejects(mut((c) => { c.vlinks[0].name = '..'; }), 'vlinks[0].name', /interface name/);
  assert.equal(parse(mut((c) => { c.vlinks[0].name = 'A_b.c-123456789'; })).vlinks[0]!.name, 'A_b.c-123456789');
});

test('vlink peer, peer_port, encap', () => {
  rejects(mut((c) => { c.vlinks[0].peer = 'node-b'; }), 'vlinks[0].peer', /IPv4 or IPv6 address/);
  rejects(mut((c) => { c.vlinks[0].peer = '224.0.0.5'; }), 'vlinks[0].peer', /unicast/);
  rejects(mut((c) => { c.vlinks[0].peer = '192.0.2.1'; }), 'vlinks[0].peer', /must differ from underlay\.address \(192\.0\.2\.1\)/);
  rejects(mut((c) => { c.vlinks[0].peer_port = 70000; }), 'vlinks[0].peer_port', /1\.\.65535/);
  rejects(mut((c) => { c.vlinks[0].encap = 'gre'; }), 'vlinks[0].encap', /one of udp, esp \(got "gre"\)/);
  const cfg = parse(mut((c) => { c.vlinks[0].encap = 'esp'; c.vlinks[0].peer_port = 4501; }));
  assert.equal(cfg.vlinks[0]!.encap, 'esp');
  assert.equal(cfg.vlinks[0]!.peerPort, 4501);
});

test('vlink address and peer_address', () => {
  rejects(mut((c) => { c.vlinks[0].address = '10.0.0.1'; }), 'vlinks[0].address', /prefix length 0\.\.32, e\.g\. 10\.255\.0\.0\/31 \(got "10.0.0.1"\)/);
  rejects(mut((c) => { c.vlinks[0].address = '10.0.0.1/33'; }), 'vlinks[0].address', /prefix length 0\.\.32/);
  rejects(mut((c) => { c.vlinks[0].address = '10.0.0.256/24'; }), 'vlinks[0].address', /IPv4 address/);
  assert.equal(parse(mut((c) => { c.vlinks[0].address = '10.0.0.1/0'; })).vlinks[0]!.prefixLen, 0);
  rejects(mut((c) => { c.vlinks[0].peer_address = '10.0.0.1'; }), 'vlinks[0].address', /must have prefix \/32 when peer_address is set.*got \/31/);
  rejects(mut((c) => { c.vlinks[0].peer_address = '10.0.0.1/32'; }), 'vlinks[0].peer_address', /without prefix/);
  rejects(mut((c) => { c.vlinks[0].address = '10.0.0.1/32'; c.vlinks[0].peer_address = '10.0.0.1'; }), 'vlinks[0].peer_address', /must differ/);
  const vl = parse(mut((c) => { c.vlinks[0].address = '10.0.0.1/32'; c.vlinks[0].peer_address = '10.0.0.2'; })).vlinks[0]!;
  assert.equal(vl.peerAddress, '10.0.0.2');
  assert.equal(vl.prefixLen, 32);
});

test('vlink mtu', () => {
  rejects(mut((c) => { c.vlinks[0].mtu = 500; }), 'vlinks[0].mtu', /"auto" or an integer 576\.\.65535 \(got 500\)/);
  rejects(mut((c) => { c.vlinks[0].mtu = 'automatic'; }), 'vlinks[0].mtu', /\(got "automatic"\)/);
  assert.equal(parse(mut((c) => { c.vlinks[0].mtu = 576; })).vlinks[0]!.mtu, 576);
  assert.equal(parse(mut((c) => { c.vlinks[0].mtu = 'auto'; })).vlinks[0]!.mtu, 'auto');
});

test('an explicit vlink mtu must fit the underlay mtu minus the encapsulation overhead', () => {
  // 1500 - 20 IPv4 - 8 UDP - 8 ESP header - 8 IV - 2 trailer - 16 ICV, rounded to the 4-byte padding.
  const p = rejects(mut((c) => { c.vlinks[0].mtu = 1480; }), 'vlinks[0].mtu', /^1480 does not fit: underlay\.mtu 1500 minus the udp .* at most 1438/);
  assert.equal(typeof p.line, 'number');
  assert.equal(parse(mut((c) => { c.vlinks[0].mtu = 1438; })).vlinks[0]!.mtu, 1438);
  rejects(mut((c) => { c.vlinks[0].mtu = 1439; }), 'vlinks[0].mtu', /at most 1438/);
  // Raw ESP has no UDP header: 8 bytes more.
  assert.equal(parse(mut((c) => { c.vlinks[0].encap = 'esp'; c.vlinks[0].mtu = 1446; })).vlinks[0]!.mtu, 1446);
  rejects(mut((c) => { c.vlinks[0].encap = 'esp'; c.vlinks[0].mtu = 1447; }), 'vlinks[0].mtu', /the esp .* at most 1446/);
  // The limit follows underlay.mtu.
  assert.equal(parse(mut((c) => { c.underlay.mtu = 9000; c.vlinks[0].mtu = 8938; })).vlinks[0]!.mtu, 8938);
  rejects(mut((c) => { c.underlay.mtu = 1280; c.vlinks[0].mtu = 1400; }), 'vlinks[0].mtu', /underlay\.mtu 1280 .* at most 1218/);
  // An invalid underlay.mtu is reported once, not again on every vlink measured against a default.
  rejects(mut((c) => { c.underlay.mtu = 100; c.vlinks[0].mtu = 1400; }), 'underlay.mtu', /576\.\.65535/);
  // Every vlink is checked, each named.
  const ps = problems(mut((c) => { c.vlinks = [vlink(0), vlink(1)]; c.vlinks[0].mtu = 1480; c.vlinks[1].mtu = 1500; }));
  assert.deepEqual(ps.map((x) => x.field), ['vlinks[0].mtu', 'vlinks[1].mtu']);
});

test('vlink replay_window', () => {
  rejects(mut((c) => { c.vlinks[0].replay_window = 512; }), 'vlinks[0].replay_window', /integer 1024\.\.65536 \(got 512\)/);
  rejects(mut((c) => { c.vlinks[0].replay_window = 65568; }), 'vlinks[0].replay_window', /1024\.\.65536/);
  rejects(mut((c) => { c.vlinks[0].replay_window = 1040; }), 'vlinks[0].replay_window', /multiple of 32 .*\(got 1040\)/);
  assert.equal(parse(mut((c) => { c.vlinks[0].replay_window = 1056; })).vlinks[0]!.replayWindow, 1056);
  assert.equal(parse(mut((c) => { c.vlinks[0].replay_window = 65536; })).vlinks[0]!.replayWindow, 65536);
});

test('keying mode', () => {
  rejects(mut((c) => { c.vlinks[0].keying.mode = 'auto'; }), 'vlinks[0].keying.mode', /must be "manual" or "ikev2" \(got "auto"\)/);
  rejects(mut((c) => { c.vlinks[0].keying = 'manual'; }), 'vlinks[0].keying', /must be a mapping/);
  // Manual fields under ikev2 are unknown there, and the hint lists the ikev2 fields.
  const ps = problems(mut((c) => { c.vlinks[0].keying.mode = 'ikev2'; }));
  assert.equal(ps[0]!.field, 'vlinks[0].keying.suite');
  assert.match(ps[0]!.problem, /unknown field.*allowed here: mode, auth, psk_file/);
  assert.ok(ps.some((p) => p.field === 'vlinks[0].keying.psk_file'));
});

test('ikev2 keying: defaults, fields, and every error names its path', () => {
  const ike = (k: Raw) => mut((c) => { c.vlinks[0].keying = { mode: 'ikev2', psk_file: 'k/psk', ...k }; });
  const k = parse(ike({})).vlinks[0]!.keying;
  assert.equal(k.mode, 'ikev2');
  if (k.mode !== 'ikev2') return;
  assert.equal(k.pskFile, '/etc/iiptran/k/psk');
  assert.equal(k.role, 'auto');
  assert.equal(k.auth, 'psk');
  assert.ok(k.ikeProposals.length > 0 && k.espProposals.length > 0);
  assert.deepEqual([k.localId, k.remoteId, k.ikeLifetimeS, k.childLifetimeS], [undefined, undefined, 14400, 3600]);
  const k2 = parse(ike({ role: 'responder', ike_proposals: ['aes128-sha256-ecp256'], esp_proposals: 'chacha20poly1305', local_id: 'a.example', remote_id: '192.0.2.2' })).vlinks[0]!.keying;
  assert.ok(k2.mode === 'ikev2');
  assert.deepEqual([k2.role, k2.ikeProposals, k2.espProposals, k2.localId, k2.remoteId], ['responder', ['aes128-sha256-ecp256'], ['chacha20poly1305'], 'a.example', '192.0.2.2']);
  rejects(ike({ psk_file: undefined }), 'vlinks[0].keying.psk_file', /is required/);
  rejects(ike({ auth: 'pubkey', private_key: 'a', peer_public_key: 'b' }), 'vlinks[0].keying.psk_file', /only used with auth: psk \(this vlink has auth: pubkey\)/);
  rejects(ike({ auth: 'pubkey', psk_file: undefined, peer_public_key: 'b' }), 'vlinks[0].keying.private_key', /is required/);
  rejects(ike({ auth: 'pubkey', psk_file: undefined, private_key: 'k/me.pem' }), 'vlinks[0].keying.peer_public_key', /is required/);
  rejects(ike({ peer_public_key: 'k/peer.pem' }), 'vlinks[0].keying.peer_public_key', /only used with auth: pubkey/);
  rejects(ike({ auth: 'rsa' }), 'vlinks[0].keying.auth', /psk, pubkey/);
  rejects(ike({ child_mode: 'tunnel' }), 'vlinks[0].keying.child_mode', /transport, tunnel-any/);
  const k3 = parse(ike({ auth: 'pubkey', psk_file: undefined, private_key: 'k/me.pem', peer_public_key: '/k/peer.der', child_mode: 'tunnel-any' })).vlinks[0]!.keying;
  assert.ok(k3.mode === 'ikev2');
  assert.deepEqual([k3.auth, k3.pskFile, k3.privateKey, k3.peerPublicKey, k3.childMode], ['pubkey', '', '/etc/iiptran/k/me.pem', '/k/peer.der', 'tunnel-any']);
  assert.equal(k.childMode, 'transport');
  rejects(ike({ role: 'both' }), 'vlinks[0].keying.role', /initiator, responder, auto/);
  rejects(ike({ ike_proposals: ['aes256gcm16-prfsha256-x25519', '3des-md5'] }), 'vlinks[0].keying.ike_proposals[1]', /"3des-md5" unknown algorithm "3des"/);
  rejects(ike({ esp_proposals: ['aes256-sha256'] }), 'vlinks[0].keying.esp_proposals[0]', /only does AEAD suites/);
  rejects(ike({ ike_proposals: [] }), 'vlinks[0].keying.ike_proposals', /non-empty list/);
  rejects(ike({ remote_id: 'two words' }), 'vlinks[0].keying.remote_id', /printable ASCII/);
  rejects(ike({ ike_lifetime_s: 5 }), 'vlinks[0].keying.ike_lifetime_s', /10\.\.604800/);
  rejects(ike({ spi_in: 0x1000 }), 'vlinks[0].keying.spi_in', /unknown field/);
  // IKE finds the vlink of an IKE_SA_INIT by the sender's address.
  rejects(mut((c) => {
    c.vlinks[0].keying = { mode: 'ikev2', psk_file: 'p' };
    c.vlinks.push({ ...vlink(1), peer: c.vlinks[0].peer, encap: 'esp', keying: { mode: 'ikev2', psk_file: 'p' } });
  }), 'vlinks[1].peer', /already runs IKEv2 with peer/);
});

test('ikev2 lifetimes: seconds, bytes, packets', () => {
  const ike = (k: Raw) => mut((c) => { c.vlinks[0].keying = { mode: 'ikev2', psk_file: 'k/psk', ...k }; });
  rejects(ike({ child_lifetime_s: 1 }), 'vlinks[0].keying.child_lifetime_s', /2\.\.86400/);
  rejects(ike({ child_lifetime_bytes: 1000 }), 'vlinks[0].keying.child_lifetime_bytes', /at least 1048576/);
  rejects(ike({ child_lifetime_packets: -1 }), 'vlinks[0].keying.child_lifetime_packets', /must be an integer/);
  const kl = parse(ike({ child_lifetime_s: 5, child_lifetime_bytes: 2 ** 32, child_lifetime_packets: 100000 })).vlinks[0]!.keying;
  assert.ok(kl.mode === 'ikev2');
  assert.deepEqual([kl.childLifetimeS, kl.childLifetimeBytes, kl.childLifetimePackets], [5, 2 ** 32, 100000]);
  const kd = parse(ike({})).vlinks[0]!.keying;
  assert.ok(kd.mode === 'ikev2');
  assert.deepEqual([kd.childLifetimeBytes, kd.childLifetimePackets], [0, 0]);
});

test('keying suite and esn', () => {
  rejects(mut((c) => { c.vlinks[0].keying.suite = 'aes-cbc'; }), 'vlinks[0].keying.suite', /aes-gcm-128, aes-gcm-256, chacha20-poly1305 \(got "aes-cbc"\)/);
  rejects(mut((c) => { c.vlinks[0].keying.esn = 'yes'; }), 'vlinks[0].keying.esn', /true or false \(got "yes"\)/);
  // YAML 1.2: "yes" is a string, not a boolean, so it must not silently mean true.
  rejects('node: n1\nunderlay: {address: 192.0.2.1}\nvlinks:\n  - {name: v, peer: 192.0.2.2, address: 10.0.0.0/31, keying: {mode: manual, suite: aes-gcm-128, spi_in: 0x100, spi_out: 0x100, key_in: a, key_out: b, esn: yes}}\n',
    'vlinks[0].keying.esn', /\(got "yes"\)/);
  assert.equal(manual(parse(mut((c) => { c.vlinks[0].keying.esn = true; })).vlinks[0]!.keying).esn, true);
});

test('SPIs: YAML ints, hex literals and hex strings accepted; range enforced', () => {
  const text = (spiIn: string, spiOut: string) =>
    `node: n1\nunderlay: {address: 192.0.2.1}\nvlinks:\n  - name: v\n    peer: 192.0.2.2\n    address: 10.0.0.0/31\n    keying:\n      mode: manual\n      suite: aes-gcm-128\n      spi_in: ${spiIn}\n      spi_out: ${spiOut}\n      key_in: a\n      key_out: b\n`;
  const k = (a: string, b: string) => manual(parse(text(a, b)).vlinks[0]!.keying);
  assert.deepEqual([k('0x1001', '4097').spiIn, k('0x1001', '4097').spiOut], [0x1001, 4097]);
  assert.deepEqual([k('"0x1001"', '"0XFFFFFFFF"').spiIn, k('"0x1001"', '"0XFFFFFFFF"').spiOut], [0x1001, 0xffffffff]);
  assert.equal(k('0x100', '256').spiIn, 0x100);
  assert.equal(k('"4097"', '256').spiIn, 4097);

  const p1 = rejects(text('"abc"', '256'), 'vlinks[0].keying.spi_in', /^must be an integer 0x100\.\.0xffffffff \(got "abc"\)$/);
  assert.equal(p1.line, 10);
  rejects(text('0xff', '256'), 'vlinks[0].keying.spi_in', /0x100\.\.0xffffffff; .*reserved by RFC 4303 \(got 255 = 0xff\)/);
  rejects(text('0', '256'), 'vlinks[0].keying.spi_in', /0 is invalid/);
  rejects(text('256', '0x100000000'), 'vlinks[0].keying.spi_out', /32 bits \(got 4294967296 = 0x100000000\)/);
  rejects(text('256', '-300'), 'vlinks[0].keying.spi_out', /0x100\.\.0xffffffff/);
  rejects(text('256', '256.5'), 'vlinks[0].keying.spi_out', /\(got 256\.5\)/);
  rejects(text('256', '"0x"'), 'vlinks[0].keying.spi_out', /\(got "0x"\)/);
});

test('key paths are resolved against baseDir, absolute ones kept', () => {
  const k = manual(parse(mut((c) => { c.vlinks[0].keying.key_in = '../keys/in.key'; c.vlinks[0].keying.key_out = '/srv/k/out.key'; })).vlinks[0]!.keying);
  assert.equal(k.keyIn, '/etc/keys/in.key');
  assert.equal(k.keyOut, '/srv/k/out.key');
  rejects(mut((c) => { c.vlinks[0].keying.key_in = ''; }), 'vlinks[0].keying.key_in', /must be a path to a key file/);
  rejects(mut((c) => { c.vlinks[0].keying.key_out = 12; }), 'vlinks[0].keying.key_out', /\(got 12\)/);
});

test('vlinks must be a non-empty list of mappings', () => {
  rejects(mut((c) => { c.vlinks = []; }), 'vlinks', /non-empty list .*\(got an empty list\)/);
  rejects(mut((c) => { c.vlinks = { name: 'vl0' }; }), 'vlinks', /\(got a mapping\)/);
  rejects(mut((c) => { c.vlinks.push('vl1'); }), 'vlinks[1]', /must be a mapping .*\(got "vl1"\)/);
});

test('cross-field: vlink names must be unique', () => {
  rejects(mut((c) => { c.vlinks.push({ ...vlink(1), name: 'vl0' }); }), 'vlinks[1].name', /duplicate vlink name "vl0" \(also used by vlinks\[0\]\)/);
});

test('cross-field: spi_in must be unique across vlinks; spi_out need not be', () => {
  rejects(mut((c) => { const v = vlink(1); v.keying.spi_in = 0x1000; c.vlinks.push(v); }),
    'vlinks[1].keying.spi_in', /duplicate spi_in 0x1000 \(also used by vlinks\[0\]\).*looked up by SPI/);
  const ok = parse(mut((c) => { const v = vlink(1); v.keying.spi_out = 0x2000; c.vlinks.push(v); }));
  assert.equal(ok.vlinks.length, 2);
});

test('cross-field: (peer, encap) must be unique', () => {
  const p = rejects(mut((c) => { c.vlinks.push({ ...vlink(1), peer: '192.0.2.10' }); }), 'vlinks[1].peer',
    /vlinks\[0\] and vlinks\[1\] both have peer 192\.0\.2\.10 with encap udp; the outer-header SPD selector \(peer, encap\) would be ambiguous/);
  assert.ok(p);
  // Same peer over a different encapsulation is distinguishable on the wire.
  const ok = parse(mut((c) => { c.vlinks.push({ ...vlink(1), peer: '192.0.2.10', encap: 'esp' }); }));
  assert.equal(ok.vlinks[1]!.encap, 'esp');
});

test('cross-field: a key file may back only one SA', () => {
  rejects(mut((c) => { c.vlinks[0].keying.key_out = 'k/in0.key'; }), 'vlinks[0].keying.key_out', /already used by vlinks\[0\]\.keying\.key_in/);
  rejects(mut((c) => { const v = vlink(1); v.keying.key_in = '/etc/iiptran/k/out0.key'; c.vlinks.push(v); }),
    'vlinks[1].keying.key_in', /already used by vlinks\[0\]\.keying\.key_out/);
});

test('unknown fields are errors, with did-you-mean', () => {
  rejects(mut((c) => { c.log_lvl = 'info'; }), 'log_lvl', /unknown field; did you mean "log_level"\?/);
  rejects(mut((c) => { c.underlay.adress = '192.0.2.1'; delete c.underlay.address; c.underlay.address = '192.0.2.1'; }), 'underlay.adress', /did you mean "address"/);
  rejects(mut((c) => { c.vlinks[0].replay_windows = 2048; }), 'vlinks[0].replay_windows', /did you mean "replay_window"/);
  rejects(mut((c) => { c.vlinks[0].keying.spi_inn = 5; }), 'vlinks[0].keying.spi_inn', /did you mean "spi_in"/);
  rejects(mut((c) => { c.vlinks[0].keying.keyOut = 'x'; }), 'vlinks[0].keying.keyOut', /did you mean "key_out"/);
  const far = rejects(mut((c) => { c.vlinks[0].keying.cipher = 'x'; }), 'vlinks[0].keying.cipher', /^unknown field \(allowed here: mode, suite, spi_in, spi_out, key_in, key_out, esn\)$/);
  assert.doesNotMatch(far.problem, /did you mean/);
});

test('suggestField only suggests a single clear candidate', () => {
  assert.equal(suggestField('spi_ot', ['spi_in', 'spi_out']), 'spi_out');
  assert.equal(suggestField('spi_o', ['spi_in', 'spi_out']), undefined); // both at distance 2
  assert.equal(suggestField('peerPort', ['peer', 'peer_port']), 'peer_port');
  assert.equal(suggestField('zzzz', ['node']), undefined);
});

test('all problems are collected and listed one per line', () => {
  const yaml = [
    'node: n1',
    'log_lvl: info',
    'underlay: {address: 192.0.2.1, mtu: 100}',
    'vlinks:',
    '  - name: vl0',
    '    peer: 192.0.2.1',
    '    address: 10.0.0.0/31',
    '    keying: {mode: manual, suite: aes-gcm-128, spi_in: 0x1000, spi_out: 0x1, key_in: a, key_out: b}',
    '  - name: vl1',
    '    peer: 192.0.2.3',
    '    address: 10.0.0.2',
    '    keying: {mode: ikev2}',
  ].join('\n');
  let err: unknown;
  try { parse(yaml); } catch (e) { err = e; }
  assert.ok(err instanceof ConfigErrors);
  assert.deepEqual(err.errors.map((p) => [p.field, p.line]), [
    ['log_lvl', 2],
    ['underlay.mtu', 3],
    ['vlinks[0].peer', 6],
    ['vlinks[0].keying.spi_out', 8],
    ['vlinks[1].address', 11],
    ['vlinks[1].keying.psk_file', 12],
  ]);
  const lines = err.message.split('\n');
  assert.equal(lines[0], 'node.yaml: 6 problems:');
  assert.equal(lines.length, 7);
  assert.match(lines[2]!, /^ {2}underlay\.mtu: must be an integer 576\.\.65535 \(got 100\) \(line 3\)$/);
  assert.equal(err.field, 'log_lvl');
});

test('cross-field checks still run on vlinks that have other errors', () => {
  const ps = problems(mut((c) => {
    c.vlinks[0].mtu = 1;
    c.vlinks.push({ ...vlink(1), name: 'vl0', peer: '192.0.2.10', replay_window: 7 });
    c.vlinks[1].keying.spi_in = 0x1000;
  }));
  assert.deepEqual(ps.map((p) => p.field), [
    'vlinks[0].mtu', 'vlinks[1].replay_window', 'vlinks[1].name', 'vlinks[1].keying.spi_in', 'vlinks[1].peer',
  ]);
});

test('a single problem gives a one-line message in ConfigError form', () => {
  try {
    const { node, ...rest } = minimal();
    parse({ node, log_level: 'loud', ...rest });
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof ConfigErrors);
    assert.equal(e.message, 'node.yaml: log_level: must be one of fatal, error, warn, info, debug, trace (got "loud") (line 2)');
    assert.equal(e.field, 'log_level');
  }
});

test('loadNodeConfig: reads relative to the file, and a missing file names the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iiptran-config-'));
  try {
    const file = join(dir, 'n1.yaml');
    writeFileSync(file, stringify(minimal()));
    assert.equal(manual(loadNodeConfig(file).vlinks[0]!.keying).keyIn, join(dir, 'k/in0.key'));

    const missing = join(dir, 'nope.yaml');
    assert.throws(() => loadNodeConfig(missing), (e: unknown) => {
      assert.ok(e instanceof IiptranError);
      assert.equal(e.code, 'IIPTRAN_ERR_CONFIG');
      assert.match(e.message, new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`));
      return true;
    });

    writeFileSync(file, 'node: n1\nvlinks: oops\n');
    assert.throws(() => loadNodeConfig(file), (e: unknown) => {
      assert.ok(e instanceof ConfigErrors);
      assert.ok(e.message.startsWith(`${file}: `));
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('liveness: off, partial mapping, and dead_ms below twice the interval', () => {
  const withLiveness = (l: unknown) => {
    const m = minimal();
    (m.vlinks as Raw[])[0]!.liveness = l;
    return m;
  };
  assert.equal(parse(withLiveness('off')).vlinks[0]!.liveness, null);
  assert.deepEqual(parse(withLiveness({ interval_ms: 200 })).vlinks[0]!.liveness, { intervalMs: 200, deadMs: 4000 });
  assert.deepEqual(parse(withLiveness({ interval_ms: 200, dead_ms: 1000 })).vlinks[0]!.liveness, { intervalMs: 200, deadMs: 1000 });
  assert.throws(() => parse(withLiveness({ interval_ms: 500, dead_ms: 600 })), /vlinks\[0\]\.liveness\.dead_ms: must be at least twice interval_ms \(1000\), got 600/);
  assert.throws(() => parse(withLiveness({ interval: 500 })), /vlinks\[0\]\.liveness\.interval: unknown field \(allowed here: interval_ms, dead_ms\)/);
  assert.throws(() => parse(withLiveness({ interval_ms: 10 })), /vlinks\[0\]\.liveness\.interval_ms/);
});
