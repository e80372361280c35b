// Real packets, captured with tcpdump on a veth between network namespaces: a (10.201.1.1) and
// a router r (10.201.1.2) that forwards to b (10.201.2.2) over a 1280-byte-MTU veth. Expected
// field values are tshark 4.0.17's decode of the same capture, not this codec's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECN_CE,
  IPPROTO_ICMP,
  IPPROTO_IPIP,
  IPPROTO_UDP,
  Ipv4,
  ipv4Check,
  Ipv4Packet,
  type Ipv4Repr,
} from '../../src/wire/ipv4.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { CodecError } from '../../src/errors.js';
import { F1, F2, F3, F6, F9, F12, F15 } from './captures.js';


interface Expected {
  name: string;
  pkt: Buffer;
  hl: number; dscp: number; ecn: number; len: number; id: number; df: boolean; mf: boolean;
  fragUnits: number; ttl: number; proto: number; csum: number; src: string; dst: string;
}

// Transcribed from `tshark -T fields -e ip.hdr_len -e ip.dsfield.dscp ... -e ip.dst`.
const EXPECTED: Expected[] = [
  { name: 'F1', pkt: F1, hl: 20, dscp: 46, ecn: 1, len: 84, id: 0x0000, df: true, mf: false, fragUnits: 0, ttl: 64, proto: 1, csum: 0x215c, src: '10.201.1.1', dst: '10.201.2.2' },
  { name: 'F2', pkt: F2, hl: 20, dscp: 46, ecn: 1, len: 84, id: 0x983b, df: false, mf: false, fragUnits: 0, ttl: 63, proto: 1, csum: 0xca20, src: '10.201.2.2', dst: '10.201.1.1' },
  { name: 'F3', pkt: F3, hl: 20, dscp: 0, ecn: 2, len: 52, id: 0x88a2, df: false, mf: false, fragUnits: 0, ttl: 64, proto: 1, csum: 0xd990, src: '10.201.1.1', dst: '10.201.2.2' },
  { name: 'F6', pkt: F6, hl: 20, dscp: 0, ecn: 0, len: 548, id: 0x448f, df: false, mf: false, fragUnits: 185, ttl: 64, proto: 1, csum: 0x1bfd, src: '10.201.1.1', dst: '10.201.1.2' },
  { name: 'F9', pkt: F9, hl: 20, dscp: 0, ecn: 0, len: 49, id: 0xe03b, df: true, mf: false, fragUnits: 0, ttl: 64, proto: 17, csum: 0x41ec, src: '10.201.1.1', dst: '10.201.2.2' },
  { name: 'F12', pkt: F12, hl: 20, dscp: 48, ecn: 0, len: 67, id: 0x989d, df: false, mf: false, fragUnits: 0, ttl: 63, proto: 1, csum: 0xc9c8, src: '10.201.2.2', dst: '10.201.1.1' },
  { name: 'F15', pkt: F15, hl: 20, dscp: 46, ecn: 1, len: 104, id: 0x0000, df: true, mf: false, fragUnits: 0, ttl: 64, proto: 4, csum: 0x2145, src: '10.201.1.1', dst: '10.201.2.2' },
];

test('view getters match tshark on every captured packet', () => {
  for (const e of EXPECTED) {
    const p = new Ipv4Packet(e.pkt);
    assert.equal(ipv4Check(e.pkt), null, e.name);
    assert.equal(p.version, 4);
    assert.equal(p.ihl, e.hl / 4);
    assert.equal(p.headerLength, e.hl);
    assert.equal(p.dscp, e.dscp, e.name);
    assert.equal(p.ecn, e.ecn, e.name);
    assert.equal(p.totalLength, e.len, e.name);
    assert.equal(p.identification, e.id, e.name);
    assert.equal(p.dontFragment, e.df, e.name);
    assert.equal(p.moreFragments, e.mf, e.name);
    assert.equal(p.fragmentOffset, e.fragUnits * 8, e.name);
    assert.equal(p.isFragment, e.mf || e.fragUnits !== 0, e.name);
    assert.equal(p.ttl, e.ttl, e.name);
    assert.equal(p.protocol, e.proto, e.name);
    assert.equal(p.checksum, e.csum, e.name);
    assert.equal(p.src, e.src);
    assert.equal(p.dst, e.dst);
    assert.equal(p.srcU32, ipv4ToU32(e.src));
    assert.equal(p.dstU32, ipv4ToU32(e.dst));
    assert.ok(p.verifyChecksum());
    assert.equal(p.payload.length, e.len - e.hl);
    assert.equal(p.payload.buffer, e.pkt.buffer, 'payload must be a view, not a copy');
  }
  assert.equal(IPPROTO_ICMP, 1);
  assert.equal(IPPROTO_UDP, 17);
  assert.equal(IPPROTO_IPIP, 4);
});

test('decode → encode reproduces the captured bytes exactly', () => {
  for (const e of EXPECTED) {
    const r = Ipv4.decode(e.pkt);
    assert.equal(r.ttl, e.ttl);
    assert.equal(r.src, ipv4ToU32(e.src));
    assert.equal(Ipv4.encodingLength(r), e.len);
    assert.deepEqual(Ipv4.encode(r), e.pkt, e.name);
    // Into a larger buffer at an offset, payload copied from elsewhere.
    const out = Buffer.alloc(e.len + 9, 0xaa);
    Ipv4.encode({ ...r, payload: Buffer.from(r.payload) }, out, 5);
    assert.deepEqual(out.subarray(5, 5 + e.len), e.pkt, e.name);
    assert.equal(out[4], 0xaa);
    assert.equal(out[5 + e.len], 0xaa);
  }
});

test('encode in place over the decoded payload (no self-overwrite)', () => {
  const b = Buffer.from(F9);
  const r = Ipv4.decode(b);
  r.ttl = 63;
  Ipv4.encode(r, b, 0);
  assert.equal(ipv4Check(b), null);
  assert.deepEqual(b.subarray(20), F9.subarray(20));
  assert.equal(b[8], 63);
});

test('encode builds a packet from a fresh repr, with and without options', () => {
  const repr: Ipv4Repr = {
    src: ipv4ToU32('10.201.1.1'), dst: ipv4ToU32('10.201.2.2'), protocol: IPPROTO_UDP, ttl: 64,
    identification: 0xe03b, dontFragment: true, payload: F9.subarray(20),
  };
  assert.deepEqual(Ipv4.encode(repr), F9);
  const opts = Buffer.from([0x01, 0x01, 0x01, 0x00]); // NOP NOP NOP EOL
  const withOpts = Ipv4.encode({ ...repr, options: opts });
  assert.equal(withOpts.length, F9.length + 4);
  assert.equal(ipv4Check(withOpts), null);
  const p = new Ipv4Packet(withOpts);
  assert.equal(p.headerLength, 24);
  assert.deepEqual(p.options, opts);
  const back = Ipv4.decode(withOpts);
  assert.deepEqual(back.options, opts);
  assert.deepEqual(Ipv4.encode(back), withOpts);
  // Signed int32 addresses (results of masking) encode like their unsigned twins.
  assert.deepEqual(Ipv4.encode({ ...repr, src: ipv4ToU32('10.201.1.1') | 0 }), F9);
  const hi = Ipv4.encode({ ...repr, src: ipv4ToU32('200.0.0.1') | 0 });
  assert.equal(new Ipv4Packet(hi).src, '200.0.0.1');
});

test('encoding impossible values throws CodecError', () => {
  const base: Ipv4Repr = { src: 1, dst: 2, protocol: 17, ttl: 64, payload: Buffer.alloc(4) };
  const bad: Partial<Ipv4Repr>[] = [
    { ttl: 300 }, { ttl: -1 }, { ttl: 1.5 }, { protocol: 256 }, { dscp: 64 }, { ecn: 4 },
    { identification: 0x10000 }, { fragmentOffset: 7 }, { fragmentOffset: 65536 },
    { options: Buffer.alloc(3) }, { options: Buffer.alloc(44) }, { src: 2 ** 32 }, { dst: NaN },
    { payload: Buffer.alloc(65516) },
  ];
  for (const b of bad) assert.throws(() => Ipv4.encode({ ...base, ...b }), CodecError, JSON.stringify(b));
  assert.throws(() => Ipv4.encode(base, Buffer.alloc(23)), CodecError);
  assert.throws(() => Ipv4.encode(base, Buffer.alloc(30), 7), CodecError);
  assert.equal(Ipv4.encode({ ...base, payload: Buffer.alloc(65515) }).length, 65535);
  assert.throws(() => new Ipv4Packet(Buffer.from(F1)).setTtl(300), CodecError);
  assert.throws(() => new Ipv4Packet(Buffer.from(F1)).setEcn(4), CodecError);
  assert.throws(() => new Ipv4Packet(Buffer.from(F1)).setDscp(64), CodecError);
});

test('decode throws CodecError on structurally broken bytes', () => {
  assert.throws(() => Ipv4.decode(F1.subarray(0, 19)), CodecError);
  assert.throws(() => Ipv4.decode(F1.subarray(0, 83)), CodecError);
  const v6 = Buffer.from(F1);
  v6[0] = 0x65;
  assert.throws(() => Ipv4.decode(v6), CodecError);
});

test('setTtl / setEcn / setDscp keep the checksum equal to a full recomputation', () => {
  for (const e of EXPECTED) {
    for (let v = 0; v < 256; v++) {
      for (const op of ['ttl', 'ecn', 'dscp'] as const) {
        if ((op === 'ecn' && v > 3) || (op === 'dscp' && v > 63)) continue;
        const b = Buffer.from(e.pkt);
        const p = new Ipv4Packet(b);
        if (op === 'ttl') p.setTtl(v);
        else if (op === 'ecn') p.setEcn(v);
        else p.setDscp(v);
        assert.equal(op === 'ttl' ? p.ttl : op === 'ecn' ? p.ecn : p.dscp, v);
        const incremental = p.checksum;
        assert.equal(ipv4Check(b), null, `${e.name} ${op}=${v}`);
        p.fillChecksum();
        assert.equal(incremental, p.checksum, `${e.name} ${op}=${v}`);
        // Neighbouring fields untouched.
        if (op !== 'ttl') assert.equal(p.ttl, e.ttl);
        if (op !== 'ecn') assert.equal(p.ecn, e.ecn);
        if (op !== 'dscp') assert.equal(p.dscp, e.dscp);
        assert.deepEqual(b.subarray(12), e.pkt.subarray(12));
      }
    }
  }
  // Marking CE on the real ECT(1) packet: the checksum byte pattern tshark would accept.
  const b = Buffer.from(F1);
  new Ipv4Packet(b).setEcn(ECN_CE);
  assert.equal(b[1], 0xbb);
  const z = Buffer.from(b.subarray(0, 20));
  z.writeUInt16BE(0, 10);
  assert.equal(b.readUInt16BE(10), internetChecksum(z));
});

test('fillChecksum is a no-op on a correct header', () => {
  for (const e of EXPECTED) {
    const b = Buffer.from(e.pkt);
    new Ipv4Packet(b).fillChecksum();
    assert.deepEqual(b, e.pkt);
  }
});

test('Ipv4Packet.parse and reset', () => {
  assert.equal(Ipv4Packet.parse(F1.subarray(0, 40)), 'malformed');
  const p = Ipv4Packet.parse(F1);
  assert.ok(p instanceof Ipv4Packet);
  assert.equal(p.reset(F9).protocol, 17);
  // A packet embedded at an offset (the inner header of the captured IPIP packet).
  const inner = Ipv4Packet.parse(F15, 20);
  assert.ok(inner instanceof Ipv4Packet);
  assert.deepEqual(inner.packet, F1);
});

test('trailing bytes past totalLength are accepted and trimmed from the payload', () => {
  const padded = Buffer.concat([F9, Buffer.alloc(11, 0xee)]);
  assert.equal(ipv4Check(padded), null);
  const p = new Ipv4Packet(padded);
  assert.equal(p.payload.length, 29);
  assert.deepEqual(p.packet, F9);
  assert.deepEqual(Ipv4.decode(padded).payload, F9.subarray(20));
});

test('every truncation of every captured packet is malformed, without throwing', () => {
  for (const e of EXPECTED) {
    for (let n = 0; n < e.pkt.length; n++) {
      assert.equal(ipv4Check(e.pkt.subarray(0, n)), 'malformed', `${e.name} cut to ${n}`);
      // Also through the offset/end form an outer header uses.
      assert.equal(ipv4Check(Buffer.concat([Buffer.alloc(3), e.pkt]), 3, 3 + n), 'malformed');
    }
  }
});

test('every single-bit error in a header is caught', () => {
  for (const e of EXPECTED) {
    for (let bit = 0; bit < 160; bit++) {
      const b = Buffer.from(e.pkt);
      b[bit >> 3]! ^= 0x80 >> (bit & 7);
      assert.equal(ipv4Check(b), 'malformed', `${e.name} bit ${bit}`);
    }
  }
});

test('structural errors are caught even with a valid checksum', () => {
  const cases: [string, (b: Buffer) => void][] = [
    ['version 6', (b) => { b[0] = 0x65; }],
    ['version 0', (b) => { b[0] = 0x05; }],
    ['ihl 4', (b) => { b[0] = 0x44; }],
    ['ihl 0', (b) => { b[0] = 0x40; }],
    ['ihl past totalLength', (b) => { b[0] = 0x4f; b.writeUInt16BE(56, 2); }],
    ['totalLength < header', (b) => { b.writeUInt16BE(19, 2); }],
    ['totalLength 0', (b) => { b.writeUInt16BE(0, 2); }],
    ['totalLength > buffer', (b) => { b.writeUInt16BE(b.length + 1, 2); }],
  ];
  for (const [name, mutate] of cases) {
    const b = Buffer.from(F12);
    mutate(b);
    // Seal over the header length the packet claims, so only the structural test can object.
    const hl = Math.min((b[0]! & 0xf) * 4, b.length);
    b.writeUInt16BE(0, 10);
    b.writeUInt16BE(internetChecksum(b, 0, hl >= 12 ? hl : 20), 10);
    assert.equal(ipv4Check(b), 'malformed', name);
  }
  assert.equal(ipv4Check(F1, -1), 'malformed');
  assert.equal(ipv4Check(F1, 0.5), 'malformed');
  assert.equal(ipv4Check(F1, 0, F1.length + 1), 'malformed');
});
