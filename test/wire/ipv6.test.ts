// The IPv6 codec (src/wire/ipv6.ts) and ICMPv6 (src/wire/icmpv6.ts) against real captured
// packets (captures6.ts): view fields as tshark read them, repr round trips byte for byte,
// the extension-header walk, every truncation refused with its reason, and Packet Too Big
// against the kernel's own (V6_PTB), then decoded independently by tshark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_ROUTING, IPPROTO_AH, IPV6_MAX_EXT_HEADERS, Ipv6, Ipv6Chain,
  ipv6Check, Ipv6Packet, ipv6Walk, setIpv6Ecn, ipv6Ecn, ipv6TrafficClass,
} from '../../src/wire/ipv6.js';
import { buildPacketTooBig, icmpv6Checksum, icmpv6ChecksumOk, PTB_MAX_LEN } from '../../src/wire/icmpv6.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ipv6-text.js';
import { CodecError } from '../../src/errors.js';
import { V6_BIG, V6_ECHO, V6_MLD, V6_PTB, V6_REPLY } from './captures6.js';
import { writeRawPcap } from '../netns/pcap.js';
import { requirePrograms } from '../netns/helpers.js';

const ROUTER = parseIpv6('fd00:1::2')!;

test('view getters match tshark on the captured echo and MLD report', () => {
  const p = new Ipv6Packet(V6_ECHO);
  assert.equal(p.version, 6);
  assert.equal(p.flowLabel, 0x07eb3c);
  assert.equal(p.trafficClass, 0);
  assert.equal(p.payloadLength, 24);
  assert.equal(p.nextHeader, IPPROTO_ICMPV6);
  assert.equal(p.hopLimit, 64);
  assert.equal(formatIpv6(p.src), 'fd00:1::1');
  assert.equal(formatIpv6(p.dst), 'fd00:2::1');
  assert.equal(new Ipv6Packet(V6_REPLY).hopLimit, 63);
  const m = new Ipv6Packet(V6_MLD);
  assert.equal(m.nextHeader, IPPROTO_HOPOPTS);
  assert.equal(formatIpv6(m.dst), 'ff02::16');
});

test('decode then encode reproduces every captured packet byte for byte', () => {
  for (const pkt of [V6_ECHO, V6_REPLY, V6_MLD, V6_BIG, V6_PTB]) {
    const r = Ipv6.decode(pkt);
    assert.deepEqual(Ipv6.encode(r), pkt);
    assert.equal(Ipv6.encodingLength(r), pkt.length);
    // In place: the payload view already sits where encode would copy it.
    const copy = Buffer.from(pkt);
    Ipv6.encode(Ipv6.decode(copy), copy, 0);
    assert.deepEqual(copy, pkt);
  }
});

test('ICMPv6 checksums of the captures verify, and recompute to what tshark read', () => {
  for (const [pkt, at, csum] of [[V6_ECHO, 40, 0x4c07], [V6_REPLY, 40, 0x4b07], [V6_PTB, 40, 0x567e], [V6_MLD, 48, 0xf7f8]] as const) {
    const len = pkt.length - at;
    assert.ok(icmpv6ChecksumOk(pkt, 0, at, len));
    const c = Buffer.from(pkt);
    c.writeUInt16BE(0, at + 2);
    assert.equal(icmpv6Checksum(c, 0, at, len), csum);
  }
});

test('ipv6Check: length, trailing bytes allowed, every truncation is ipv6-truncated, version and jumbograms refused', () => {
  assert.equal(ipv6Check(V6_ECHO), 64);
  assert.equal(ipv6Check(Buffer.concat([V6_ECHO, Buffer.alloc(7)])), 64, 'a TUN may hand over padding');
  for (let n = 1; n < V6_ECHO.length; n++) assert.equal(ipv6Check(V6_ECHO.subarray(0, n)), 'ipv6-truncated', `length ${n}`);
  assert.equal(ipv6Check(Buffer.alloc(0)), 'ipv6-truncated');
  const v4 = Buffer.from(V6_ECHO);
  v4[0] = 0x45;
  assert.equal(ipv6Check(v4), 'malformed');
  const jumbo = Buffer.from(V6_MLD);
  jumbo.writeUInt16BE(0, 4);
  assert.equal(ipv6Check(jumbo), 'malformed');
  assert.equal(ipv6Check(V6_ECHO, 3, 2), 'ipv6-truncated', 'nonsense bounds answer, never throw');
  assert.equal(ipv6Check(V6_ECHO, 0, V6_ECHO.length + 1), 'ipv6-truncated');
});

/** An IPv6 packet to fd00:2::1 whose payload is `ext` then 8 bytes of ICMPv6 echo, first next header `nh`. */
function withChain(nh: number, ext: Buffer): Buffer {
  const icmp = Buffer.from('8000000000010001', 'hex');
  return Ipv6.encode({ src: parseIpv6('fd00:1::1')!, dst: parseIpv6('fd00:2::1')!, nextHeader: nh, hopLimit: 64, payload: Buffer.concat([ext, icmp]) });
}
/** A generic extension header of `len8` 8-byte units after its first, followed by `next`. */
function ext(next: number, len8 = 0): Buffer {
  const b = Buffer.alloc((len8 + 1) * 8);
  b[0] = next;
  b[1] = len8;
  return b;
}

test('ipv6Walk: finds the upper layer through Hop-by-Hop, Routing, AH and Fragment headers', () => {
  const c = new Ipv6Chain();
  assert.equal(ipv6Walk(V6_ECHO, 0, 64, c), null);
  assert.deepEqual([c.upper, c.upperOffset, c.count], [IPPROTO_ICMPV6, 40, 0]);
  assert.equal(ipv6Walk(V6_MLD, 0, V6_MLD.length, c), null);
  assert.deepEqual([c.upper, c.upperOffset, c.count], [IPPROTO_ICMPV6, 48, 1]);
  // HBH -> Routing (24 bytes) -> AH (length in 4-byte units: 2+2 words = 16 bytes) -> Fragment (offset 0) -> ICMPv6.
  const ah = Buffer.alloc(16);
  ah[0] = IPPROTO_FRAGMENT;
  ah[1] = 2;
  const frag = Buffer.alloc(8);
  frag[0] = IPPROTO_ICMPV6;
  frag.writeUInt16BE(0x0001, 2); // offset 0, M flag: a first fragment
  const pkt = withChain(IPPROTO_HOPOPTS, Buffer.concat([ext(IPPROTO_ROUTING), ext(IPPROTO_AH, 2), ah, frag]));
  assert.equal(ipv6Walk(pkt, 0, pkt.length, c), null);
  assert.deepEqual([c.upper, c.upperOffset, c.count, c.laterFragment], [IPPROTO_ICMPV6, 40 + 8 + 24 + 16 + 8, 4, false]);
  // A later fragment: no upper layer in this packet, and that is fine.
  const later = Buffer.from(frag);
  later.writeUInt16BE(0x00a8, 2);
  const lp = withChain(IPPROTO_FRAGMENT, later);
  assert.equal(ipv6Walk(lp, 0, lp.length, c), null);
  assert.equal(c.laterFragment, true);
});

test('ipv6Walk: a misplaced Hop-by-Hop header, an overrunning header and an over-long chain are ipv6-ext-chain', () => {
  const c = new Ipv6Chain();
  const late = withChain(IPPROTO_ROUTING, Buffer.concat([ext(IPPROTO_HOPOPTS), ext(IPPROTO_ICMPV6)]));
  assert.equal(ipv6Walk(late, 0, late.length, c), 'ipv6-ext-chain');
  const over = withChain(IPPROTO_ROUTING, ext(IPPROTO_ICMPV6, 3).subarray(0, 8));
  assert.equal(ipv6Walk(over, 0, over.length, c), 'ipv6-ext-chain', 'a 32-byte header in 16 bytes of payload');
  const headers = Array.from({ length: IPV6_MAX_EXT_HEADERS + 1 }, (_, i) => ext(i === IPV6_MAX_EXT_HEADERS ? IPPROTO_ICMPV6 : 60));
  const long = withChain(60, Buffer.concat(headers));
  assert.equal(ipv6Walk(long, 0, long.length, c), 'ipv6-ext-chain');
  const ok = withChain(60, Buffer.concat(headers.slice(1)));
  assert.equal(ipv6Walk(ok, 0, ok.length, c), null, `${IPV6_MAX_EXT_HEADERS} headers are allowed`);
  // The chain of a first fragment must end inside it (RFC 7112): an extension header cut short.
  const cut = withChain(IPPROTO_HOPOPTS, Buffer.alloc(0)).subarray(0, 44);
  cut.writeUInt16BE(4, 4);
  assert.equal(typeof ipv6Check(cut), 'number');
  assert.equal(ipv6Walk(cut, 0, 44, c), 'ipv6-ext-chain');
});

test('traffic class and ECN live across bytes 0 and 1', () => {
  const p = Buffer.from(V6_ECHO);
  p[0] = 0x6b; // TC high nibble 0xb
  p[1] = 0x87; // TC low nibble 0x8, flow label bits 0x7...
  assert.equal(ipv6TrafficClass(p), 0xb8);
  assert.equal(ipv6Ecn(p), 0);
  setIpv6Ecn(p, 0, 3);
  assert.equal(ipv6TrafficClass(p), 0xbb);
  assert.equal(p[1]! & 0x0f, 0x07, 'the flow label is untouched');
  const v = new Ipv6Packet(p);
  v.ecn = 1;
  assert.equal(v.ecn, 1);
  assert.equal(v.dscp, 0xb8 >> 2);
});

test('encode refuses impossible values', () => {
  const base = { src: new Uint8Array(16), dst: new Uint8Array(16), nextHeader: 58, hopLimit: 64, payload: Buffer.alloc(0) };
  assert.throws(() => Ipv6.encode({ ...base, trafficClass: 256 }), CodecError);
  assert.throws(() => Ipv6.encode({ ...base, flowLabel: 0x100000 }), CodecError);
  assert.throws(() => Ipv6.encode({ ...base, src: new Uint8Array(4) }), CodecError);
  assert.throws(() => Ipv6.encode({ ...base, payload: Buffer.alloc(0x10000) }), CodecError);
  assert.throws(() => Ipv6.encode(base, Buffer.alloc(39)), CodecError);
  assert.throws(() => Ipv6.decode(Buffer.alloc(10)), CodecError);
});

test('buildPacketTooBig equals the kernel\'s own Packet Too Big, flow label aside', () => {
  const ours = buildPacketTooBig(V6_BIG, 1280, ROUTER)!;
  assert.equal(ours.length, PTB_MAX_LEN);
  const kernel = Buffer.from(V6_PTB);
  // Linux gives its errors an automatic flow label; ours carry none (RFC 6437 allows both).
  kernel.writeUInt32BE(kernel.readUInt32BE(0) & 0xfff00000, 0);
  assert.deepEqual(ours, kernel);
  assert.ok(icmpv6ChecksumOk(ours, 0, 40, ours.length - 40));
  const small = buildPacketTooBig(V6_ECHO, 1400, ROUTER)!;
  assert.equal(small.length, 40 + 8 + 64, 'a short original is quoted whole');
  assert.equal(small.readUInt32BE(44), 1400);
});

test('buildPacketTooBig refuses where RFC 4443 §2.4(e) does, and answers a multicast destination', () => {
  assert.equal(buildPacketTooBig(V6_PTB, 1280, ROUTER), null, 'never an error about an error');
  const fromNowhere = Buffer.from(V6_ECHO);
  fromNowhere.fill(0, 8, 24);
  assert.equal(buildPacketTooBig(fromNowhere, 1280, ROUTER), null, 'unspecified source');
  const fromGroup = Buffer.from(V6_ECHO);
  fromGroup[8] = 0xff;
  assert.equal(buildPacketTooBig(fromGroup, 1280, ROUTER), null, 'multicast source');
  assert.notEqual(buildPacketTooBig(V6_MLD, 1280, ROUTER), null, 'to ff02::16, but MLD is informational (143)');
  const redirect = Buffer.from(V6_ECHO);
  redirect[40] = 137;
  assert.equal(buildPacketTooBig(redirect, 1280, ROUTER), null);
  assert.equal(buildPacketTooBig(V6_ECHO.subarray(0, 30), 1280, ROUTER), null, 'truncated');
  assert.throws(() => buildPacketTooBig(V6_ECHO, 1279, ROUTER), CodecError);
  assert.throws(() => buildPacketTooBig(V6_ECHO, 1280, new Uint8Array(4)), CodecError);
});

test('buildPacketTooBig output decoded independently by tshark', { skip: requirePrograms(['tshark']) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'iiptran-wire-icmpv6-'));
  try {
    const file = join(dir, 'ptb.pcap');
    writeRawPcap(file, [buildPacketTooBig(V6_BIG, 1280, ROUTER)!, buildPacketTooBig(V6_MLD, 1300, ROUTER)!]);
    const fields = ['ipv6.src', 'ipv6.dst', 'ipv6.plen', 'ipv6.hlim', 'icmpv6.type', 'icmpv6.code', 'icmpv6.mtu', 'icmpv6.checksum.status'];
    const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trimEnd().split('\n').map((l) => Object.fromEntries(l.split('|').map((v, i) => [fields[i], v])));
    assert.deepEqual(rows[0], {
      'ipv6.src': 'fd00:1::2,fd00:1::1', 'ipv6.dst': 'fd00:1::1,fd00:2::1', 'ipv6.plen': '1240,1408', 'ipv6.hlim': '64,64',
      'icmpv6.type': '2,128', 'icmpv6.code': '0,0', 'icmpv6.mtu': '1280', 'icmpv6.checksum.status': '1,2',
    });
    assert.equal(rows[1]!['icmpv6.type'], '2,143');
    assert.equal(rows[1]!['icmpv6.mtu'], '1300');
    assert.equal(rows[1]!['ipv6.dst'], 'fe80::2cbe:c5ff:febd:3e35,ff02::16');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
