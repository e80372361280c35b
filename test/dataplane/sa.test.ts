import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newInboundSa, newOutboundSa, splitKeymat, type SaParams } from '../../src/dataplane/sa.js';
import { IiptranError } from '../../src/errors.js';
import { ipv4 } from '../../src/wire/addr.js';

const base: SaParams = {
  spi: 0x1000, suite: 'aes-gcm-128', key: Buffer.alloc(16, 1), salt: Buffer.alloc(4, 2), src: '192.0.2.1', dst: '198.51.100.254',
};

function isConfigError(field: string) {
  return (e: unknown) => e instanceof IiptranError && e.code === 'IIPTRAN_ERR_CONFIG' && e.field === field && e.message.length > 10;
}

test('outbound SA shape', () => {
  const sa = newOutboundSa({ ...base, createdAt: 42 });
  assert.equal(sa.dir, 'out');
  assert.equal(sa.spi, 0x1000);
  assert.equal(sa.seq, 0);
  assert.equal(sa.exhausted, false);
  assert.equal(sa.esn, false);
  assert.deepEqual(sa.src, ipv4(0xc0000201));
  assert.deepEqual(sa.dst, ipv4(0xc63364fe));
  assert.deepEqual(sa.stats, { packets: 0, bytes: 0 });
  assert.equal(sa.createdAt, 42);
  assert.notEqual(sa.key, base.key, 'key is copied');
  assert.deepEqual(sa.key, base.key);
});

test('inbound SA shape', () => {
  const before = Date.now();
  const sa = newInboundSa({ ...base, suite: 'chacha20-poly1305', key: Buffer.alloc(32), esn: true, replayWindow: 4096 });
  assert.equal(sa.dir, 'in');
  assert.equal(sa.esn, true);
  assert.equal(sa.replay.size, 4096);
  assert.equal(sa.replay.esn, true);
  assert.deepEqual(sa.stats, { packets: 0, bytes: 0, replayDrops: 0, icvDrops: 0 });
  assert.ok(sa.createdAt >= before);
  assert.equal(newInboundSa(base).replay.size, 1024);
  assert.equal(newInboundSa(base).replay.esn, false);
});

test('validation errors name the field', () => {
  assert.throws(() => newOutboundSa({ ...base, key: Buffer.alloc(32) }), isConfigError('key'));
  assert.throws(() => newOutboundSa({ ...base, suite: 'aes-gcm-256' }), isConfigError('key'));
  assert.throws(() => newInboundSa({ ...base, suite: 'chacha20-poly1305' }), isConfigError('key'));
  assert.throws(() => newOutboundSa({ ...base, salt: Buffer.alloc(3) }), isConfigError('salt'));
  assert.throws(() => newOutboundSa({ ...base, salt: Buffer.alloc(8) }), isConfigError('salt'));
  assert.throws(() => newOutboundSa({ ...base, suite: 'aes-cbc' as never }), isConfigError('suite'));
  for (const spi of [0, 1, 255, -1, 2 ** 32, 1.5]) assert.throws(() => newOutboundSa({ ...base, spi }), isConfigError('spi'));
  assert.equal(newOutboundSa({ ...base, spi: 0x100 }).spi, 0x100);
  assert.equal(newOutboundSa({ ...base, spi: 0xffffffff }).spi, 0xffffffff);
  for (const a of ['10.0.0', '10.0.0.256', '010.0.0.1', '10.0.0.1 ', 'a.b.c.d', '', '1.2.3.4.5', '::1/128', 'fe80::1%eth0']) {
    assert.throws(() => newOutboundSa({ ...base, src: a }), isConfigError('src'), a);
    assert.throws(() => newInboundSa({ ...base, dst: a }), isConfigError('dst'), a);
  }
  // IPv6 selectors (an IPv6 underlay) are fine, but both ends of an SA share one family.
  assert.throws(() => newOutboundSa({ ...base, src: '::1' }), isConfigError('dst'));
  assert.equal(newOutboundSa({ ...base, src: '::1', dst: '2001:db8::2' }).dst.family, 6);
  assert.deepEqual(newOutboundSa({ ...base, src: '0.0.0.0', dst: '255.255.255.255' }).dst, ipv4(0xffffffff));
  assert.throws(() => newInboundSa({ ...base, replayWindow: 100 }), IiptranError);
});

test('splitKeymat: key first, then the 4-byte salt', () => {
  const km = Buffer.from([...Array(36).keys()]);
  const { key, salt } = splitKeymat('chacha20-poly1305', km);
  assert.equal(key.length, 32);
  assert.deepEqual([...salt], [32, 33, 34, 35]);
  assert.equal(splitKeymat('aes-gcm-128', km.subarray(0, 20)).key.length, 16);
  assert.throws(() => splitKeymat('aes-gcm-128', km), isConfigError('key'));
});
