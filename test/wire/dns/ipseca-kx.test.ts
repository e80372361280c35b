// IPSECA (TYPE65347, TLSA's RDATA) and KX (RFC 2230) in the codec: wire round trips, the
// presentation forms (`IPSECA 3 1 1 <hex>` and RFC 3597 `\# len hex`), the draft's example
// records, and decoding that refuses short RDATA with a reason instead of throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  Ipseca, Message, RR, RRType, DnsMalformed, decodeRR, encodeRdata, nameToString, parseName, parseRR, parseZoneText,
  rrToGenericString, rrToString, typeFromString, typeToString, type DnsRR,
} from '../../../src/wire/dns/index.js';
import { CodecError } from '../../../src/errors.js';
import { SeededRandom } from '../../helpers/seeded-random.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest();

test('IPSECA is TYPE65347 with its own mnemonic; both spellings parse', () => {
  assert.equal(RRType.IPSECA, 65347);
  assert.equal(typeToString(65347), 'IPSECA');
  assert.equal(typeFromString('ipseca'), 65347);
  assert.equal(typeFromString('TYPE65347'), 65347);
});

test('IPSECA rdata: decode, encode and encodingLength agree, at an offset too', () => {
  const data = sha256(Buffer.from('a key'));
  const r = { usage: 3, selector: 1, matchingType: 1, data };
  assert.equal(Ipseca.encodingLength(r), 35);
  const wire = Ipseca.encode(r);
  assert.equal(wire.toString('hex'), '030101' + data.toString('hex'));
  assert.deepEqual(Ipseca.decode(wire), r);
  const big = Buffer.alloc(40, 0xee);
  Ipseca.encode(r, big, 2);
  assert.deepEqual(Ipseca.decode(big, 2, 37), r);
  assert.equal(big[1], 0xee);
  assert.equal(big[37], 0xee);
  assert.throws(() => Ipseca.encode(r, Buffer.alloc(10)), CodecError);
  for (const bad of [{ ...r, usage: 256 }, { ...r, selector: -1 }, { ...r, matchingType: 1.5 }]) assert.throws(() => Ipseca.encode(bad), CodecError);
  assert.throws(() => Ipseca.encode({ ...r, data: Buffer.alloc(0x10000) }), /IPSECA rdata of 65539 octets/);
});

test('IPSECA decoding never throws: short RDATA is malformed with a reason, anything longer decodes', () => {
  for (const n of [0, 1, 2]) {
    const d = Ipseca.decode(Buffer.alloc(n));
    assert.ok(d instanceof DnsMalformed && d.error === 'malformed' && /at least 3/.test(d.detail), `${n} octets`);
  }
  assert.ok(Ipseca.decode(Buffer.alloc(4), 3, 9) instanceof DnsMalformed, 'end past the buffer');
  assert.deepEqual(Ipseca.decode(Buffer.from([3, 1, 1])), { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(0) });
  // Random RDATA inside a random message: decode answers, it does not throw.
  const sr = new SeededRandom(8);
  const rnd = () => sr.unit();
  let decoded = 0;
  for (let i = 0; i < 5000; i++) {
    const rd = Buffer.from(Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
    const rr = Buffer.concat([Buffer.from([0, 0xff, 0x43, 0, 1, 0, 0, 0, 60, rd.length >> 8, rd.length & 0xff]), rd]);
    const cut = rr.subarray(0, Math.floor(rnd() * (rr.length + 1)));
    const out = decodeRR(cut, 0);
    if (!(out instanceof DnsMalformed)) {
      decoded++;
      assert.equal(out.rr.data.kind, 'IPSECA');
      assert.deepEqual(out.rr.rdata, rd);
    }
  }
  assert.ok(decoded > 100, `${decoded} decoded`);
});

test('IPSECA presentation: `IPSECA u s m HEX` and the generic `\\# len hex` read to the same record and print both ways', () => {
  const spki = Buffer.from('302a300506032b6570032100' + '11'.repeat(32), 'hex');
  const digest = sha256(spki).toString('hex');
  const typed = parseRR(`_500.gw.site-a.test. 300 IN IPSECA 3 1 1 ${digest.toUpperCase()}`);
  const generic = parseRR(`_500.gw.site-a.test. 300 IN TYPE65347 \\# 35 030101${digest}`);
  const mixed = parseRR(`_500.gw.site-a.test. 300 IN IPSECA \\# 35 030101${digest}`);
  assert.deepEqual(typed, generic);
  assert.deepEqual(typed, mixed);
  assert.deepEqual(typed.data, { kind: 'IPSECA', usage: 3, selector: 1, matchingType: 1, data: Buffer.from(digest, 'hex') });
  assert.equal(rrToString(typed), `_500.gw.site-a.test.\t300\tIN\tIPSECA\t3 1 1 ${digest.toUpperCase()}`);
  assert.equal(rrToGenericString(typed), `_500.gw.site-a.test.\t300\tIN\tTYPE65347\t\\# 35 030101${digest}`);
  assert.deepEqual(parseRR(rrToGenericString(typed)), typed);
  assert.deepEqual(parseRR(rrToString(typed)), typed);
  // The full SPKI (matching 0), lower-case hex split over lines as zone files do.
  const full = parseZoneText(`$ORIGIN site-a.test.\n_500.gw 60 IPSECA 3 1 0 (\n  ${spki.subarray(0, 20).toString('hex')}\n  ${spki.subarray(20).toString('hex')} )\n`);
  assert.equal(full.length, 1);
  assert.deepEqual(full[0]!.data, { kind: 'IPSECA', usage: 3, selector: 1, matchingType: 0, data: spki });
  assert.equal(nameToString(full[0]!.name), '_500.gw.site-a.test.');
  // Errors name the field.
  assert.throws(() => parseRR('_500.gw.test. IPSECA 3 1'), /IPSECA matching type: expected a number/);
  assert.throws(() => parseRR('_500.gw.test. IPSECA 3 256 1 00'), /IPSECA selector: 256 above 255/);
  assert.throws(() => parseRR('_500.gw.test. IPSECA 3 1 1 0g'), /IPSECA association data: not hex/);
  assert.throws(() => parseRR('_500.gw.test. TYPE65347 \\# 2 0301'), /generic rdata for type 65347: IPSECA rdata of 2 octets/);
});

// draft-osterweil-dane-ipsec's examples: a name server's key under its `_53` owner (usage 0,
// selector 0, SHA-256) and a stub's address under its reverse name (usage 3, selector 0,
// SHA-512). The draft elides the association data; these digests stand in for it.
const DRAFT_EXAMPLES = [
  `_53.ns1.example.com. IN IPSECA (\n  0 0 1 ${sha256(Buffer.from('ns1 certificate')).toString('hex')} );`,
  `_53.2.1.168.192.in-addr.arpa. IN IPSECA (\n  3 0 2 ${sha512(Buffer.from('stub certificate')).toString('hex')} );`,
];

test("the draft's example records round-trip through wire and both presentation forms", () => {
  const rrs = DRAFT_EXAMPLES.flatMap((t) => parseZoneText(t));
  assert.equal(rrs.length, 2);
  assert.deepEqual(rrs.map((r) => nameToString(r.name)), ['_53.ns1.example.com.', '_53.2.1.168.192.in-addr.arpa.']);
  assert.deepEqual(rrs.map((r) => (r.data.kind === 'IPSECA' ? [r.data.usage, r.data.selector, r.data.matchingType, r.data.data.length] : null)), [[0, 0, 1, 32], [3, 0, 2, 64]]);
  const m = { id: 7, qr: true, opcode: 0, aa: true, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0,
    questions: [{ name: rrs[0]!.name, type: RRType.IPSECA, class: 1 }], answers: rrs, authority: [], additional: [] };
  const wire = Message.encode(m);
  assert.equal(wire.length, Message.encodingLength(m));
  const back = Message.decode(wire);
  assert.ok(back.ok);
  for (const [i, rr] of back.message.answers.entries()) {
    assert.deepEqual(rr.data, rrs[i]!.data);
    assert.deepEqual(rr.rdata, encodeRdata(rrs[i]!.data));
    assert.deepEqual(parseRR(rrToString(rr)).data, rr.data);
    assert.deepEqual(parseRR(rrToGenericString(rr)).data, rr.data);
  }
  assert.equal(rrToString(back.message.answers[1]!).split('\t').slice(3, 4).concat(rrToString(back.message.answers[1]!).split('\t')[4]!.split(' ').slice(0, 3)).join(' '), 'IPSECA 3 0 2');
});

test('an IPSECA RR whose RDLENGTH is under 3 makes the message malformed, not an exception', () => {
  const good: DnsRR = parseRR('_500.gw.test. 60 IN IPSECA 3 1 1 ' + '00'.repeat(32));
  const wire = RR.encode(good);
  const cut = Buffer.from(wire.subarray(0, wire.length - 33));
  cut.writeUInt16BE(2, cut.length - 4);
  const r = decodeRR(cut, 0);
  assert.ok(r instanceof DnsMalformed && r.error === 'malformed', String(r));
});

test('KX presentation and wire form (RFC 2230 §3): preference then exchanger, relative names completed', () => {
  const rrs = parseZoneText('$ORIGIN site-a.test.\n$TTL 300\n@ KX 10 gw1\n@ KX 20 gw2.site-a.test.\n@ KX 0 .\n@ KX 65535 GW3.Other.TEST.\n');
  assert.deepEqual(rrs.map(rrToString), [
    'site-a.test.\t300\tIN\tKX\t10 gw1.site-a.test.',
    'site-a.test.\t300\tIN\tKX\t20 gw2.site-a.test.',
    'site-a.test.\t300\tIN\tKX\t0 .',
    'site-a.test.\t300\tIN\tKX\t65535 GW3.Other.TEST.',
  ]);
  const wire = encodeRdata(rrs[0]!.data);
  assert.equal(wire.toString('hex'), '000a' + '03677731' + '067369746' + '52d61' + '0474657374' + '00');
  for (const rr of rrs) assert.deepEqual(parseRR(rrToString(rr)), rr);
  assert.deepEqual(parseRR(rrToGenericString(rrs[1]!)), rrs[1]);
  assert.throws(() => parseRR('site-a.test. KX 65536 gw1.site-a.test.'), /preference: 65536 above 65535/);
  assert.throws(() => parseRR('site-a.test. KX 10'), /missing name/);
  // A compressed exchanger (as servers send it) decodes to the full name; trailing bytes are refused.
  const owner = parseName('site-a.test.');
  const msg = Buffer.concat([Buffer.alloc(12), Buffer.from('06736974652d61047465737400', 'hex'), Buffer.from([0xc0, 12, 0, 36, 0, 1, 0, 0, 1, 44, 0, 8, 0, 10, 3, 0x67, 0x77, 0x31, 0xc0, 12])]);
  const d = decodeRR(msg, 25);
  assert.ok(!(d instanceof DnsMalformed), String(d));
  assert.equal(nameToString(d.rr.name), nameToString(owner));
  assert.equal(rrToString(d.rr), 'site-a.test.\t300\tIN\tKX\t10 gw1.site-a.test.');
  const long = Buffer.from(msg);
  long.writeUInt16BE(9, 25 + 10);
  const l = decodeRR(long, 25);
  assert.ok(l instanceof DnsMalformed && l.error === 'truncated', String(l));
  const short = Buffer.from(msg);
  short.writeUInt16BE(7, 25 + 10);
  assert.ok(decodeRR(short, 25) instanceof DnsMalformed, 'exchanger cut by RDLENGTH');
});
