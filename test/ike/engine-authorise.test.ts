// Peer authorisation that waits on a lookup (authorise.ts): the key-verifier hook answers with a
// Promise, IKE_AUTH is answered when it settles, retransmissions meanwhile start no second
// check, and a lookup that never answers fails the exchange at the timeout, on both sides.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair } from './engine-harness.js';
import type { PeerKeyVerifier, PubkeyAuth } from '../../src/ike/auth-pubkey.js';
import { exportSpki, generateAuthKey } from '../../src/ike/crypto/auth.js';
import { ExchangeType } from '../../src/wire/ike/index.js';

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

function keys() {
  const k = generateAuthKey('ed25519');
  return { priv: k.privateKey, spki: exportSpki(k.publicKey) };
}

function pubkey(me: ReturnType<typeof keys>, verifyPeerKey?: PeerKeyVerifier, peer?: ReturnType<typeof keys>): PubkeyAuth {
  return { privateKey: me.priv, ourSpki: me.spki, peerSpki: peer?.spki ?? null, ...(verifyPeerKey === undefined ? {} : { verifyPeerKey }) };
}

/** A verifier whose answers the test gives, one per call. */
function deferred() {
  const calls: { spki: Buffer; answer: (ok: boolean) => void }[] = [];
  const verify: PeerKeyVerifier = (spki) => new Promise<boolean>((resolve) => calls.push({ spki, answer: resolve }));
  return { calls, verify };
}

test('responder: IKE_AUTH waits for a pending lookup; retransmissions meanwhile are dropped, not checked again', async () => {
  const [ka, kb] = [keys(), keys()];
  const lookup = deferred();
  const p = (pair = new EnginePair({ cfgA: { pubkey: pubkey(ka, undefined, kb) }, cfgB: { pubkey: pubkey(kb, lookup.verify) } }));
  p.start();
  await p.until(() => lookup.calls.length === 1);
  // 40 + 80 ms: the initiator retransmits IKE_AUTH twice while the responder waits.
  await p.advance(150);
  assert.equal(p.sent('a', ExchangeType.IKE_AUTH, false).length, 3);
  assert.equal(p.sent('b', ExchangeType.IKE_AUTH, true).length, 0, 'nothing answered before the verdict');
  assert.equal(lookup.calls.length, 1, 'one check, however often the request came');
  assert.equal(p.b.engine.stats.dropped['request-in-progress'], 2);
  assert.equal(p.state(p.b), 'CONNECTING');
  assert.deepEqual(lookup.calls[0]!.spki, ka.spki);
  lookup.calls[0]!.answer(true);
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.a.installed.length === 1);
  assert.equal(p.sent('b', ExchangeType.IKE_AUTH, true).length, 1);
  // A late copy of the request now gets the cached answer.
  const req = p.sent('a', ExchangeType.IKE_AUTH, false)[0]!.d.data;
  p.b.engine.receive(req, { addr: p.a.addr, port: 500 }, 500);
  await p.advance(1);
  const answers = p.sent('b', ExchangeType.IKE_AUTH, true);
  assert.equal(answers.length, 2);
  assert.deepEqual(answers[1]!.d.data, answers[0]!.d.data);
  assert.equal(lookup.calls.length, 1);
});

test('responder: a lookup that never answers fails IKE_AUTH at the timeout with AUTHENTICATION_FAILED, on both sides', async () => {
  const [ka, kb] = [keys(), keys()];
  const lookup = deferred();
  const p = (pair = new EnginePair({
    cfgA: { pubkey: pubkey(ka, undefined, kb) },
    cfgB: { pubkey: pubkey(kb, lookup.verify) },
    // The initiator would retransmit for 40 + 80 + 160 + 320 = 600 ms; the responder decides at 300.
    engine: { authTimeoutMs: 300 },
  }));
  p.start();
  await p.until(() => lookup.calls.length === 1);
  const t0 = p.clock.now();
  await p.until(() => p.lastError(p.a) !== '' && p.lastError(p.b) !== '');
  assert.equal(p.clock.now() - t0, 300);
  assert.match(p.lastError(p.b), /^IKE_AUTH from 192\.0\.2\.1: peer authorisation did not finish within 0\.3 s .*; answered AUTHENTICATION_FAILED$/);
  assert.match(p.lastError(p.a), /peer says AUTHENTICATION_FAILED/);
  assert.equal(p.a.installed.length + p.b.installed.length, 0);
  assert.ok(p.b.logs.some((l) => l.level >= 50 && /did not finish within/.test(l.msg)), 'logged as an error');
  // The answer arriving after the verdict changes nothing.
  lookup.calls[0]!.answer(true);
  await p.advance(10);
  assert.equal(p.b.engine.view()[0]!.sas.length, 0);
});

test('initiator: its check of the responder\'s AUTH may wait too; a refusal fails the SA, an approval establishes it', async () => {
  for (const verdict of [true, false]) {
    const [ka, kb] = [keys(), keys()];
    const lookup = deferred();
    const p = (pair = new EnginePair({ cfgA: { pubkey: pubkey(ka, lookup.verify) }, cfgB: { pubkey: pubkey(kb, undefined, ka) } }));
    p.start();
    await p.until(() => lookup.calls.length === 1);
    await p.advance(500);
    assert.equal(p.state(p.a), 'CONNECTING', 'a waits for its lookup');
    assert.equal(p.sent('a', ExchangeType.IKE_AUTH, false).length, 1, 'the response arrived: nothing to retransmit');
    assert.deepEqual(lookup.calls[0]!.spki, kb.spki);
    lookup.calls[0]!.answer(verdict);
    if (verdict) {
      await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.a.installed.length === 1);
    } else {
      await p.until(() => p.lastError(p.a) !== '' && p.lastError(p.b) !== '');
      assert.match(p.lastError(p.a), /which the key verifier refused/);
      assert.match(p.lastError(p.b), /AUTHENTICATION_FAILED after IKE_AUTH/);
    }
    pair.stop();
    pair = null;
  }
});

test('a verifier that rejects or throws is a no, not a crash', async () => {
  for (const verify of [() => Promise.reject(new Error('resolver failed')), () => { throw new Error('bug'); }] as PeerKeyVerifier[]) {
    const [ka, kb] = [keys(), keys()];
    const p = (pair = new EnginePair({ cfgA: { pubkey: pubkey(ka, undefined, kb) }, cfgB: { pubkey: pubkey(kb, verify) } }));
    p.start();
    await p.until(() => p.lastError(p.b) !== '');
    assert.match(p.lastError(p.b), /which the key verifier refused; answered AUTHENTICATION_FAILED/);
    assert.equal(p.b.engine.stats.dropped['internal-error'], undefined);
    pair.stop();
    pair = null;
  }
});
