// Hostile input, built from the real charon captures: truncations, crafted chain errors and a
// seeded mutation fuzz. The decoders must answer every one with a reason and never throw,
// because the responder runs them on unauthenticated datagrams.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { run1, run2 } from './charon-vectors.js';
import {
  IkeMessageCodec, decodeChain, encodeChain, skLayout, skSplit, skUnpad, notifyForDecodeError, Malformed, NotifyType,
  type MessageResult,
} from '../../../src/wire/ike/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const messages = [...Object.entries(run1.messages), ...Object.entries(run2.messages)].map(([k, m], i) => ({
  name: `${i < 6 ? 'run1' : 'run2'}.${k}`,
  bytes: hex(m.hex),
  inner: m.inner === undefined ? undefined : hex(m.inner),
  innerFirst: m.innerFirst ?? 0,
}));

function decodeNoThrow(b: Buffer): MessageResult {
  try {
    return IkeMessageCodec.decode(b);
  } catch (e) {
    assert.fail(`decode threw on ${b.toString('hex')}: ${(e as Error).stack}`);
  }
}

function refused(r: { ok: boolean; error?: string; detail?: string }, what: string): void {
  assert.equal(r.ok, false, `${what} was accepted`);
  assert.equal(typeof r.error, 'string', what);
  assert.ok(r.detail && r.detail.length > 0, `${what}: no detail`);
}

describe('truncation of every captured message', () => {
  for (const m of messages) {
    test(`${m.name}: every prefix is refused, with the header's Length left alone and with it patched`, () => {
      for (let k = 0; k < m.bytes.length; k++) {
        const cut = Buffer.from(m.bytes.subarray(0, k));
        refused(decodeNoThrow(cut), `${m.name}[0..${k})`);
        // Patching Length makes the header agree, so the chain walker itself must notice.
        if (k >= 28) {
          cut.writeUInt32BE(k, 24);
          const r = decodeNoThrow(cut);
          refused(r, `${m.name}[0..${k}) with Length ${k}`);
          assert.notEqual(r.ok === false && r.error, 'length-mismatch');
        }
      }
      assert.equal(decodeNoThrow(m.bytes).ok, true);
    });
    if (m.inner && m.inner.length > 0) {
      const inner = m.inner;
      test(`${m.name}: every prefix of the decrypted inner chain is refused`, () => {
        for (let k = 0; k < inner.length; k++) {
          refused(decodeChain(inner.subarray(0, k), m.innerFirst), `${m.name} inner[0..${k})`);
        }
      });
    }
  }
});

// Hand-built variants of run2's INVALID_KE_PAYLOAD response: header(28) | N(10) | V(20).
const base = hex(run2.messages.initRespInvalidKe!.hex);
const N_AT = 28;
const V_AT = 38;

function withPayload(type: number, critical: boolean): Buffer {
  const unknown = Buffer.from([0x2b /* next: V */, critical ? 0x80 : 0, 0, 8, 1, 2, 3, 4]);
  const b = Buffer.concat([base.subarray(0, V_AT), unknown, base.subarray(V_AT)]);
  b[N_AT] = type;
  b.writeUInt32BE(b.length, 24);
  return b;
}

describe('crafted chain errors', () => {
  test('the base message is what the tests below assume', () => {
    assert.equal(base.length, 58);
    assert.equal(base[16], 41);
    assert.equal(base[N_AT], 43);
    assert.equal(base.readUInt16BE(N_AT + 2), 10);
    assert.equal(base[V_AT], 0);
  });

  test('an unknown critical payload is reported as unsupported-critical-payload with its type', () => {
    const r = decodeNoThrow(withPayload(60, true));
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error, 'unsupported-critical-payload');
    assert.equal(r.payloadType, 60);
    assert.equal(r.offset, V_AT);
    assert.equal(r.header?.exchangeType, 34, 'header handed back so the responder can answer');
    assert.equal(notifyForDecodeError(r.error), NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD);
  });

  test('the same payload without the critical bit is skipped and reported separately', () => {
    const r = decodeNoThrow(withPayload(60, false));
    assert.ok(r.ok);
    assert.deepEqual(r.skipped, [{ type: 60, offset: V_AT, length: 8 }]);
    assert.deepEqual(r.payloads.map((p) => p.type), [41, 43]);
  });

  test('an IKEv1 payload type (1..32) in an IKEv2 message is unknown too', () => {
    const r = decodeNoThrow(withPayload(5, true));
    assert.equal(!r.ok && r.error, 'unsupported-critical-payload');
  });

  test('a structural error elsewhere wins over an unknown critical payload', () => {
    const b = withPayload(60, true);
    b.writeUInt16BE(21, b.length - 20 + 2); // the trailing V now overruns by one
    assert.equal(((r) => !r.ok && r.error)(decodeNoThrow(b)), 'payload-overrun');
  });

  test('a payload length that overruns the message', () => {
    const b = Buffer.from(base);
    b.writeUInt16BE(base.length - N_AT + 1, N_AT + 2);
    const r = decodeNoThrow(b);
    assert.equal(!r.ok && r.error, 'payload-overrun');
    assert.equal(!r.ok && r.offset, N_AT);
    const big = Buffer.from(base);
    big.writeUInt16BE(0xffff, V_AT + 2);
    assert.equal(((x) => !x.ok && x.error)(decodeNoThrow(big)), 'payload-overrun');
  });

  test('a zero-length payload, and lengths 1..3 below the generic header', () => {
    for (const len of [0, 1, 2, 3]) {
      const b = Buffer.from(base);
      b.writeUInt16BE(len, N_AT + 2);
      const r = decodeNoThrow(b);
      assert.equal(!r.ok && r.error, 'bad-payload-length', `length ${len}`);
    }
  });

  test('a payload too short for its own fixed fields (Notify of 4 bytes, Nonce of 8)', () => {
    const b = Buffer.concat([base.subarray(0, N_AT), Buffer.from([0, 0, 0, 4])]);
    b[16] = 41;
    b.writeUInt32BE(b.length, 24);
    assert.equal(((r) => !r.ok && r.error)(decodeNoThrow(b)), 'malformed-payload');
    const nonce = Buffer.concat([base.subarray(0, N_AT), Buffer.from([0, 0, 0, 12]), Buffer.alloc(8)]);
    nonce[16] = 40;
    nonce.writeUInt32BE(nonce.length, 24);
    const r = decodeNoThrow(nonce);
    assert.equal(!r.ok && r.error, 'malformed-payload');
    assert.match(!r.ok ? r.detail : '', /Nonce/);
  });

  test('a chain longer than the message: the last payload announces another', () => {
    const b = Buffer.from(base);
    b[V_AT] = 41;
    const r = decodeNoThrow(b);
    assert.equal(!r.ok && r.error, 'chain-overrun');
    // Same in a bare chain: a first type with no bytes at all.
    assert.equal(((x) => !x.ok && x.error)(decodeChain(Buffer.alloc(0), 41)), 'chain-overrun');
  });

  test('bytes after the last payload', () => {
    const b = Buffer.concat([base, Buffer.alloc(4)]);
    b.writeUInt32BE(b.length, 24);
    assert.equal(((r) => !r.ok && r.error)(decodeNoThrow(b)), 'trailing-bytes');
  });

  test('header Length disagreeing with the datagram, both ways', () => {
    const longer = Buffer.concat([base, Buffer.alloc(1)]);
    assert.equal(((r) => !r.ok && r.error)(decodeNoThrow(longer)), 'length-mismatch');
    const b = Buffer.from(base);
    b.writeUInt32BE(59, 24);
    assert.equal(((r) => !r.ok && r.error)(decodeNoThrow(b)), 'length-mismatch');
    assert.equal(notifyForDecodeError('length-mismatch'), null);
  });

  test('major version 1 or 3 is refused with the header, for INVALID_MAJOR_VERSION', () => {
    for (const v of [0x10, 0x30]) {
      const b = Buffer.from(base);
      b[17] = v;
      const r = decodeNoThrow(b);
      assert.equal(!r.ok && r.error, 'unsupported-major-version');
      assert.equal(!r.ok && r.header?.spiI, 0x7f1c29a4ed61f374n);
      assert.equal(notifyForDecodeError('unsupported-major-version'), NotifyType.INVALID_MAJOR_VERSION);
    }
  });

  test('SK that is not the last payload', () => {
    const auth = hex(run1.messages.authReq!.hex);
    const b = Buffer.concat([auth, Buffer.from([0, 0, 0, 8, 1, 2, 3, 4])]);
    b.writeUInt32BE(b.length, 24);
    const r = decodeNoThrow(b);
    assert.equal(!r.ok && r.error, 'sk-not-last');
    assert.ok(skLayout(b, 16, 16) instanceof Malformed);
  });

  test('SA substructure lies: transform count, Last bytes, attribute overrun', () => {
    const init = hex(run1.messages.initReq!.hex);
    const cases: [string, (b: Buffer) => void][] = [
      ['transform count', (b) => (b[28 + 4 + 7] = 5)],
      ['proposal Last says last but another follows', (b) => (b[28 + 4] = 0)],
      ['proposal Last value 1', (b) => (b[28 + 4] = 1)],
      ['transform Last says last too early', (b) => (b[28 + 4 + 8] = 0)],
      ['first transform length past the proposal', (b) => b.writeUInt16BE(0x100, 28 + 4 + 8 + 2)],
      ['Key Length as TLV overrunning', (b) => (b[28 + 4 + 8 + 8] &= 0x7f)],
    ];
    for (const [what, mutate] of cases) {
      const b = Buffer.from(init);
      mutate(b);
      const r = decodeNoThrow(b);
      assert.equal(!r.ok && r.error, 'malformed-payload', what);
    }
  });

  test('SK framing helpers refuse what cannot hold IV, one byte and ICV', () => {
    assert.ok(skSplit(Buffer.alloc(16 + 16), 16, 16) instanceof Malformed);
    assert.ok(!(skSplit(Buffer.alloc(16 + 1 + 16), 16, 16) instanceof Malformed));
    assert.ok(skUnpad(Buffer.from([1, 2, 5])) instanceof Malformed);
    assert.equal((skUnpad(Buffer.from([9, 0, 0, 2])) as Buffer).toString('hex'), '09');
    assert.ok(skLayout(hex(run2.messages.infoDeleteIkeResp!.hex), 8, 17) instanceof Malformed);
    assert.ok(skLayout(base, 8, 16) instanceof Malformed, 'no SK at all');
  });
});

/** xorshift32: the fuzz must be reproducible from its seed when it finds something. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(r() * 4);
  let out = b;
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(r() * out.length);
    switch (Math.floor(r() * 7)) {
      case 0: out[pos] = out[pos]! ^ (1 << Math.floor(r() * 8)); break;
      case 1: out[pos] = Math.floor(r() * 256); break;
      case 2: out = out.subarray(0, pos); break;
      case 3: out = Buffer.concat([out.subarray(0, pos), Buffer.from([Math.floor(r() * 256)]), out.subarray(pos)]); break;
      case 4: if (pos + 1 < out.length) out.writeUInt16BE(Math.floor(r() * 0x10000), pos); break;
      // Fix the header Length so mutations reach the chain instead of stopping at the header.
      case 5: if (out.length >= 28) out.writeUInt32BE(out.length, 24); break;
      default: if (out.length > 4) out[pos] = [0, 4, 8, 0x80, 0xff, 33, 41, 46, 53][Math.floor(r() * 9)]!; break;
    }
  }
  if (out.length >= 28 && r() < 0.7) out.writeUInt32BE(out.length, 24);
  return out;
}

describe('mutation fuzz', () => {
  test('10000 mutated messages and 10000 mutated inner chains: no throw; accepted ones re-encode', () => {
    const seed = Number(process.env.IKE_FUZZ_SEED ?? 0x1b2e) >>> 0;
    const r = rng(seed);
    const inners = messages.filter((m) => m.inner && m.inner.length > 0);
    let accepted = 0;
    const reasons = new Map<string, number>();
    for (let i = 0; i < 10000; i++) {
      const src = messages[Math.floor(r() * messages.length)]!;
      const b = mutate(src.bytes, r);
      const res = decodeNoThrow(b);
      if (res.ok) {
        accepted++;
        // What we accept we can also say: re-encoding gives the same length and decodes the same.
        const again = IkeMessageCodec.encode({ header: res.header, payloads: res.payloads });
        if (res.skipped.length === 0) assert.equal(again.length, b.length, `seed ${seed} iteration ${i}`);
      } else {
        reasons.set(res.error, (reasons.get(res.error) ?? 0) + 1);
      }
      const im = inners[Math.floor(r() * inners.length)]!;
      const ib = mutate(im.inner!, r);
      const first = r() < 0.8 ? im.innerFirst : Math.floor(r() * 256);
      let cr;
      try {
        cr = decodeChain(ib, first);
      } catch (e) {
        assert.fail(`decodeChain threw (seed ${seed}, iteration ${i}): ${(e as Error).stack}`);
      }
      if (cr.ok && cr.skipped.length === 0) assert.equal(encodeChain(cr.payloads).length, ib.length);
    }
    // The fuzz is only worth something if it reaches past the header check in many ways.
    assert.ok(accepted > 100, `only ${accepted} accepted`);
    for (const reason of ['payload-overrun', 'bad-payload-length', 'malformed-payload', 'length-mismatch', 'chain-overrun']) {
      assert.ok((reasons.get(reason) ?? 0) > 0, `fuzz never produced ${reason}: ${JSON.stringify([...reasons])}`);
    }
  });
});
