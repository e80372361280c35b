import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkTrailer, Esp, EspPacket, ESP_FIXED_OVERHEAD, ESP_HEADER_LEN, ESP_ICV_LEN, ESP_IV_LEN,
  espOverhead, maxPayloadForMtu, padLengthFor, peekSpi, writeTrailer,
} from '../../src/wire/esp.js';
import { IiptranError } from '../../src/errors.js';
import type { Suite } from '../../src/control/config-types.js';

const SUITES: Suite[] = ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'];

test('constants', () => {
  assert.equal(ESP_HEADER_LEN, 8);
  assert.equal(ESP_IV_LEN, 8);
  assert.equal(ESP_ICV_LEN, 16);
  assert.equal(ESP_FIXED_OVERHEAD, 34);
});

const { encode, decode, encodingLength } = Esp;

test('header encode/decode/encodingLength', () => {
  assert.equal(encodingLength(), 8);
  const b = encode({ spi: 0xdeadbeef, seq: 0x01020304 });
  assert.equal(b.toString('hex'), 'deadbeef01020304');
  const big = Buffer.alloc(12, 0xff);
  encode({ spi: 0x100, seq: 0 }, big, 2);
  assert.equal(big.toString('hex'), 'ffff0000010000000000ffff');
  assert.deepEqual(decode(big, 2), { spi: 0x100, seq: 0 });
  assert.deepEqual(decode(b), { spi: 0xdeadbeef, seq: 0x01020304 });
  assert.throws(() => decode(Buffer.alloc(7)), (e: unknown) => e instanceof IiptranError && e.code === 'IIPTRAN_ERR_CODEC');
  assert.throws(() => encode({ spi: -1, seq: 0 }), IiptranError);
  assert.throws(() => encode({ spi: 1, seq: 2 ** 32 }), IiptranError);
  assert.throws(() => encode({ spi: 1, seq: 1 }, Buffer.alloc(9), 2), IiptranError);
});

test('EspPacket view reads and patches in place', () => {
  const b = Buffer.from('ff' + 'deadbeef' + '00000007' + '0102030405060708' + 'aa', 'hex');
  const v = new EspPacket(b, 1);
  assert.equal(v.spi, 0xdeadbeef);
  assert.equal(v.seq, 7);
  assert.equal(v.iv.toString('hex'), '0102030405060708');
  v.seq = 0xfffffffe;
  assert.equal(b.readUInt32BE(5), 0xfffffffe);
  v.iv[0] = 0x99;
  assert.equal(b[9], 0x99, 'iv is a view');
  assert.throws(() => new EspPacket(Buffer.alloc(12)).iv, RangeError);
  assert.equal(v.reset(b, 0).spi, 0xffdeadbe);
});

test('peekSpi never throws', () => {
  assert.equal(peekSpi(Buffer.from('0102030405', 'hex')), 0x01020304);
  assert.equal(peekSpi(Buffer.from('0102030405', 'hex'), 1), 0x02030405);
  assert.equal(peekSpi(Buffer.from('010203', 'hex')), -1);
  assert.equal(peekSpi(Buffer.from('0102030405', 'hex'), 2), -1);
  assert.equal(peekSpi(Buffer.alloc(0)), -1);
  assert.equal(peekSpi(Buffer.alloc(8), -1), -1);
});

test('espOverhead is 8 + 8 + pad + 2 + 16 with payload+2 padded to 4', () => {
  const expected = [36, 35, 34, 37, 36, 35, 34, 37];
  for (const s of SUITES) {
    for (let len = 0; len < 8; len++) assert.equal(espOverhead(s, len), expected[len], `${s} len ${len}`);
    for (let len = 0; len < 3000; len++) {
      const total = len + espOverhead(s, len);
      assert.equal((total - 32) % 4, 0);
      assert.ok(espOverhead(s, len) - 34 <= 3);
    }
    // A 1400-byte inner packet: 1400 + 2 = 1402 -> 1404, so 2 bytes of padding.
    assert.equal(espOverhead(s, 1400), 36);
  }
});

test('maxPayloadForMtu is the largest payload that fits, by brute force', () => {
  for (let room = 0; room < 2000; room++) {
    let best = -1;
    for (let p = 0; p <= room; p++) if (p + espOverhead('aes-gcm-128', p) <= room) best = p;
    assert.equal(maxPayloadForMtu(room), best, `room ${room}`);
  }
  // 1500 underlay - 20 IPv4 - 8 UDP
  assert.equal(maxPayloadForMtu(1472), 1438);
  // 1500 underlay - 20 IPv4 (raw ESP)
  assert.equal(maxPayloadForMtu(1480), 1446);
  assert.equal(maxPayloadForMtu(35), -1);
  assert.equal(maxPayloadForMtu(36), 2, '2 + 2 trailer bytes need no padding');
});

test('trailer helpers', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(padLengthFor), [2, 1, 0, 3, 2, 1]);
  const b = Buffer.alloc(10, 0xaa);
  assert.equal(writeTrailer(b, 3, 3, 4), 5);
  assert.equal(b.toString('hex'), 'aaaaaa0102030304aaaa');
  assert.equal(checkTrailer(b, 0, 8), 3);
  assert.equal(checkTrailer(b, 3, 8), 0);
  assert.equal(checkTrailer(Buffer.from('0004', 'hex'), 0, 2), 0);
  assert.equal(checkTrailer(Buffer.from('04', 'hex'), 0, 1), -1);
  assert.equal(checkTrailer(Buffer.from('0104', 'hex'), 0, 2), -1, 'pad length overruns');
  assert.equal(checkTrailer(Buffer.from('99010204', 'hex'), 0, 4), -1, 'padding not 1,2');
  assert.equal(checkTrailer(Buffer.from('99020104', 'hex'), 0, 4), -1);
  assert.equal(checkTrailer(Buffer.from('9901020204', 'hex'), 0, 5), 1);
});
