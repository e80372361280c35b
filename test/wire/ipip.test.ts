// F15 and F17 are IPv4 protocol-4 packets whose outer headers the Linux kernel built (raw
// socket with IP_TOS = inner TOS, DF following the inner DF, TTL 64) around the echo requests
// F1 and F3, captured with tcpdump on a veth between network namespaces. They are the
// reference ipipEncap must reproduce byte for byte. tshark, when installed, independently
// decodes what encap and decap produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeRawPcap } from '../netns/pcap.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ecnDecapsulate, ipipDecap, ipipEncap, IPIP_HEADER_LEN } from '../../src/wire/ipip.js';
import { ipv4Check, Ipv4Packet } from '../../src/wire/ipv4.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { CodecError } from '../../src/errors.js';
import { F1, F3, F6, F13, F15, F17 } from './captures.js';
import { requirePrograms } from '../netns/helpers.js';


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

test('decap results decoded independently by tshark', { skip: requirePrograms(['tshark']) }, () => {
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
