// Rekeying between two engines over the in-memory wire (RFC 7296 §2.8, §2.8.1, §2.18): CHILD_SA
// and IKE SA rekeys from either side, simultaneous rekeys, TEMPORARY_FAILURE, rekeys triggered
// by lifetime, packet count and sequence-number exhaustion, and PFS as a rekey responder.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair, type PairOptions, type Side } from './engine-harness.js';
import { randomBytes } from 'node:crypto';
import { ExchangeType, NotifyType, PayloadType, TransformType, type SaPayload } from '../../src/wire/ike/index.js';
import type { ChildSaInstall } from '../../src/ike/types.js';
import { answerChildRekey, childRekeyRequest, classifyCreateChild } from '../../src/ike/exchange-child.js';
import { generate } from '../../src/ike/crypto/dh.js';
import { childSaKeys } from '../../src/ike/crypto/keys.js';
import { DH_CURVE25519 } from '../../src/ike/crypto/suites.js';

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

const FAST = { rekey: { pollMs: 10, graceMs: 30 } };

async function start(p: EnginePair): Promise<EnginePair> {
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.a.installed.length > 0 && p.b.installed.length > 0);
  return p;
}

function up(o: PairOptions = {}): Promise<EnginePair> {
  return start((pair = new EnginePair({ ...o, engine: { ...FAST, ...o.engine } })));
}

/** Data-plane SAs still installed: what was installed and not removed since. */
function live(s: Side): ChildSaInstall[] {
  return s.installed.filter((c) => !s.removed.some((r) => r.spiIn === c.spiIn));
}

function children(s: Side) {
  const v = s.engine.view()[0]!;
  const cur = v.sas.filter((x) => x.state === 'ESTABLISHED');
  return cur.flatMap((x) => x.children);
}

/** Exactly one CHILD_SA pair left, the same on both sides, in the SAD and on the outbound policy. */
function assertOnePair(p: EnginePair): ChildSaInstall {
  const [la, lb] = [live(p.a), live(p.b)];
  assert.equal(la.length, 1, `a keeps one SA pair, has ${la.map((c) => c.spiIn.toString(16))}`);
  assert.equal(lb.length, 1, `b keeps one SA pair, has ${lb.map((c) => c.spiIn.toString(16))}`);
  const [ca, cb] = [la[0]!, lb[0]!];
  assert.equal(ca.spiIn, cb.spiOut);
  assert.equal(ca.spiOut, cb.spiIn);
  assert.deepEqual(ca.keyIn, cb.keyOut);
  assert.deepEqual(ca.saltIn, cb.saltOut);
  assert.deepEqual(ca.keyOut, cb.keyIn);
  assert.equal(p.a.outSpi, ca.spiOut, 'a sends on the surviving SA');
  assert.equal(p.b.outSpi, cb.spiOut, 'b sends on the surviving SA');
  const [va, vb] = [children(p.a), children(p.b)];
  assert.equal(va.length, 1);
  assert.equal(vb.length, 1);
  assert.equal(va[0]!.spiIn, '0x' + ca.spiIn.toString(16).padStart(8, '0'));
  return ca;
}

const settled = (p: EnginePair, installs: number) => p.until(() =>
  p.a.installed.length >= installs && p.b.installed.length >= installs && live(p.a).length === 1 && live(p.b).length === 1 &&
  children(p.a).length === 1 && children(p.b).length === 1 && p.a.outSpi !== null && p.b.outSpi !== null &&
  live(p.a)[0]!.spiOut === p.a.outSpi && live(p.b)[0]!.spiOut === p.b.outSpi);

for (const who of ['a', 'b'] as const) {
  test(`CHILD_SA rekey initiated by ${who} (${who === 'a' ? 'IKE initiator' : 'IKE responder'}): new pair, old pair deleted, responder switches on the Delete`, async () => {
    const p = await up();
    const old = p.a.installed[0]!;
    const [me, other] = who === 'a' ? [p.a, p.b] : [p.b, p.a];
    assert.equal(me.engine.rekeyNow(me.name === 'a' ? 'vl-b' : 'vl-a', 'child'), null);
    await settled(p, 2);
    const now = assertOnePair(p);
    assert.notEqual(now.spiIn, old.spiIn);
    assert.notDeepEqual(now.keyIn, old.keyIn);
    // Old pair: gone from both data planes (after the grace period).
    await p.until(() => p.a.removed.some((r) => r.spiIn === old.spiIn) && p.b.removed.some((r) => r.spiOut === old.spiIn));
    // Only the responder of the CREATE_CHILD_SA deferred its outbound switch, and it did switch.
    const newAtOther = other.installed[1]!;
    assert.deepEqual(other.deferred, [newAtOther.spiOut]);
    assert.deepEqual(other.activated.map((c) => c.spiOut), [newAtOther.spiOut]);
    assert.deepEqual(me.deferred, []);
    // The exchange: one CREATE_CHILD_SA and one INFORMATIONAL from the rekey initiator.
    assert.equal(p.sent(me.name, ExchangeType.CREATE_CHILD_SA, false).length, 1);
    assert.equal(p.sent(me.name, ExchangeType.INFORMATIONAL, false).length, 1);
    assert.equal(p.state(p.a), 'ESTABLISHED');
    // The IKE SA is untouched.
    assert.equal(p.a.engine.view()[0]!.sas.length, 1);
  });
}

for (const who of ['a', 'b'] as const) {
  test(`IKE SA rekey initiated by ${who}: new SPIs and keys, CHILD_SA moves along untouched, old IKE SA deleted, the new one works`, async () => {
    const p = await up();
    const oldA = p.a.engine.sa('vl-b')!;
    const oldSpis = [oldA.spiI, oldA.spiR];
    const [me] = who === 'a' ? [p.a] : [p.b];
    assert.equal(me.engine.rekeyNow(who === 'a' ? 'vl-b' : 'vl-a', 'ike'), null);
    await p.until(() => {
      const [va, vb] = [p.a.engine.view()[0]!, p.b.engine.view()[0]!];
      return va.sas.length === 1 && vb.sas.length === 1 && p.a.engine.sa('vl-b') !== oldA && p.b.engine.sa('vl-a')?.spiI !== oldSpis[0];
    });
    const [na, nb] = [p.a.engine.sa('vl-b')!, p.b.engine.sa('vl-a')!];
    assert.equal(na.spiI, nb.spiI);
    assert.equal(na.spiR, nb.spiR);
    assert.ok(!oldSpis.includes(na.spiI) && !oldSpis.includes(na.spiR));
    // The rekey initiator is the initiator of the new SA (§2.18).
    assert.equal((who === 'a' ? na : nb).role, 'initiator');
    assert.deepEqual(na.keys!.skD, nb.keys!.skD);
    assert.notDeepEqual(na.keys!.skD, oldA.keys!.skD);
    assert.equal(oldA.state, 'DELETED');
    assert.equal(na.children.length, 1);
    assert.deepEqual(p.a.removed, [], 'no CHILD_SA was touched');
    assert.deepEqual(p.b.removed, []);
    const logged = (s: Side) => s.keyLog.filter((r) => r.type === 'ike').pop()!;
    assert.equal(logged(p.a).skD, logged(p.b).skD);
    assert.equal(logged(p.a).spiI, na.spiI.toString(16).padStart(16, '0'));
    // Message IDs restart at 0 on the new SA, and its keys work: a CHILD_SA rekey over it.
    assert.equal(p.a.engine.rekeyNow('vl-b', 'child'), null);
    await settled(p, 2);
    assertOnePair(p);
    assert.equal(na.state, 'ESTABLISHED');
  });
}

test('simultaneous CHILD_SA rekey (§2.8.1): exactly one surviving pair on both sides, redundant and old SAs deleted', async () => {
  // Until a's own exchange has been both the redundant one and the survivor (random nonces).
  const seen = new Set<string>();
  for (let i = 0; i < 24 && seen.size < 2; i++) {
    const p = await up();
    const old = p.a.installed[0]!;
    // Same loop turn: both requests are on the wire before either arrives.
    assert.equal(p.a.engine.rekeyNow('vl-b', 'child'), null);
    assert.equal(p.b.engine.rekeyNow('vl-a', 'child'), null);
    await settled(p, 2);
    // Let the deletes and grace periods finish, then look again: still exactly one pair.
    await p.until(() => p.a.removed.some((r) => r.spiIn === old.spiIn) && p.b.removed.some((r) => r.spiIn === old.spiOut));
    await p.advance(100);
    const now = assertOnePair(p);
    assert.notEqual(now.spiIn, old.spiIn);
    assert.equal(p.sent('a', ExchangeType.CREATE_CHILD_SA, false).length, 1);
    assert.equal(p.sent('b', ExchangeType.CREATE_CHILD_SA, false).length, 1);
    assert.ok(p.a.logs.some((l) => /simultaneous rekey/.test(l.msg)));
    const aLost = p.a.logs.some((l) => /simultaneous rekey; ours .* is redundant/.test(l.msg));
    const bLost = p.b.logs.some((l) => /simultaneous rekey; ours .* is redundant/.test(l.msg));
    assert.notEqual(aLost, bLost, 'exactly one side deleted its own new SA as redundant');
    seen.add(aLost ? 'a' : 'b');
    // Everything ever installed but the survivor was removed again, on both sides.
    for (const s of [p.a, p.b]) {
      for (const c of s.installed) if (c.spiIn !== live(s)[0]!.spiIn) assert.ok(s.removed.some((r) => r.spiIn === c.spiIn), `${s.name} removed 0x${c.spiIn.toString(16)}`);
    }
    pair!.stop();
    pair = null;
  }
  assert.equal(seen.size, 2, 'both nonce orders were exercised');
});

test('simultaneous IKE SA rekey (§2.8.2): one new IKE SA survives on both sides, with the CHILD_SA', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 24 && seen.size < 2; i++) {
    const p = await up();
    const oldA = p.a.engine.sa('vl-b')!;
    assert.equal(p.a.engine.rekeyNow('vl-b', 'ike'), null);
    assert.equal(p.b.engine.rekeyNow('vl-a', 'ike'), null);
    await p.until(() => p.a.engine.view()[0]!.sas.length === 1 && p.b.engine.view()[0]!.sas.length === 1 && p.a.engine.sa('vl-b') !== oldA);
    const [na, nb] = [p.a.engine.sa('vl-b')!, p.b.engine.sa('vl-a')!];
    assert.equal(na.spiI, nb.spiI);
    assert.equal(na.spiR, nb.spiR);
    assert.deepEqual(na.keys!.skD, nb.keys!.skD);
    assert.equal(na.children.length, 1);
    assert.equal(nb.children.length, 1);
    assert.deepEqual(p.a.removed, []);
    assert.deepEqual(p.b.removed, []);
    const aLost = p.a.logs.some((l) => /simultaneous rekey, the peer's stands/.test(l.msg));
    const bLost = p.b.logs.some((l) => /simultaneous rekey, the peer's stands/.test(l.msg));
    assert.notEqual(aLost, bLost, 'exactly one side deleted its own new IKE SA as redundant');
    seen.add(aLost ? 'a' : 'b');
    // The survivor carries traffic on: a CHILD_SA rekey over it.
    assert.equal(p.b.engine.rekeyNow('vl-a', 'child'), null);
    await settled(p, 2);
    assertOnePair(p);
    pair!.stop();
    pair = null;
  }
  assert.equal(seen.size, 2, 'both nonce orders were exercised');
});

test('a CHILD_SA rekey crossing an IKE SA rekey is answered TEMPORARY_FAILURE, and both succeed on retry', async () => {
  const p = await up();
  const oldA = p.a.engine.sa('vl-b')!;
  assert.equal(p.a.engine.rekeyNow('vl-b', 'ike'), null);
  assert.equal(p.b.engine.rekeyNow('vl-a', 'child'), null);
  await p.until(() => p.a.logs.some((l) => /TEMPORARY_FAILURE/.test(l.msg)) && p.b.logs.some((l) => /TEMPORARY_FAILURE/.test(l.msg)));
  await p.until(() => p.a.engine.sa('vl-b') !== oldA && p.a.engine.view()[0]!.sas.length === 1 && p.b.engine.view()[0]!.sas.length === 1 && p.b.installed.length >= 2, 8000);
  await settled(p, 2);
  assertOnePair(p);
});

test('a CHILD_SA rekey for an SPI the responder does not have gets CHILD_SA_NOT_FOUND', async () => {
  const p = await up();
  const sa = p.a.engine.sa('vl-b')!;
  sa.children[0]!.spiIn = 0x1234567;
  assert.equal(p.a.engine.rekeyNow('vl-b', 'child'), null);
  await p.until(() => p.b.logs.some((l) => /CHILD_SA_NOT_FOUND/.test(l.msg)) && p.a.logs.some((l) => /CHILD_SA_NOT_FOUND/.test(l.msg)));
});

test('lifetime: the CHILD_SA is rekeyed at 85-95 % of child_lifetime_s, and show ike says when', async () => {
  const p = (pair = new EnginePair({ cfgA: { childLifetimeS: 1 }, cfgB: { childLifetimeS: 1 }, engine: FAST }));
  const t0 = p.clock.now();
  await start(p);
  const v = p.a.engine.view()[0]!.sas[0]! as unknown as { children: { rekeyInSeconds: number | null }[]; rekeyInSeconds: number | null };
  assert.ok(v.children[0]!.rekeyInSeconds !== null && v.children[0]!.rekeyInSeconds <= 1);
  assert.ok(v.rekeyInSeconds !== null && v.rekeyInSeconds > 12000);
  await settled(p, 2);
  const ms = p.clock.now() - t0;
  assert.ok(ms >= 800 && ms < 1500, `rekeyed after ${ms} ms`);
  assert.ok([p.a, p.b].some((s) => s.logs.some((l) => /rekeying CHILD_SA .* \(lifetime\)/.test(l.msg))));
});

test('packets: a CHILD_SA past 85-95 % of child_lifetime_packets is rekeyed', async () => {
  const p = await up({ cfgA: { childLifetimePackets: 1000 } });
  const c = p.a.installed[0]!;
  p.a.usage.set(c.spiIn, { inPackets: 10, inBytes: 1000, outPackets: 800, outBytes: 80000, outSeq: 800 });
  await p.advance(80);
  assert.equal(p.a.installed.length, 1, 'below 85 %: no rekey');
  p.a.usage.set(c.spiIn, { inPackets: 10, inBytes: 1000, outPackets: 951, outBytes: 95100, outSeq: 951 });
  await settled(p, 2);
  assert.ok(p.a.logs.some((l) => /rekeying CHILD_SA .* \(951 packets\)/.test(l.msg)));
  assertOnePair(p);
});

test('sequence numbers: a non-ESN CHILD_SA nearing 2^32 is rekeyed before it is exhausted', async () => {
  const p = await up();
  const c = p.b.installed[0]!;
  p.b.usage.set(c.spiIn, { inPackets: 0, inBytes: 0, outPackets: 2 ** 32 - 2 ** 20 - 1, outBytes: 0, outSeq: 2 ** 32 - 2 ** 20 - 1 });
  await p.advance(60);
  assert.equal(p.b.installed.length, 1);
  p.b.usage.set(c.spiIn, { inPackets: 0, inBytes: 0, outPackets: 2 ** 32 - 2 ** 20, outBytes: 0, outSeq: 2 ** 32 - 2 ** 20 });
  await settled(p, 2);
  assert.ok(p.b.logs.some((l) => /rekeying CHILD_SA .*sequence number/.test(l.msg)));
});

test('a lost CREATE_CHILD_SA response is retransmitted and the cached answer keeps both sides consistent', async () => {
  let dropped = 0;
  const p = await up({
    filter: (f) => {
      if (f.from === 'b' && f.d.data[18] === ExchangeType.CREATE_CHILD_SA && dropped === 0) {
        dropped++;
        return 'drop';
      }
      return 'pass';
    },
  });
  assert.equal(p.a.engine.rekeyNow('vl-b', 'child'), null);
  await settled(p, 2);
  assert.equal(dropped, 1);
  assertOnePair(p);
  assert.equal(p.b.installed.length, 2, 'the retransmitted request did not make a second SA');
});

test('PFS: a rekey offer with a DH group and KE gets KEr back, and g^ir enters KEYMAT (RFC 7296 §2.17)', async () => {
  const p = await up();
  const sa = p.b.engine.sa('vl-a')!;
  const ni = randomBytes(32);
  const dh = generate(DH_CURVE25519);
  const request = (keGroup: number) => {
    const ps = childRekeyRequest(p.peerConfig('a'), p.a.installed[0]!.spiIn, 0x4242, ni);
    const saP = ps.find((x) => x.type === PayloadType.SA) as SaPayload;
    saP.proposals[0]!.transforms.push({ type: TransformType.DH, id: DH_CURVE25519 });
    ps.splice(ps.indexOf(saP) + 2, 0, { type: PayloadType.KE, group: keGroup, data: keGroup === DH_CURVE25519 ? dh.publicValue : generate(19).publicValue });
    const req = classifyCreateChild(ps);
    assert.equal(req.kind, 'child-rekey');
    return answerChildRekey(sa, req as Extract<typeof req, { kind: 'child-rekey' }>, ps, 0x5151);
  };
  const ans = request(DH_CURVE25519);
  assert.ok(ans.ok, ans.ok ? '' : ans.why);
  const ke = ans.reply.find((x) => x.type === PayloadType.KE) as { group: number; data: Buffer };
  assert.equal(ke.group, DH_CURVE25519);
  const answered = (ans.reply.find((x) => x.type === PayloadType.SA) as SaPayload).proposals[0]!;
  assert.ok(answered.transforms.some((t) => t.type === TransformType.DH && t.id === DH_CURVE25519));
  const gir = dh.computeShared(ke.data) as Buffer;
  const k = childSaKeys(sa.suite!.prf.id, sa.keys!.skD, ans.install.suite, ni, ans.nr, gir);
  assert.deepEqual(ans.install.keyIn, k.initiatorToResponder.key);
  assert.deepEqual(ans.install.keyOut, k.responderToInitiator.key);
  const noPfs = childSaKeys(sa.suite!.prf.id, sa.keys!.skD, ans.install.suite, ni, ans.nr);
  assert.notDeepEqual(ans.install.keyIn, noPfs.initiatorToResponder.key);
  // A KE for a group the proposal does not name: INVALID_KE_PAYLOAD naming the one it does.
  const bad = request(19);
  assert.ok(!bad.ok);
  const n = bad.reply[0] as { notifyType: number; data: Buffer };
  assert.equal(n.notifyType, NotifyType.INVALID_KE_PAYLOAD);
  assert.equal(n.data.readUInt16BE(0), DH_CURVE25519);
});
