// Which IP protocols a vlink's CHILD_SA covers (issue #10): we offer (host, 4) and (host, 41) on
// both sides; a responder may narrow to 4 alone, never drop 4. The agreed set is recorded on the
// installed CHILD_SA and in `show ike`, so IPv6 inner packets (next header 41) can be held to it.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair, A, B } from './engine-harness.js';
import { tsPayload } from '../../src/ike/child.js';
import { checkChildAnswer, checkChildRequest, childProtocols, childTsPayloads } from '../../src/ike/tunnel-any.js';
import { notify, NotifyType, PayloadType, TS_IPV4_ADDR_RANGE, type PayloadRepr, type TsPayload } from '../../src/wire/ike/index.js';

const cfg = { local: A, peer: B };
const transport: PayloadRepr[] = [notify(NotifyType.USE_TRANSPORT_MODE)];
const ts = (type: typeof PayloadType.TSi | typeof PayloadType.TSr, addr: string, protos: number[]) => tsPayload(type, addr, protos);

function wide(type: typeof PayloadType.TSi | typeof PayloadType.TSr, proto: number): TsPayload {
  return { type, selectors: [{ tsType: TS_IPV4_ADDR_RANGE, ipProtocol: proto, startPort: 0, endPort: 65535, startAddress: 0xc0000200, endAddress: 0xc00002ff }] };
}

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

test('the request names both protocols for the same host pair, 4 first', () => {
  const req = childTsPayloads(cfg, 'requester');
  assert.deepEqual(req.tsi.selectors.map((s) => s.ipProtocol), [4, 41]);
  assert.deepEqual(req.tsr.selectors.map((s) => s.ipProtocol), [4, 41]);
  assert.deepEqual(childTsPayloads(cfg, 'requester', [4]).tsi.selectors.map((s) => s.ipProtocol), [4]);
});

test('responder: covers what the request covers, narrows a wide or any-protocol offer, refuses one without 4', () => {
  const peerSide = { local: B, peer: A };
  // The initiator (A) offers both: we answer both.
  assert.equal(checkChildRequest(peerSide, transport, ts(PayloadType.TSi, A, [4, 41]), ts(PayloadType.TSr, B, [4, 41])), null);
  assert.deepEqual(childProtocols(peerSide, 'responder', ts(PayloadType.TSi, A, [4, 41]), ts(PayloadType.TSr, B, [4, 41])), [4, 41]);
  // An old-style peer (strongSwan dynamic[ipencap]) offers 4 only: 4 only.
  assert.deepEqual(childProtocols(peerSide, 'responder', ts(PayloadType.TSi, A, [4]), ts(PayloadType.TSr, B, [4])), [4]);
  // 41 on one side only: a kernel policy needs it on both, so 4.
  assert.deepEqual(childProtocols(peerSide, 'responder', ts(PayloadType.TSi, A, [4, 41]), ts(PayloadType.TSr, B, [4])), [4]);
  // A /24 with protocol 0 covers both.
  assert.deepEqual(childProtocols(peerSide, 'responder', wide(PayloadType.TSi, 0), wide(PayloadType.TSr, 0)), [4, 41]);
  // 41 alone, or TCP: refused.
  const r41 = checkChildRequest(peerSide, transport, ts(PayloadType.TSi, A, [41]), ts(PayloadType.TSr, B, [41]));
  assert.equal(r41?.refuse, NotifyType.TS_UNACCEPTABLE);
  assert.equal(checkChildRequest(peerSide, transport, wide(PayloadType.TSi, 6), wide(PayloadType.TSr, 6))?.refuse, NotifyType.TS_UNACCEPTABLE);
  // The answer echoes the agreed protocols.
  assert.deepEqual(childTsPayloads(peerSide, 'responder', [4]).tsi.selectors.map((s) => s.ipProtocol), [4]);
});

test('initiator: accepts narrowing to 4 or to both, records it; refuses 41 alone, other hosts, other protocols', () => {
  const both = [ts(PayloadType.TSi, A, [4, 41]), ts(PayloadType.TSr, B, [4, 41])] as const;
  assert.equal(checkChildAnswer(cfg, transport, ...both), null);
  assert.deepEqual(childProtocols(cfg, 'requester', ...both), [4, 41]);
  const four = [ts(PayloadType.TSi, A, [4]), ts(PayloadType.TSr, B, [4])] as const;
  assert.equal(checkChildAnswer(cfg, transport, ...four), null);
  assert.deepEqual(childProtocols(cfg, 'requester', ...four), [4]);
  // Order in the answer does not matter.
  assert.deepEqual(childProtocols(cfg, 'requester', ts(PayloadType.TSi, A, [41, 4]), ts(PayloadType.TSr, B, [41, 4])), [4, 41]);
  // Mismatched sides: only what both name.
  assert.deepEqual(childProtocols(cfg, 'requester', ts(PayloadType.TSi, A, [4, 41]), ts(PayloadType.TSr, B, [4])), [4]);
  assert.match(checkChildAnswer(cfg, transport, ts(PayloadType.TSi, A, [41]), ts(PayloadType.TSr, B, [41]))!, /protocol 4 \(and optionally 41\)/);
  assert.match(checkChildAnswer(cfg, transport, ts(PayloadType.TSi, A, [4, 6]), ts(PayloadType.TSr, B, [4]))!, /narrowed/);
  assert.match(checkChildAnswer(cfg, transport, ts(PayloadType.TSi, B, [4]), ts(PayloadType.TSr, B, [4]))!, /narrowed/);
  assert.match(checkChildAnswer(cfg, transport, wide(PayloadType.TSi, 0), wide(PayloadType.TSr, 0))!, /narrowed/);
  assert.match(checkChildAnswer(cfg, [], ...both)!, /transport mode/);
});

test('two engines agree on [4, 41]; installs, `show ike` and a CHILD_SA rekey carry it', async () => {
  const p = (pair = new EnginePair({ cfgA: { childLifetimeS: 60 }, cfgB: { childLifetimeS: 60 } }));
  p.start();
  await p.until(() => p.a.installed.length > 0 && p.b.installed.length > 0, 10_000);
  assert.deepEqual(p.a.installed[0]!.protocols, [4, 41]);
  assert.deepEqual(p.b.installed[0]!.protocols, [4, 41]);
  assert.deepEqual(p.a.engine.view()[0]!.sas[0]!.children[0]!.protocols, [4, 41]);
  assert.ok(p.a.logs.some((l) => /CHILD_SA installed .* protocols 4\+41/.test(l.msg)));
  await p.advance(60_000);
  await p.until(() => p.a.installed.length > 1 && p.b.installed.length > 1, 10_000);
  assert.deepEqual(p.a.installed.at(-1)!.protocols, [4, 41]);
  assert.deepEqual(p.b.installed.at(-1)!.protocols, [4, 41]);
});

