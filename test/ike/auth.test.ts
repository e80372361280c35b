import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUTH_DIGITAL_SIGNATURE, AUTH_ECDSA_SHA256_P256, authKeyType, authMethodsFor, exportSpki, generateAuthKey, importPrivateKey,
  importSpki, pskAuth, signAuth, signedOctets, verifyAuth, verifyPskAuth,
} from '../../src/ike/crypto/auth.js';
import { prf } from '../../src/ike/crypto/prf.js';
import { PRF_HMAC_SHA2_256 } from '../../src/ike/crypto/suites.js';
import { requirePrograms } from '../netns/helpers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ALG_ED25519 = hex('300506032b6570');
const ALG_ECDSA_SHA256 = hex('300a06082a8648ce3d040302');
const method14 = (alg: Buffer, sig: Buffer): Buffer => Buffer.concat([Buffer.from([alg.length]), alg, sig]);

function ed25519FromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' });
}

function p256PublicFromPrivate(d: Buffer): KeyObject {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const b64 = (b: Buffer): string => b.toString('base64url');
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(pub.subarray(1, 33)), y: b64(pub.subarray(33)) }, format: 'jwk' });
}

/** DER ECDSA-Sig-Value from r and s, for method 14 over the raw-r|s vectors. */
function derSig(r: Buffer, s: Buffer): Buffer {
  const int = (x: Buffer): Buffer => {
    let i = 0;
    while (i < x.length - 1 && x[i] === 0) i++;
    let v = x.subarray(i);
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([2, v.length]), v]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

test('Ed25519 (method 14) verifies RFC 8032 §7.1 tests 1 and 2 and signs them identically', () => {
  const vectors = [
    {
      seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', msg: '',
      sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', msg: '72',
      sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
  ];
  for (const v of vectors) {
    const priv = ed25519FromSeed(hex(v.seed));
    const spki = exportSpki(priv);
    assert.equal(spki.subarray(-32).toString('hex'), v.pub);
    const pub = importSpki(spki)!;
    assert.ok(pub);
    const auth = method14(ALG_ED25519, hex(v.sig));
    assert.ok(verifyAuth(AUTH_DIGITAL_SIGNATURE, pub, hex(v.msg), auth));
    // Ed25519 is deterministic, so our AUTH data must be the vector's byte for byte.
    assert.deepEqual(signAuth(AUTH_DIGITAL_SIGNATURE, priv, hex(v.msg)), auth);
    const bad = Buffer.from(auth);
    bad[bad.length - 1] ^= 1;
    assert.equal(verifyAuth(AUTH_DIGITAL_SIGNATURE, pub, hex(v.msg), bad), false);
    assert.equal(verifyAuth(AUTH_DIGITAL_SIGNATURE, pub, Buffer.concat([hex(v.msg), Buffer.from([0])]), auth), false);
  }
});

test('ECDSA P-256 verifies RFC 4754 §8.1 (method 9) and RFC 6979 A.2.5 SHA-256 (methods 9 and 14)', () => {
  const rfc4754 = {
    w: 'DC51D3866A15BACDE33D96F992FCA99DA7E6EF0934E7097559C27F1614C88A7F',
    r: 'CB28E0999B9C7715FD0A80D8E47A77079716CBBF917DD72E97566EA1C066957C',
    s: '86FA3BB4E26CAD5BF90B7F81899256CE7594BB1EA0C89212748BFF3B3D5B0315',
    msg: Buffer.from('abc'),
  };
  const rfc6979 = {
    w: 'C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721',
    r: 'EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716',
    s: 'F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8',
    msg: Buffer.from('sample'),
  };
  for (const v of [rfc4754, rfc6979]) {
    const pub = p256PublicFromPrivate(hex(v.w));
    const rs = Buffer.concat([hex(v.r), hex(v.s)]);
    assert.ok(verifyAuth(AUTH_ECDSA_SHA256_P256, pub, v.msg, rs));
    assert.ok(verifyAuth(AUTH_DIGITAL_SIGNATURE, pub, v.msg, method14(ALG_ECDSA_SHA256, derSig(hex(v.r), hex(v.s)))));
    const bad = Buffer.from(rs);
    bad[10] ^= 4;
    assert.equal(verifyAuth(AUTH_ECDSA_SHA256_P256, pub, v.msg, bad), false);
    assert.equal(verifyAuth(AUTH_ECDSA_SHA256_P256, pub, Buffer.from('abd'), rs), false);
    // The raw form is not accepted where DER is expected, nor the other way round.
    assert.equal(verifyAuth(AUTH_DIGITAL_SIGNATURE, pub, v.msg, method14(ALG_ECDSA_SHA256, rs)), false);
    assert.equal(verifyAuth(AUTH_ECDSA_SHA256_P256, pub, v.msg, derSig(hex(v.r), hex(v.s))), false);
  }
});

test('sign/verify round trips; tampering, wrong key, wrong method, wrong AlgorithmIdentifier all fail', () => {
  const octets = randomBytes(300);
  const ed = generateAuthKey('ed25519');
  const ec = generateAuthKey('ecdsa-p256');
  assert.equal(authKeyType(ed.publicKey), 'ed25519');
  assert.equal(authKeyType(ec.privateKey), 'ecdsa-p256');
  assert.deepEqual(authMethodsFor(ed.privateKey), [AUTH_DIGITAL_SIGNATURE]);
  assert.deepEqual(authMethodsFor(ec.publicKey), [AUTH_DIGITAL_SIGNATURE, AUTH_ECDSA_SHA256_P256]);
  const cases: [number, { privateKey: KeyObject; publicKey: KeyObject }][] = [
    [AUTH_DIGITAL_SIGNATURE, ed], [AUTH_DIGITAL_SIGNATURE, ec], [AUTH_ECDSA_SHA256_P256, ec],
  ];
  for (const [method, kp] of cases) {
    const auth = signAuth(method as 9 | 14, kp.privateKey, octets);
    if (method === AUTH_ECDSA_SHA256_P256) assert.equal(auth.length, 64);
    else assert.deepEqual(auth.subarray(1, 1 + auth[0]!), authKeyType(kp.publicKey) === 'ed25519' ? ALG_ED25519 : ALG_ECDSA_SHA256);
    assert.ok(verifyAuth(method, kp.publicKey, octets, auth), `method ${method}`);
    // Also from the re-imported SPKI, as a peer would hold it.
    assert.ok(verifyAuth(method, importSpki(exportSpki(kp.publicKey))!, octets, auth));
    const t1 = Buffer.from(octets);
    t1[123] ^= 1;
    assert.equal(verifyAuth(method, kp.publicKey, t1, auth), false);
    for (const i of [0, 1, auth.length - 1, auth.length >> 1]) {
      const t2 = Buffer.from(auth);
      t2[i] ^= 0x10;
      assert.equal(verifyAuth(method, kp.publicKey, octets, t2), false, `method ${method} byte ${i}`);
    }
    assert.equal(verifyAuth(method, generateAuthKey(authKeyType(kp.publicKey)!).publicKey, octets, auth), false);
    for (let cut = 0; cut < auth.length; cut += 7) assert.equal(verifyAuth(method, kp.publicKey, octets, auth.subarray(0, cut)), false);
    assert.equal(verifyAuth(method === 9 ? 14 : 9, kp.publicKey, octets, auth), false);
    assert.equal(verifyAuth(2, kp.publicKey, octets, auth), false);
    assert.equal(verifyAuth(1, kp.publicKey, octets, auth), false);
  }
  // An Ed25519 signature relabelled as ECDSA (and vice versa) is refused.
  const edAuth = signAuth(AUTH_DIGITAL_SIGNATURE, ed.privateKey, octets);
  assert.equal(verifyAuth(AUTH_DIGITAL_SIGNATURE, ed.publicKey, octets, method14(ALG_ECDSA_SHA256, edAuth.subarray(8))), false);
  assert.equal(verifyAuth(AUTH_DIGITAL_SIGNATURE, ec.publicKey, octets, edAuth), false);
  // Garbage of every short length never throws.
  for (let n = 0; n < 80; n++) assert.equal(verifyAuth(AUTH_DIGITAL_SIGNATURE, ec.publicKey, octets, randomBytes(n)), false);
  assert.throws(() => signAuth(AUTH_ECDSA_SHA256_P256, ed.privateKey, octets), RangeError);
  assert.throws(() => signAuth(AUTH_DIGITAL_SIGNATURE, ed.publicKey, octets), RangeError);
});

test('SPKI export/import accepts only Ed25519 and P-256, exactly encoded', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const x25519 = generateKeyPairSync('x25519');
  for (const k of [rsa.publicKey, p384.publicKey, x25519.publicKey]) {
    assert.equal(importSpki(exportSpki(k)), null);
    assert.equal(authKeyType(k), null);
    assert.deepEqual(authMethodsFor(k), []);
  }
  const ed = generateAuthKey('ed25519');
  const spki = exportSpki(ed.privateKey);
  assert.equal(spki.length, 44);
  assert.ok(importSpki(spki));
  assert.equal(importSpki(Buffer.concat([spki, Buffer.from([0])])), null);
  assert.equal(importSpki(spki.subarray(0, 40)), null);
  assert.equal(importSpki(Buffer.alloc(0)), null);
  assert.equal(exportSpki(generateAuthKey('ecdsa-p256').publicKey).length, 91);
  // Private keys load from PEM (PKCS#8 and SEC1) and DER; others are refused.
  const ec = generateAuthKey('ecdsa-p256').privateKey;
  for (const data of [
    ec.export({ format: 'pem', type: 'pkcs8' }), ec.export({ format: 'pem', type: 'sec1' }), ec.export({ format: 'der', type: 'pkcs8' }),
    ed.privateKey.export({ format: 'pem', type: 'pkcs8' }),
  ]) {
    assert.equal(importPrivateKey(data)?.type, 'private');
  }
  assert.equal(importPrivateKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs8' })), null);
  assert.equal(importPrivateKey(Buffer.from('not a key')), null);
});

/** Runs the openssl CLI; null when it is missing (the test's requirePrograms skips or fails it before). */
function openssl(args: string[], input?: Buffer): Buffer | null {
  try {
    return execFileSync('openssl', args, input === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input });
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw e;
  }
}

test('interop with the openssl CLI: its signatures verify here, ours verify there', { skip: requirePrograms(['openssl']) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'iit-ike-auth-'));
  try {
    const octets = randomBytes(257);
    const data = join(dir, 'octets.bin');
    writeFileSync(data, octets);
    for (const kind of ['ed25519', 'p256'] as const) {
      const keyPem = join(dir, `${kind}.pem`);
      const pubDer = join(dir, `${kind}.pub.der`);
      openssl(kind === 'ed25519' ? ['genpkey', '-algorithm', 'ed25519', '-out', keyPem] : ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPem]);
      openssl(['pkey', '-in', keyPem, '-pubout', '-outform', 'DER', '-out', pubDer]);
      const pub = importSpki(readFileSync(pubDer));
      assert.ok(pub, `${kind}: openssl's SPKI imports`);
      const priv = importPrivateKey(readFileSync(keyPem))!;
      assert.deepEqual(exportSpki(priv), readFileSync(pubDer), `${kind}: same SPKI as openssl`);

      const sigFile = join(dir, `${kind}.sig`);
      if (kind === 'ed25519') openssl(['pkeyutl', '-sign', '-rawin', '-inkey', keyPem, '-in', data, '-out', sigFile]);
      else openssl(['dgst', '-sha256', '-sign', keyPem, '-out', sigFile, data]);
      const theirs = readFileSync(sigFile);
      const alg = kind === 'ed25519' ? ALG_ED25519 : ALG_ECDSA_SHA256;
      assert.ok(verifyAuth(AUTH_DIGITAL_SIGNATURE, pub, octets, method14(alg, theirs)), `${kind}: openssl signature verifies`);
      const tampered = Buffer.from(octets);
      tampered[0] ^= 1;
      assert.equal(verifyAuth(AUTH_DIGITAL_SIGNATURE, pub, tampered, method14(alg, theirs)), false);

      const ours = signAuth(AUTH_DIGITAL_SIGNATURE, priv, octets).subarray(1 + alg.length);
      writeFileSync(sigFile, ours);
      const pubPem = join(dir, `${kind}.pub.pem`);
      openssl(['pkey', '-in', keyPem, '-pubout', '-out', pubPem]);
      const out = kind === 'ed25519'
        ? openssl(['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pubPem, '-in', data, '-sigfile', sigFile])
        : openssl(['dgst', '-sha256', '-verify', pubPem, '-signature', sigFile, data]);
      assert.match(String(out), /Verified OK|Signature Verified Successfully/, `${kind}: openssl accepts our signature`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PSK AUTH is prf(prf(secret, "Key Pad for IKEv2"), octets) and checks exactly', () => {
  const octets = signedOctets(PRF_HMAC_SHA2_256, Buffer.from('msg'), Buffer.from('nonce'), Buffer.alloc(32, 7), Buffer.from([2, 0, 0, 0, 0x61]));
  assert.deepEqual(octets, Buffer.concat([Buffer.from('msgnonce'), prf(PRF_HMAC_SHA2_256, Buffer.alloc(32, 7), Buffer.from([2, 0, 0, 0, 0x61]))]));
  const auth = pskAuth(PRF_HMAC_SHA2_256, 'secret', octets);
  assert.deepEqual(auth, prf(PRF_HMAC_SHA2_256, prf(PRF_HMAC_SHA2_256, Buffer.from('secret'), Buffer.from('Key Pad for IKEv2')), octets));
  assert.ok(verifyPskAuth(PRF_HMAC_SHA2_256, Buffer.from('secret'), octets, auth));
  assert.equal(verifyPskAuth(PRF_HMAC_SHA2_256, 'Secret', octets, auth), false);
  assert.equal(verifyPskAuth(PRF_HMAC_SHA2_256, 'secret', octets, auth.subarray(0, 31)), false);
  assert.equal(verifyPskAuth(PRF_HMAC_SHA2_256, 'secret', octets, Buffer.alloc(0)), false);
});
