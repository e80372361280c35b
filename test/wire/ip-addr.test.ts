import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addrEquals,
  addrFromString,
  addrKey,
  endpointEquals,
  formatAddr,
  formatEndpoint,
  ipv4,
  ipv6,
  parseAddr,
  requireV4,
  type IpAddr,
} from '../../src/wire/addr.js';
import { reverseName } from '../../src/wire/reverse-name.js';
import { CodecError } from '../../src/errors.js';

test('IPv4 text parses to a number and formats back', () => {
  const a = parseAddr('10.200.1.2');
  assert.deepEqual(a, { family: 4, v4: 0x0ac80102 });
  assert.equal(formatAddr(a!), '10.200.1.2');
  assert.deepEqual(ipv4(0xffffffff), { family: 4, v4: 0xffffffff });
  assert.deepEqual(ipv4(-1), { family: 4, v4: 0xffffffff }, 'a signed int32 from bit operations is accepted');
  assert.throws(() => ipv4(2 ** 32), CodecError);
});

test('parseAddr refuses what is not one host address', () => {
  for (const s of ['', '10.0.0', '010.0.0.1', '10.0.0.1 ', '1::2::3', 'fe80::1%eth0', '2001:db8::/64', 'host', ':', '12345::', '::ffff:1.2.3.256']) {
    assert.equal(parseAddr(s), null, s);
  }
  assert.equal(parseAddr(7 as unknown as string), null);
  assert.throws(() => addrFromString('nope', 'underlay.address'), (e: unknown) => e instanceof CodecError && /underlay\.address/.test(e.message));
});

test('IPv6 parses to 16 bytes and formats per RFC 5952', () => {
  const a = parseAddr('2001:DB8:0:0:0:0:0:1')!;
  assert.equal(a.family, 6);
  assert.deepEqual([...(a as { v6: Uint8Array }).v6], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(formatAddr(a), '2001:db8::1');
  assert.equal(formatAddr(parseAddr('::1')!), '::1');
  assert.equal(formatAddr(parseAddr('::')!), '::');
  assert.equal(formatAddr(parseAddr('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1', 'the first of two equal zero runs');
  assert.equal(formatAddr(parseAddr('2001:0db8:0000:0001:0000:0000:0000:0001')!), '2001:db8:0:1::1');
  assert.equal(formatAddr(parseAddr('::FFFF:192.0.2.1')!), '::ffff:192.0.2.1', 'IPv4-mapped keeps its dotted tail (RFC 5952 §5)');
  assert.throws(() => ipv6(new Uint8Array(4)), CodecError);
});

test('equality and keys agree, across families too', () => {
  const addrs: IpAddr[] = ['10.0.0.1', '10.0.0.2', '::a00:1', '2001:db8::1', '2001:db8::2', '::ffff:10.0.0.1'].map((s) => parseAddr(s)!);
  for (const a of addrs) {
    for (const b of addrs) {
      const same = a === b;
      assert.equal(addrEquals(a, b), same, `${formatAddr(a)} vs ${formatAddr(b)}`);
      assert.equal(addrKey(a) === addrKey(b), same, `key ${formatAddr(a)} vs ${formatAddr(b)}`);
    }
  }
  assert.ok(addrEquals(parseAddr('2001:db8::1')!, parseAddr('2001:0DB8::0:1')!));
  assert.equal(addrKey(parseAddr('2001:db8::1')!), addrKey(parseAddr('2001:db8:0::1')!));
  assert.ok(endpointEquals({ addr: ipv4(1), port: 4500 }, { addr: ipv4(1), port: 4500 }));
  assert.ok(!endpointEquals({ addr: ipv4(1), port: 4500 }, { addr: ipv4(1), port: 500 }));
  assert.equal(formatEndpoint({ addr: parseAddr('192.0.2.1')!, port: 4500 }), '192.0.2.1:4500');
  assert.equal(formatEndpoint({ addr: parseAddr('2001:db8::1')!, port: 500 }), '[2001:db8::1]:500');
});

test('ipv6() copies its input, so a reused receive buffer cannot change an address', () => {
  const bytes = parseAddr('2001:db8::1')!;
  const src = Uint8Array.from((bytes as { v6: Uint8Array }).v6);
  const a = ipv6(src);
  src[15] = 9;
  assert.equal(formatAddr(a), '2001:db8::1');
});

test('requireV4 names the path that cannot carry IPv6 yet', () => {
  assert.equal(requireV4(parseAddr('192.0.2.1')!, 'x'), 0xc0000201);
  assert.throws(() => requireV4(parseAddr('2001:db8::1')!, 'underlay send'), (e: unknown) => e instanceof CodecError && /underlay send: IPv6 not yet supported/.test(e.message));
});

test('reverse names: in-addr.arpa (RFC 1035 §3.5) and ip6.arpa (RFC 3596 §2.5)', () => {
  assert.equal(reverseName(parseAddr('10.200.1.2')!), '2.1.200.10.in-addr.arpa.');
  assert.equal(reverseName(parseAddr('0.0.0.0')!), '0.0.0.0.in-addr.arpa.');
  // The example of RFC 3596 §2.5: 4321:0:1:2:3:4:567:89ab.
  assert.equal(
    reverseName(parseAddr('4321:0:1:2:3:4:567:89ab')!),
    'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.',
  );
  assert.equal(reverseName(parseAddr('::1')!), `1.${'0.'.repeat(31)}ip6.arpa.`);
});
