// F15 and F17 are IPv4 protocol-4 packets whose outer headers the Linux kernel built (raw
// socket with IP_TOS = inner TOS, DF following the inner DF, TTL 64) around the echo requests
// F1 and F3, captured with tcpdump on a veth between network namespaces. They are the
// reference ipipEncap must reproduce byte for byte. tshark, when installed, independently
// decodes what encap and decap produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ecnDecapsulate, ipipDecap, ipipEncap, IPIP_HEADER_LEN } from '../../src/wire/ipip.js';
import { ipv4Check, Ipv4Packet } from '../../src/wire/ipv4.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { CodecError } from '../../src/errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Echo request: DSCP 46, ECT(1), DF, ID 0.
const F1 = hex(`
  45b90054000040004001215c0ac901010ac902020800d46916bc0001616c026b00000000e92e01000000000010111213
  1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637
`);
// Echo request: DSCP 0, ECT(0), no DF, ID 0x88a2.
const F3 = hex(`
  4502003488a200004001d9900ac901010ac9020208003ada16bd0001616c026b00000000f53f01000000000010111213
  14151617
`);
// ping -s 2000 -M dont: the last fragment (offset 1480, MF clear) - an inner that is a fragment.
const F6 = hex(`
  45000224448f00b940011bfd0ac901010ac90102c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadb
  dcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b
  0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b
  3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b
  6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b
  9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacb
  cccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafb
  fcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b
  2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b
  5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b
  8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb
  bcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf
`);
// UDP, DF, 1428 bytes.
const F13 = hex(`
  450005940000400040111cc50ac901010ac902029c44270f05806f3b00070e151c232a31383f464d545b626970777e85
  8c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5
  dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e25
  2c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a21282f363d444b525960676e75
  7c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5
  ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f900070e15
  1c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d343b424950575e65
  6c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5
  bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe05
  0c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e55
  5c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5
  acb3bac1c8cfd6dde4ebf2f900070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5
  fc030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e45
  4c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e95
  9ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5
  ecf3fa01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e35
  3c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f900070e151c232a31383f464d545b626970777e85
  8c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5
  dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e25
  2c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a21282f363d444b525960676e75
  7c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5
  ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f900070e15
  1c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d343b424950575e65
  6c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5
  bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe05
  0c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e55
  5c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5
  acb3bac1c8cfd6dde4ebf2f900070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5
  fc030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e45
  4c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41
`);
// Kernel-built IPIP around F1: outer ID 0x0000, DF, TOS 0xb9, TTL 64, checksum 0x2145.
const F15 = hex(`
  45b9006800004000400421450ac901010ac9020245b90054000040004001215c0ac901010ac902020800d46916bc0001
  616c026b00000000e92e010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f
  3031323334353637
`);
// Kernel-built IPIP around F3: outer ID 0xa1d9, no DF, TOS 0x02, TTL 64, checksum 0xc042.
const F17 = hex(`
  45020048a1d900004004c0420ac901010ac902024502003488a200004001d9900ac901010ac9020208003ada16bd0001
  616c026b00000000f53f0100000000001011121314151617
`);

const A = ipv4ToU32('10.201.1.1');
const B = ipv4ToU32('10.201.2.2');

function encapsulate(inner: Buffer, ident: number): Buffer {
  const out = Buffer.alloc(IPIP_HEADER_LEN + inner.length);
  assert.equal(ipipEncap(inner, A, B, ident, out, 0), IPIP_HEADER_LEN);
  inner.copy(out, IPIP_HEADER_LEN);
  return out;
}

function setEcn(pkt: Buffer, offset: number, ecn: number): void {
  new Ipv4Packet(pkt, offset).setEcn(ecn);
}

test('ipipEncap reproduces the kernel’s outer headers byte for byte', () => {
  assert.deepEqual(encapsulate(F1, 0x0000), F15);
  assert.deepEqual(encapsulate(F3, 0xa1d9), F17);
  // At an offset, leaving the surroundings alone.
  const out = Buffer.alloc(40, 0xcc);
  ipipEncap(F3, A, B, 0xa1d9, out, 9);
  assert.deepEqual(out.subarray(9, 29), F17.subarray(0, 20));
  assert.equal(out[8], 0xcc);
  assert.equal(out[29], 0xcc);
});

test('ipipEncap: DF follows the inner, fragment bits never leak, TTL 64, TOS copied', () => {
  for (const [inner, df] of [[F1, true], [F3, false], [F6, false], [F13, true]] as const) {
    const o = new Ipv4Packet(encapsulate(inner, 7));
    assert.equal(ipv4Check(o.buffer), null);
    assert.equal(o.dontFragment, df);
    assert.equal(o.moreFragments, false);
    assert.equal(o.fragmentOffset, 0);
    assert.equal(o.ttl, 64);
    assert.equal(o.protocol, 4);
    assert.equal(o.identification, 7);
    assert.equal(o.totalLength, 20 + inner.length);
    assert.equal(o.buffer[1], inner[1]);
  }
  // RFC 6040 normal mode copies CE as well (Linux instead rewrites it to ECT(0), so this case
  // has no kernel reference).
  for (let ecn = 0; ecn < 4; ecn++) {
    const inner = Buffer.from(F1);
    setEcn(inner, 0, ecn);
    const o = new Ipv4Packet(encapsulate(inner, 0));
    assert.equal(o.ecn, ecn);
    assert.equal(o.dscp, 46);
    assert.ok(o.verifyChecksum());
  }
});

test('ipipEncap: impossible values throw CodecError', () => {
  const out = Buffer.alloc(64);
  assert.throws(() => ipipEncap(F1, A, B, 0x10000, out, 0), CodecError);
  assert.throws(() => ipipEncap(F1, A, B, -1, out, 0), CodecError);
  assert.throws(() => ipipEncap(F1, A, B, 0, out, 45), CodecError);
  assert.throws(() => ipipEncap(F1, A, B, 0, Buffer.alloc(19), 0), CodecError);
  assert.throws(() => ipipEncap(F1, 2 ** 32, B, 0, out, 0), CodecError);
  assert.throws(() => ipipEncap(F1.subarray(0, 19), A, B, 0, out, 0), CodecError);
  const v6 = Buffer.from(F1);
  v6[0] = 0x60;
  assert.throws(() => ipipEncap(v6, A, B, 0, out, 0), CodecError);
  assert.throws(() => ipipEncap(Buffer.alloc(65516, 0x45), A, B, 0, out, 0), CodecError);
});

test('ipipDecap of the kernel’s IPIP packets returns the inner packet as a view', () => {
  for (const [outer, inner] of [[F15, F1], [F17, F3]] as const) {
    const b = Buffer.from(outer);
    const r = ipipDecap(b);
    assert.ok(typeof r === 'object');
    assert.deepEqual(r.inner, inner);
    assert.equal(r.inner.buffer, b.buffer);
    assert.equal(r.inner.byteOffset, b.byteOffset + 20);
  }
  // Trailing bytes after the outer packet, and padding between inner end and outer end.
  const padded = Buffer.concat([F15, Buffer.alloc(5, 0xee)]);
  const r1 = ipipDecap(padded);
  assert.ok(typeof r1 === 'object');
  assert.deepEqual(r1.inner, F1);
  const inside = Buffer.concat([encapsulate(Buffer.concat([F3, Buffer.alloc(6)]), 1)]);
  const r2 = ipipDecap(inside);
  assert.ok(typeof r2 === 'object');
  assert.deepEqual(r2.inner, F3);
});

test('encap → decap round-trips real packets, fragments included', () => {
  for (const inner of [F1, F3, F6, F13]) {
    const r = ipipDecap(encapsulate(inner, 0x1234));
    assert.ok(typeof r === 'object');
    assert.deepEqual(r.inner, inner);
  }
});

// RFC 6040 §4.2 Figure 4, transcribed in the RFC's own layout: rows are the arriving inner
// header, columns the arriving outer header in the order Not-ECT, ECT(0), ECT(1), CE.
const CODE = { 'Not-ECT': 0, 'ECT(1)': 1, 'ECT(0)': 2, CE: 3 } as const;
type Ecn = keyof typeof CODE;
const COLUMNS: Ecn[] = ['Not-ECT', 'ECT(0)', 'ECT(1)', 'CE'];
const FIGURE4: Record<Ecn, (Ecn | 'drop')[]> = {
  'Not-ECT': ['Not-ECT', 'Not-ECT', 'Not-ECT', 'drop'],
  'ECT(0)': ['ECT(0)', 'ECT(0)', 'ECT(1)', 'CE'],
  'ECT(1)': ['ECT(1)', 'ECT(1)', 'ECT(1)', 'CE'],
  CE: ['CE', 'CE', 'CE', 'CE'],
};

function decapCase(outerEcn: Ecn, innerEcn: Ecn): { pkt: Buffer; r: ReturnType<typeof ipipDecap> } {
  const pkt = Buffer.from(F15);
  setEcn(pkt, 0, CODE[outerEcn]);
  setEcn(pkt, 20, CODE[innerEcn]);
  assert.equal(ipv4Check(pkt), null);
  assert.equal(ipv4Check(pkt, 20), null);
  return { pkt, r: ipipDecap(pkt) };
}

test('RFC 6040 decapsulation: all 16 outer/inner ECN combinations', () => {
  let cases = 0;
  for (const innerEcn of Object.keys(FIGURE4) as Ecn[]) {
    FIGURE4[innerEcn].forEach((want, col) => {
      const outerEcn = COLUMNS[col]!;
      const label = `outer ${outerEcn}, inner ${innerEcn}`;
      const { pkt, r } = decapCase(outerEcn, innerEcn);
      cases++;
      if (want === 'drop') {
        assert.equal(r, 'ecn-ce-not-ect', label);
        assert.equal(ecnDecapsulate(CODE[outerEcn], CODE[innerEcn]), -1);
        return;
      }
      assert.ok(typeof r === 'object', label);
      const inner = new Ipv4Packet(r.inner);
      assert.equal(inner.ecn, CODE[want], label);
      assert.equal(ecnDecapsulate(CODE[outerEcn], CODE[innerEcn]), CODE[want]);
      assert.equal(ipv4Check(r.inner), null, label);
      const z = Buffer.from(r.inner.subarray(0, 20));
      z.writeUInt16BE(0, 10);
      assert.equal(inner.checksum, internetChecksum(z), label);
      // Only the ECN bits and the checksum may differ from the inner that went in.
      assert.equal(inner.dscp, 46);
      assert.deepEqual(r.inner.subarray(12), F1.subarray(12));
      assert.deepEqual(r.inner.subarray(2, 10), F1.subarray(2, 10));
      assert.equal(r.inner.buffer, pkt.buffer);
    });
  }
  assert.equal(cases, 16);
});

test('decap results decoded independently by tshark', (t) => {
  if (spawnSync('tshark', ['-v'], { stdio: 'ignore' }).error !== undefined) {
    t.skip('tshark not installed');
    return;
  }
  const pkts: Buffer[] = [];
  const want: string[] = [];
  for (const innerEcn of Object.keys(FIGURE4) as Ecn[]) {
    FIGURE4[innerEcn].forEach((w, col) => {
      if (w === 'drop') return;
      const { r } = decapCase(COLUMNS[col]!, innerEcn);
      assert.ok(typeof r === 'object');
      pkts.push(r.inner);
      want.push(`${CODE[w]}|1|64|1|10.201.1.1|10.201.2.2|8|1`);
    });
  }
  // And two encapsulations, checked the same way.
  const ce = Buffer.from(F1);
  setEcn(ce, 0, 3);
  pkts.push(encapsulate(F13, 0xbeef), encapsulate(ce, 5));
  want.push('0,0|1,1|64,64|4,17|10.201.1.1,10.201.1.1|10.201.2.2,10.201.2.2||1,1');
  want.push('3,3|1,1|64,64|4,1|10.201.1.1,10.201.1.1|10.201.2.2,10.201.2.2|8|1,1');
  const fields = ['ip.dsfield.ecn', 'ip.checksum.status', 'ip.ttl', 'ip.proto', 'ip.src', 'ip.dst', 'icmp.type', 'ip.flags.df'];
  const dir = mkdtempSync(join(tmpdir(), 'iiptran-wire-ipip-'));
  try {
    const file = join(dir, 'ipip.pcap');
    writeRawPcap(file, pkts);
    const r = spawnSync(
      'tshark',
      ['-r', file, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ipipDecap rejects what is not a sound IPIP packet', () => {
  const fix = (b: Buffer, off: number): Buffer => {
    b.writeUInt16BE(0, off + 10);
    b.writeUInt16BE(internetChecksum(b, off, off + 20), off + 10);
    return b;
  };
  const cases: [string, Buffer][] = [
    ['not IPIP at all', Buffer.from(F1)],
    ['protocol 50 around a valid inner', (() => { const b = Buffer.from(F15); b[9] = 50; return fix(b, 0); })()],
    ['protocol 41 around a valid inner', (() => { const b = Buffer.from(F15); b[9] = 41; return fix(b, 0); })()],
    ['outer MF', (() => { const b = Buffer.from(F15); b[6]! |= 0x20; return fix(b, 0); })()],
    ['outer fragment offset', (() => { const b = Buffer.from(F15); b[7] = 1; return fix(b, 0); })()],
    ['outer checksum', (() => { const b = Buffer.from(F15); b[8] = 63; return b; })()],
    ['inner checksum', (() => { const b = Buffer.from(F15); b[28] = 63; return b; })()],
    ['inner version 6', (() => { const b = Buffer.from(F15); b[20] = 0x65; return fix(b, 20); })()],
    ['inner longer than outer says', (() => { const b = Buffer.from(F15); b.writeUInt16BE(103, 2); return fix(b, 0); })()],
    ['inner header cut by outer length', (() => { const b = Buffer.from(F15); b.writeUInt16BE(39, 2); return fix(b, 0); })()],
    ['outer only', (() => { const b = Buffer.from(F15.subarray(0, 20)); b.writeUInt16BE(20, 2); return fix(b, 0); })()],
  ];
  for (const [name, b] of cases) assert.equal(ipipDecap(b), 'malformed', name);
});

test('every truncation of the captured IPIP packets is malformed, without throwing', () => {
  for (const pkt of [F15, F17]) {
    for (let n = 0; n < pkt.length; n++) {
      assert.equal(ipipDecap(Buffer.from(pkt.subarray(0, n))), 'malformed', `cut to ${n}`);
    }
  }
});

test('a dropped or malformed packet is left untouched', () => {
  const { pkt, r } = decapCase('CE', 'Not-ECT');
  assert.equal(r, 'ecn-ce-not-ect');
  assert.equal(pkt[21]! & 3, 0);
  const bad = Buffer.from(F15);
  setEcn(bad, 0, 3);
  bad[40] = 0; // corrupt the inner ICMP, not the headers: decap must still succeed
  const ok = ipipDecap(bad);
  assert.ok(typeof ok === 'object');
  assert.equal(ok.inner[1]! & 3, 3);
});

function writeRawPcap(file: string, pkts: Buffer[]): void {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(101, 20); // LINKTYPE_RAW: records start at the IP header
  const parts: Buffer[] = [head];
  for (const p of pkts) {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(p.length, 8);
    rec.writeUInt32LE(p.length, 12);
    parts.push(rec, p);
  }
  writeFileSync(file, Buffer.concat(parts));
}
