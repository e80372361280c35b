// Real IKEv2 messages from strongSwan 5.9.8 charon (two instances in namespaces, see
// capture/regen.sh), checked against tshark 4.0.17's decode of the same captures. Every expected
// value below was transcribed from `tshark -V` with the ikev2_decryption_table extract.mjs writes,
// not derived from our decoder. Inner chains are the SK plaintexts opened with charon's key log;
// the SK framing and associated-data spans are verified against the real ICVs with node:crypto.
import { test, describe } from 'node:test';
import { hex64 } from '../../../src/wire/hex.js';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { run1, run2, type CapturedMessage, type CapturedRun } from './charon-vectors.js';
import {
  IkeMessageCodec, decodeChain, encodeChain, skLayout, skSplit, skUnpad, skPad, Malformed, PayloadType,
  signatureHashAlgorithms, invalidKeGroup, idToString, stripNonEspMarker,
  type PayloadRepr, type DecodedMessage, type SkPayload, type NotifyPayload,
} from '../../../src/wire/ike/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Comparable form of a repr: Buffers as hex, bigint SPIs as tshark prints them. */
function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'bigint') return hex64(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/**
 * deepEqual, except that an expected string ending in '…' only has to be a prefix: tshark
 * abbreviates long fields (the P-256 KE data) and we transcribe what it shows plus the length.
 */
function match(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'string' && expected.endsWith('…')) {
    assert.equal(typeof actual, 'string', path);
    assert.ok((actual as string).startsWith(expected.slice(0, -1)), `${path}: ${actual} does not start with ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal((actual as unknown[]).length, expected.length, `${path}: length`);
    expected.forEach((e, i) => match((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  if (expected && typeof expected === 'object') {
    assert.ok(actual && typeof actual === 'object', `${path}: not an object`);
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const [k, e] of Object.entries(expected)) match((actual as Record<string, unknown>)[k], e, `${path}.${k}`);
    return;
  }
  assert.equal(actual, expected, path);
}

// Shorthands for transcribing tshark: registry numbers are written as tshark shows them.
const N = (notifyType: number, data = '') => ({ type: 41, protocolId: 0, spi: '', notifyType, data });
const V_STRONGSWAN = { type: 43, data: '882fe56d6fd20dbc2251613b2ebe5beb' };
const T = (type: number, id: number, keyLength?: number) => (keyLength === undefined ? { type, id } : { type, id, keyLength });
const ts = (type: 44 | 45, ipProtocol: number, start: string, end: string) => ({
  type,
  selectors: [{ tsType: 7, ipProtocol, startPort: 0, endPort: 65535, startAddress: ip(start), endAddress: ip(end) }],
});
function ip(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
const NATD_S = 16388, NATD_D = 16389, FRAG_SUP = 16430, HASH_ALG = 16431, REDIR_SUP = 16406, CHILDLESS = 16418;
const MULT_AUTH = 16404, EAP_ONLY = 16417, MSGID_SYNC = 16420, INIT_CONTACT = 16384, USE_TRANSPORT = 16391;

interface Expect {
  header: Record<string, unknown>;
  /** The cleartext chain; an SK payload is written with its IV and ICV split out. */
  payloads: unknown[];
  sk?: { innerFirst: number; iv: string; icv: string; length: number };
  inner?: unknown[];
}

const SPI1 = '10d549ec17bae019';
const SPI1R = '7935e2a5f9d7f910';
const SPI2 = '7f1c29a4ed61f374';
const SPI2R = '3df32e6d8e45b3b4';
const Z = '0000000000000000';
const hdr = (spiI: string, spiR: string, exchangeType: number, flags: 0x08 | 0x20, messageId: number, nextPayload: number, length: number) => ({
  spiI, spiR, nextPayload, minorVersion: 0, exchangeType,
  initiator: flags === 0x08, response: flags === 0x20, higherVersion: false, messageId, length,
});

const expected1: Record<string, Expect> = {
  initReq: {
    header: hdr(SPI1, Z, 34, 0x08, 0, 33, 352),
    payloads: [
      { type: 33, proposals: [
        { number: 1, protocolId: 1, spi: '', transforms: [T(1, 20, 128), T(1, 20, 256), T(2, 5), T(2, 6), T(4, 31), T(4, 19)] },
        { number: 2, protocolId: 1, spi: '', transforms: [T(1, 12, 256), T(1, 12, 128), T(3, 12), T(3, 13), T(2, 5), T(4, 31), T(4, 19)] },
      ] },
      { type: 34, group: 31, data: '0f2e555563b22e34c47d519f1f563b4a61214c7e1a6288f403f65e98b5356a71' },
      { type: 40, data: '3d7cf497d568543444fb1c688e40b735676125aa564789d56dc99e9668da5d6b' },
      N(NATD_S, '8b21032bb6d1b9ce82dbea69e0359749b6cc0480'),
      N(NATD_D, 'de6fd2f6e6286ebb489b8912eed9b1a5d7df0056'),
      N(FRAG_SUP),
      N(HASH_ALG, '0002000300040005'),
      N(REDIR_SUP),
      V_STRONGSWAN,
    ],
  },
  initResp: {
    header: hdr(SPI1, SPI1R, 34, 0x20, 0, 33, 268),
    payloads: [
      { type: 33, proposals: [{ number: 2, protocolId: 1, spi: '', transforms: [T(1, 12, 256), T(3, 12), T(2, 5), T(4, 31)] }] },
      { type: 34, group: 31, data: 'e4b1cefb3c557ae957d624998b48848a29ce2198c68a2da2479071cb7a6dcd2f' },
      { type: 40, data: '54242a5800d97d6b6c0c4a73bab9b21bd1a6c1560379a90250cb4cbce4bbef00' },
      N(NATD_S, '9da8bc1fcb3cd8d01683f695215e7f3e86d2396e'),
      N(NATD_D, '9ebc8ff4f398c4171c313673054d23cb94185d07'),
      N(FRAG_SUP),
      N(HASH_ALG, '0002000300040005'),
      N(CHILDLESS),
      N(MULT_AUTH),
      V_STRONGSWAN,
    ],
  },
  authReq: {
    header: hdr(SPI1, SPI1R, 35, 0x08, 1, 46, 336),
    payloads: [{ type: 46, innerFirst: 35 }],
    sk: { innerFirst: 35, length: 308, iv: '2bfa4d4bdbbc7f8c2c17181b5bc9d82d', icv: '01a0ff3b81d9a1e4ae14a1741bccdd17' },
    inner: [
      { type: 35, idType: 2, data: Buffer.from('a.iiptran.test').toString('hex') },
      N(INIT_CONTACT),
      { type: 36, idType: 2, data: Buffer.from('b.iiptran.test').toString('hex') },
      { type: 39, method: 2, data: '109d2b24151e36405aa476210ec688bd4fe7f2ca6a7b88b1318ecbecbca2f31b' },
      N(USE_TRANSPORT),
      { type: 33, proposals: [
        { number: 1, protocolId: 3, spi: 'c1eb6335', transforms: [T(1, 20, 128), T(1, 20, 256), T(5, 1), T(5, 0)] },
        { number: 2, protocolId: 3, spi: 'c1eb6335', transforms: [T(1, 12, 256), T(3, 12), T(5, 0)] },
      ] },
      ts(44, 4, '10.77.0.1', '10.77.0.1'),
      ts(45, 4, '10.77.0.2', '10.77.0.2'),
      N(MULT_AUTH),
      N(EAP_ONLY),
      N(MSGID_SYNC),
    ],
  },
  authResp: {
    header: hdr(SPI1, SPI1R, 35, 0x20, 1, 46, 144),
    payloads: [{ type: 46, innerFirst: 36 }],
    sk: { innerFirst: 36, length: 116, iv: '311c8a791f1d59c70abf611d7a32d7c6', icv: '147738d4943f959cab16ae0f60eb02c8' },
    inner: [
      { type: 36, idType: 2, data: Buffer.from('b.iiptran.test').toString('hex') },
      { type: 39, method: 2, data: '5a11f29b60d6073b73245f2cf279aef633f9b781c90fdb106b5a730e631bc3c7' },
      N(14),
    ],
  },
  infoDeleteIkeReq: {
    header: hdr(SPI1, SPI1R, 37, 0x08, 2, 46, 80),
    payloads: [{ type: 46, innerFirst: 42 }],
    sk: { innerFirst: 42, length: 52, iv: '27fa8f71484dc64a53bc2f33cb33dac9', icv: '6acd1917f8be94f2fbffcf8913ce06e3' },
    inner: [{ type: 42, protocolId: 1, spiSize: 0, spis: [] }],
  },
  infoDeleteIkeResp: {
    header: hdr(SPI1, SPI1R, 37, 0x20, 2, 46, 80),
    payloads: [{ type: 46, innerFirst: 0 }],
    sk: { innerFirst: 0, length: 52, iv: '86ca7acb7ecdfc08dbb8e1af4fa7bc17', icv: '2c1c29ee2e973f97c64aaf5933c9e2f0' },
    inner: [],
  },
};

const natd2 = [N(NATD_S, '250595bc0d9ae3efdfbebafd51cce975bc3c7588'), N(NATD_D, 'e1fdb95016ea5e75d0ba1bf08342493afbb663ed')];
const nonce2i = { type: 40, data: '8946dabf45c37acef7f45114c0e3d34090534048100e7dd14873a7a0f3dde08d' };
const ANY = ['0.0.0.0', '255.255.255.255'] as const;
const expected2: Record<string, Expect> = {
  initReqX25519: {
    header: hdr(SPI2, Z, 34, 0x08, 0, 33, 272),
    payloads: [
      { type: 33, proposals: [{ number: 1, protocolId: 1, spi: '', transforms: [T(1, 20, 128), T(1, 20, 256), T(2, 5), T(4, 31), T(4, 19)] }] },
      { type: 34, group: 31, data: 'e9695ea9f506118e704e321ff84a44c5d9059bf89ae73b073be70d561f6c0f3c' },
      nonce2i, ...natd2, N(FRAG_SUP), N(HASH_ALG, '0002000300040005'), N(REDIR_SUP), V_STRONGSWAN,
    ],
  },
  initRespInvalidKe: {
    header: hdr(SPI2, Z, 34, 0x20, 0, 41, 58),
    payloads: [N(17, '0013'), V_STRONGSWAN],
  },
  initReq: {
    header: hdr(SPI2, Z, 34, 0x08, 0, 33, 304),
    payloads: [
      { type: 33, proposals: [{ number: 1, protocolId: 1, spi: '', transforms: [T(1, 20, 128), T(1, 20, 256), T(2, 5), T(4, 19), T(4, 31)] }] },
      { type: 34, group: 19, data: 'd3bfdfba2075e3be9dc5fe0712394bb4d7a4c35eb57fccf7b6fe8617c38c467fc66f330d…' },
      nonce2i, ...natd2, N(FRAG_SUP), N(HASH_ALG, '0002000300040005'), N(REDIR_SUP), V_STRONGSWAN,
    ],
  },
  initResp: {
    header: hdr(SPI2, SPI2R, 34, 0x20, 0, 33, 292),
    payloads: [
      { type: 33, proposals: [{ number: 1, protocolId: 1, spi: '', transforms: [T(1, 20, 128), T(2, 5), T(4, 19)] }] },
      { type: 34, group: 19, data: 'e5da12e1d09ea70343aca452f6377e1b7eb820366b82a67696b2a9f0dff02cbc86aed4a2…' },
      { type: 40, data: '6ee92c7cec66dc5e3c86b90a52d037d73085fd83b38964abb0e5097e8c06af9f' },
      N(NATD_S, 'f8351c7ca8aca9cda205ae84ee46a6ac279f234a'),
      N(NATD_D, '1663660f71e0ae84d9383e0f400f142fe2ec3ed7'),
      N(FRAG_SUP), N(HASH_ALG, '0002000300040005'), N(CHILDLESS), N(MULT_AUTH), V_STRONGSWAN,
    ],
  },
  authReq: {
    header: hdr(SPI2, SPI2R, 35, 0x08, 1, 46, 247),
    payloads: [{ type: 46, innerFirst: 35 }],
    sk: { innerFirst: 35, length: 219, iv: '2318e962ac8d69dc', icv: 'b988fee9768f59e489ddf3771f087c75' },
    inner: [
      { type: 35, idType: 1, data: '0a4d0001' },
      N(INIT_CONTACT),
      { type: 36, idType: 3, data: Buffer.from('b@iiptran.test').toString('hex') },
      { type: 39, method: 2, data: '0289e24f8901a97cc1b1edccccbab72193005cf7d49439d33d6144e3e00133c8' },
      { type: 33, proposals: [{ number: 1, protocolId: 3, spi: 'f6aae744', transforms: [T(1, 20, 128), T(5, 0)] }] },
      ts(44, 0, ...ANY),
      ts(45, 0, ...ANY),
      N(MULT_AUTH), N(EAP_ONLY), N(MSGID_SYNC),
    ],
  },
  authResp: {
    header: hdr(SPI2, SPI2R, 35, 0x20, 1, 46, 203),
    payloads: [{ type: 46, innerFirst: 36 }],
    sk: { innerFirst: 36, length: 175, iv: '3dc731e718052c6f', icv: 'd9c4ea1e3c4c3374abaaf3238747b679' },
    inner: [
      { type: 36, idType: 3, data: Buffer.from('b@iiptran.test').toString('hex') },
      { type: 39, method: 2, data: 'e80eb8f9c1486d7d661094ba1beebbc013a8481a284dab5da7702a8246409e96' },
      { type: 33, proposals: [{ number: 1, protocolId: 3, spi: 'be28f446', transforms: [T(1, 20, 128), T(5, 0)] }] },
      ts(44, 0, ...ANY),
      ts(45, 0, ...ANY),
    ],
  },
  infoDeleteChildReq: {
    header: hdr(SPI2, SPI2R, 37, 0x08, 2, 46, 69),
    payloads: [{ type: 46, innerFirst: 42 }],
    sk: { innerFirst: 42, length: 41, iv: '2318e961ac8d69dc', icv: 'f7552ce3313b5182fed83f2b362da605' },
    inner: [{ type: 42, protocolId: 3, spiSize: 4, spis: ['f6aae744'] }],
  },
  infoDeleteChildResp: {
    header: hdr(SPI2, SPI2R, 37, 0x20, 2, 46, 69),
    payloads: [{ type: 46, innerFirst: 42 }],
    sk: { innerFirst: 42, length: 41, iv: '3dc731e418052c6f', icv: 'd3b402eeff601cbe1aa7b1669f1b33d5' },
    inner: [{ type: 42, protocolId: 3, spiSize: 4, spis: ['be28f446'] }],
  },
  infoDeleteIkeReq: {
    header: hdr(SPI2, SPI2R, 37, 0x08, 3, 46, 65),
    payloads: [{ type: 46, innerFirst: 42 }],
    sk: { innerFirst: 42, length: 37, iv: '2318e960ac8d69dc', icv: '27a7482ef45a0d8c087586d554ac841a' },
    inner: [{ type: 42, protocolId: 1, spiSize: 0, spis: [] }],
  },
  infoDeleteIkeResp: {
    header: hdr(SPI2, SPI2R, 37, 0x20, 3, 46, 57),
    payloads: [{ type: 46, innerFirst: 0 }],
    sk: { innerFirst: 0, length: 29, iv: '3dc731e518052c6f', icv: 'acb2519a22b956127588503a4c85fb58' },
    inner: [],
  },
};

const SIZES = { 'aes-cbc-256/hmac-sha2-256-128': { iv: 16, icv: 16 }, 'aes-gcm-16-128': { iv: 8, icv: 16 } } as const;

function decodeOk(bytes: Buffer): DecodedMessage {
  const r = IkeMessageCodec.decode(bytes);
  assert.ok(r.ok, `decode failed: ${!r.ok && r.error}: ${!r.ok && r.detail}`);
  return r;
}

function checkRun(name: string, run: CapturedRun, expected: Record<string, Expect>): void {
  describe(`charon ${name} (${run.suite})`, () => {
    test('the vectors hold every message tshark listed, and only those', () => {
      assert.deepEqual(Object.keys(run.messages), Object.keys(expected));
    });
    for (const [label, exp] of Object.entries(expected)) {
      const m: CapturedMessage = run.messages[label]!;
      const bytes = hex(m.hex);
      test(`${label}: decodes to tshark's fields and re-encodes to the captured bytes`, () => {
        const d = decodeOk(bytes);
        match(plain(d.header), exp.header, 'header');
        assert.deepEqual(d.skipped, []);
        const shown = d.payloads.map((p) => (p.type === PayloadType.SK ? { type: p.type, innerFirst: p.innerFirst } : plain(p)));
        match(shown, exp.payloads, 'payloads');
        const again = IkeMessageCodec.encode({ header: d.header, payloads: d.payloads });
        assert.equal(again.toString('hex'), bytes.toString('hex'));
        assert.equal(IkeMessageCodec.encodingLength({ header: d.header, payloads: d.payloads }), bytes.length);
      });
      if (exp.sk && exp.inner) {
        const sk = exp.sk;
        const inner = exp.inner;
        test(`${label}: SK framing matches tshark, inner chain decodes and re-encodes`, () => {
          const d = decodeOk(bytes);
          const skp = d.payloads.at(-1) as SkPayload;
          assert.equal(skp.data.length + 4, sk.length);
          const { iv, icv } = SIZES[run.suite];
          const parts = skSplit(skp.data, iv, icv);
          assert.ok(!(parts instanceof Malformed));
          assert.equal(parts.iv.toString('hex'), sk.iv);
          assert.equal(parts.icv.toString('hex'), sk.icv);
          assert.equal(m.innerFirst, sk.innerFirst);
          const innerBytes = hex(m.inner!);
          const r = decodeChain(innerBytes, skp.innerFirst);
          assert.ok(r.ok, `${!r.ok && r.error} ${!r.ok && r.detail}`);
          match(r.payloads.map(plain), inner, 'inner');
          assert.equal(encodeChain(r.payloads).toString('hex'), innerBytes.toString('hex'));
        });
        test(`${label}: associated-data and integrity spans authenticate the real ICV`, () => {
          const { iv: ivLen, icv: icvLen } = SIZES[run.suite];
          const lay = skLayout(bytes, ivLen, icvLen);
          assert.ok(!(lay instanceof Malformed), lay instanceof Malformed ? lay.detail : '');
          assert.equal(lay.skOffset, 28);
          const fromI = (bytes[19]! & 0x08) !== 0;
          const ek = hex(fromI ? run.keys.sk_ei! : run.keys.sk_er!);
          let plainText: Buffer;
          if (run.suite === 'aes-gcm-16-128') {
            assert.equal(lay.associatedData.length, 28 + 4, 'AAD is IKE header + SK generic header');
            const d = crypto.createDecipheriv('aes-128-gcm', ek.subarray(0, 16), Buffer.concat([ek.subarray(16), lay.iv]));
            d.setAAD(lay.associatedData);
            d.setAuthTag(lay.icv);
            plainText = Buffer.concat([d.update(lay.ciphertext), d.final()]);
            // A one-byte change to the span must break authentication, or the check proves nothing.
            const tampered = Buffer.from(lay.associatedData);
            tampered[27] ^= 1;
            const d2 = crypto.createDecipheriv('aes-128-gcm', ek.subarray(0, 16), Buffer.concat([ek.subarray(16), lay.iv]));
            d2.setAAD(tampered);
            d2.setAuthTag(lay.icv);
            d2.update(lay.ciphertext);
            assert.throws(() => d2.final());
          } else {
            const ak = hex(fromI ? run.keys.sk_ai! : run.keys.sk_ar!);
            assert.equal(lay.integrityCovered.length, bytes.length - 16);
            const mac = crypto.createHmac('sha256', ak).update(lay.integrityCovered).digest().subarray(0, 16);
            assert.equal(mac.toString('hex'), lay.icv.toString('hex'));
            const d = crypto.createDecipheriv('aes-256-cbc', ek, lay.iv).setAutoPadding(false);
            plainText = Buffer.concat([d.update(lay.ciphertext), d.final()]);
          }
          assert.equal(plainText[plainText.length - 1], m.padLen);
          const innerView = skUnpad(plainText);
          assert.ok(!(innerView instanceof Malformed));
          assert.equal(innerView.toString('hex'), hex(m.inner!).toString('hex'));
          // Our own padding would have produced a plaintext of the same length for the AEAD
          // (charon does not pad there either); CBC lengths must be whole blocks.
          const blk = run.suite === 'aes-gcm-16-128' ? 1 : 16;
          assert.equal(skPad(innerView, blk).length % blk, 0);
          if (blk === 1) assert.equal(skPad(innerView, 1).length, plainText.length);
        });
      }
    }
  });
}

checkRun('run1', run1, expected1);
checkRun('run2', run2, expected2);

describe('helpers on captured payloads', () => {
  test('SIGNATURE_HASH_ALGORITHMS lists SHA2-256, -384, -512, Identity (tshark)', () => {
    const d = decodeOk(hex(run1.messages.initReq!.hex));
    const n = d.payloads.find((p): p is NotifyPayload => p.type === PayloadType.NOTIFY && p.notifyType === 16431)!;
    assert.deepEqual(signatureHashAlgorithms(n), [2, 3, 4, 5]);
  });
  test('INVALID_KE_PAYLOAD asks for group 19 (tshark: Accepted DH group number)', () => {
    const d = decodeOk(hex(run2.messages.initRespInvalidKe!.hex));
    assert.equal(invalidKeGroup(d.payloads[0] as NotifyPayload), 19);
  });
  test('IDs print as tshark shows them', () => {
    const r = decodeChain(hex(run2.messages.authReq!.inner!), 35);
    assert.ok(r.ok);
    assert.equal(idToString(r.payloads[0] as { idType: number; data: Buffer }), '10.77.0.1');
    assert.equal(idToString(r.payloads[2] as { idType: number; data: Buffer }), 'b@iiptran.test');
  });
  test('run2 moved to port 4500: the marker-stripping helper gives back the captured message', () => {
    const m = run2.messages.authReq!;
    assert.equal(m.marker, true);
    const dgram = Buffer.concat([Buffer.alloc(4), hex(m.hex)]);
    assert.equal(stripNonEspMarker(dgram)!.toString('hex'), hex(m.hex).toString('hex'));
    // An ESP packet on 4500 starts with its non-zero SPI.
    assert.equal(stripNonEspMarker(Buffer.concat([hex('f6aae744'), hex(m.hex)])), null);
  });
});
