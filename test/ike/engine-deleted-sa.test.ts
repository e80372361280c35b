// A deleted IKE SA still owes the peer its last answer for a while (RFC 7296 §2.1): when our
// response to the Delete that ends an IKE SA is lost, the peer's retransmission must get that
// same response again, not an unprotected INVALID_IKE_SPI (which the peer ignores, keeping the
// SA "deleting" for minutes) and not a log line that blames a daemon restart.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair, type InFlight } from './engine-harness.js';
import { ExchangeType, IkeMessageCodec, NotifyType, PayloadType } from '../../src/wire/ike/index.js';

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

const FAST = { rekey: { pollMs: 10, graceMs: 30 } };

/** An INFORMATIONAL response of the IKE SA with this SPIi. */
const infoResponse = (f: InFlight, spiI: bigint) =>
  f.d.data[18] === ExchangeType.INFORMATIONAL && (f.d.data[19]! & 0x20) !== 0 && f.d.data.readBigUInt64BE(0) === spiI;

const invalidIkeSpi = (f: InFlight) => {
  const m = IkeMessageCodec.decode(f.d.data);
  return m.ok && m.payloads.some((x) => x.type === PayloadType.NOTIFY && x.notifyType === NotifyType.INVALID_IKE_SPI);
};

for (const who of ['a', 'b'] as const) {
  test(`IKE SA rekeyed by ${who}: the old SA's lost Delete response is re-sent from the deleted SA, byte for byte`, async () => {
    let oldSpiI: bigint | null = null;
    let lost = 0;
    const p = (pair = new EnginePair({
      engine: FAST,
      filter: (f) => {
        // The first answer to the Delete of the old IKE SA never arrives.
        if (oldSpiI !== null && f.from !== who && lost === 0 && infoResponse(f, oldSpiI)) {
          lost++;
          return 'drop';
        }
        return 'pass';
      },
    }));
    p.start();
    await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.b.installed.length > 0);
    const [me, other] = who === 'a' ? [p.a, p.b] : [p.b, p.a];
    const old = me.engine.sa(who === 'a' ? 'vl-b' : 'vl-a')!;
    oldSpiI = old.spiI;
    assert.equal(me.engine.rekeyNow(who === 'a' ? 'vl-b' : 'vl-a', 'ike'), null);
    await p.until(() => old.state === 'DELETED' && p.a.engine.view()[0]!.sas.length === 1 && p.b.engine.view()[0]!.sas.length === 1);
    await p.advance(200);
    assert.equal(lost, 1, 'one Delete response was lost');
    const deletes = p.wire.filter((f) => f.from === who && f.d.data[18] === ExchangeType.INFORMATIONAL && (f.d.data[19]! & 0x20) === 0 && f.d.data.readBigUInt64BE(0) === oldSpiI);
    assert.equal(deletes.length, 2, 'the Delete was retransmitted once');
    const answers = p.wire.filter((f) => f.from === other.name && infoResponse(f, oldSpiI!));
    assert.equal(answers.length, 2, 'both copies of the Delete were answered');
    assert.deepEqual(answers[1]!.d.data, answers[0]!.d.data, 'the retransmission got the same protected response');
    assert.ok(!p.wire.some((f) => f.from === other.name && invalidIkeSpi(f)), 'no INVALID_IKE_SPI');
    assert.ok(!other.logs.some((l) => /did this daemon restart/.test(l.msg)), 'no talk of a restart');
    assert.equal(me.engine.stats.dropped['invalid-ike-spi'], undefined);
    assert.ok(me.logs.some((l) => /deleted after rekeying/.test(l.msg)));
    // And the new IKE SA carries on.
    assert.equal(p.state(p.a), 'ESTABLISHED');
    assert.equal(p.state(p.b), 'ESTABLISHED');
  });
}

test('a new request on an IKE SA deleted moments ago gets INVALID_IKE_SPI without the restart warning; a stranger still gets the warning', async () => {
  const p = (pair = new EnginePair({ engine: FAST }));
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.b.installed.length > 0);
  const old = p.a.engine.sa('vl-b')!;
  assert.equal(p.a.engine.rekeyNow('vl-b', 'ike'), null);
  await p.until(() => old.state === 'DELETED' && p.b.engine.view()[0]!.sas.length === 1 && p.b.engine.sa('vl-a')!.spiI !== old.spiI);
  // a forgets its own deletion and sends a fresh request on the old SA (the keys still work).
  const id = 99;
  const req = old.sk!.seal(old.header(ExchangeType.INFORMATIONAL, false, id), []);
  p.b.engine.receive(req, { addr: p.a.addr, port: 500 }, 500);
  await p.advance(5);
  assert.ok(p.wire.some((f) => f.from === 'b' && invalidIkeSpi(f)), 'answered INVALID_IKE_SPI');
  assert.equal(p.b.engine.stats.dropped['deleted-sa'], 1);
  assert.ok(p.b.logs.some((l) => /which we deleted [\d.]+ s ago; answered INVALID_IKE_SPI/.test(l.msg)));
  assert.ok(!p.b.logs.some((l) => /did this daemon restart/.test(l.msg)));
  // After the keep window the SA is just unknown.
  await p.advance(61000);
  const req2 = old.sk!.seal(old.header(ExchangeType.INFORMATIONAL, false, id + 1), []);
  p.b.engine.receive(req2, { addr: p.a.addr, port: 500 }, 500);
  await p.advance(5);
  assert.equal(p.b.engine.stats.dropped['deleted-sa'], 1);
  assert.ok((p.b.engine.stats.dropped['unknown-spi'] ?? 0) >= 1);
  assert.ok(p.b.logs.some((l) => /did this daemon restart/.test(l.msg)));
});

test('a retransmitted IKE_AUTH after AUTHENTICATION_FAILED gets the same answer again', async () => {
  let dropped = 0;
  const p = (pair = new EnginePair({
    pskA: 'the initiator believes this',
    pskB: 'the responder believes that',
    filter: (f) => (f.from === 'b' && f.d.data[18] === ExchangeType.IKE_AUTH && dropped++ === 0 ? 'drop' : 'pass'),
  }));
  p.start();
  await p.until(() => p.lastError(p.a) !== '' && p.lastError(p.b) !== '');
  assert.match(p.lastError(p.a), /peer says AUTHENTICATION_FAILED/, 'the initiator heard the verdict, not a timeout');
  const answers = p.sent('b', ExchangeType.IKE_AUTH, true);
  assert.equal(answers.length, 2);
  assert.deepEqual(answers[1]!.d.data, answers[0]!.d.data);
  assert.ok(!p.wire.some((f) => f.from === 'b' && invalidIkeSpi(f)));
});
