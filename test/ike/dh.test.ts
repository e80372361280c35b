import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromPrivate, generate } from '../../src/ike/crypto/dh.js';
import { DH_CURVE25519, DH_ECP_256 } from '../../src/ike/crypto/suites.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5903 §8.1 (256-bit random ECP group).
const P256 = {
  i: 'C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433',
  gix: 'DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180',
  giy: '5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3',
  r: 'C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53',
  grx: 'D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63',
  gry: '56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB',
  girx: 'D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE',
};

// RFC 7748 §6.1.
const X25519 = {
  alicePriv: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePub: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPriv: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPub: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  k: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
};

test('group 19 reproduces RFC 5903 §8.1: KE data is x | y, g^ir is x only', () => {
  const i = fromPrivate(DH_ECP_256, hex(P256.i));
  const r = fromPrivate(DH_ECP_256, hex(P256.r));
  assert.equal(i.publicValue.toString('hex'), (P256.gix + P256.giy).toLowerCase());
  assert.equal(r.publicValue.toString('hex'), (P256.grx + P256.gry).toLowerCase());
  assert.equal(i.publicValue.length, 64);
  assert.equal((i.computeShared(r.publicValue) as Buffer).toString('hex'), P256.girx.toLowerCase());
  assert.equal((r.computeShared(i.publicValue) as Buffer).toString('hex'), P256.girx.toLowerCase());
});

test('group 31 reproduces RFC 7748 §6.1', () => {
  const a = fromPrivate(DH_CURVE25519, hex(X25519.alicePriv));
  const b = fromPrivate(DH_CURVE25519, hex(X25519.bobPriv));
  assert.equal(a.publicValue.toString('hex'), X25519.alicePub);
  assert.equal(b.publicValue.toString('hex'), X25519.bobPub);
  assert.equal((a.computeShared(b.publicValue) as Buffer).toString('hex'), X25519.k);
  assert.equal((b.computeShared(a.publicValue) as Buffer).toString('hex'), X25519.k);
});

test('fresh key pairs agree and are fresh', () => {
  for (const g of [DH_ECP_256, DH_CURVE25519] as const) {
    const a = generate(g);
    const b = generate(g);
    assert.equal(a.group, g);
    assert.equal(a.publicValue.length, g === DH_ECP_256 ? 64 : 32);
    assert.notDeepEqual(a.publicValue, b.publicValue);
    const s1 = a.computeShared(b.publicValue);
    const s2 = b.computeShared(a.publicValue);
    assert.ok(Buffer.isBuffer(s1));
    assert.equal(s1.length, 32);
    assert.deepEqual(s1, s2);
  }
});

test('group 19 refuses bad peer values without throwing', () => {
  const a = generate(DH_ECP_256);
  const good = fromPrivate(DH_ECP_256, hex(P256.r)).publicValue;
  const offCurve = Buffer.from(good);
  offCurve[63] ^= 1;
  // p itself as x: not a valid field element.
  const p = hex('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff');
  for (const bad of [Buffer.alloc(0), good.subarray(0, 63), Buffer.concat([Buffer.from([4]), good]), Buffer.alloc(64), offCurve,
    Buffer.concat([p, good.subarray(32)])]) {
    assert.equal(a.computeShared(bad), 'invalid-ke', bad.toString('hex'));
  }
  assert.equal(a.computeShared('nope' as unknown as Buffer), 'invalid-ke');
});

test('group 31 refuses wrong lengths and small-order points (all-zero output)', () => {
  const a = generate(DH_CURVE25519);
  // Small-order u-coordinates: 0, 1, and the order-8 point of RFC 7748 §6.1's security note.
  const smallOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  for (const h of smallOrder) assert.equal(a.computeShared(hex(h)), 'invalid-ke', h);
  assert.equal(a.computeShared(Buffer.alloc(31, 9)), 'invalid-ke');
  assert.equal(a.computeShared(Buffer.alloc(33, 9)), 'invalid-ke');
});
