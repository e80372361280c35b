// The DNS codec on real bytes: every reply NSD sent in test/dns/vectors.json (captured by
// test/dns/make-vectors.ts from an ldns-signed zone) decodes, re-encodes uncompressed to the
// same reprs, and survives a round trip through presentation text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Message, RR, decodeRR, encodeRdata, ednsOf, nameToString, parseName, parseRR, rrToString, rrToGenericString, compareNames, RRType, DnsMalformed,
  type DecodedRR,
} from '../../../src/wire/dns/index.js';

const vectors = JSON.parse(fs.readFileSync(path.resolve('test/dns/vectors.json'), 'utf8')) as { exchanges: { qname: string; qtype: number; response: string }[] };
const replies = vectors.exchanges.map((e) => Buffer.from(e.response, 'hex'));

const strip = (rr: DecodedRR) => ({ name: nameToString(rr.name), type: rr.type, class: rr.class, ttl: rr.ttl, rdata: rr.rdata.toString('hex') });

test('every captured NSD reply decodes, re-encodes and decodes to the same RRs', () => {
  assert.ok(replies.length >= 40, `only ${replies.length} captured replies`);
  let rrs = 0;
  const types = new Set<number>();
  for (const [i, buf] of replies.entries()) {
    const r = Message.decode(buf);
    assert.ok(r.ok, `reply ${i}: ${!r.ok && r.error} ${!r.ok && r.detail}`);
    const m = r.message;
    assert.ok(m.qr && m.aa, `reply ${i} is an authoritative response`);
    const e = ednsOf(m);
    assert.ok(e && e !== 'multiple' && e.do, `reply ${i} echoes EDNS with DO`);
    const again = Message.encode(m);
    assert.equal(again.length, Message.encodingLength(m));
    // NSD compresses; we do not, so the bytes differ but nothing else may.
    assert.ok(again.length >= buf.length);
    const r2 = Message.decode(again);
    assert.ok(r2.ok);
    for (const sec of ['answers', 'authority', 'additional'] as const) {
      assert.deepEqual(r2.message[sec].map(strip), m[sec].map(strip), `reply ${i} ${sec}`);
      for (const rr of m[sec]) {
        rrs++;
        types.add(rr.type);
        // The kept RDATA is the uncompressed encoding of the parsed repr.
        assert.deepEqual(encodeRdata(rr.data), rr.rdata);
        // The kept wire bytes are the RR as it was in the reply.
        assert.ok(buf.includes(rr.wire));
      }
    }
  }
  for (const t of [RRType.A, RRType.AAAA, RRType.NS, RRType.SOA, RRType.CNAME, RRType.KX, RRType.TXT, RRType.DS, RRType.DNSKEY, RRType.RRSIG, RRType.NSEC, RRType.NSEC3, RRType.OPT, RRType.IPSECA]) {
    assert.ok(types.has(t), `no captured RR of type ${t}`);
  }
  assert.ok(rrs > 250, `${rrs} RRs`);
});

test('presentation text round-trips every captured RR (parseRR(rrToString(rr)) has the same RDATA)', () => {
  for (const buf of replies) {
    const r = Message.decode(buf);
    assert.ok(r.ok);
    for (const rr of [...r.message.answers, ...r.message.authority, ...r.message.additional]) {
      if (rr.type === RRType.OPT) continue;
      const text = rrToString(rr);
      const back = parseRR(text);
      assert.equal(nameToString(back.name), nameToString(rr.name), text);
      assert.equal(back.type, rr.type, text);
      assert.deepEqual(encodeRdata(back.data), rr.rdata, text);
    }
  }
});

test('known records print as ldns and unbound print them', () => {
  const all = replies.flatMap((b) => {
    const r = Message.decode(b);
    return r.ok ? r.message.answers : [];
  });
  const kx = all.find((r) => r.type === RRType.KX)!;
  assert.match(rrToString(kx), /^site-b\.overlay\.test\.\t300\tIN\tKX\t10 b\.overlay\.test\.$/);
  // IPSECA: its own presentation (TLSA's), and the RFC 3597 form ldns and unbound print for TYPE65347.
  const ipseca = all.find((r) => r.type === RRType.IPSECA)!;
  assert.equal(rrToString(ipseca).split('\t').slice(3).join(' '), 'IPSECA 3 1 1 5ED57BFB59AA45B067C32087A96C4146ED6260A3DC889F6904767C2649627D82');
  assert.equal(rrToGenericString(ipseca).split('\t').slice(3).join(' '), 'TYPE65347 \\# 35 0301015ed57bfb59aa45b067c32087a96c4146ed6260a3dc889f6904767c2649627d82');
  const v6 = all.find((r) => r.type === RRType.AAAA)!;
  assert.equal(rrToString(v6).split('\t')[4], '2001:db8::1');
  const txt = all.find((r) => r.type === RRType.TXT)!;
  assert.equal(rrToString(txt).split('\t')[4], '"hello" "world"');
});

test('names are label bytes: escapes, case-insensitive canonical order (RFC 4034 §6.1 example)', () => {
  const n = parseName('a\\.b.\\032x\\255.example.');
  assert.equal(n.length, 3);
  assert.deepEqual(n[0], Buffer.from('a.b'));
  assert.deepEqual(n[1], Buffer.from([0x20, 0x78, 0xff]));
  assert.equal(nameToString(n), 'a\\.b.\\032x\\255.example.');
  const ordered = ['example.', 'a.example.', 'yljkjljk.a.example.', 'Z.a.example.', 'zABC.a.EXAMPLE.', 'z.example.', '\\001.z.example.', '*.z.example.', '\\200.z.example.'];
  const shuffled = [...ordered].reverse().map((s) => parseName(s));
  shuffled.sort(compareNames);
  assert.deepEqual(shuffled.map(nameToString), ordered);
  assert.throws(() => parseName('a..b.'), /empty label/);
  assert.throws(() => parseName('x'.repeat(64) + '.'), /label of 64/);
});

test('bad names and RRs give named reasons, never exceptions', () => {
  const hdr = (qd: number, an = 0) => Buffer.from([0x12, 0x34, 0x81, 0x00, 0, qd, 0, an, 0, 0, 0, 0]);
  // A pointer to itself, and a pointer forwards: both could loop.
  const self = Buffer.concat([hdr(1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  assert.equal(Message.decode(self).ok === false && (Message.decode(self) as { error: string }).error, 'compression-loop');
  const fwd = Buffer.concat([hdr(1), Buffer.from([0xc0, 20, 0, 1, 0, 1, 0, 0, 1, 0])]);
  const f = Message.decode(fwd);
  assert.ok(!f.ok && f.error === 'compression-loop');
  // A two-pointer cycle through earlier bytes: the second pointer points backwards but the first forwards.
  const cyc = Buffer.concat([hdr(1), Buffer.from([1, 0x61, 0xc0, 12, 0, 1, 0, 1])]);
  const c = Message.decode(cyc);
  assert.ok(!c.ok && c.error === 'compression-loop', JSON.stringify(c));
  const badType = Buffer.concat([hdr(1), Buffer.from([0x40, 0, 0, 1, 0, 1])]);
  const bt = Message.decode(badType);
  assert.ok(!bt.ok && bt.error === 'malformed');
  const long = Buffer.concat([hdr(1), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]);
  const l = Message.decode(long);
  assert.ok(!l.ok && l.error === 'name-too-long');
  // An RR whose RDLENGTH runs past the end.
  const trunc = Buffer.concat([hdr(0, 1), Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0])]);
  const t = Message.decode(trunc);
  assert.ok(!t.ok && t.error === 'truncated');
  assert.ok(decodeRR(Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 10, 0, 0]), 0) instanceof DnsMalformed, 'A with 3 octets');
  const trail = Buffer.concat([hdr(0), Buffer.from([0])]);
  const tr = Message.decode(trail);
  assert.ok(!tr.ok && tr.error === 'trailing-bytes');
  assert.ok(!Message.decode(Buffer.alloc(5)).ok);
});

test('unknown types stay RFC 3597 bytes and encode back exactly', () => {
  const rr = parseRR('x.overlay.test. 300 IN TYPE65300 \\# 3 030101');
  assert.equal(rr.data.kind, 'UNKNOWN');
  const wire = RR.encode(rr);
  const back = decodeRR(wire, 0);
  assert.ok(!(back instanceof DnsMalformed));
  assert.deepEqual(back.rr.rdata, Buffer.from('030101', 'hex'));
  assert.equal(rrToString(back.rr), 'x.overlay.test.\t300\tIN\tTYPE65300\t\\# 3 030101');
});

test('a known type in the generic form is the typed record (RFC 3597 §5); a bad one names the type', () => {
  const a = parseRR('a.overlay.test. 300 IN TYPE1 \\# 4 0ac80101');
  assert.equal(rrToString(a), 'a.overlay.test.\t300\tIN\tA\t10.200.1.1');
  const kx = parseRR('site.overlay.test. 300 IN KX \\# 3 000a00');
  assert.deepEqual(kx.data, { kind: 'PREF', preference: 10, exchange: [] });
  assert.throws(() => parseRR('a.overlay.test. IN A \\# 3 0ac801'), /generic rdata for type 1: A rdata of 3 octets/);
  assert.throws(() => parseRR('a.overlay.test. IN A \\# 4 0ac801'), /3 octets, length says 4/);
});
