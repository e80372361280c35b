import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aeadOpen, aeadSeal, ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305, isSuite, keymatLength, SUITE_NAMES, SUITES,
} from '../../src/dataplane/aead.js';
import { AEAD_VECTORS, hex } from './esp-vectors.js';

test('suite table matches IANA / node:crypto / tshark naming', () => {
  assert.deepEqual([...SUITE_NAMES].sort(), ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305']);
  assert.equal(SUITES['aes-gcm-128'].cipher, 'aes-128-gcm');
  assert.equal(SUITES['aes-gcm-256'].cipher, 'aes-256-gcm');
  assert.equal(SUITES['chacha20-poly1305'].cipher, 'chacha20-poly1305');
  assert.deepEqual(SUITE_NAMES.map((s) => SUITES[s].keyLen), [16, 32, 32]);
  for (const s of SUITE_NAMES) {
    assert.equal(SUITES[s].saltLen, 4);
    assert.equal(SUITES[s].ivLen, 8);
    assert.equal(SUITES[s].icvLen, 16);
    assert.equal(SUITES[s].suite, s);
  }
  assert.equal(ENCR_AES_GCM_16, 20);
  assert.equal(ENCR_CHACHA20_POLY1305, 28);
  assert.equal(SUITES['aes-gcm-128'].ikeTransformId, 20);
  assert.equal(SUITES['aes-gcm-128'].ikeKeyLengthBits, 128);
  assert.equal(SUITES['aes-gcm-256'].ikeTransformId, 20);
  assert.equal(SUITES['aes-gcm-256'].ikeKeyLengthBits, 256);
  assert.equal(SUITES['chacha20-poly1305'].ikeTransformId, 28);
  assert.equal(SUITES['chacha20-poly1305'].ikeKeyLengthBits, null);
  assert.equal(SUITES['aes-gcm-128'].tsharkName, 'AES-GCM with 16 octet ICV [RFC4106]');
  assert.equal(SUITES['aes-gcm-256'].tsharkName, 'AES-GCM with 16 octet ICV [RFC4106]');
  assert.equal(SUITES['chacha20-poly1305'].tsharkName, null);
  assert.equal(keymatLength('aes-gcm-128'), 20);
  assert.equal(keymatLength('chacha20-poly1305'), 36);
  assert.ok(isSuite('aes-gcm-256'));
  assert.ok(!isSuite('aes-gcm-192'));
  assert.ok(!isSuite('toString'));
  assert.ok(Object.isFrozen(SUITES) && Object.isFrozen(SUITES['aes-gcm-128']));
});

for (const v of AEAD_VECTORS) {
  test(`known answer: ${v.name}`, () => {
    const plain = hex(v.plain);
    const expected = Buffer.concat([hex(v.cipherText), hex(v.tag)]);
    const out = Buffer.alloc(plain.length + 16 + 3, 0xee);
    const n = aeadSeal(v.suite, hex(v.key), hex(v.salt), hex(v.iv), hex(v.aad), plain, out, 3);
    assert.equal(n, expected.length);
    assert.equal(out.subarray(3, 3 + n).toString('hex'), expected.toString('hex'));
    assert.equal(out.subarray(0, 3).toString('hex'), 'eeeeee', 'wrote before outOffset');

    const back = aeadOpen(v.suite, hex(v.key), hex(v.salt), hex(v.iv), hex(v.aad), expected);
    assert.ok(back !== null);
    assert.equal(back.toString('hex'), plain.toString('hex'));
  });
}

test('aeadSeal works in place (plaintext already in the output buffer)', () => {
  const v = AEAD_VECTORS[0]!;
  const plain = hex(v.plain);
  const buf = Buffer.alloc(plain.length + 16);
  plain.copy(buf);
  aeadSeal(v.suite, hex(v.key), hex(v.salt), hex(v.iv), hex(v.aad), buf.subarray(0, plain.length), buf, 0);
  assert.equal(buf.toString('hex'), hex(v.cipherText).toString('hex') + v.tag);
});

test('aeadOpen rejects any single-bit change of ciphertext, tag, AAD, IV or salt, without throwing', () => {
  for (const v of AEAD_VECTORS) {
    const sealed = Buffer.concat([hex(v.cipherText), hex(v.tag)]);
    const args = { key: hex(v.key), salt: hex(v.salt), iv: hex(v.iv), aad: hex(v.aad) };
    for (let i = 0; i < sealed.length; i++) {
      const s = Buffer.from(sealed);
      s[i]! ^= 0x01;
      assert.equal(aeadOpen(v.suite, args.key, args.salt, args.iv, args.aad, s), null, `${v.name} byte ${i}`);
    }
    for (const field of ['salt', 'iv', 'aad'] as const) {
      if (args[field].length === 0) continue;
      const f = Buffer.from(args[field]);
      f[f.length - 1]! ^= 0x80;
      const a = { ...args, [field]: f };
      assert.equal(aeadOpen(v.suite, a.key, a.salt, a.iv, a.aad, sealed), null, `${v.name} ${field}`);
    }
  }
});

test('aeadOpen on inputs shorter than a tag, or with a short IV, returns null', () => {
  const key = Buffer.alloc(16);
  const salt = Buffer.alloc(4);
  for (let n = 0; n < 16; n++) assert.equal(aeadOpen('aes-gcm-128', key, salt, Buffer.alloc(8), Buffer.alloc(0), Buffer.alloc(n)), null);
  assert.equal(aeadOpen('aes-gcm-128', key, salt, Buffer.alloc(4), Buffer.alloc(0), Buffer.alloc(32)), null);
});
