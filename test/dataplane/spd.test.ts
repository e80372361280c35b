import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IPPROTO_IPIP, Spd } from '../../src/dataplane/spd.js';
import { newOutboundSa, newInboundSa } from '../../src/dataplane/sa.js';
import { IiptranError } from '../../src/errors.js';
import { addrFromString as addrOf } from '../../src/wire/addr.js';

const entry = (src: string, dst: string, vlink: string) =>
  ({ src: addrOf(src), dst: addrOf(dst), proto: IPPROTO_IPIP, action: 'protect' as const, vlink, sa: null });

test('SPD lookup matches by address value, not by object identity', () => {
  const spd = new Spd();
  const e = spd.add(entry('192.0.2.1', '192.0.2.2', 'vl-a'));
  assert.equal(spd.lookup(addrOf('192.0.2.1'), addrOf('192.0.2.2'), IPPROTO_IPIP), e);
  assert.equal(spd.lookup(addrOf('192.0.2.2'), addrOf('192.0.2.1'), IPPROTO_IPIP), undefined, 'direction matters');
  assert.equal(spd.lookup(addrOf('192.0.2.1'), addrOf('192.0.2.2'), 41), undefined, 'protocol matters');
});

test('SPD keys keep families apart and refuse a duplicate selector', () => {
  const spd = new Spd();
  spd.add(entry('192.0.2.1', '192.0.2.2', 'vl-a'));
  // ::c000:202 carries the same 32 bits as 192.0.2.2 but is another address.
  const v6 = spd.add(entry('192.0.2.1', '::c000:202', 'vl-b'));
  assert.equal(spd.lookup(addrOf('192.0.2.1'), addrOf('0:0::c000:202'), IPPROTO_IPIP), v6);
  assert.throws(() => spd.add(entry('192.0.2.1', '192.0.2.2', 'vl-c')), /192\.0\.2\.1 -> 192\.0\.2\.2/);
  spd.removeVlink('vl-a');
  assert.deepEqual(spd.entries().map((e) => e.vlink), ['vl-b']);
});

test('an SA takes IPv6 selectors (an IPv6 underlay), refuses mixed families and non-addresses, naming the field', () => {
  const base = { spi: 0x1000, suite: 'aes-gcm-128' as const, key: Buffer.alloc(16), salt: Buffer.alloc(4), src: '192.0.2.1', dst: '192.0.2.2' };
  const refusal = (field: string, re: RegExp) => (e: unknown) =>
    e instanceof IiptranError && e.code === 'IIPTRAN_ERR_CONFIG' && e.field === field && re.test(e.message);
  const six = newInboundSa({ ...base, src: '2001:db8::1', dst: addrOf('2001:db8::2') });
  assert.deepEqual([six.src, six.dst], [addrOf('2001:db8::1'), addrOf('2001:db8::2')]);
  assert.throws(() => newInboundSa({ ...base, src: '2001:db8::1' }), refusal('dst', /192\.0\.2\.2 is IPv4 but src 2001:db8::1 is IPv6/));
  assert.throws(() => newOutboundSa({ ...base, dst: 'nowhere' }), refusal('dst', /not an IPv4 or IPv6 address/));
  assert.deepEqual(newInboundSa({ ...base, src: addrOf('192.0.2.9') }).src, addrOf('192.0.2.9'));
});

test('SPD: the cached last answer never outlives a change to the table', () => {
  const spd = new Spd();
  const src = addrOf('192.0.2.1');
  const dst = addrOf('192.0.2.2');
  assert.equal(spd.lookup(src, dst, IPPROTO_IPIP), undefined);
  const e = spd.add(entry('192.0.2.1', '192.0.2.2', 'vl-a'));
  assert.equal(spd.lookup(src, dst, IPPROTO_IPIP), e, 'an add is seen by the very same address objects');
  assert.equal(spd.lookup(src, dst, IPPROTO_IPIP), e);
  const moved = addrOf('192.0.2.3');
  spd.move(e, moved);
  assert.equal(spd.lookup(src, dst, IPPROTO_IPIP), undefined, 'a move is seen');
  assert.equal(spd.lookup(src, moved, IPPROTO_IPIP), e);
  spd.removeVlink('vl-a');
  assert.equal(spd.lookup(src, moved, IPPROTO_IPIP), undefined, 'a removal is seen');
});
