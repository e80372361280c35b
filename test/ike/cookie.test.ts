// COOKIE DoS protection (RFC 7296 §2.6): the cookie itself (binding, rotation, forgery), the
// responder's threshold, that nothing is kept before a valid cookie comes back, and that a
// real initiator still gets through by echoing it.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { CookieGuard } from '../../src/ike/cookie.js';
import { IkeEngine } from '../../src/ike/engine.js';
import { encodePlain } from '../../src/ike/protect.js';
import { ikeOffer } from '../../src/ike/negotiate.js';
import { generate } from '../../src/ike/crypto/dh.js';
import { newIkeSpi } from '../../src/ike/ike-sa.js';
import {
  ExchangeType, IkeMessageCodec, NotifyType, PayloadType, notify, type NotifyPayload, type PayloadRepr,
} from '../../src/wire/ike/index.js';
import type { IkeDatagram } from '../../src/ike/types.js';
import { A, B, EnginePair } from './engine-harness.js';

test('a cookie verifies only for the nonce, address and SPI it was made for, and not when altered', () => {
  const g = new CookieGuard(0);
  const ni = randomBytes(32);
  const c = g.make(ni, '192.0.2.1', 0x1122334455667788n);
  assert.equal(c.length, 33);
  assert.ok(g.verify(c, ni, '192.0.2.1', 0x1122334455667788n));
  assert.ok(!g.verify(c, randomBytes(32), '192.0.2.1', 0x1122334455667788n), 'other nonce');
  assert.ok(!g.verify(c, ni, '192.0.2.9', 0x1122334455667788n), 'other address');
  assert.ok(!g.verify(c, ni, '192.0.2.1', 0x1122334455667788n + 1n), 'other SPI');
  for (let i = 0; i < c.length; i++) {
    const bad = Buffer.from(c);
    bad[i]! ^= 0x01;
    assert.ok(!g.verify(bad, ni, '192.0.2.1', 0x1122334455667788n), `byte ${i} flipped`);
  }
  assert.ok(!g.verify(c.subarray(0, 32), ni, '192.0.2.1', 0x1122334455667788n), 'truncated');
  assert.ok(!new CookieGuard(0).verify(c, ni, '192.0.2.1', 0x1122334455667788n), 'another responder\'s secret');
});

test('secret rotation: a cookie survives one rotation, not two; a long idle period drops both secrets', () => {
  let now = 1_000_000;
  const g = new CookieGuard(0, 1000, () => now);
  const ni = randomBytes(32);
  const c = g.make(ni, '192.0.2.1', 1n);
  now += 999;
  assert.ok(g.verify(c, ni, '192.0.2.1', 1n));
  assert.equal(g.stats.rotations, 0);
  now += 1; // rotation 1: the previous secret still counts
  assert.ok(g.verify(c, ni, '192.0.2.1', 1n));
  assert.equal(g.stats.rotations, 1);
  const c2 = g.make(ni, '192.0.2.1', 1n);
  assert.notDeepEqual(c2, c, 'new secret, new version byte');
  now += 1000; // rotation 2
  assert.ok(!g.verify(c, ni, '192.0.2.1', 1n), 'two rotations old');
  assert.ok(g.verify(c2, ni, '192.0.2.1', 1n));
  now += 5000; // idle for long: the "previous" secret would be ancient, so it is dropped too
  assert.ok(!g.verify(c2, ni, '192.0.2.1', 1n));
});

test('threshold: 0 means always; otherwise cookies start at the threshold count of half-open SAs', () => {
  assert.ok(new CookieGuard(0).required(0));
  const g = new CookieGuard(3);
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => g.required(n)), [false, false, false, true, true]);
});

// A responder engine fed hand-made IKE_SA_INIT requests from the configured peer's address.
interface Responder {
  engine: IkeEngine;
  out: IkeDatagram[];
  logs: string[];
}

function responder(threshold: number): Responder {
  const r = { out: [], logs: [] } as unknown as Responder;
  const log = pino({ level: 'debug' }, { write: (s: string) => r.logs.push(JSON.parse(s).msg) });
  r.engine = new IkeEngine({
    log,
    host: { send: (d) => r.out.push(d), installChild: () => {}, removeChild: () => {}, allocSpi: () => 0x1000 },
    cookieThreshold: threshold,
    retransmit: { initialMs: 40, tries: 4, maxMs: 1000 },
  });
  r.engine.addPeer(new EnginePair().peerConfig('b'));
  return r;
}

const offer = ikeOffer(new EnginePair().peerConfig('a').ike);
const ke = generate(31).publicValue;

function initRequest(spiI: bigint, cookie?: Buffer, ni = randomBytes(32)): Buffer {
  const ps: PayloadRepr[] = [];
  if (cookie !== undefined) ps.push(notify(NotifyType.COOKIE, cookie));
  ps.push(offer, { type: PayloadType.KE, group: 31, data: ke }, { type: PayloadType.NONCE, data: ni });
  return encodePlain({ spiI, spiR: 0n, exchangeType: ExchangeType.IKE_SA_INIT, initiator: true, response: false, messageId: 0 }, ps);
}

function cookieOf(d: IkeDatagram): Buffer | null {
  const m = IkeMessageCodec.decode(d.data);
  assert.ok(m.ok);
  const n = m.payloads.find((p): p is NotifyPayload => p.type === PayloadType.NOTIFY && p.notifyType === NotifyType.COOKIE);
  return n === undefined ? null : n.data;
}

const sasOf = (r: Responder) => r.engine.view()[0]!.sas.length;

let r: Responder | null = null;
afterEach(() => {
  r?.engine.stop();
  r = null;
});

test('threshold 0: an IKE_SA_INIT without a cookie gets one back, and nothing is kept', () => {
  r = responder(0);
  const spi = newIkeSpi();
  r.engine.receive(initRequest(spi), { addr: A, port: 500 }, 500);
  assert.equal(r.out.length, 1);
  const m = IkeMessageCodec.decode(r.out[0]!.data);
  assert.ok(m.ok);
  assert.equal(m.header.spiR, 0n, 'no responder SPI: no SA was created');
  assert.equal(m.payloads.length, 1, 'the answer is the COOKIE notify alone');
  assert.ok(cookieOf(r.out[0]!) !== null);
  assert.equal(sasOf(r), 0);
  assert.equal(r.engine.stats.halfOpen, 0);
  assert.equal(r.engine.stats.cookies.sent, 1);
  assert.equal(r.engine.stats.dropped['cookie-required'], 1);
  assert.ok(r.engine.stats.cookieMode);
});

test('a reload retunes the threshold: 10 then 0 (cookies at once) then back to the default', () => {
  r = responder(10);
  r.engine.receive(initRequest(newIkeSpi()), { addr: A, port: 1000 }, 500);
  assert.equal(cookieOf(r.out[0]!), null, 'one half-open SA is below 10');
  r.engine.retune({ cookieThreshold: 0 });
  r.engine.receive(initRequest(newIkeSpi()), { addr: A, port: 1001 }, 500);
  assert.ok(cookieOf(r.out[1]!) !== null, 'threshold 0 after the reload: a cookie');
  assert.ok(r.engine.stats.cookieMode);
  r.engine.retune({});
  assert.equal(r.engine.stats.cookieMode, false, 'absent from the config again: the default, 10');
  r.engine.receive(initRequest(newIkeSpi()), { addr: A, port: 1002 }, 500);
  assert.equal(cookieOf(r.out[2]!), null);
  assert.equal(r.engine.stats.halfOpen, 2);
});

test('threshold 3: three half-open SAs, then cookies; a valid echo gets in, a forged or misplaced one does not', () => {
  r = responder(3);
  for (let i = 0; i < 3; i++) r.engine.receive(initRequest(newIkeSpi()), { addr: A, port: 1000 + i }, 500);
  assert.equal(r.engine.stats.halfOpen, 3);
  assert.equal(r.engine.stats.cookies.sent, 0);
  assert.ok(r.out.every((d) => cookieOf(d) === null && IkeMessageCodec.decode(d.data).ok));
  r.out.length = 0;

  const spi = newIkeSpi();
  const ni = randomBytes(32);
  r.engine.receive(initRequest(spi, undefined, ni), { addr: A, port: 2000 }, 500);
  const c = cookieOf(r.out[0]!);
  assert.ok(c !== null);
  assert.equal(r.engine.stats.halfOpen, 3, 'still three: the fourth left no state');
  assert.equal(sasOf(r), 3);

  // Forged cookie, and a valid cookie that is not the first payload: both refused, still no state.
  const forged = Buffer.from(c);
  forged[5]! ^= 0xff;
  r.engine.receive(initRequest(spi, forged, ni), { addr: A, port: 2000 }, 500);
  const misplaced = IkeMessageCodec.encode({
    header: { spiI: spi, spiR: 0n, exchangeType: ExchangeType.IKE_SA_INIT, initiator: true, response: false, messageId: 0 },
    payloads: [offer, notify(NotifyType.COOKIE, c), { type: PayloadType.KE, group: 31, data: ke }, { type: PayloadType.NONCE, data: ni }],
  });
  r.engine.receive(misplaced, { addr: A, port: 2000 }, 500);
  assert.equal(r.engine.stats.halfOpen, 3);
  assert.equal(r.engine.stats.cookies.rejected, 1);
  assert.equal(r.engine.stats.dropped['bad-cookie'], 1);
  assert.equal(r.engine.stats.dropped['cookie-required'], 2);

  // The same nonce and SPI with the cookie first: accepted (the source port may differ: a NAT may rebind).
  r.out.length = 0;
  r.engine.receive(initRequest(spi, c, ni), { addr: A, port: 2001 }, 500);
  assert.equal(r.engine.stats.cookies.accepted, 1);
  assert.equal(r.engine.stats.halfOpen, 4);
  const m = IkeMessageCodec.decode(r.out[0]!.data);
  assert.ok(m.ok && m.header.spiR !== 0n && m.payloads.some((p) => p.type === PayloadType.KE));
  assert.ok(r.logs.some((l) => /half-open IKE SAs \(cookie threshold 3\).*answered with a COOKIE, no state kept/.test(l)));
});

test('a cookie from another address does not verify there', () => {
  r = responder(0);
  const spi = newIkeSpi();
  const ni = randomBytes(32);
  r.engine.receive(initRequest(spi, undefined, ni), { addr: A, port: 500 }, 500);
  const c = cookieOf(r.out[0]!)!;
  r.engine.addPeer({ ...new EnginePair().peerConfig('b'), vlink: 'vl-c', peer: '192.0.2.3' });
  r.engine.receive(initRequest(spi, c, ni), { addr: '192.0.2.3', port: 500 }, 500);
  assert.equal(r.engine.stats.cookies.rejected, 1);
  assert.equal(r.engine.stats.halfOpen, 0);
});

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

test('cookies always on: a real initiator echoes the cookie and both ends establish', async () => {
  const p = (pair = new EnginePair({ engine: { cookieThreshold: 0 } }));
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.b.installed.length > 0);
  const inits = p.sent('a', ExchangeType.IKE_SA_INIT, false);
  assert.equal(inits.length, 2, 'first try, then the retry with the cookie');
  const retry = IkeMessageCodec.decode(inits[1]!.d.data);
  assert.ok(retry.ok);
  const first = retry.payloads[0]!;
  assert.ok(first.type === PayloadType.NOTIFY && first.notifyType === NotifyType.COOKIE, 'the cookie is the first payload');
  assert.equal(p.b.engine.stats.cookies.sent, 1);
  assert.equal(p.b.engine.stats.cookies.accepted, 1);
  assert.equal(B, p.peerConfig('a').peer);
});

test('a COOKIE answering an earlier copy of our IKE_SA_INIT, arriving late, is no news: the initiator carries on', async () => {
  let saved: Buffer | null = null;
  let injected = false;
  const isCookie = (d: Buffer) => {
    const m = IkeMessageCodec.decode(d);
    return m.ok && m.payloads.some((x) => x.type === PayloadType.NOTIFY && x.notifyType === NotifyType.COOKIE);
  };
  const p = (pair = new EnginePair({
    engine: { cookieThreshold: 0 },
    filter: (f) => {
      const init = f.d.data[18] === ExchangeType.IKE_SA_INIT;
      // The answer to the first copy is held back; the retransmission's answer gets through.
      if (f.from === 'b' && init && saved === null && isCookie(f.d.data)) {
        saved = Buffer.from(f.d.data);
        return 'drop';
      }
      // Once the initiator echoes the cookie, the held-back answer finally arrives.
      if (f.from === 'a' && init && saved !== null && !injected && isCookie(f.d.data)) {
        injected = true;
        p.time.deliver(() => p.a.engine.receive(saved!, { addr: B, port: 500 }, 500));
      }
      return 'pass';
    },
  }));
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.b.installed.length > 0);
  assert.ok(injected);
  assert.equal(p.a.engine.stats.dropped['unexpected-response'], 1, 'the late COOKIE is counted, not acted on');
  assert.ok(!p.a.logs.some((l) => /asked for a cookie twice/.test(l.msg)));
});
