// Two `iiptran node` daemons keyed by IKEv2 (PSK) in their own namespaces: IKE brings the vlink
// up, the VN pings both ways, and the inspector shows the IKE SA and the SAs it installed.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { uniquePrefix, netnsSkip } from './helpers.js';
import { renderIke } from '../../src/tools/inspector.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping']);

describe('pair keyed by IKEv2 (PSK, role auto)', { skip }, () => {
  const lab = new PairLab({
    prefix: uniquePrefix('ik'),
    keying: 'ikev2',
    ikeYaml: ['ike_proposals: [aes256gcm16-prfsha256-x25519]', 'esp_proposals: [aes128gcm16]'],
    ikeKeyLog: true,
  });
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
    const ab = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    const ba = parsePing((await nsExec(lab.b.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.b.vn, lab.a.vn], { allowFail: true })).stdout);
    assert.equal(ab.received, 5, 'A -> B');
    assert.equal(ba.received, 5, 'B -> A');
  });

  test('show ike: ESTABLISHED on both, a the initiator, one CHILD_SA each, mirrored SPIs', async () => {
    const va = (await lab.show(lab.a, 'ike')) as Obj;
    const vb = (await lab.show(lab.b, 'ike')) as Obj;
    const [pa, pb] = [va.peers[0], vb.peers[0]];
    assert.equal(pa.state, 'ESTABLISHED');
    assert.equal(pb.state, 'ESTABLISHED');
    assert.equal(pa.role, 'initiator');
    assert.equal(pb.role, 'responder');
    const [sa, sb] = [pa.sas[0], pb.sas[0]];
    assert.equal(sa.spiI, sb.spiI);
    assert.equal(sa.spiR, sb.spiR);
    assert.deepEqual(sa.ike, { encr: 'ENCR_AES_GCM_16-256', integ: null, prf: 'PRF_HMAC_SHA2_256', dh: 'CURVE_25519' });
    assert.equal(sa.children.length, 1);
    assert.equal(sa.children[0].spiIn, sb.children[0].spiOut);
    assert.equal(sa.children[0].suite, 'aes-gcm-128');
    const text = renderIke(va);
    assert.match(text, /vl-b .* initiator +ESTABLISHED/);
    const ms = Number(/ESTABLISHED as initiator in (\d+) ms/.exec(lab.logs(lab.a))?.[1]);
    // Recorded for the report: IKE_SA_INIT + IKE_AUTH on a veth, from the first packet sent.
    console.log(`# IKE_SA ESTABLISHED in ${ms} ms after initiation; pair up (daemons + IKE + first ping) in ${upMs} ms`);
    assert.ok(ms < 5000, `established in ${ms} ms`);
  });

  test('show sas: the SAs IKE installed say keying ikev2 and carry traffic', async () => {
    for (const n of [lab.a, lab.b]) {
      const sas = ((await lab.show(n, 'sas')) as Obj).sas as Obj[];
      assert.equal(sas.length, 2);
      for (const s of sas) {
        assert.equal(s.keying, 'ikev2');
        assert.equal(s.suite, 'aes-gcm-128');
        assert.ok(s.packets > 0, `${n.name} ${s.dir} SA carried packets`);
      }
    }
  });

  test('the key logs agree: both daemons derived the same CHILD_SA keys in opposite roles', () => {
    const rec = (n: PairLab['a']): Obj => {
      const lines = fs.readFileSync(n.keyLogFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Obj);
      return lines.filter((l) => l.type === 'child').pop()!;
    };
    const ka = rec(lab.a);
    const kb = rec(lab.b);
    assert.equal(ka.keyIn, kb.keyOut);
    assert.equal(ka.keyOut, kb.keyIn);
    assert.equal(ka.spiIn, kb.spiOut);
  });
});
