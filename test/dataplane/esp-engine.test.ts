import { test } from 'node:test';
import assert from 'node:assert/strict';
import { espCommit, espOpen, espSeal, espVerify, sealedLength, sealWithIv, type EspOpenResult } from '../../src/dataplane/esp-engine.js';
import { newInboundSa, newOutboundSa, type InboundSa, type OutboundSa } from '../../src/dataplane/sa.js';
import { aeadOpen, aeadSeal } from '../../src/dataplane/aead.js';
import { DROP_REASONS, type DropReason } from '../../src/dataplane/drop-reasons.js';
import { espOverhead } from '../../src/wire/esp.js';
import type { Suite } from '../../src/control/config-types.js';
import { hex, MCGREW_ESP, RFC7634_ESP, type EspVector } from './esp-vectors.js';

const SUITES: Suite[] = ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'];
const KEYLEN: Record<Suite, number> = { 'aes-gcm-128': 16, 'aes-gcm-256': 32, 'chacha20-poly1305': 32 };
const TWO32 = 2 ** 32;

function pair(suite: Suite, esn: boolean, spi = 0x4242): { out: OutboundSa; in: InboundSa } {
  const key = Buffer.alloc(KEYLEN[suite]);
  for (let i = 0; i < key.length; i++) key[i] = (i * 7 + 3) & 0xff;
  const salt = Buffer.from('0badcafe', 'hex');
  const common = { spi, suite, key, salt, esn, src: '192.0.2.1', dst: '192.0.2.2' };
  return { out: newOutboundSa(common), in: newInboundSa(common) };
}

function payloadOf(len: number, seed = 1): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function seal(sa: OutboundSa, payload: Buffer, nh = 4): Buffer {
  const out = Buffer.alloc(sealedLength(sa, payload.length));
  const n = espSeal(sa, payload, nh, out, 0);
  assert.equal(typeof n, 'number', `seal returned ${String(n)}`);
  assert.equal(n, out.length);
  return out;
}

function opened(r: EspOpenResult | DropReason): EspOpenResult {
  assert.equal(typeof r, 'object', `open returned ${String(r)}`);
  return r as EspOpenResult;
}

// Vectors give the ESP plaintext; the payload and next header are what is left once the
// trailer the sealer adds is taken off.
function split(v: EspVector): { payload: Buffer; nh: number } {
  const p = hex(v.plain);
  const padLen = p[p.length - 2]!;
  return { payload: p.subarray(0, p.length - 2 - padLen), nh: p[p.length - 1]! };
}

function vectorSas(v: EspVector): { out: OutboundSa; in: InboundSa } {
  const esn = v.seq.length === 16;
  // Placeholder SPI through the factory (it refuses SPI 0, which case 4 uses), then the real one.
  const common = { spi: 0x100, suite: v.suite, key: hex(v.key), salt: hex(v.salt), esn, src: '10.0.0.1', dst: '10.0.0.2' };
  const spi = parseInt(v.spi, 16);
  return { out: { ...newOutboundSa(common), spi }, in: { ...newInboundSa(common), spi } };
}

test(`known answer: ${RFC7634_ESP.name}, sealed byte for byte and opened`, () => {
  const v = RFC7634_ESP;
  const { out: osa, in: isa } = vectorSas(v);
  const { payload, nh } = split(v);
  assert.equal(payload.length, 84);
  assert.equal(nh, 4);
  const buf = Buffer.alloc(sealedLength(osa, payload.length));
  const n = sealWithIv(osa, 0, parseInt(v.seq, 16), hex(v.iv), payload, nh, buf, 0);
  assert.equal(n, hex(v.packet).length);
  assert.equal(buf.toString('hex'), hex(v.packet).toString('hex'));
  assert.equal(osa.seq, 0, 'sealWithIv leaves the counter alone');

  const r = opened(espOpen(isa, hex(v.packet)));
  assert.equal(r.payload.toString('hex'), payload.toString('hex'));
  assert.equal(r.nextHeader, 4);
  assert.equal(r.seq, 5);
  assert.deepEqual(isa.stats, { packets: 1, bytes: 84, replayDrops: 0, icvDrops: 0 });
  assert.equal(espOpen(isa, hex(v.packet)), 'replay');
});

for (const v of MCGREW_ESP) {
  test(`known answer: ${v.name}`, () => {
    const { out: osa, in: isa } = vectorSas(v);
    const { payload, nh } = split(v);
    const seqHi = v.seq.length === 16 ? parseInt(v.seq.slice(0, 8), 16) : 0;
    const seqLo = parseInt(v.seq.slice(-8), 16);
    const expected = hex(v.packet);
    const buf = Buffer.alloc(sealedLength(osa, payload.length) + 5, 0x5a);
    const n = sealWithIv(osa, seqHi, seqLo, hex(v.iv), payload, nh, buf, 5);
    assert.equal(n, expected.length);
    assert.equal(buf.subarray(5).toString('hex'), expected.toString('hex'));
    assert.equal(buf.subarray(0, 5).toString('hex'), '5a5a5a5a5a');

    // The opener can only reach sequence numbers whose inferred high half it can reach from a
    // fresh window: every 32-bit case and the ESN ones in block 0. For the rest, check the AEAD
    // with the full 12-byte AAD directly.
    if (seqHi === 0) {
      const r = opened(espOpen(isa, expected));
      assert.equal(r.payload.toString('hex'), payload.toString('hex'));
      assert.equal(r.nextHeader, nh);
      assert.equal(r.seq, seqLo);
    } else {
      const aad = Buffer.concat([expected.subarray(0, 4), hex(v.seq.slice(0, 8)), expected.subarray(4, 8)]);
      const plain = aeadOpen(v.suite, hex(v.key), hex(v.salt), expected.subarray(8, 16), aad, expected.subarray(16));
      assert.ok(plain !== null);
      assert.equal(plain.toString('hex'), hex(v.plain).toString('hex'));
      // A fresh window infers high half 0 (wrong AAD), or finds the number invalid outright.
      const r = espOpen(isa, expected);
      assert.ok(r === 'bad-icv' || r === 'replay', String(r));
    }
  });
}

/** Pins an SA's random IV base, for tests that compare bytes across SAs. */
function pinIv(sa: OutboundSa, hi = 0, lo = 0): OutboundSa {
  Object.assign(sa, { ivHi: hi, ivLo: lo });
  return sa;
}

function ivOf(pkt: Buffer): bigint {
  return pkt.readBigUInt64BE(8);
}

test('espSeal: sequence numbers start at 1, the IV is the SA\'s random base plus the 64-bit sequence number', () => {
  for (const esn of [false, true]) {
    const { out: sa } = pair('aes-gcm-128', esn);
    const base = (BigInt(sa.ivHi) << 32n) + BigInt(sa.ivLo);
    const a = seal(sa, payloadOf(10));
    assert.equal(a.subarray(0, 8).toString('hex'), '00004242' + '00000001');
    assert.equal(ivOf(a), (base + 1n) % 2n ** 64n);
    const b = seal(sa, payloadOf(10));
    assert.equal(b.subarray(4, 8).toString('hex'), '00000002');
    assert.equal(ivOf(b), (base + 2n) % 2n ** 64n);
    assert.equal(sa.seq, 2);
    assert.deepEqual(sa.stats, { packets: 2, bytes: 20 });
  }
  const { out: e } = pair('chacha20-poly1305', true);
  pinIv(e);
  e.seq = TWO32 + 0x41;
  const c = seal(e, payloadOf(3));
  assert.equal(c.subarray(4, 16).toString('hex'), '00000042' + '0000000100000042', 'wire carries only the low half');
  // The carry from the low half of the IV reaches the high half, and the top wraps at 2^64.
  const { out: w } = pair('aes-gcm-256', true);
  pinIv(w, 0xffffffff, 0xffffffff);
  assert.equal(ivOf(seal(w, payloadOf(3))), 0n);
  pinIv(w, 0, 0xffffffff);
  assert.equal(ivOf(seal(w, payloadOf(3))), (1n << 32n) + 1n);
});

test('a manual SA made again from the same key (a daemon restart) does not repeat its IVs', () => {
  // With IV = seq, both runs would seal packet 1 under the same (key, nonce): fatal for GCM and ChaCha20-Poly1305.
  const first = seal(pair('aes-gcm-256', false).out, payloadOf(40));
  const again = seal(pair('aes-gcm-256', false).out, payloadOf(40));
  assert.equal(first.readUInt32BE(4), 1);
  assert.equal(again.readUInt32BE(4), 1);
  assert.notEqual(ivOf(first), ivOf(again));
  assert.notEqual(first.subarray(16).toString('hex'), again.subarray(16).toString('hex'));
});

test('ESN changes the AAD: same key, same seq, different tag', () => {
  const p = payloadOf(64);
  const a = seal(pinIv(pair('aes-gcm-256', false).out), p);
  const b = seal(pinIv(pair('aes-gcm-256', true).out), p);
  assert.equal(a.subarray(0, a.length - 16).toString('hex'), b.subarray(0, b.length - 16).toString('hex'));
  assert.notEqual(a.subarray(-16).toString('hex'), b.subarray(-16).toString('hex'));
  assert.equal(espOpen(pair('aes-gcm-256', true).in, a), 'bad-icv');
  assert.equal(espOpen(pair('aes-gcm-256', false).in, b), 'bad-icv');
});

for (const suite of SUITES) {
  for (const esn of [false, true]) {
    test(`round trip ${suite}${esn ? ' ESN' : ''}: lengths 0..70 and 1400, next header kept, stats`, () => {
      const { out: osa, in: isa } = pair(suite, esn);
      let bytes = 0;
      const lens = [...Array(71).keys(), 1400, 1438];
      for (const len of lens) {
        const p = payloadOf(len, len);
        const pkt = seal(osa, p, len === 5 ? 41 : 4);
        assert.equal(pkt.length, len + espOverhead(suite, len));
        assert.equal((pkt.length - 16 - 16) % 4, 0, 'ciphertext 4-byte aligned');
        const r = opened(espOpen(isa, pkt));
        assert.ok(r.payload.equals(p), `len ${len}`);
        assert.equal(r.nextHeader, len === 5 ? 41 : 4);
        assert.equal(r.seq, osa.seq);
        bytes += len;
      }
      assert.deepEqual(isa.stats, { packets: lens.length, bytes, replayDrops: 0, icvDrops: 0 });
      assert.deepEqual(osa.stats, { packets: lens.length, bytes });
      assert.equal(isa.replay.top, lens.length);
    });
  }
}

test('ESN round trip across the 2^32 boundary, with reordering', () => {
  for (const suite of SUITES) {
    const { out: osa, in: isa } = pair(suite, true);
    // Bring both ends to just before the wrap, as if 2^32-5 packets had been exchanged.
    osa.seq = TWO32 - 4;
    isa.replay.accept(TWO32 - 4);
    opened(espOpen(isa, seal(osa, payloadOf(1))));
    const pkts = [];
    for (let i = 0; i < 6; i++) pkts.push(seal(osa, payloadOf(20, i)));
    assert.equal(osa.seq, TWO32 + 3);
    // Deliver the post-wrap ones first, then the late pre-wrap ones.
    const order = [3, 5, 0, 4, 2, 1];
    for (const i of order) {
      const r = opened(espOpen(isa, pkts[i]!));
      assert.equal(r.seq, TWO32 - 2 + i);
      assert.ok(r.payload.equals(payloadOf(20, i)));
    }
    for (const p of pkts) assert.equal(espOpen(isa, p), 'replay');
    assert.equal(isa.replay.top, TWO32 + 3);
  }
});

test('a non-ESN SA at 0xfffffffe seals once more, then is exhausted', () => {
  const { out: sa, in: isa } = pair('aes-gcm-128', false);
  sa.seq = 0xfffffffe;
  const last = seal(sa, payloadOf(40));
  assert.equal(last.readUInt32BE(4), 0xffffffff);
  assert.equal(sa.seq, 0xffffffff);
  assert.equal(sa.exhausted, false);
  const out = Buffer.alloc(200);
  assert.equal(espSeal(sa, payloadOf(40), 4, out, 0), 'sa-exhausted');
  assert.equal(sa.exhausted, true);
  assert.equal(sa.seq, 0xffffffff, 'the counter does not wrap');
  assert.equal(espSeal(sa, payloadOf(40), 4, out, 0), 'sa-exhausted');
  assert.equal(sa.stats.packets, 1);
  assert.ok(out.equals(Buffer.alloc(200)), 'nothing written');
  // The last good packet still opens.
  assert.equal(opened(espOpen(isa, last)).seq, 0xffffffff);
});

test('an ESN SA does not stop at 2^32 but does stop where sequence numbers stop being exact', () => {
  const { out: sa } = pair('aes-gcm-128', true);
  sa.seq = 0xffffffff;
  assert.equal(seal(sa, payloadOf(1)).readUInt32BE(4), 0);
  sa.seq = Number.MAX_SAFE_INTEGER - 1;
  seal(sa, payloadOf(1));
  assert.equal(espSeal(sa, payloadOf(1), 4, Buffer.alloc(100), 0), 'sa-exhausted');
  assert.equal(sa.exhausted, true);
});

test('espSeal refuses an output buffer that is too small without consuming a sequence number', () => {
  const { out: sa } = pair('aes-gcm-128', false);
  const p = payloadOf(100);
  const need = sealedLength(sa, 100);
  assert.equal(espSeal(sa, p, 4, Buffer.alloc(need - 1), 0), 'mtu');
  assert.equal(espSeal(sa, p, 4, Buffer.alloc(need), 1), 'mtu');
  assert.equal(espSeal(sa, p, 4, Buffer.alloc(need), -1), 'mtu');
  assert.equal(sa.seq, 0);
  assert.equal(espSeal(sa, p, 4, Buffer.alloc(need + 7), 7), need);
});

test('espSeal in place: payload already where the ciphertext goes', () => {
  const a = pair('chacha20-poly1305', false);
  const b = pair('chacha20-poly1305', false);
  pinIv(b.out, a.out.ivHi, a.out.ivLo);
  const p = payloadOf(300);
  const ref = seal(a.out, p);
  const buf = Buffer.alloc(ref.length + 16);
  p.copy(buf, 16 + 16);
  const n = espSeal(b.out, buf.subarray(32, 32 + 300), 4, buf, 16);
  assert.equal(n, ref.length);
  assert.ok(buf.subarray(16).equals(ref));
});

test('flipping any single byte of a sealed packet is caught, never throws, never moves the window', () => {
  for (const suite of SUITES) {
    for (const esn of [false, true]) {
      const { out: osa, in: isa } = pair(suite, esn);
      osa.seq = 1000;
      isa.replay.accept(1000);
      const pkt = seal(osa, payloadOf(61));
      for (let i = 0; i < pkt.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const bad = Buffer.from(pkt);
          bad[i]! ^= mask;
          const r = espOpen(isa, bad);
          const allowed: DropReason[] = i < 4 ? ['unknown-spi'] : i < 8 ? ['bad-icv', 'replay'] : ['bad-icv'];
          assert.ok(typeof r === 'string' && allowed.includes(r), `${suite} esn=${esn} byte ${i} mask ${mask}: ${String(r)}`);
        }
      }
      assert.equal(isa.replay.top, 1000);
      assert.equal(isa.stats.packets, 0);
      assert.equal(isa.stats.icvDrops > 0, true);
      // The untouched packet still opens after all that.
      assert.equal(opened(espOpen(isa, pkt)).seq, 1001);
    }
  }
});

test('truncations and extensions never throw', () => {
  for (const suite of SUITES) {
    const { out: osa, in: isa } = pair(suite, false);
    const pkt = seal(osa, payloadOf(45));
    for (let len = 0; len < pkt.length; len++) {
      const r = espOpen(isa, pkt.subarray(0, len));
      assert.ok(typeof r === 'string' && DROP_REASONS.includes(r), `len ${len}: ${String(r)}`);
      assert.equal(r, len < 34 ? 'malformed' : 'bad-icv');
    }
    for (let cut = 1; cut < 40; cut++) {
      const r = espOpen(isa, pkt.subarray(cut));
      assert.equal(typeof r, 'string');
    }
    assert.equal(espOpen(isa, Buffer.concat([pkt, Buffer.alloc(1)])), 'bad-icv');
    assert.equal(isa.replay.top, 0);
    assert.equal(opened(espOpen(isa, pkt)).seq, 1);
  }
});

test('replay: duplicates counted, old packets outside the window refused', () => {
  const { out: osa, in: isa } = pair('aes-gcm-128', false);
  const first = seal(osa, payloadOf(10));
  opened(espOpen(isa, first));
  assert.equal(espOpen(isa, first), 'replay');
  assert.equal(isa.stats.replayDrops, 1);
  const late = seal(osa, payloadOf(10));
  osa.seq = 5000;
  opened(espOpen(isa, seal(osa, payloadOf(10))));
  assert.equal(espOpen(isa, late), 'replay', 'seq 2 is left of a 1024 window whose top is 5001');
  assert.equal(isa.stats.replayDrops, 2);
  assert.equal(isa.stats.icvDrops, 0);
});

test('a forged packet with a far-ahead sequence number does not move the window', () => {
  const { out: osa, in: isa } = pair('aes-gcm-128', false);
  const good = seal(osa, payloadOf(10));
  const forged = Buffer.from(good);
  forged.writeUInt32BE(900_000, 4);
  assert.equal(espOpen(isa, forged), 'bad-icv');
  assert.equal(isa.replay.top, 0);
  assert.equal(opened(espOpen(isa, good)).seq, 1);
});

test('seq 0 on a 32-bit SA is refused before any crypto', () => {
  const { in: isa } = pair('aes-gcm-128', false);
  const pkt = Buffer.alloc(60);
  pkt.writeUInt32BE(0x4242, 0);
  assert.equal(espOpen(isa, pkt), 'replay');
  assert.equal(isa.stats.icvDrops, 0);
});

// An authentic packet with a plaintext of our choosing, trailer included, which espSeal would
// never produce: the only way to reach the padding checks behind the ICV.
function craft(sa: OutboundSa, seq: number, plain: Buffer): Buffer {
  const pkt = Buffer.alloc(16 + plain.length + 16);
  pkt.writeUInt32BE(sa.spi, 0);
  pkt.writeUInt32BE(seq, 4);
  pkt.writeUInt32BE(seq, 12);
  aeadSeal(sa.suite, sa.key, sa.salt, pkt.subarray(8, 16), pkt.subarray(0, 8), plain, pkt, 16);
  return pkt;
}

test('authentic packet with bad padding: bad-padding, and the window does not record a refused packet', () => {
  const { out: osa, in: isa } = pair('aes-gcm-128', false);
  const ok = opened(espOpen(isa, craft(osa, 1, Buffer.from('aa010104', 'hex'))));
  assert.equal(ok.payload.toString('hex'), 'aa');
  assert.equal(ok.nextHeader, 4);
  for (const [seq, plain] of [[2, 'aa010302'], [3, 'aa0504'], [4, '0304'], [5, 'aabbcc0204'], [6, 'aa01030204'], [7, '02010204']] as const) {
    const pkt = craft(osa, seq, Buffer.from(plain, 'hex'));
    assert.equal(espOpen(isa, pkt), 'bad-padding', plain);
    assert.equal(isa.replay.top, 1, 'dropped, so the window did not move');
    assert.equal(espOpen(isa, pkt), 'bad-padding', 'a re-send is verified again, and refused again');
  }
  assert.equal(isa.stats.packets, 1);
  assert.equal(isa.stats.icvDrops, 0);
  // Pad length 0 with an empty payload is the shortest legal plaintext.
  assert.equal(opened(espOpen(isa, craft(osa, 9, Buffer.from('0004', 'hex')))).payload.length, 0);
});

test('espVerify records nothing; espCommit enters the window and the counters, so the caller decides', () => {
  for (const esn of [false, true]) {
    const { out: osa, in: isa } = pair('chacha20-poly1305', esn);
    const p1 = seal(osa, payloadOf(40));
    const p2 = seal(osa, payloadOf(41));
    // Verified twice and never committed (as when the receiver's policy check refuses it):
    // nothing moves, and the same bytes still verify.
    const a = opened(espVerify(isa, p2));
    assert.equal(a.seq, 2);
    assert.equal(opened(espVerify(isa, p2)).seq, 2);
    assert.equal(isa.replay.top, 0);
    assert.deepEqual(isa.stats, { packets: 0, bytes: 0, replayDrops: 0, icvDrops: 0 });
    espCommit(isa, a);
    assert.equal(isa.replay.top, 2);
    assert.deepEqual(isa.stats, { packets: 1, bytes: 41, replayDrops: 0, icvDrops: 0 });
    assert.equal(espVerify(isa, p2), 'replay', 'committed: the pre-check now refuses it before any AEAD');
    assert.equal(isa.stats.replayDrops, 1);
    // Older but inside the window, not committed yet: still acceptable.
    espCommit(isa, opened(espVerify(isa, p1)));
    assert.equal(espVerify(isa, p1), 'replay');
    assert.equal(isa.stats.packets, 2);
  }
});
