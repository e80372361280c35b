// IKE_SA_INIT + IKE_AUTH between two engines over an in-memory wire: success, wrong PSK, no
// common proposal, INVALID_KE_PAYLOAD, retransmission both ways.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair } from './engine-harness.js';
import { ExchangeType } from '../../src/wire/ike/index.js';
import { renderIke } from '../../src/tools/inspector.js';

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

function established(p: EnginePair): Promise<void> {
  return p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.a.installed.length > 0 && p.b.installed.length > 0);
}

function assertMirrored(p: EnginePair): void {
  const [ca, cb] = [p.a.installed[0]!, p.b.installed[0]!];
  assert.equal(ca.suite, cb.suite);
  assert.equal(ca.spiIn, cb.spiOut);
  assert.equal(ca.spiOut, cb.spiIn);
  assert.deepEqual(ca.keyIn, cb.keyOut);
  assert.deepEqual(ca.saltIn, cb.saltOut);
  assert.deepEqual(ca.keyOut, cb.keyIn);
  assert.deepEqual(ca.saltOut, cb.saltIn);
  assert.notDeepEqual(ca.keyIn, ca.keyOut, 'each direction has its own key');
}

for (const [ike, esp, suiteName, child] of [
  ['aes256gcm16-prfsha256-x25519', 'aes256gcm16', 'ENCR_AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519', 'aes-gcm-256'],
  ['aes128-sha256-ecp256', 'aes128gcm16', 'ENCR_AES_CBC-128/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256', 'aes-gcm-128'],
  ['aes256-sha384-x25519', 'chacha20poly1305', 'ENCR_AES_CBC-256/AUTH_HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/CURVE_25519', 'chacha20-poly1305'],
  ['aes128gcm16-prfsha384-ecp256', 'aes256gcm16-esn', 'ENCR_AES_GCM_16-128/PRF_HMAC_SHA2_384/ECP_256', 'aes-gcm-256'],
] as const) {
  test(`PSK right: both ESTABLISHED with ${ike} / ${esp}, CHILD keys mirrored`, async () => {
    const p = (pair = new EnginePair({ ikeA: [ike], ikeB: [ike], espA: [esp], espB: [esp] }));
    p.start();
    await established(p);
    const va = p.a.engine.view()[0]!.sas[0]!;
    const vb = p.b.engine.view()[0]!.sas[0]!;
    assert.equal(va.role, 'initiator');
    assert.equal(vb.role, 'responder');
    assert.equal(va.spiI, vb.spiI);
    assert.equal(va.spiR, vb.spiR);
    assert.equal([va.ike!.encr, va.ike!.integ, va.ike!.prf, va.ike!.dh].filter(Boolean).join('/'), suiteName);
    assert.equal(p.a.installed[0]!.suite, child);
    assert.equal(p.a.installed[0]!.esn, esp.endsWith('-esn'));
    assertMirrored(p);
    assert.equal(va.children[0]!.spiIn, vb.children[0]!.spiOut);
    // Both ends derived the same IKE SA keys.
    const ka = p.a.keyLog.find((r) => r['type'] === 'ike')!;
    const kb = p.b.keyLog.find((r) => r['type'] === 'ike')!;
    assert.equal(ka['skD'], kb['skD']);
    assert.equal(ka['skEi'], kb['skEi']);
    assert.ok(p.a.logs.some((l) => /ESTABLISHED as initiator in \d+ ms/.test(l.msg)));
  });
}

test('wrong PSK: AUTHENTICATION_FAILED on both sides, nothing installed', async () => {
  const p = (pair = new EnginePair({ pskA: 'the initiator believes this', pskB: 'the responder believes that' }));
  p.start();
  await p.until(() => p.lastError(p.a) !== '' && p.lastError(p.b) !== '');
  assert.match(p.lastError(p.b), /IKE_AUTH from 192\.0\.2\.1: authentication failed \(PSK mismatch\?\); answered AUTHENTICATION_FAILED/);
  assert.match(p.lastError(p.a), /IKE_AUTH with 192\.0\.2\.2: peer says AUTHENTICATION_FAILED \(PSK mismatch\?/);
  assert.equal(p.a.installed.length + p.b.installed.length, 0);
  assert.equal(p.a.engine.view()[0]!.sas.length, 0);
  assert.equal(p.b.engine.view()[0]!.sas.length, 0);
  assert.equal(p.state(p.a), 'WAITING', 'the initiator will try again later');
  assert.ok(p.b.logs.some((l) => l.level >= 50 && /PSK mismatch/.test(l.msg)), 'the responder logs an error an operator can act on');
});

test('no common IKE proposal: NO_PROPOSAL_CHOSEN', async () => {
  const p = (pair = new EnginePair({ ikeA: ['aes256gcm16-prfsha256-x25519'], ikeB: ['aes128-sha256-x25519'] }));
  p.start();
  await p.until(() => p.lastError(p.a) !== '');
  assert.match(p.lastError(p.a), /IKE_SA_INIT to 192\.0\.2\.2: peer refused with NO_PROPOSAL_CHOSEN/);
  assert.ok(p.b.logs.some((l) => /no proposal in common.*NO_PROPOSAL_CHOSEN/.test(l.msg)));
  assert.equal(p.b.engine.view()[0]!.sas.length, 0, 'the responder kept no state');
});

test('no common IKE proposal: the responder logs what the peer offered next to ours', async () => {
  const p = (pair = new EnginePair({ ikeA: ['aes256gcm16-prfsha256-x25519', 'aes128-sha256-ecp256'], ikeB: ['aes128-sha384-x25519'] }));
  p.start();
  await p.until(() => p.lastError(p.a) !== '');
  const line = p.b.logs.find((l) => /no proposal in common/.test(l.msg))!.msg;
  assert.match(line, /peer offered aes256gcm16-prfsha256-x25519, aes128-sha256-prfsha256-ecp256; ours: aes128-sha384-x25519\)$/);
});

test('a refused IKE_SA_INIT: the responder has no SA left, and show ike still says why', async () => {
  const p = (pair = new EnginePair({ ikeA: ['aes256gcm16-prfsha256-x25519'], ikeB: ['aes128-sha384-x25519'] }));
  p.start();
  await p.until(() => p.lastError(p.a) !== '');
  const v = p.b.engine.view()[0]!;
  assert.equal(v.state, 'IDLE');
  assert.equal(v.sas.length, 0);
  assert.match(v.lastError ?? '', /^IKE_SA_INIT from 192\.0\.2\.1: no proposal in common .*NO_PROPOSAL_CHOSEN \(peer offered aes256gcm16/);
  assert.match(renderIke(JSON.parse(JSON.stringify({ peers: p.b.engine.view(), stats: p.b.engine.stats }))), /IDLE .*NO_PROPOSAL_CHOSEN/);
});

test('INVALID_KE_PAYLOAD is negotiation, not a failure: the responder shows no error afterwards', async () => {
  const p = (pair = new EnginePair({ ikeA: ['aes256gcm16-prfsha256-x25519-ecp256'], ikeB: ['aes256gcm16-prfsha256-ecp256'] }));
  p.start();
  await p.until(() => p.state(p.b) === 'ESTABLISHED');
  assert.equal(p.b.engine.view()[0]!.lastError, null);
});

test('no common ESP proposal: IKE SA established, CHILD_SA refused with NO_PROPOSAL_CHOSEN', async () => {
  const p = (pair = new EnginePair({ espA: ['aes128gcm16'], espB: ['chacha20poly1305'] }));
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED');
  await p.advance(20);
  assert.equal(p.a.installed.length + p.b.installed.length, 0);
  assert.ok(p.a.logs.some((l) => /peer refused the CHILD_SA: NO_PROPOSAL_CHOSEN/.test(l.msg)));
});

test('no common ESP proposal: the responder logs what the peer offered next to ours', async () => {
  const p = (pair = new EnginePair({ espA: ['aes128gcm16-esn'], espB: ['chacha20poly1305'] }));
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED');
  assert.ok(p.b.logs.some((l) => /CHILD_SA refused: no ESP proposal in common with our esp_proposals \(peer offered aes128gcm16-esn; ours: chacha20poly1305\)/.test(l.msg)));
  // The IKE SA stands but carries nothing: show ike says so at both ends.
  assert.match(p.lastError(p.b), /^IKE_AUTH from 192\.0\.2\.1: IKE_SA established, CHILD_SA refused: no ESP proposal in common .*peer offered aes128gcm16-esn/);
  assert.match(p.lastError(p.a), /peer refused the CHILD_SA: NO_PROPOSAL_CHOSEN; the vlink stays without an SA/);
});

test('INVALID_KE_PAYLOAD: the responder asks for its group, the initiator retries with it', async () => {
  const p = (pair = new EnginePair({ ikeA: ['aes256gcm16-prfsha256-x25519-ecp256'], ikeB: ['aes256gcm16-prfsha256-ecp256'] }));
  p.start();
  await established(p);
  const inits = p.sent('a', ExchangeType.IKE_SA_INIT, false);
  assert.equal(inits.length, 2, 'one IKE_SA_INIT with x25519, one with ecp256');
  assert.equal(inits[0]!.d.data.readBigUInt64BE(0), inits[1]!.d.data.readBigUInt64BE(0), 'same SPIi on the retry');
  assert.equal(p.a.engine.view()[0]!.sas[0]!.ike!.dh, 'ECP_256');
  assert.ok(p.a.logs.some((l) => /peer asked for DH group 19 \(INVALID_KE_PAYLOAD\); retrying/.test(l.msg)));
  assertMirrored(p);
});

test('the responder prefers the group the initiator already sent', async () => {
  const p = (pair = new EnginePair({ ikeA: ['aes256gcm16-prfsha256-ecp256-x25519'], ikeB: ['aes256gcm16-prfsha256-x25519-ecp256'] }));
  p.start();
  await established(p);
  assert.equal(p.sent('a', ExchangeType.IKE_SA_INIT, false).length, 1);
  assert.equal(p.a.engine.view()[0]!.sas[0]!.ike!.dh, 'ECP_256');
});

test('a retransmitted request gets the cached response, byte for byte, and changes nothing', async () => {
  const p = (pair = new EnginePair({ filter: (f) => (f.d.data[18] === ExchangeType.IKE_AUTH && f.from === 'a' ? 'dup' : 'pass') }));
  p.start();
  await established(p);
  await p.until(() => p.sent('b', ExchangeType.IKE_AUTH, true).length === 2);
  const [r1, r2] = p.sent('b', ExchangeType.IKE_AUTH, true);
  assert.deepEqual(r1!.d.data, r2!.d.data, 'the same bytes, not a new encryption');
  assert.equal(p.b.installed.length, 1, 'the duplicate did not create a second CHILD_SA');
  assert.equal(p.sent('a', ExchangeType.IKE_AUTH, false).length, 1, 'the initiator did not need to retransmit');
});

test('a lost IKE_SA_INIT response and a lost IKE_AUTH response are recovered by retransmission', async () => {
  const lost = new Set<number>();
  const p = (pair = new EnginePair({
    filter: (f) => {
      const t = f.d.data[18]!;
      if (f.from === 'b' && !lost.has(t)) {
        lost.add(t);
        return 'drop';
      }
      return 'pass';
    },
  }));
  p.start();
  await established(p);
  const initReqs = p.sent('a', ExchangeType.IKE_SA_INIT, false);
  const authReqs = p.sent('a', ExchangeType.IKE_AUTH, false);
  assert.equal(initReqs.length, 2);
  assert.equal(authReqs.length, 2);
  assert.deepEqual(authReqs[0]!.d.data, authReqs[1]!.d.data, 'a retransmission is the same bytes');
  assert.equal(p.b.engine.view()[0]!.sas.length, 1, 'the repeated IKE_SA_INIT did not create a second SA');
  assertMirrored(p);
});

test('a silent peer: the initiator gives up after the configured tries with exponential backoff', async () => {
  const p = (pair = new EnginePair({ filter: (f) => (f.from === 'a' ? 'drop' : 'pass') }));
  const t0 = p.clock.now();
  p.start();
  await p.until(() => p.lastError(p.a) !== '', 5000);
  const took = p.clock.now() - t0;
  assert.match(p.lastError(p.a), /no answer to IKE_SA_INIT from 192\.0\.2\.2 after 4 tries/);
  assert.equal(p.sent('a', ExchangeType.IKE_SA_INIT).length, 4);
  // 40 + 80 + 160 + 320 ms.
  assert.ok(took >= 580 && took < 2000, `gave up after ${took} ms`);
});

test('both sides configured as responders: nobody initiates', async () => {
  const p = (pair = new EnginePair({ roleA: 'responder' }));
  p.start();
  await p.advance(50);
  assert.equal(p.wire.length, 0);
  assert.equal(p.state(p.a), 'IDLE');
});

test('an empty INFORMATIONAL is answered, a Delete of the IKE SA ends it', async () => {
  const p = (pair = new EnginePair());
  p.start();
  await established(p);
  const sa = p.b.engine.sa('vl-a')!;
  // The responder sends requests to the initiator, which answers them.
  const { ExchangeType: X, PayloadType, ProtocolId } = await import('../../src/wire/ike/index.js');
  const id = sa.takeRequestId();
  sa.request(X.INFORMATIONAL, id, sa.sk!.seal(sa.header(X.INFORMATIONAL, false, id), []), () => {});
  await p.until(() => p.sent('a', X.INFORMATIONAL, true).length === 1);
  assert.equal(p.state(p.a), 'ESTABLISHED');
  await p.until(() => !sa.requestPending);
  const id2 = sa.takeRequestId();
  sa.request(X.INFORMATIONAL, id2, sa.sk!.seal(sa.header(X.INFORMATIONAL, false, id2), [{ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }]), () => {});
  await p.until(() => p.state(p.a) !== 'ESTABLISHED');
  assert.equal(p.a.removed.length, 1, "the initiator's CHILD_SA left the data plane");
  assert.match(p.lastError(p.a), /deleted the IKE SA/);
});
