// `keying: ikev2` in topology files: one PSK per vlink written to both ends, node configs that
// the daemon accepts, and IKE roles and identities that work through the lab's NAT.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadTopology, parseTopology } from '../../src/tools/topology.js';
import { buildModel } from '../../src/tools/topology-model.js';
import { planLab, type Action } from '../../src/tools/lab/plan.js';
import { nodePaths } from '../../src/tools/lab/state.js';
import { nodeConfigYaml } from '../../src/tools/lab/node-config.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { REPO_ROOT } from '../../src/tools/pair-lab.js';

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
  const all = steps.flatMap((s) => s.actions);
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
