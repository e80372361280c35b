// Real ICMP captured with tcpdump on a veth between network namespaces a (10.201.1.1) and a
// Linux router r (10.201.1.2) forwarding to b (10.201.2.2) over a 1280-byte MTU. F14 is the
// kernel's own fragmentation-needed for F13, the reference buildFragNeeded is compared with.
// buildFragNeeded's output is also decoded by tshark when it is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeRawPcap } from '../netns/pcap.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildFragNeeded,
  FRAG_NEEDED_MAX_LEN,
  Icmp,
  icmpCheck,
  IcmpPacket,
  ICMP_DEST_UNREACHABLE,
  ICMP_UNREACH_FRAG_NEEDED,
} from '../../src/wire/icmp.js';
import { Ipv4, ipv4Check, Ipv4Packet, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { internetChecksum, onesSum } from '../../src/wire/checksum.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { CodecError } from '../../src/errors.js';
import { F1, F2, F5, F6, F12, F13, F14, F16 } from './captures.js';
import { requirePrograms } from '../netns/helpers.js';


const ROUTER = ipv4ToU32('10.201.1.2');

function icmpOf(pkt: Buffer): Buffer {
  return new Ipv4Packet(pkt).payload;
}

test('view getters match tshark', () => {
  const cases = [
    { pkt: F1, type: 8, code: 0, csum: 0xd469, ident: 5820, seq: 1, err: false },
    { pkt: F2, type: 0, code: 0, csum: 0xdc69, ident: 5820, seq: 1, err: false },
    { pkt: F12, type: 3, code: 3, csum: 0x15b6, ident: 0, seq: 0, err: true },
    { pkt: F14, type: 3, code: 4, csum: 0xeafc, ident: 0, seq: 1280, err: true },
  ];
  for (const c of cases) {
    const m = icmpOf(c.pkt);
    const p = new IcmpPacket(m);
    assert.equal(icmpCheck(m), null);
    assert.ok(p.verifyChecksum());
    assert.equal(p.type, c.type);
    assert.equal(p.code, c.code);
    assert.equal(p.checksum, c.csum);
    assert.equal(p.identifier, c.ident);
    assert.equal(p.sequence, c.seq);
    assert.equal(p.isError, c.err);
    // Addressed inside the IP packet without slicing.
    assert.equal(icmpCheck(c.pkt, 20, c.pkt.length), null);
  }
  assert.equal(new IcmpPacket(icmpOf(F14)).nextHopMtu, 1280);
  const quote = new IcmpPacket(icmpOf(F12)).data;
  assert.equal(quote.length, 39); // Linux quotes the whole short datagram
  assert.equal(new Ipv4Packet(quote).dst, '10.201.2.2');
});

test('decode → encode reproduces echo, port-unreachable and frag-needed bytes', () => {
  const req = Icmp.decode(icmpOf(F1));
  assert.equal(req.kind, 'echo-request');
  assert.ok(req.kind === 'echo-request' && req.identifier === 5820 && req.sequence === 1);
  const rep = Icmp.decode(icmpOf(F2));
  assert.equal(rep.kind, 'echo-reply');
  const pu = Icmp.decode(icmpOf(F12));
  assert.deepEqual({ ...pu, data: null }, { kind: 'dest-unreachable', code: 3, data: null });
  const fn = Icmp.decode(icmpOf(F14));
  assert.ok(fn.kind === 'dest-unreachable' && fn.code === 4 && fn.nextHopMtu === 1280);
  const prot = Icmp.decode(icmpOf(F16));
  assert.ok(prot.kind === 'dest-unreachable' && prot.code === 2);
  for (const pkt of [F1, F2, F12, F14, F16, F6]) {
    const m = icmpOf(pkt);
    // F6 is a non-first fragment: its payload is not an ICMP message, the codec must not care.
    const r = Icmp.decode(m);
    assert.equal(Icmp.encodingLength(r), m.length);
    if (pkt !== F6) assert.deepEqual(Icmp.encode(r), m);
    const out = Buffer.alloc(m.length + 4, 0x55);
    Icmp.encode(r, out, 2);
    assert.deepEqual(out.subarray(2, 2 + m.length), Icmp.encode(r));
  }
});

test('a whole echo request built from reprs equals the captured packet', () => {
  const ip = Ipv4.decode(F1);
  const icmp = Icmp.decode(ip.payload);
  assert.deepEqual(Ipv4.encode({ ...ip, protocol: IPPROTO_ICMP, payload: Icmp.encode(icmp) }), F1);
});

test('non-canonical messages survive the round trip as kind other', () => {
  const m = Buffer.from(icmpOf(F12));
  m.writeUInt32BE(0xdeadbeef, 4); // unused field set: must not be normalised away
  new IcmpPacket(m).fillChecksum();
  const r = Icmp.decode(m);
  assert.equal(r.kind, 'other');
  assert.deepEqual(Icmp.encode(r), m);
  const ts = Buffer.from([13, 0, 0, 0, 1, 2, 3, 4]);
  new IcmpPacket(ts).fillChecksum();
  assert.deepEqual(Icmp.encode(Icmp.decode(ts)), ts);
});

test('encoding impossible values throws CodecError', () => {
  const data = Buffer.alloc(0);
  assert.throws(() => Icmp.encode({ kind: 'echo-request', identifier: 65536, sequence: 0, data }), CodecError);
  assert.throws(() => Icmp.encode({ kind: 'echo-reply', identifier: 0, sequence: -1, data }), CodecError);
  assert.throws(() => Icmp.encode({ kind: 'dest-unreachable', code: 4, nextHopMtu: 70000, data }), CodecError);
  assert.throws(() => Icmp.encode({ kind: 'dest-unreachable', code: 256, data }), CodecError);
  assert.throws(() => Icmp.encode({ kind: 'other', type: 300, code: 0, rest: 0, data }), CodecError);
  assert.throws(() => Icmp.encode({ kind: 'echo-request', identifier: 1, sequence: 1, data }, Buffer.alloc(7)), CodecError);
  assert.throws(() => Icmp.decode(Buffer.alloc(7)), CodecError);
});

test('every truncation of a captured ICMP packet is malformed, without throwing', () => {
  for (const pkt of [F1, F2, F12, F14, F16]) {
    for (let n = 0; n < pkt.length; n++) {
      const cut = pkt.subarray(0, n);
      // ICMP has no length field: the IP header's totalLength is what catches truncation.
      assert.equal(ipv4Check(cut), 'malformed', `cut to ${n}`);
      assert.ok(icmpCheck(cut, 20) === 'malformed' || icmpCheck(cut, 20) === null);
    }
  }
});

test('icmpCheck alone misses a truncation only where the cut-off tail sums to zero', () => {
  // F16 quotes an IPIP packet: cutting off exactly a checksummed inner header or message leaves
  // the ICMP checksum valid (the RFC 1071 sum cannot tell). Everything else must be caught.
  let undetectable = 0;
  for (const pkt of [F1, F2, F12, F14, F16]) {
    const m = icmpOf(pkt);
    for (let n = 0; n < m.length; n++) {
      const tailSumsToZero = n % 2 === 0 && [0, 0xffff].includes(onesSum(m, n));
      assert.equal(icmpCheck(m.subarray(0, n)), tailSumsToZero && n >= 8 ? null : 'malformed', `cut to ${n}`);
      if (tailSumsToZero && n >= 8) undetectable++;
    }
  }
  assert.equal(undetectable, 3);
});

test('buildFragNeeded agrees with the Linux router’s own frag-needed for the same packet', () => {
  const mine = buildFragNeeded(F13, 1280, ROUTER);
  assert.ok(mine !== null);
  assert.equal(mine.length, 20 + 8 + 28);
  assert.equal(ipv4Check(mine), null);
  const ip = new Ipv4Packet(mine);
  const kernel = new Ipv4Packet(F14);
  assert.equal(ip.src, kernel.src);
  assert.equal(ip.dst, kernel.dst);
  assert.equal(ip.protocol, kernel.protocol);
  assert.equal(ip.ttl, 64);
  assert.equal(ip.dscp, kernel.dscp); // CS6
  assert.equal(ip.ecn, 0);
  assert.equal(ip.isFragment, false);
  const icmp = new IcmpPacket(ip.payload);
  const kicmp = new IcmpPacket(kernel.payload);
  assert.equal(icmpCheck(ip.payload), null);
  assert.equal(icmp.type, ICMP_DEST_UNREACHABLE);
  assert.equal(icmp.code, ICMP_UNREACH_FRAG_NEEDED);
  assert.equal(icmp.rest, kicmp.rest); // unused 16 bits zero, MTU 1280
  // RFC 792 quote: the original header and the first 64 bits of its data, byte for byte.
  assert.deepEqual(icmp.data, F13.subarray(0, 28));
  assert.deepEqual(icmp.data, kicmp.data.subarray(0, 28));
});

test('buildFragNeeded output decoded independently by tshark', { skip: requirePrograms(['tshark']) }, () => {
  const pkts = [buildFragNeeded(F13, 1280, ROUTER)!, buildFragNeeded(F1, 576, ROUTER)!];
  const dir = mkdtempSync(join(tmpdir(), 'iiptran-wire-icmp-'));
  try {
    const file = join(dir, 'fragneeded.pcap');
    writeRawPcap(file, pkts);
    const fields = [
      'ip.version', 'ip.hdr_len', 'ip.len', 'ip.ttl', 'ip.proto', 'ip.src', 'ip.dst', 'ip.dsfield.dscp',
      'ip.flags.df', 'ip.checksum.status', 'icmp.type', 'icmp.code', 'icmp.mtu', 'icmp.checksum.status',
      'udp.srcport', 'udp.dstport',
    ];
    const r = spawnSync(
      'tshark',
      ['-r', file, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trimEnd().split('\n').map((l) => Object.fromEntries(l.split('|').map((v, i) => [fields[i], v])));
    assert.equal(rows.length, 2);
    // Nested headers appear as "outer,quoted".
    assert.deepEqual(rows[0], {
      'ip.version': '4,4', 'ip.hdr_len': '20,20', 'ip.len': '56,1428', 'ip.ttl': '64,64', 'ip.proto': '1,17',
      'ip.src': '10.201.1.2,10.201.1.1', 'ip.dst': '10.201.1.1,10.201.2.2', 'ip.dsfield.dscp': '48,0',
      'ip.flags.df': '1,1', 'ip.checksum.status': '1,1', 'icmp.type': '3', 'icmp.code': '4', 'icmp.mtu': '1280',
      'icmp.checksum.status': '1', 'udp.srcport': '40004', 'udp.dstport': '9999',
    });
    assert.equal(rows[1]!['ip.src'], '10.201.1.2,10.201.1.1');
    assert.equal(rows[1]!['ip.dst'], '10.201.1.1,10.201.2.2');
    assert.equal(rows[1]!['ip.proto'], '1,1');
    assert.equal(rows[1]!['icmp.type'], '3,8');
    assert.equal(rows[1]!['icmp.code'], '4,0');
    assert.equal(rows[1]!['icmp.mtu'], '576');
    assert.equal(rows[1]!['icmp.checksum.status']!.split(',')[0], '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('buildFragNeeded into a caller buffer', () => {
  const out = Buffer.alloc(FRAG_NEEDED_MAX_LEN, 0x77);
  const v = buildFragNeeded(F13, 1280, ROUTER, out);
  assert.ok(v !== null);
  assert.equal(v.buffer, out.buffer);
  assert.deepEqual(v, buildFragNeeded(F13, 1280, ROUTER));
  assert.equal(out[v.length], 0x77);
  assert.throws(() => buildFragNeeded(F13, 1280, ROUTER, Buffer.alloc(55)), CodecError);
  // Largest case: a 60-byte header with options.
  const withOpts = Ipv4.encode({ ...Ipv4.decode(F13), options: Buffer.alloc(40, 1) });
  const big = buildFragNeeded(withOpts, 1280, ROUTER, out);
  assert.ok(big !== null);
  assert.equal(big.length, FRAG_NEEDED_MAX_LEN);
  assert.deepEqual(new IcmpPacket(big, 20).data, withOpts.subarray(0, 68));
});

test('buildFragNeeded answers the first fragment but never a later one or an ICMP error', () => {
  assert.ok(buildFragNeeded(F5, 1280, ROUTER) !== null);
  assert.equal(buildFragNeeded(F6, 1280, ROUTER), null);
  assert.equal(buildFragNeeded(F12, 1280, ROUTER), null);
  assert.equal(buildFragNeeded(F14, 1280, ROUTER), null);
  assert.equal(buildFragNeeded(F16, 1280, ROUTER), null);
  // Echo messages are queries, not errors.
  assert.ok(buildFragNeeded(F2, 1280, ROUTER) !== null);
  // Non-first fragments whose first payload byte would otherwise pass: UDP, and ICMP type 8.
  for (const [orig, units] of [[F13, 1], [F13, 0x1fff], [F1, 185]] as const) {
    const b = Buffer.from(orig);
    b.writeUInt16BE((b.readUInt16BE(6) & 0xe000) | units, 6);
    b.writeUInt16BE(0, 10);
    b.writeUInt16BE(internetChecksum(b, 0, 20), 10);
    assert.equal(ipv4Check(b), null);
    assert.equal(buildFragNeeded(b, 1280, ROUTER), null, `offset ${units}`);
  }
});

test('buildFragNeeded refuses sources and destinations that are not a single host', () => {
  const readdress = (src: string, dst: string): Buffer => {
    const b = Buffer.from(F13);
    b.writeUInt32BE(ipv4ToU32(src), 12);
    b.writeUInt32BE(ipv4ToU32(dst), 16);
    b.writeUInt16BE(0, 10);
    b.writeUInt16BE(internetChecksum(b, 0, 20), 10);
    return b;
  };
  assert.equal(buildFragNeeded(readdress('0.0.0.0', '10.0.0.1'), 1280, ROUTER), null);
  assert.equal(buildFragNeeded(readdress('224.0.0.5', '10.0.0.1'), 1280, ROUTER), null);
  assert.equal(buildFragNeeded(readdress('127.0.0.1', '10.0.0.1'), 1280, ROUTER), null);
  assert.equal(buildFragNeeded(readdress('10.0.0.2', '224.0.0.5'), 1280, ROUTER), null);
  assert.equal(buildFragNeeded(readdress('10.0.0.2', '255.255.255.255'), 1280, ROUTER), null);
  assert.ok(buildFragNeeded(readdress('10.0.0.2', '10.0.0.1'), 1280, ROUTER) !== null);
});

test('buildFragNeeded: caller bugs throw, bad packets give null', () => {
  assert.throws(() => buildFragNeeded(F13, 67, ROUTER), CodecError);
  assert.throws(() => buildFragNeeded(F13, 65536, ROUTER), CodecError);
  assert.throws(() => buildFragNeeded(F13, 1280, 2 ** 32), CodecError);
  for (let n = 0; n < 28; n++) {
    const r = buildFragNeeded(F13.subarray(0, n), 1280, ROUTER);
    if (n < 20) assert.equal(r, null);
    else assert.ok(r !== null && ipv4Check(r) === null && icmpCheck(r, 20) === null);
  }
  // ICMP original too short to show its type: cannot prove it is not an error.
  assert.equal(buildFragNeeded(F1.subarray(0, 20), 1280, ROUTER), null);
  const v6 = Buffer.from(F13);
  v6[0] = 0x60;
  assert.equal(buildFragNeeded(v6, 1280, ROUTER), null);
});
