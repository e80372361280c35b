// A reload that changes a vlink's IKE settings (peer-update.ts, engine.ts updatePeer): which
// changes leave the running SAs alone, which rekey them make-before-break, and which delete
// them and start over (fail closed: an SA set up with withdrawn credentials must not survive).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair } from './engine-harness.js';
import { planPeerUpdate, ikeSuiteAllowed, espSuiteAllowed } from '../../src/ike/peer-update.js';
import { parseEspProposals, parseIkeProposals } from '../../src/ike/proposals.js';
import { ikeSuite, ENCR_AES_GCM_16, PRF_HMAC_SHA2_256, DH_CURVE25519 } from '../../src/ike/crypto/suites.js';
import { ExchangeType } from '../../src/wire/ike/index.js';

const aes256 = ikeSuite({ encr: ENCR_AES_GCM_16, keyLenBits: 256, integ: null, prf: PRF_HMAC_SHA2_256, dh: DH_CURVE25519 })!;

describe('planPeerUpdate', () => {
  const p = new EnginePair();
  const base = p.peerConfig('a');
  const running = { ike: aes256, children: [{ suite: 'aes-gcm-256' as const, esn: false }] };
  const plan = (o: Partial<typeof base>, cred = false) => planPeerUpdate(base, { ...base, ...o }, cred, running);

  test('nothing changed: keep', () => {
    assert.deepEqual([plan({}).action, plan({}).changed], ['keep', []]);
  });

  test('identities, credentials, peer and child mode re-establish', () => {
    assert.equal(plan({}, true).action, 'reestablish');
    assert.deepEqual(plan({}, true).changed, ['credentials']);
    assert.equal(plan({ remoteId: { ...base.remoteId, text: 'x', data: Buffer.from('x') } }).action, 'reestablish');
    assert.equal(plan({ localId: { ...base.localId, data: Buffer.from([192, 0, 2, 9]) } }).action, 'reestablish');
    assert.equal(plan({ peer: '192.0.2.9' }).action, 'reestablish');
    assert.equal(plan({ childMode: 'tunnel-any' }).action, 'reestablish');
  });

  test('lifetimes rekey the SA they belong to', () => {
    assert.deepEqual([plan({ ikeLifetimeS: 600 }).action, plan({ ikeLifetimeS: 600 }).rekeyIke, plan({ ikeLifetimeS: 600 }).rekeyChild], ['rekey', true, false]);
    for (const o of [{ childLifetimeS: 60 }, { childLifetimeBytes: 1e9 }, { childLifetimePackets: 1e6 }]) {
      const u = plan(o);
      assert.deepEqual([u.action, u.rekeyIke, u.rekeyChild], ['rekey', false, true], JSON.stringify(o));
    }
  });

  test('dpd and role keep the SAs', () => {
    assert.deepEqual([plan({ dpdIntervalS: 3 }).action, plan({ dpdIntervalS: 3 }).dpd], ['keep', true]);
    assert.equal(plan({ role: 'responder' }).action, 'keep');
  });

  test('proposals: keep while they still allow the running suites, re-establish once they do not', () => {
    assert.equal(plan({ ike: parseIkeProposals(['aes128gcm16-prfsha256-x25519', 'aes256gcm16-prfsha256-x25519']) }).action, 'keep');
    assert.equal(plan({ ike: parseIkeProposals(['aes128gcm16-prfsha256-x25519']) }).action, 'reestablish');
    assert.equal(plan({ ike: parseIkeProposals(['aes256gcm16-prfsha256-ecp256']) }).action, 'reestablish', 'another DH group');
    assert.equal(plan({ esp: parseEspProposals(['chacha20poly1305-aes256gcm16']) }).action, 'keep');
    assert.equal(plan({ esp: parseEspProposals(['aes256gcm16-esn']) }).action, 'reestablish', 'ESN only');
    assert.match(plan({ esp: parseEspProposals(['aes128gcm16']) }).why, /no longer allow the CHILD_SA's suite/);
  });

  test('suite checks', () => {
    assert.equal(ikeSuiteAllowed(aes256, parseIkeProposals(['aes256gcm16-prfsha256-x25519'])), true);
    assert.equal(ikeSuiteAllowed(aes256, parseIkeProposals(['aes256gcm16-prfsha384-x25519'])), false);
    assert.equal(espSuiteAllowed({ suite: 'aes-gcm-256', esn: true }, parseEspProposals(['aes256gcm16-esn-noesn'])), true);
  });
});

describe('IkeEngine.updatePeer on an established pair', () => {
  async function established(): Promise<EnginePair> {
    const p = new EnginePair();
    p.start();
    await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.a.outSpi !== null && p.b.outSpi !== null);
    return p;
  }

  test('a dpd interval change keeps the very same SAs and sends nothing', async () => {
    const p = await established();
    try {
      const sa = p.a.engine.sa('vl-b')!;
      const sent = p.wire.length;
      const cfg = { ...p.peerConfig('a'), dpdIntervalS: 7 };
      const u = p.a.engine.updatePeer(cfg, false);
      assert.equal(u.action, 'keep');
      await p.advance(50);
      assert.equal(p.a.engine.sa('vl-b'), sa);
      assert.equal(sa.cfg, cfg, 'the running SA now reads the new settings');
      assert.equal(p.wire.length, sent);
    } finally {
      p.stop();
    }
  });

  test('a child lifetime change rekeys the CHILD_SA make-before-break; the IKE SA stays', async () => {
    const p = await established();
    try {
      const sa = p.a.engine.sa('vl-b')!;
      const out = p.a.outSpi;
      assert.equal(p.a.engine.updatePeer({ ...p.peerConfig('a'), childLifetimeS: 1800 }, false).action, 'rekey');
      await p.until(() => p.a.removed.length === 1 && p.a.outSpi !== out && p.a.outSpi !== null);
      assert.equal(p.a.engine.sa('vl-b'), sa);
      assert.equal(p.a.installed.length, 2, 'the successor was installed before the old CHILD_SA went');
      const exchanges = new Set(p.sent('a', ExchangeType.CREATE_CHILD_SA, false).map((f) => f.d.data.readUInt32BE(20)));
      assert.equal(exchanges.size, 1, 'one CREATE_CHILD_SA exchange (by message ID; retransmissions are the same one)');
    } finally {
      p.stop();
    }
  });

  test('an IKE lifetime change rekeys the IKE SA; its CHILD_SA moves over untouched', async () => {
    const p = await established();
    try {
      const sa = p.a.engine.sa('vl-b')!;
      assert.equal(p.a.engine.updatePeer({ ...p.peerConfig('a'), ikeLifetimeS: 7200 }, false).action, 'rekey');
      await p.until(() => p.a.engine.sa('vl-b') !== sa && p.a.engine.sa('vl-b')?.state === 'ESTABLISHED');
      assert.equal(p.a.removed.length, 0);
      assert.equal(p.a.engine.sa('vl-b')!.cfg.ikeLifetimeS, 7200);
    } finally {
      p.stop();
    }
  });

  test('a new PSK on one end only: the old SA is deleted and nothing comes up (fail closed)', async () => {
    const p = await established();
    try {
      const sa = p.a.engine.sa('vl-b')!;
      const u = p.a.engine.updatePeer({ ...p.peerConfig('a'), psk: Buffer.from('a brand new secret, b does not know it') }, true);
      assert.equal(u.action, 'reestablish');
      assert.equal(sa.state, 'DELETED');
      assert.equal(p.a.outSpi, null, 'no outbound SA: the vlink drops as no-sa');
      assert.ok(p.sent('a', ExchangeType.INFORMATIONAL, false).length >= 1, 'the peer was told');
      await p.until(() => p.lastError(p.a) !== '');
      assert.notEqual(p.state(p.a), 'ESTABLISHED');
      assert.equal(p.a.outSpi, null);
    } finally {
      p.stop();
    }
  });

  test('a new PSK on both ends: a new IKE SA and CHILD_SA come up under it', async () => {
    const p = await established();
    try {
      const old = p.a.engine.sa('vl-b')!;
      const psk = Buffer.from('rotated secret, both ends');
      p.b.engine.updatePeer({ ...p.peerConfig('b'), psk }, true);
      p.a.engine.updatePeer({ ...p.peerConfig('a'), psk }, true);
      await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.a.engine.sa('vl-b') !== old && p.a.outSpi !== null && p.b.outSpi !== null);
      assert.equal(old.state, 'DELETED');
      assert.ok(p.a.engine.sa('vl-b')!.cfg.psk.equals(psk));
    } finally {
      p.stop();
    }
  });

  test('proposals that no longer allow the running suite: re-established under the new ones', async () => {
    const p = await established();
    try {
      const ike = parseIkeProposals(['aes128gcm16-prfsha256-x25519']);
      assert.equal(p.b.engine.updatePeer({ ...p.peerConfig('b'), ike }, false).action, 'reestablish');
      assert.equal(p.a.engine.updatePeer({ ...p.peerConfig('a'), ike }, false).action, 'reestablish');
      await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.a.outSpi !== null);
      assert.equal(p.a.engine.sa('vl-b')!.suite!.encr.keyLenBits, 128);
    } finally {
      p.stop();
    }
  });
});
