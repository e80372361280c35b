// Real datagrams captured on a veth between network namespaces with TX checksum offload
// switched off, so the kernel computed every UDP checksum in software. Expected values are
// tshark 4.0.17's decode (udp.checksum.status 1 = good, 3 = not present).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Udp, UdpDatagram, udpCheck, udpChecksum, UDP_HEADER_LEN } from '../../src/wire/udp.js';
import { Ipv4, ipv4Check, Ipv4Packet, IPPROTO_UDP } from '../../src/wire/ipv4.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { CodecError } from '../../src/errors.js';
import { F9, F10, F11, F13 } from './captures.js';


const SRC = ipv4ToU32('10.201.1.1');
const DST = ipv4ToU32('10.201.2.2');

const EXPECTED = [
  { name: 'F9', pkt: F9, sport: 40001, dport: 9999, len: 29, csum: 0x0cf2, text: 'iiptran wire capture\n' },
  { name: 'F10', pkt: F10, sport: 40002, dport: 9999, len: 17, csum: 0x0000, text: 'zero csum' },
  { name: 'F11', pkt: F11, sport: 40003, dport: 9998, len: 19, csum: 0xf9b3, text: 'nobody home' },
  { name: 'F13', pkt: F13, sport: 40004, dport: 9999, len: 1408, csum: 0x6f3b, text: null },
];

test('view getters and checksum verification match tshark', () => {
  for (const e of EXPECTED) {
    assert.equal(ipv4Check(e.pkt), null);
    const seg = new Ipv4Packet(e.pkt).payload;
    const u = new UdpDatagram(seg);
    assert.equal(u.srcPort, e.sport, e.name);
    assert.equal(u.dstPort, e.dport, e.name);
    assert.equal(u.length, e.len, e.name);
    assert.equal(u.checksum, e.csum, e.name);
    if (e.text !== null) assert.equal(u.payload.toString('latin1'), e.text);
    else assert.ok(u.payload.every((b, i) => b === ((i * 7) & 0xff)));
    assert.ok(u.verifyChecksum(SRC, DST), e.name);
    assert.equal(udpCheck(seg, SRC, DST), null, e.name);
    // Also addressed inside the IP packet, without slicing.
    assert.equal(udpCheck(e.pkt, SRC, DST, 20, e.pkt.length), null, e.name);
  }
});

test('decode → encode with pseudo-header reproduces the captured datagrams', () => {
  for (const e of EXPECTED) {
    const seg = new Ipv4Packet(e.pkt).payload;
    const r = Udp.decode(seg);
    assert.equal(Udp.encodingLength(r), e.len);
    const expectChecksum = e.csum !== 0;
    const enc = Udp.encode(expectChecksum ? { ...r, pseudoHeader: { src: SRC, dst: DST } } : r);
    assert.deepEqual(enc, seg, e.name);
  }
});

test('encode without pseudo-header sends checksum 0, everything else equal', () => {
  const seg = new Ipv4Packet(F9).payload;
  const enc = Udp.encode(Udp.decode(seg));
  assert.equal(enc.readUInt16BE(6), 0);
  assert.deepEqual(enc.subarray(0, 6), seg.subarray(0, 6));
  assert.deepEqual(enc.subarray(8), seg.subarray(8));
  assert.equal(udpCheck(enc, SRC, DST), null);
});

test('a full IPv4 + UDP packet built from reprs equals the kernel’s bytes', () => {
  const ip = Ipv4.decode(F9);
  const udp = Udp.decode(ip.payload);
  const out = Buffer.alloc(F9.length);
  Udp.encode({ ...udp, payload: Buffer.from(udp.payload), pseudoHeader: { src: ip.src, dst: ip.dst } }, out, 20);
  Ipv4.encode({ ...ip, protocol: IPPROTO_UDP, payload: out.subarray(20) }, out, 0);
  assert.deepEqual(out, F9);
});

test('a computed checksum of 0 goes out as 0xffff', () => {
  const payload = Buffer.from('make-the-sum-zero!??');
  payload.writeUInt16BE(0, payload.length - 2);
  // Odd-length payload would misalign the fix-up word; this one is even, so the last two bytes
  // form one checksum word and can cancel the rest of the sum.
  assert.equal(payload.length % 2, 0);
  const first = Udp.encode({ srcPort: 1, dstPort: 2, payload, pseudoHeader: { src: SRC, dst: DST } });
  payload.writeUInt16BE(first.readUInt16BE(6), payload.length - 2);
  const enc = Udp.encode({ srcPort: 1, dstPort: 2, payload, pseudoHeader: { src: SRC, dst: DST } });
  assert.equal(enc.readUInt16BE(6), 0xffff);
  assert.equal(udpCheck(enc, SRC, DST), null);
  assert.ok(new UdpDatagram(enc).verifyChecksum(SRC, DST));
});

test('fillChecksum reproduces the captured checksum', () => {
  const seg = Buffer.from(new Ipv4Packet(F11).payload);
  const u = new UdpDatagram(seg);
  u.fillChecksum(SRC, DST);
  assert.equal(u.checksum, 0xf9b3);
  assert.equal(udpChecksum(Buffer.from([...seg.subarray(0, 6), 0, 0, ...seg.subarray(8)]), 0, seg.length, SRC, DST), 0xf9b3);
});

test('corruption, a wrong pseudo-header and bad lengths are malformed', () => {
  const seg = Buffer.from(new Ipv4Packet(F9).payload);
  assert.equal(udpCheck(seg, SRC, DST + 1), 'malformed');
  assert.equal(udpCheck(seg, DST, SRC + 1), 'malformed');
  for (let i = 0; i < seg.length; i++) {
    const b = Buffer.from(seg);
    b[i]! ^= 0x10;
    assert.equal(udpCheck(b, SRC, DST), 'malformed', `byte ${i}`);
  }
  // No checksum: payload corruption passes, as RFC 768 intends.
  const z = Buffer.from(new Ipv4Packet(F10).payload);
  z[10]! ^= 0xff;
  assert.equal(udpCheck(z, SRC, DST), null);
  const short = Buffer.from(seg);
  short.writeUInt16BE(7, 4);
  assert.equal(udpCheck(short, SRC, DST), 'malformed');
  assert.throws(() => Udp.decode(short), CodecError);
  // A length shorter than the buffer trims (IP padding), and the checksum then covers less.
  const padded = Buffer.concat([seg, Buffer.alloc(3)]);
  assert.equal(udpCheck(padded, SRC, DST), null);
  assert.equal(Udp.decode(padded).payload.length, seg.length - UDP_HEADER_LEN);
});

test('every truncation of the captured datagrams is malformed, without throwing', () => {
  for (const e of EXPECTED) {
    const seg = new Ipv4Packet(e.pkt).payload;
    for (let n = 0; n < seg.length; n++) {
      assert.equal(udpCheck(seg.subarray(0, n), SRC, DST), 'malformed', `${e.name} cut to ${n}`);
      assert.throws(() => Udp.decode(seg.subarray(0, n)), CodecError);
    }
  }
});

test('encoding impossible values throws CodecError', () => {
  const ok = { srcPort: 1, dstPort: 2, payload: Buffer.alloc(1) };
  assert.throws(() => Udp.encode({ ...ok, srcPort: 65536 }), CodecError);
  assert.throws(() => Udp.encode({ ...ok, dstPort: -1 }), CodecError);
  assert.throws(() => Udp.encode({ ...ok, payload: Buffer.alloc(65528) }), CodecError);
  assert.throws(() => Udp.encode({ ...ok, pseudoHeader: { src: 2 ** 32, dst: 0 } }), CodecError);
  assert.throws(() => Udp.encode(ok, Buffer.alloc(8)), CodecError);
  assert.equal(Udp.encode({ ...ok, payload: Buffer.alloc(65527) }).length, 65535);
});
