// IKEv2 over IPv6 (issue #10): identities as ID_IPV6_ADDR, traffic selectors of type
// TS_IPV6_ADDR_RANGE naming the two underlay addresses with protocol 4, NAT_DETECTION hashes and
// cookies over 16-byte addresses, role auto by address order; then two engines over an
// in-memory wire with IPv6 addresses reach ESTABLISHED with mirrored CHILD_SA keys.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EnginePair } from './engine-harness.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { coversHost, isExactlyHost, tsPayload } from '../../src/ike/child.js';
import { natHash } from '../../src/ike/nat.js';
import { CookieGuard } from '../../src/ike/cookie.js';
import { addrBytes, compareAddr } from '../../src/ike/addr-bytes.js';
import { resolveRole } from '../../src/control/ike-peer-config.js';
import { IdType, PayloadType, TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE, idToString, type TsPayload } from '../../src/wire/ike/index.js';
import { encodeTsBody, decodeTsBody } from '../../src/wire/ike/ts.js';

const A6 = '2001:db8::1';
const B6 = '2001:db8::2';

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

test('an IPv6 address is ID_IPV6_ADDR with its 16 bytes; FQDNs and IPv4 are as before', () => {
  const id = parseIdentity('2001:DB8::1');
  assert.ok(typeof id !== 'string');
  assert.equal(id.idType, IdType.IPV6_ADDR);
  assert.equal(id.data.toString('hex'), '20010db8000000000000000000000001');
  assert.equal(idToString(id), '2001:db8::1');
  assert.equal((parseIdentity('192.0.2.1') as { idType: number }).idType, IdType.IPV4_ADDR);
  assert.equal((parseIdentity('vpn.example.org') as { idType: number }).idType, IdType.FQDN);
  assert.equal(idToString({ idType: IdType.IPV6_ADDR, data: Buffer.alloc(3) }), 'ipv6?000000');
});

test('transport selectors over IPv6: TS_IPV6_ADDR_RANGE (addr, addr, protocol 4 and 41), round-tripped by the codec', () => {
  const ts = tsPayload(PayloadType.TSi, A6);
  assert.equal(ts.selectors.length, 2);
  assert.equal(ts.selectors[1]!.ipProtocol, 41);
  const s = ts.selectors[0]! as { tsType: number; ipProtocol: number; startAddress: Buffer; endAddress: Buffer };
  assert.equal(s.tsType, TS_IPV6_ADDR_RANGE);
  assert.equal(s.ipProtocol, 4);
  assert.deepEqual(s.startAddress, addrBytes(A6));
  assert.deepEqual(s.endAddress, addrBytes(A6));
  const buf = Buffer.alloc(128);
  const n = encodeTsBody(ts, buf, 0);
  assert.equal(n, 4 + 2 * 40);
  const back = decodeTsBody(buf.subarray(0, n), PayloadType.TSi) as TsPayload;
  assert.deepEqual(back.selectors, ts.selectors);
  assert.ok(isExactlyHost(ts, A6));
  assert.ok(!isExactlyHost(ts, B6));
  assert.ok(coversHost(ts, A6));
  // A wider IPv6 range with any protocol covers the host; an IPv4 selector never covers an IPv6 address.
  const wide: TsPayload = { type: PayloadType.TSi, selectors: [{ tsType: TS_IPV6_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: addrBytes('2001:db8::'), endAddress: addrBytes('2001:db8::ffff') }] };
  assert.ok(coversHost(wide, B6));
  assert.ok(!isExactlyHost(wide, B6));
  assert.ok(!coversHost(wide, '2001:db9::1'));
  const v4: TsPayload = { type: PayloadType.TSi, selectors: [{ tsType: TS_IPV4_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: 0, endAddress: 0xffffffff }] };
  assert.ok(!coversHost(v4, A6));
  assert.ok(coversHost(v4, '192.0.2.1'));
  const proto41: TsPayload = { type: PayloadType.TSi, selectors: [{ ...s, ipProtocol: 41 } as never] };
  assert.ok(!coversHost(proto41, A6), 'protocol 41 alone is not the vlink\'s selector');
});

test('NAT_DETECTION over IPv6 hashes SPIi | SPIr | 16-byte address | port (RFC 7296 §2.23)', () => {
  const direct = createHash('sha1').update(Buffer.concat([
    Buffer.from('0102030405060708', 'hex'), Buffer.from('1112131415161718', 'hex'), addrBytes(A6), Buffer.from([0x01, 0xf4]),
  ])).digest();
  assert.deepEqual(natHash(0x0102030405060708n, 0x1112131415161718n, { addr: A6, port: 500 }), direct);
  assert.notDeepEqual(natHash(1n, 2n, { addr: A6, port: 500 }), natHash(1n, 2n, { addr: B6, port: 500 }));
});

test('cookies bind the IPv6 initiator address', () => {
  const jar = new CookieGuard(0);
  const ni = Buffer.alloc(32, 7);
  const c = jar.make(ni, A6, 42n);
  assert.ok(jar.verify(c, ni, A6, 42n));
  assert.ok(!jar.verify(c, ni, B6, 42n));
});

test('role auto: the lower address initiates, IPv6 compared as 128-bit numbers', () => {
  assert.equal(resolveRole('auto', '2001:db8::2', '2001:db8::10'), 'initiator');
  assert.equal(resolveRole('auto', '2001:db8::10', '2001:db8::2'), 'responder');
  assert.ok(compareAddr('fd00::1', '2001:db8::1') > 0);
  assert.ok(compareAddr('10.0.0.1', '10.0.0.2') < 0);
});

test('two engines over IPv6: ESTABLISHED, IPv6 identities, CHILD keys mirrored', async () => {
  const p = (pair = new EnginePair({ addrs: [A6, B6] }));
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.a.installed.length > 0 && p.b.installed.length > 0);
  const [ca, cb] = [p.a.installed[0]!, p.b.installed[0]!];
  assert.equal(ca.spiIn, cb.spiOut);
  assert.deepEqual(ca.keyIn, cb.keyOut);
  assert.deepEqual(ca.keyOut, cb.keyIn);
  const va = p.a.engine.view()[0]!;
  assert.deepEqual([va.sas[0]!.localId, va.sas[0]!.remoteId], [A6, B6]);
  assert.equal(va.sas[0]!.peer, B6);
  assert.equal(va.sas[0]!.nat?.detected ?? false, false, 'no NAT between the two: the hashes agree');
});
