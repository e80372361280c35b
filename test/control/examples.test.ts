// The shipped node config examples must describe what exists: every file under
// topologies/examples/ parses, passes the daemon's whole check once the key files it names
// exist, pairs up with its peers' files where they are shipped, and the README shows node-a.yaml
// as it is.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNodeConfig } from '../../src/control/config.js';
import { checkNodeConfig } from '../../src/control/config-check.js';
import type { IkeKeying, ManualKeying, NodeConfig, VlinkConfig } from '../../src/control/config-types.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { writeAuthKeyPair } from '../../src/control/credentials.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = path.join(ROOT, 'topologies/examples');
const files = fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-examples-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the examples are the manual one and an IKEv2 set', () => {
  assert.deepEqual(files, ['node-a-ike.yaml', 'node-a.yaml', 'node-b-ike.yaml', 'node-c-ike.yaml']);
});

test('every example passes parseNodeConfig', () => {
  for (const f of files) {
    assert.doesNotThrow(() => parseNodeConfig(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'), { file: f, baseDir: EXAMPLES }), f);
  }
});

test('no example comment claims that only manual keying exists', () => {
  for (const f of files) {
    const text = fs.readFileSync(path.join(EXAMPLES, f), 'utf8');
    assert.doesNotMatch(text, /only manual|not (yet )?implemented|manual keying is implemented/i, f);
  }
});

/** Copies of the examples whose key files exist: absolute /etc/iiptran paths moved under tmp. */
function materialise(): Map<string, { file: string; cfg: NodeConfig }> {
  const out = new Map<string, { file: string; cfg: NodeConfig }>();
  for (const f of files) {
    const file = path.join(tmp, f);
    fs.writeFileSync(file, fs.readFileSync(path.join(EXAMPLES, f), 'utf8').replaceAll('/etc/iiptran/', `${tmp}/etc/iiptran/`));
    out.set(f, { file, cfg: parseNodeConfig(fs.readFileSync(file, 'utf8'), { file: f, baseDir: tmp }) });
  }
  const make = (p: string, write: (p: string) => void) => {
    if (fs.existsSync(p)) return;
    fs.mkdirSync(path.dirname(p), { recursive: true });
    write(p);
  };
  for (const { cfg } of out.values()) {
    for (const v of cfg.vlinks) {
      const k = v.keying;
      if (k.mode === 'manual') {
        for (const p of [k.keyIn, k.keyOut]) make(p, (q) => writeKeyFile(q, k.suite));
      } else if (k.auth === 'psk') {
        make(k.pskFile, (q) => fs.writeFileSync(q, '0x' + 'a5'.repeat(32) + '\n', { mode: 0o600 }));
      } else {
        make(k.privateKey, (q) => writeAuthKeyPair(q, 'ed25519'));
      }
    }
  }
  return out;
}

test('every example passes the daemon\'s whole check once its key files exist; public keys come from the peers\' examples', () => {
  const all = materialise();
  for (const [f, { file }] of all) {
    // peer_public_key files are not created here: each must be a peer example's private_key + ".pub".
    const r = checkNodeConfig(file);
    assert.ok(r.vlinks.length > 0, f);
  }
});

function ownId(cfg: NodeConfig, k: IkeKeying): string {
  return k.localId ?? cfg.underlay.address;
}

function remoteId(v: VlinkConfig, k: IkeKeying): string {
  return k.remoteId ?? v.peer;
}

test('IKEv2 examples pair up: each vlink\'s peer is a shipped example whose vlink mirrors it', () => {
  const all = [...materialise().values()].map((x) => x.cfg);
  let pairs = 0;
  for (const a of all) {
    for (const va of a.vlinks) {
      if (va.keying.mode !== 'ikev2') continue;
      const ka = va.keying;
      const b = all.find((c) => c.underlay.address === va.peer);
      assert.ok(b !== undefined, `${a.node} ${va.name}: no example for its peer ${va.peer}`);
      const vb = b.vlinks.find((v) => v.peer === a.underlay.address);
      assert.ok(vb !== undefined && vb.keying.mode === 'ikev2', `${b.node} has no ikev2 vlink back to ${a.node}`);
      const kb = vb.keying as IkeKeying;
      const at = `${a.node}.${va.name} <> ${b.node}.${vb.name}`;
      assert.equal(va.encap, vb.encap, `${at}: encap`);
      assert.equal(va.address.split('/')[1], vb.address.split('/')[1], `${at}: prefix length`);
      assert.notEqual(va.address, vb.address, `${at}: addresses`);
      assert.equal(ka.auth, kb.auth, `${at}: auth`);
      assert.equal(ka.childMode, kb.childMode, `${at}: child_mode`);
      if (ka.auth === 'psk') assert.equal(fs.readFileSync(ka.pskFile, 'utf8'), fs.readFileSync(kb.pskFile, 'utf8'), `${at}: PSK`);
      else assert.equal(ka.peerPublicKey, `${kb.privateKey}.pub`, `${at}: peer_public_key is the peer's genauthkey .pub`);
      assert.equal(remoteId(va, ka), ownId(b, kb), `${at}: remote_id = the peer's identity`);
      assert.ok(!(ka.role === 'responder' && kb.role === 'responder'), `${at}: somebody must initiate`);
      assert.ok(ka.espProposals.some((p) => kb.espProposals.includes(p)), `${at}: no common ESP proposal`);
      assert.ok(ka.ikeProposals.some((p) => kb.ikeProposals.includes(p)), `${at}: no common IKE proposal`);
      pairs++;
    }
  }
  assert.equal(pairs, 4, 'a-b and a-c, each seen from both ends');
});

test('the manual example mirrors itself: spi and key roles described in its comments hold', () => {
  const a = materialise().get('node-a.yaml')!.cfg;
  const k = a.vlinks[0]!.keying as ManualKeying;
  assert.notEqual(k.spiIn, k.spiOut);
  assert.notEqual(k.keyIn, k.keyOut);
});

test('README shows topologies/examples/node-a.yaml exactly as shipped', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('`topologies/examples/node-a.yaml`:\n\n```yaml\n');
  assert.ok(start >= 0, 'README quotes node-a.yaml');
  const body = readme.slice(readme.indexOf('```yaml\n', start) + 8);
  assert.equal(body.slice(0, body.indexOf('```\n')), fs.readFileSync(path.join(EXAMPLES, 'node-a.yaml'), 'utf8'));
});
