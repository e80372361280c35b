import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { SkSealer, openSk, sealSk, skBodyLength, type SkKeys, type SkSuite } from '../../src/ike/crypto/sk.js';
import { ikeSuite, ikeSuiteName, type IkeSuite } from '../../src/ike/crypto/suites.js';

function suites(): IkeSuite[] {
  const t = (encr: number, keyLenBits: number | null, integ: number | null): IkeSuite => ikeSuite({ encr, keyLenBits, integ, prf: 5, dh: 19 })!;
  return [t(20, 128, null), t(20, 256, null), t(28, null, null), t(12, 128, 12), t(12, 256, 13), t(12, 128, 13), t(12, 256, 12)];
}

function keysFor(s: SkSuite): SkKeys {
  return { encr: randomBytes(s.encr.keyLen + s.encr.saltLen), integ: s.integ ? randomBytes(s.integ.keyLen) : null };
}

/** A plausible AAD: 28-byte IKE header + 4-byte SK generic header with the final lengths. */
function aadFor(s: SkSuite, plainLen: number): Buffer {
  const aad = randomBytes(32);
  const body = skBodyLength(s, plainLen);
  aad.writeUInt32BE(32 + body, 24);
  aad.writeUInt16BE(4 + body, 30);
  return aad;
}

test('seal/open round trips for every IKE SA suite and many lengths', () => {
  for (const s of suites()) {
    const k = keysFor(s);
    for (const len of [0, 1, 15, 16, 17, 31, 32, 100, 1200]) {
      const plain = randomBytes(len);
      const aad = aadFor(s, len);
      const iv = randomBytes(s.encr.ivLen);
      const body = sealSk(s, k, aad, plain, iv);
      assert.equal(body.length, skBodyLength(s, len), `${ikeSuiteName(s)} ${len}`);
      assert.deepEqual(body.subarray(0, s.encr.ivLen), iv);
      if (s.encr.kind === 'cbc') assert.equal((body.length - 16 - s.integ!.icvLen) % 16, 0);
      assert.deepEqual(openSk(s, k, aad, body), plain, `${ikeSuiteName(s)} ${len}`);
    }
  }
});

test('any flipped bit in AAD, IV, ciphertext or ICV gives bad-icv', () => {
  for (const s of suites()) {
    const k = keysFor(s);
    const plain = randomBytes(40);
    const aad = aadFor(s, plain.length);
    const body = sealSk(s, k, aad, plain, randomBytes(s.encr.ivLen));
    for (let i = 0; i < body.length; i++) {
      const b = Buffer.from(body);
      b[i] ^= 0x01 << (i % 8);
      assert.equal(openSk(s, k, aad, b), 'bad-icv', `${ikeSuiteName(s)} body byte ${i}`);
    }
    for (let i = 0; i < aad.length; i++) {
      const a = Buffer.from(aad);
      a[i] ^= 0x80;
      assert.equal(openSk(s, k, a, body), 'bad-icv', `${ikeSuiteName(s)} aad byte ${i}`);
    }
    const other = keysFor(s);
    assert.equal(openSk(s, other, aad, body), 'bad-icv');
  }
});

test('short, unaligned or empty bodies are malformed, never thrown', () => {
  for (const s of suites()) {
    const k = keysFor(s);
    const aad = aadFor(s, 10);
    const body = sealSk(s, k, aad, randomBytes(10), randomBytes(s.encr.ivLen));
    for (let cut = 0; cut < body.length; cut++) {
      const r = openSk(s, k, aad, body.subarray(0, cut));
      assert.ok(r === 'malformed' || r === 'bad-icv', `${ikeSuiteName(s)} cut ${cut}: ${String(r)}`);
    }
    assert.equal(openSk(s, k, aad, Buffer.alloc(0)), 'malformed');
    if (s.encr.kind === 'cbc') {
      // Aligned length that is short of one block of ciphertext.
      assert.equal(openSk(s, k, aad, body.subarray(0, 16 + s.integ!.icvLen)), 'malformed');
      assert.equal(openSk(s, k, aad, Buffer.concat([body, Buffer.alloc(1)])), 'malformed');
    }
  }
});

test('a Pad Length larger than the plaintext is malformed even under a valid ICV', () => {
  for (const s of suites()) {
    const k = keysFor(s);
    const aad = randomBytes(32);
    // The peer's padded plaintext whose Pad Length octet (200) exceeds what precedes it.
    const padded = Buffer.alloc(s.encr.kind === 'cbc' ? 16 : 5, 0);
    padded[padded.length - 1] = 200;
    assert.equal(openSk(s, k, aad, sealPadded(s, k, aad, padded)), 'malformed', ikeSuiteName(s));
  }
});

/** Seals text that already carries its padding, which sealSk never produces, straight with node:crypto. */
function sealPadded(s: SkSuite, k: SkKeys, aad: Buffer, padded: Buffer): Buffer {
  const iv = randomBytes(s.encr.ivLen);
  if (s.encr.kind === 'aead') {
    const nonce = Buffer.concat([k.encr.subarray(s.encr.keyLen), iv]);
    const c = createCipheriv(s.encr.cipher as 'aes-128-gcm', k.encr.subarray(0, s.encr.keyLen), nonce, { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: padded.length });
    const ct = Buffer.concat([c.update(padded), c.final()]);
    return Buffer.concat([iv, ct, c.getAuthTag()]);
  }
  const c = createCipheriv(s.encr.cipher, k.encr, iv).setAutoPadding(false);
  const ivct = Buffer.concat([iv, c.update(padded), c.final()]);
  const mac = createHmac(s.integ!.hash, k.integ!).update(aad).update(ivct).digest().subarray(0, s.integ!.icvLen);
  return Buffer.concat([ivct, mac]);
}

test('SkSealer: AEAD IVs are a counter (never repeat), CBC IVs random; output opens', () => {
  for (const s of suites()) {
    const k = keysFor(s);
    const sealer = new SkSealer(s, k);
    const seen = new Set<string>();
    let prev: bigint | null = null;
    for (let i = 0; i < 200; i++) {
      const plain = randomBytes(i % 50);
      const aad = aadFor(s, plain.length);
      const body = sealer.seal(aad, plain);
      assert.equal(body.length, sealer.bodyLength(plain.length));
      const iv = body.subarray(0, s.encr.ivLen);
      assert.ok(!seen.has(iv.toString('hex')), 'IV repeated');
      seen.add(iv.toString('hex'));
      if (s.encr.kind === 'aead') {
        const n = iv.readBigUInt64BE();
        if (prev !== null) assert.equal(n, (prev + 1n) & 0xffffffffffffffffn);
        prev = n;
      }
      assert.deepEqual(openSk(s, k, aad, body), plain);
    }
  }
});

test('keys that do not fit the suite are a programming error', () => {
  const [gcm128, , , cbc128] = suites();
  assert.throws(() => sealSk(gcm128!, { encr: Buffer.alloc(16), integ: null }, Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(8)), RangeError);
  assert.throws(() => sealSk(cbc128!, { encr: Buffer.alloc(16), integ: null }, Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(16)), RangeError);
  assert.throws(() => sealSk(gcm128!, { encr: Buffer.alloc(20), integ: null }, Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(16)), RangeError);
  assert.throws(() => new SkSealer(cbc128!, { encr: Buffer.alloc(16), integ: Buffer.alloc(31) }), RangeError);
});
