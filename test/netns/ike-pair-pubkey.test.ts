// Two `iiptran node` daemons authenticating with raw public keys (RFC 7670): each has a key pair
// from genauthkey's code path and the other's public key as peer_public_key. IKE brings the vlink
// up, the VN pings, and `show ike` exposes each peer's key (SPKI and SHA-256 fingerprint) as it
// came in the CERT payload. With a stranger's key configured on one side, nothing comes up and
// both daemons say why.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { loadPeerPublicKey } from '../../src/control/credentials.js';
import { renderIke } from '../../src/tools/inspector.js';
import { uniquePrefix, netnsSkip } from './helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const type of ['ed25519', 'ecdsa-p256'] as const) {
  describe(`pair keyed by IKEv2 with raw public keys (${type})`, { skip }, () => {
    const lab = new PairLab({ prefix: uniquePrefix(`pk${type === 'ed25519' ? 'e' : 'p'}`), keying: 'ikev2', ikeAuth: type, ikeYaml: ['esp_proposals: [aes256gcm16]'] });
    let upMs = 0;
    before(async () => {
      const t0 = Date.now();
      await lab.up();
      upMs = Date.now() - t0;
    });
    after(async () => {
      await lab.down();
    });

    test('IKE brings the vlink up: VN ping both ways', async () => {
      const ab = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '3', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
      const ba = parsePing((await nsExec(lab.b.ns, ['ping', '-c', '3', '-i', '0.1', '-W', '2', '-I', lab.b.vn, lab.a.vn], { allowFail: true })).stdout);
      assert.equal(ab.received, 3);
      assert.equal(ba.received, 3);
    });

    test('show ike exposes each peer\'s public key, received in CERT, signed with method 14', async () => {
      for (const [n, peer] of [[lab.a, 'b'], [lab.b, 'a']] as const) {
        const spki = loadPeerPublicKey(`${lab.authKeyPath(peer)}.pub`);
        const view = (await lab.show(n, 'ike')) as Obj;
        const sa = view.peers[0].sas.find((s: Obj) => s.state === 'ESTABLISHED');
        assert.deepEqual(sa.peerPublicKey, {
          type, spki: spki.toString('base64'), sha256: createHash('sha256').update(spki).digest('hex'), source: 'cert', ipseca: null, authMethod: 14,
        });
        assert.match(renderIke(view), new RegExp(`<> 10\\.200\\.0\\.\\d \\(key ${type} sha256:${sa.peerPublicKey.sha256.slice(0, 16)}\\)`));
      }
      const ms = Number(/ESTABLISHED as initiator in (\d+) ms/.exec(lab.logs(lab.a))?.[1]);
      console.log(`# ${type} raw public keys: IKE_SA ESTABLISHED in ${ms} ms after initiation; pair up in ${upMs} ms`);
    });
  });
}

describe('pair with raw public keys, b expects a stranger\'s key for a', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('pkx'), keying: 'ikev2', ikeAuth: 'ed25519', mismatchedPsk: true, waitReachable: false });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  test('AUTHENTICATION_FAILED on both sides, said in words, and no SA installed', async () => {
    const t0 = Date.now();
    let la = '';
    let lb = '';
    while (Date.now() - t0 < 10000) {
      la = ((await lab.show(lab.a, 'ike')) as Obj).peers[0].lastError ?? '';
      lb = ((await lab.show(lab.b, 'ike')) as Obj).peers[0].lastError ?? '';
      if (la !== '' && lb !== '') break;
      await sleep(100);
    }
    assert.match(lb, /peer presented public key SHA-256 [0-9a-f]{16}…, but peer_public_key is SHA-256 [0-9a-f]{16}… \(wrong key file on one side\?\); answered AUTHENTICATION_FAILED/);
    assert.match(la, /peer says AUTHENTICATION_FAILED \(does its peer key match our private_key\?/);
    for (const n of [lab.a, lab.b]) assert.equal(((await lab.show(n, 'sas')) as Obj).sas.length, 0, `${n.name} has no SA`);
  });
});
