// Validators face bytes from the network: whatever arrives, they must answer, never throw.
// Pure noise rarely gets past the version nibble, so the second half mutates a real captured
// IPIP packet and re-seals its checksums, which drives inputs deep into every code path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4Check, Ipv4Packet } from '../../src/wire/ipv4.js';
import { udpCheck, UdpDatagram } from '../../src/wire/udp.js';
import { buildFragNeeded, icmpCheck, IcmpPacket } from '../../src/wire/icmp.js';
import { ipipDecap } from '../../src/wire/ipip.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { isIpv4, parseCidr, parseIpv4 } from '../../src/wire/addr.js';
import { F15 } from './captures.js';


/** xorshift32: deterministic, so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

interface Tally {
  ipv4Ok: number;
  udpOk: number;
  icmpOk: number;
  decapOk: number;
  decapEcnDrop: number;
  fragNeeded: number;
}

/** Runs every validator, and the view getters wherever a validator said yes. */
function exercise(b: Buffer, rnd: () => number, t: Tally): void {
  const src = (rnd() * 0x100000000) >>> 0;
  const dst = (rnd() * 0x100000000) >>> 0;
  const off = Math.floor(rnd() * 4);
  const end = Math.floor(rnd() * (b.length + 1));
  ipv4Check(b, off, Math.max(end, off));
  udpCheck(b, src, dst, off);
  icmpCheck(b, off, Math.max(end, off));
  if (ipv4Check(b) === null) {
    t.ipv4Ok++;
    const p = new Ipv4Packet(b);
    void [p.version, p.ihl, p.dscp, p.ecn, p.totalLength, p.identification, p.dontFragment, p.moreFragments,
      p.fragmentOffset, p.isFragment, p.ttl, p.protocol, p.checksum, p.src, p.dst, p.options, p.packet];
    assert.ok(p.verifyChecksum());
    const pl = p.payload;
    if (udpCheck(pl, p.srcU32, p.dstU32) === null) {
      t.udpOk++;
      const u = new UdpDatagram(pl);
      void [u.srcPort, u.dstPort, u.payload];
    }
    if (icmpCheck(pl) === null) {
      t.icmpOk++;
      const m = new IcmpPacket(pl);
      void [m.type, m.code, m.identifier, m.sequence, m.nextHopMtu, m.data, m.isError];
    }
  }
  const fn = buildFragNeeded(b, 68 + Math.floor(rnd() * 1500), 0x0ac90102);
  if (fn !== null) {
    t.fragNeeded++;
    assert.equal(ipv4Check(fn), null);
    assert.equal(icmpCheck(fn, 20), null);
  }
  const r = ipipDecap(b);
  if (typeof r === 'object') {
    t.decapOk++;
    assert.equal(ipv4Check(r.inner), null);
  } else if (r === 'ecn-ce-not-ect') {
    t.decapEcnDrop++;
  } else {
    assert.equal(r, 'malformed');
  }
}

function reseal(b: Buffer, off: number): void {
  if (b.length < off + 20) return;
  const hl = (b[off]! & 0x0f) * 4;
  if (hl < 20 || off + hl > b.length) return;
  b.writeUInt16BE(0, off + 10);
  b.writeUInt16BE(internetChecksum(b, off, off + hl), off + 10);
}

test('10,000 random buffers never make a validator throw', () => {
  const rnd = prng(0xc0ffee);
  const t: Tally = { ipv4Ok: 0, udpOk: 0, icmpOk: 0, decapOk: 0, decapEcnDrop: 0, fragNeeded: 0 };
  for (let i = 0; i < 10_000; i++) {
    const len = Math.floor(rnd() * 128);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
    // Half the time give it a plausible first byte so it gets past the version test.
    if (len > 0 && rnd() < 0.5) b[0] = 0x45;
    if (rnd() < 0.3) reseal(b, 0);
    exercise(b, rnd, t);
  }
  assert.ok(t.ipv4Ok > 0, 'noise never reached the header getters');
  assert.ok(t.fragNeeded > 0);
});

test('10,000 mutations of a real IPIP packet never make a validator throw', () => {
  const rnd = prng(0x5eed);
  const t: Tally = { ipv4Ok: 0, udpOk: 0, icmpOk: 0, decapOk: 0, decapEcnDrop: 0, fragNeeded: 0 };
  for (let i = 0; i < 10_000; i++) {
    let b: Buffer = Buffer.from(F15);
    const edits = 1 + Math.floor(rnd() * 3);
    for (let e = 0; e < edits; e++) {
      // Aim most edits at the two headers, where the logic is.
      const at = rnd() < 0.8 ? Math.floor(rnd() * 40) : Math.floor(rnd() * b.length);
      b[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : b[at]! ^ (1 << Math.floor(rnd() * 8));
    }
    if (rnd() < 0.3) {
      // ECN pairs, so the RFC 6040 drop verdict is reachable too.
      b[1] = (b[1]! & 0xfc) | Math.floor(rnd() * 4);
      b[21] = (b[21]! & 0xfc) | Math.floor(rnd() * 4);
    }
    const cut = rnd();
    if (cut < 0.15) b = b.subarray(0, Math.floor(rnd() * b.length));
    else if (cut < 0.25) b = Buffer.concat([b, Buffer.alloc(Math.floor(rnd() * 16), 0x45)]);
    if (rnd() < 0.7) reseal(b, 20);
    if (rnd() < 0.7) reseal(b, 0);
    exercise(b, rnd, t);
  }
  // The mutations must actually reach every verdict, or this test proves little.
  assert.ok(t.ipv4Ok > 1000, `ipv4Ok ${t.ipv4Ok}`);
  assert.ok(t.decapOk > 100, `decapOk ${t.decapOk}`);
  assert.ok(t.decapEcnDrop > 0, `decapEcnDrop ${t.decapEcnDrop}`);
  assert.ok(t.icmpOk > 0, `icmpOk ${t.icmpOk}`);
  assert.ok(t.fragNeeded > 0, `fragNeeded ${t.fragNeeded}`);
});

test('random strings never make the address parsers throw', () => {
  const rnd = prng(42);
  const alphabet = '0123456789./ -x\n\u0660a';
  for (let i = 0; i < 10_000; i++) {
    let s = '';
    const len = Math.floor(rnd() * 22);
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const n = parseIpv4(s);
    assert.equal(isIpv4(s), n !== null);
    if (n !== null) assert.ok(Number.isInteger(n) && n >= 0 && n <= 0xffffffff);
    const c = parseCidr(s);
    if (c !== null) assert.ok(c.prefixLen >= 0 && c.prefixLen <= 32);
  }
});
