import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  inPrefix,
  ipv4ToU32,
  isIpv4,
  isUnicastU32,
  parseCidr,
  parseIpv4,
  prefixMask,
  toU32,
  u32ToIpv4,
} from '../../src/wire/addr.js';
import { CodecError } from '../../src/errors.js';

test('dotted quads convert both ways, including the extremes', () => {
  const cases: [string, number][] = [
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['10.201.1.1', 0x0ac90101],
    ['192.168.0.1', 0xc0a80001],
    ['128.0.0.0', 0x80000000],
    ['1.2.3.4', 0x01020304],
  ];
  for (const [s, n] of cases) {
    assert.equal(ipv4ToU32(s), n, s);
    assert.equal(u32ToIpv4(n), s);
    assert.ok(isIpv4(s));
  }
  // Top-bit addresses must come back unsigned, never as negative int32.
  assert.ok(ipv4ToU32('200.1.1.1') > 0);
});

test('ambiguous or malformed strings are refused', () => {
  const bad = [
    '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-1', '01.2.3.4', '1.2.3.04', '1..3.4', '.1.2.3',
    '1.2.3.', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4/32', '0x1.2.3.4', '1.2.3.1000', 'a.b.c.d', '१.२.३.४',
    '1,2,3,4', '1.2.3.4\n', '0000.0.0.0',
  ];
  for (const s of bad) {
    assert.equal(parseIpv4(s), null, JSON.stringify(s));
    assert.equal(isIpv4(s), false);
    assert.throws(() => ipv4ToU32(s), CodecError);
  }
  assert.equal(parseIpv4(undefined as unknown as string), null);
});

test('u32ToIpv4 accepts signed int32 results of bit operations, refuses non-addresses', () => {
  assert.equal(u32ToIpv4(0xc0a80001 & 0xffffff00), '192.168.0.0');
  assert.equal(u32ToIpv4(-1), '255.255.255.255');
  assert.equal(toU32(-1), 0xffffffff);
  for (const v of [0x100000000, -0x80000001, 1.5, NaN, Infinity]) {
    assert.throws(() => u32ToIpv4(v), CodecError, String(v));
  }
});

test('parseCidr', () => {
  assert.deepEqual(parseCidr('10.0.0.0/31'), { addr: 0x0a000000, prefixLen: 31 });
  assert.deepEqual(parseCidr('0.0.0.0/0'), { addr: 0, prefixLen: 0 });
  assert.deepEqual(parseCidr('10.0.0.1/24'), { addr: 0x0a000001, prefixLen: 24 });
  assert.deepEqual(parseCidr('255.255.255.255/32'), { addr: 0xffffffff, prefixLen: 32 });
  for (const s of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '10.0.0.0/024', '10.0.0.0/08', '10.0.0.0/-1',
    '10.0.0.0/3a', '10.0.0/8', '10.0.0.0/8/8', '/8', '10.0.0.0 /8', '10.0.0.0/ 8', '10.0.0.0/100']) {
    assert.equal(parseCidr(s), null, s);
  }
});

test('prefix masks and membership', () => {
  assert.equal(prefixMask(0), 0);
  assert.equal(prefixMask(1), 0x80000000);
  assert.equal(prefixMask(24), 0xffffff00);
  assert.equal(prefixMask(31), 0xfffffffe);
  assert.equal(prefixMask(32), 0xffffffff);
  assert.throws(() => prefixMask(33), CodecError);
  assert.ok(inPrefix(ipv4ToU32('10.0.0.1'), ipv4ToU32('10.0.0.0'), 31));
  assert.ok(!inPrefix(ipv4ToU32('10.0.0.2'), ipv4ToU32('10.0.0.0'), 31));
  assert.ok(inPrefix(ipv4ToU32('200.1.2.3'), ipv4ToU32('200.1.0.0'), 16));
  assert.ok(inPrefix(ipv4ToU32('1.2.3.4'), 0, 0));
  assert.ok(!inPrefix(ipv4ToU32('10.0.0.5'), ipv4ToU32('10.0.0.4'), 32));
});

test('unicast classification follows RFC 1122', () => {
  for (const s of ['0.0.0.0', '0.1.2.3', '127.0.0.1', '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255']) {
    assert.equal(isUnicastU32(ipv4ToU32(s)), false, s);
  }
  for (const s of ['1.0.0.0', '10.201.1.1', '126.255.255.255', '128.0.0.1', '223.255.255.255']) {
    assert.equal(isUnicastU32(ipv4ToU32(s)), true, s);
  }
});
