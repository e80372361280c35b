import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childKeymat, childSaKeys, deriveIkeSaKeys, initialSkeyseed, rekeySkeyseed } from '../../src/ike/crypto/keys.js';
import { prf, prfPlus } from '../../src/ike/crypto/prf.js';
import {
  childKeymatLength, childSuite, childTransform, ikeEncr, ikeKeyLengths, ikeSuite, ikeSuiteName,
  PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384,
} from '../../src/ike/crypto/suites.js';
import { SUITE_NAMES } from '../../src/dataplane/aead.js';

test('ikeSuite accepts exactly the combinations we offer', () => {
  const ok = (encr: number, keyLenBits: number | null, integ: number | null, p = 5, dh = 31) => ikeSuite({ encr, keyLenBits, integ, prf: p, dh });
  assert.equal(ikeSuiteName(ok(20, 128, null)!), 'ENCR_AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519');
  assert.ok(ok(20, 256, 0));
  assert.ok(ok(28, null, null, 6, 19));
  assert.ok(ok(12, 256, 13));
  assert.equal(ok(20, 128, 12), null, 'AEAD with an INTEG transform');
  assert.equal(ok(12, 128, null), null, 'CBC without INTEG');
  assert.equal(ok(12, 128, 0), null, 'CBC with INTEG NONE');
  assert.equal(ok(12, null, 12), null, 'AES without Key Length');
  assert.equal(ok(12, 192, 12), null, 'AES-192 not offered');
  assert.equal(ok(28, 256, null), null, 'ChaCha20-Poly1305 must not carry a Key Length');
  assert.equal(ok(19, 128, null), null, 'AES-GCM-12 not offered');
  assert.equal(ok(12, 128, 2), null, 'HMAC-SHA1-96 not offered');
  assert.equal(ok(20, 128, null, 2), null, 'PRF-HMAC-SHA1 not offered');
  assert.equal(ok(20, 128, null, 5, 14), null, 'MODP-2048 not offered');
  assert.equal(ikeEncr(20, 192), null);
});

test('key lengths follow RFC 7296 §2.14 with the AEAD salt inside SK_e', () => {
  const gcm = ikeSuite({ encr: 20, keyLenBits: 256, integ: null, prf: 6, dh: 19 })!;
  assert.deepEqual(ikeKeyLengths(gcm), { d: 48, a: 0, e: 36, p: 48 });
  const cbc = ikeSuite({ encr: 12, keyLenBits: 128, integ: 12, prf: 5, dh: 19 })!;
  assert.deepEqual(ikeKeyLengths(cbc), { d: 32, a: 32, e: 16, p: 32 });
  const cc = ikeSuite({ encr: 28, keyLenBits: null, integ: null, prf: 5, dh: 31 })!;
  assert.deepEqual(ikeKeyLengths(cc), { d: 32, a: 0, e: 36, p: 32 });
});

test('ESP transforms map onto the data plane suites and back', () => {
  for (const s of SUITE_NAMES) {
    const t = childTransform(s);
    assert.equal(childSuite(t.encr, t.keyLenBits), s);
  }
  assert.equal(childKeymatLength('aes-gcm-128'), 20);
  assert.equal(childKeymatLength('aes-gcm-256'), 36);
  assert.equal(childKeymatLength('chacha20-poly1305'), 36);
  assert.equal(childSuite(20, 192), null);
  assert.equal(childSuite(12, 128), null);
  assert.equal(childSuite(28, 256), null);
});

test('SK_* and KEYMAT are consecutive slices of prf+ in RFC order', () => {
  const suite = ikeSuite({ encr: 12, keyLenBits: 256, integ: 13, prf: 6, dh: 19 })!;
  const ni = Buffer.alloc(32, 1);
  const nr = Buffer.alloc(24, 2);
  const spiI = Buffer.alloc(8, 3);
  const spiR = Buffer.alloc(8, 4);
  const seed = initialSkeyseed(PRF_HMAC_SHA2_384, ni, nr, Buffer.alloc(32, 5));
  assert.deepEqual(seed, prf(PRF_HMAC_SHA2_384, Buffer.concat([ni, nr]), Buffer.alloc(32, 5)));
  const k = deriveIkeSaKeys(suite, seed, ni, nr, spiI, spiR);
  const stream = prfPlus(PRF_HMAC_SHA2_384, seed, Buffer.concat([ni, nr, spiI, spiR]), 48 + 2 * 48 + 2 * 32 + 2 * 48);
  assert.deepEqual(Buffer.concat([k.skD, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr]), stream);
  assert.deepEqual([k.skD.length, k.skAi.length, k.skEi.length, k.skPr.length], [48, 48, 32, 48]);
  assert.throws(() => deriveIkeSaKeys(suite, seed, ni, nr, spiI.subarray(1), spiR), RangeError);

  // The rekey SKEYSEED keys prf with the old SK_d over g^ir | Ni | Nr, under the old SA's PRF.
  const skD = Buffer.alloc(32, 9);
  assert.deepEqual(rekeySkeyseed(PRF_HMAC_SHA2_256, skD, Buffer.from('g'), ni, nr), prf(PRF_HMAC_SHA2_256, skD, Buffer.concat([Buffer.from('g'), ni, nr])));

  const c = childSaKeys(PRF_HMAC_SHA2_256, skD, 'aes-gcm-256', ni, nr, Buffer.alloc(32, 7));
  const km = prfPlus(PRF_HMAC_SHA2_256, skD, Buffer.concat([Buffer.alloc(32, 7), ni, nr]), 72);
  assert.deepEqual(childKeymat(c.initiatorToResponder), km.subarray(0, 36));
  assert.deepEqual(c.initiatorToResponder.key, km.subarray(0, 32));
  assert.deepEqual(c.initiatorToResponder.salt, km.subarray(32, 36));
  assert.deepEqual(childKeymat(c.responderToInitiator), km.subarray(36));
  const c128 = childSaKeys(PRF_HMAC_SHA2_256, skD, 'aes-gcm-128', ni, nr);
  assert.deepEqual(childKeymat(c128.responderToInitiator), prfPlus(PRF_HMAC_SHA2_256, skD, Buffer.concat([ni, nr]), 40).subarray(20));
});
