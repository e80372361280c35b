// Checked three ways: against checksums the Linux kernel put on real packets (captured on a
// veth between network namespaces, TX checksum offload off), against the worked examples of
// RFC 1071 and RFC 1624, and against a deliberately naive reference implementation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksumOk, checksumUpdate16, fold, internetChecksum, onesSum } from '../../src/wire/checksum.js';
import { F1, F9, hex } from './captures.js';


/** Byte-at-a-time, carry folded at every step: slow and obviously RFC 1071. */
function naiveChecksum(b: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) {
    const word = (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
    sum += word;
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

function withZeroedField(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c.writeUInt16BE(0, at);
  return c;
}

test('IPv4 header checksums match the ones the kernel sent', () => {
  assert.equal(internetChecksum(withZeroedField(F1, 10), 0, 20), 0x215c);
  assert.equal(internetChecksum(withZeroedField(F9, 10), 0, 20), 0x41ec);
  assert.ok(checksumOk(F1, 0, 20));
  assert.ok(checksumOk(F9, 0, 20));
});

test('ICMP checksum over a real echo request', () => {
  assert.equal(internetChecksum(withZeroedField(F1, 22), 20, F1.length), 0xd469);
  assert.ok(checksumOk(F1, 20, F1.length));
});

test('UDP checksum over pseudo-header and odd-length payload, chained through initial', () => {
  const pseudo = Buffer.alloc(12);
  F9.copy(pseudo, 0, 12, 20);
  pseudo[9] = 17;
  pseudo.writeUInt16BE(F9.length - 20, 10);
  const z = withZeroedField(F9, 26);
  assert.equal(internetChecksum(z, 20, z.length, onesSum(pseudo)), 0x0cf2);
  assert.ok(checksumOk(F9, 20, F9.length, onesSum(pseudo)));
});

test('RFC 1071 §3 numerical example', () => {
  const b = hex('0001f203f4f5f6f7');
  assert.equal(onesSum(b), 0xddf2);
  assert.equal(internetChecksum(b), 0x220d);
});

test('agrees with a naive implementation on random data, odd offsets and lengths', () => {
  let seed = 0x1234567;
  const rnd = (): number => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  for (let n = 0; n < 2000; n++) {
    const len = Math.floor(rnd() * 300);
    const b = Buffer.alloc(len);
    // Mostly 0xff bytes some rounds, to stress carries.
    const heavy = rnd() < 0.3;
    for (let i = 0; i < len; i++) b[i] = heavy ? 0xff - Math.floor(rnd() * 3) : Math.floor(rnd() * 256);
    const start = Math.floor(rnd() * (len + 1));
    const end = start + Math.floor(rnd() * (len - start + 1));
    assert.equal(internetChecksum(b, start, end), naiveChecksum(b, start, end), `len ${len} [${start},${end})`);
  }
  assert.equal(internetChecksum(Buffer.alloc(0)), 0xffff);
});

test('fold reduces sums beyond 32 bits', () => {
  assert.equal(fold(0), 0);
  assert.equal(fold(0xffff), 0xffff);
  assert.equal(fold(0x10000), 1);
  assert.equal(fold(0x1ffff), 0x1);
  assert.equal(fold(0xffffffff), 0xffff);
  assert.equal(fold(0x100000000), 1);
  assert.equal(fold(2 ** 52 + 5), (2 ** 52 + 5) % 0xffff);
});

test('RFC 1624 §4 example: eqn. 3 yields 0x0000 where eqn. 2 yielded 0xffff', () => {
  assert.equal(checksumUpdate16(0xdd2f, 0x5555, 0x3285), 0x0000);
});

test('incremental update equals full recomputation for every value of every header word', () => {
  for (let word = 0; word < 10; word++) {
    if (word === 5) continue; // the checksum field itself
    for (let v = 0; v <= 0xffff; v += word < 2 ? 1 : 257) {
      const h = Buffer.from(F1.subarray(0, 20));
      const old = h.readUInt16BE(word * 2);
      h.writeUInt16BE(v, word * 2);
      const inc = checksumUpdate16(h.readUInt16BE(10), old, v);
      h.writeUInt16BE(0, 10);
      assert.equal(inc, internetChecksum(h), `word ${word} value ${v}`);
    }
  }
});
