import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { prf, prfLength, prfPlus, PRF_PLUS_MAX_BLOCKS } from '../../src/ike/crypto/prf.js';
import { PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, type PrfId } from '../../src/ike/crypto/suites.js';
import { requirePrograms } from '../netns/helpers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): Buffer => Buffer.from(s, 'ascii');

// RFC 4231 §4.2-4.8 (test case 5, a truncated output, does not apply to a PRF).
const RFC4231: { name: string; key: Buffer; data: Buffer; sha256: string; sha384: string }[] = [
  {
    name: 'case 1', key: Buffer.alloc(20, 0x0b), data: ascii('Hi There'),
    sha256: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    sha384: 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6',
  },
  {
    name: 'case 2', key: ascii('Jefe'), data: ascii('what do ya want for nothing?'),
    sha256: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    sha384: 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
  },
  {
    name: 'case 3', key: Buffer.alloc(20, 0xaa), data: Buffer.alloc(50, 0xdd),
    sha256: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
    sha384: '88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27',
  },
  {
    name: 'case 4', key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), data: Buffer.alloc(50, 0xcd),
    sha256: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
    sha384: '3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb',
  },
  {
    name: 'case 6', key: Buffer.alloc(131, 0xaa), data: ascii('Test Using Larger Than Block-Size Key - Hash Key First'),
    sha256: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    sha384: '4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952',
  },
  {
    name: 'case 7', key: Buffer.alloc(131, 0xaa),
    data: ascii('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
    sha256: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    sha384: '6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e',
  },
];

test('prf() reproduces the RFC 4231 HMAC-SHA-256 and HMAC-SHA-384 vectors', () => {
  for (const v of RFC4231) {
    assert.equal(prf(PRF_HMAC_SHA2_256, v.key, v.data).toString('hex'), v.sha256, `${v.name} sha256`);
    assert.equal(prf(PRF_HMAC_SHA2_384, v.key, v.data).toString('hex'), v.sha384, `${v.name} sha384`);
    // Data given in parts must hash as its concatenation.
    const parts = [v.data.subarray(0, 3), v.data.subarray(3)];
    assert.equal(prf(PRF_HMAC_SHA2_256, v.key, parts).toString('hex'), v.sha256);
  }
  assert.equal(prfLength(PRF_HMAC_SHA2_256), 32);
  assert.equal(prfLength(PRF_HMAC_SHA2_384), 48);
});

/** HMAC by the openssl CLI: a second implementation, so prf+ is not checked against itself. */
function opensslHmac(hash: string, key: Buffer, data: Buffer): Buffer | null {
  try {
    const out = execFileSync('openssl', ['dgst', `-${hash}`, '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`, '-binary'], { input: data });
    return Buffer.from(out);
  } catch {
    return null;
  }
}

test('prf+ equals T1 | T2 | ... chained by the openssl CLI (RFC 7296 §2.13)', { skip: requirePrograms(['openssl']) }, () => {
  const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const seed = Buffer.from('IKEv2 prf+ seed: Ni | Nr | SPIi | SPIr stands here');
  for (const [id, hash] of [[PRF_HMAC_SHA2_256, 'sha256'], [PRF_HMAC_SHA2_384, 'sha384']] as [PrfId, string][]) {
    const blocks: Buffer[] = [];
    let prev: Buffer = Buffer.alloc(0);
    for (let n = 1; n <= 4; n++) {
      prev = opensslHmac(hash, key, Buffer.concat([prev, seed, Buffer.from([n])]))!;
      blocks.push(prev);
    }
    const want = Buffer.concat(blocks);
    const outLen = prfLength(id);
    // Lengths inside a block, on a boundary and spanning several blocks.
    for (const len of [0, 1, outLen - 1, outLen, outLen + 1, 2 * outLen + 5, 4 * outLen]) {
      assert.deepEqual(prfPlus(id, key, seed, len), want.subarray(0, len), `${hash} length ${len}`);
    }
  }
});

test('prf+ refuses more than 255 blocks and bad lengths', () => {
  const key = Buffer.alloc(32, 1);
  const max = PRF_PLUS_MAX_BLOCKS * 32;
  assert.equal(prfPlus(PRF_HMAC_SHA2_256, key, Buffer.alloc(0), max).length, max);
  assert.throws(() => prfPlus(PRF_HMAC_SHA2_256, key, Buffer.alloc(0), max + 1), RangeError);
  assert.throws(() => prfPlus(PRF_HMAC_SHA2_384, key, Buffer.alloc(0), PRF_PLUS_MAX_BLOCKS * 48 + 1), RangeError);
  assert.throws(() => prfPlus(PRF_HMAC_SHA2_256, key, Buffer.alloc(0), -1), RangeError);
  assert.throws(() => prfPlus(PRF_HMAC_SHA2_256, key, Buffer.alloc(0), 1.5), RangeError);
  assert.throws(() => prf(2 as PrfId, key, Buffer.alloc(0)), RangeError);
  // The 255th block uses counter 0xff: its last bytes must not repeat the first block.
  const s = prfPlus(PRF_HMAC_SHA2_256, key, Buffer.alloc(0), max);
  assert.notDeepEqual(s.subarray(max - 32), s.subarray(0, 32));
});
