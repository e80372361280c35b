// `keying: ikev2` in topology files: one PSK per vlink written to both ends (or, with ike_auth:
// pubkey, one Ed25519 pair per node), node configs that the daemon accepts, and IKE roles and
// identities that work through the lab's NAT.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { TopologyError, loadTopology, parseTopology } from '../../src/lab/topology.js';
import { buildModel } from '../../src/lab/topology-model.js';
import { flatActions, planLab, type Action } from '../../src/lab/plan.js';
import { nodePaths } from '../../src/lab/state.js';
import { LAB_DPD_INTERVAL_S, LAB_IKE_RETRY_MAX_S, nodeConfigYaml } from '../../src/lab/node-config.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

test('nat.yaml uses ikev2: the node behind the NAT initiates, identities are real underlay addresses', () => {
  const t = loadTopology(path.join(REPO_ROOT, 'topologies', 'nat.yaml'));
  assert.equal(t.keying, 'ikev2');
  const m = buildModel(t);
  const by = (n: string) => m.nodes.find((x) => x.name === n)!;
  const cfg = (n: string) => parseNodeConfig(nodeConfigYaml(m, by(n), '/run/x.sock', true), { baseDir: '/tmp/k' });
  const ike = (n: string, peer: string) => {
    const v = cfg(n).vlinks.find((x) => x.name === `vl-${peer}`)!;
    assert.equal(v.keying.mode, 'ikev2');
    return v.keying.mode === 'ikev2' ? v.keying : null!;
  };
  assert.equal(ike('c', 'a').role, 'initiator');
  assert.equal(ike('a', 'c').role, 'responder');
  assert.equal(ike('a', 'b').role, 'auto');
  // a knows c at the NAT's address, but c proves its own address.
  assert.equal(cfg('a').vlinks.find((x) => x.name === 'vl-c')!.peer, m.routers[0]!.nat!.outsideAddr);
  assert.equal(ike('a', 'c').remoteId, by('c').underlayAddr);
  assert.equal(ike('c', 'a').localId, by('c').underlayAddr);
  assert.equal(ike('c', 'a').pskFile, '/tmp/k/keys/a-c.psk');
  assert.equal(ike('a', 'c').pskFile, '/tmp/k/keys/a-c.psk');
  assert.deepEqual(ike('a', 'b').espProposals, ['aes256gcm16']);
});

test('plan: one PSK action per vlink, naming both ends; no key files', () => {
  const m = buildModel(parseTopology('name: t\nkeying: ikev2\nsuite: chacha20-poly1305\nnodes: { a: {}, b: {}, c: {} }\nsegments: { s: {} }\nunderlay: [[a, s], [b, s], [c, s]]\nvlinks: full-mesh\n'));
  const steps = planLab(m, { labDir: '/run/iiptran/lab/t', cli: '/x/bin/iiptran.js', nodeBin: '/usr/bin/node', nodePaths: (n) => nodePaths('t', m, n), liveness: true });
  const all = flatActions(steps);
  const psks = all.filter((a): a is Extract<Action, { kind: 'psk' }> => a.kind === 'psk');
  assert.equal(all.filter((a) => a.kind === 'key').length, 0);
  assert.deepEqual(psks.map((a) => a.paths), [
    ['/run/iiptran/lab/t/a/keys/a-b.psk', '/run/iiptran/lab/t/b/keys/a-b.psk'],
    ['/run/iiptran/lab/t/a/keys/a-c.psk', '/run/iiptran/lab/t/c/keys/a-c.psk'],
    ['/run/iiptran/lab/t/b/keys/b-c.psk', '/run/iiptran/lab/t/c/keys/b-c.psk'],
  ]);
  assert.match(steps.find((s) => s.name === 'keys')!.title, /3 random IKEv2 PSKs/);
  const b = parseNodeConfig(nodeConfigYaml(m, m.nodes[1]!, '/run/x.sock', true), { baseDir: '/k' });
  assert.deepEqual(b.vlinks.map((v) => v.keying.mode === 'ikev2' && v.keying.espProposals[0]), ['chacha20poly1305', 'chacha20poly1305']);
});

const env = (m: ReturnType<typeof buildModel>) => ({ labDir: '/run/iiptran/lab/t', cli: '/x/bin/iiptran.js', nodeBin: '/usr/bin/node', nodePaths: (n: string) => nodePaths('t', m, n), liveness: true });

test('triangle.yaml: ikev2 with ike_auth pubkey; ring.yaml: ikev2 with PSKs', () => {
  const tri = loadTopology(path.join(REPO_ROOT, 'topologies', 'triangle.yaml'));
  assert.equal(tri.keying, 'ikev2');
  assert.equal(tri.ikeAuth, 'pubkey');
  assert.deepEqual(tri.nodes.map((n) => n.ikeAuth), ['pubkey', 'pubkey', 'pubkey']);
  const ring = loadTopology(path.join(REPO_ROOT, 'topologies', 'ring.yaml'));
  assert.equal(ring.keying, 'ikev2');
  assert.equal(ring.ikeAuth, 'psk');
});

test('ike_auth pubkey: one Ed25519 pair per node, public keys to each peer, configs name them; lab IKE timers', () => {
  const m = buildModel(parseTopology('name: t\nkeying: ikev2\nike_auth: pubkey\nnodes: { a: {}, b: {}, c: {} }\nsegments: { s: {} }\nunderlay: [[a, s], [b, s], [c, s]]\nvlinks: [[a, b], [b, c]]\n'));
  const steps = planLab(m, env(m));
  const all = flatActions(steps);
  assert.equal(all.filter((a) => a.kind === 'psk' || a.kind === 'key').length, 0);
  const pairs = all.filter((a): a is Extract<Action, { kind: 'authkey' }> => a.kind === 'authkey');
  assert.deepEqual(pairs.map((a) => [a.privatePath, a.publicPaths]), [
    ['/run/iiptran/lab/t/a/keys/a.key', ['/run/iiptran/lab/t/a/keys/a.pub', '/run/iiptran/lab/t/b/keys/a.pub']],
    ['/run/iiptran/lab/t/b/keys/b.key', ['/run/iiptran/lab/t/b/keys/b.pub', '/run/iiptran/lab/t/a/keys/b.pub', '/run/iiptran/lab/t/c/keys/b.pub']],
    ['/run/iiptran/lab/t/c/keys/c.key', ['/run/iiptran/lab/t/c/keys/c.pub', '/run/iiptran/lab/t/b/keys/c.pub']],
  ]);
  assert.match(steps.find((s) => s.name === 'keys')!.title, /3 Ed25519 key pairs/);
  const b = parseNodeConfig(nodeConfigYaml(m, m.nodes[1]!, '/run/x.sock', true), { baseDir: '/k' });
  assert.equal(b.ikeRetryMaxS, LAB_IKE_RETRY_MAX_S);
  for (const v of b.vlinks) {
    assert.equal(v.keying.mode, 'ikev2');
    if (v.keying.mode !== 'ikev2') continue;
    assert.equal(v.keying.auth, 'pubkey');
    assert.equal(v.keying.privateKey, '/k/keys/b.key');
    assert.equal(v.keying.peerPublicKey, `/k/keys/${v.name.slice(3)}.pub`);
    assert.equal(v.keying.dpdIntervalS, LAB_DPD_INTERVAL_S);
  }
});

test('ike_auth: per-node override; both ends of a vlink must agree; only with keying ikev2', () => {
  const t = parseTopology('name: t\nkeying: ikev2\nike_auth: pubkey\nnodes: { a: {}, b: {}, c: { ike_auth: psk }, d: { ike_auth: psk } }\nsegments: { s: {} }\nunderlay: [[a, s], [b, s], [c, s], [d, s]]\nvlinks: [[a, b], [c, d]]\n');
  const m = buildModel(t);
  const all = flatActions(planLab(m, env(m)));
  assert.deepEqual(all.filter((a) => a.kind === 'authkey').map((a) => a.kind === 'authkey' && a.node), ['a', 'b']);
  assert.deepEqual(all.filter((a) => a.kind === 'psk').map((a) => a.kind === 'psk' && a.paths[0]), ['/run/iiptran/lab/t/c/keys/c-d.psk']);
  const bad = (yaml: string) => {
    try {
      parseTopology(yaml);
    } catch (e) {
      assert.ok(e instanceof TopologyError);
      return e.message;
    }
    return '';
  };
  assert.match(bad('name: t\nkeying: ikev2\nnodes: { a: {}, b: { ike_auth: pubkey } }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n'), /both ends of a vlink must use the same ike_auth/);
  assert.match(bad('name: t\nike_auth: pubkey\nnodes: { a: {}, b: {} }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n'), /ike_auth: is only used with keying: ikev2/);
  assert.match(bad('name: t\nkeying: ikev2\nike_auth: rsa\nnodes: { a: {}, b: {} }\nunderlay: [[a, b]]\nvlinks: [[a, b]]\n'), /ike_auth: must be one of psk, pubkey/);
});
