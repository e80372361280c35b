// A fuzz run of the IPv6 codec and the vlink's IPv6 checks (inner-v6.ts): seeded mutations of
// real captured packets (bit flips, truncations, length and next-header corruption, spliced
// extension headers) and pure noise. Nothing may throw; every packet the vlink refuses is
// counted under exactly one named drop reason; what it accepts passes the codec's own checks.
// IIPTRAN_FUZZ_SEED reproduces a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ipv6Chain, ipv6Check, Ipv6Packet, ipv6Walk, IPV6_HEADER_LEN } from '../../src/wire/ipv6.js';
import { buildPacketTooBig, icmpv6ChecksumOk } from '../../src/wire/icmpv6.js';
import { inboundV6, ipipVersionMismatch, outboundV6 } from '../../src/dataplane/inner-v6.js';
import { DROP_REASONS, newDropCounters } from '../../src/dataplane/drop-reasons.js';
import { newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { parseIpv6 } from '../../src/wire/ipv6-text.js';
import { V6_BIG, V6_ECHO, V6_MLD, V6_PTB, V6_REPLY } from './captures6.js';

const SEED = Number(process.env['IIPTRAN_FUZZ_SEED'] ?? 0x6f0f6);
const ROUNDS = 60_000;

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function vlink(mtu: number): Vlink {
  return { name: 'vl-f', mtu, drops: newDropCounters(), stats: newVlinkStats(), icmp6Src: parseIpv6('fd00:255::1') } as unknown as Vlink;
}

const EXT = [0, 43, 44, 51, 60, 135, 139, 140, 253, 254, 58, 59, 6, 17, 50];

function mutate(rnd: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  const kind = Math.floor(rnd() * 7);
  const at = (n: number) => Math.floor(rnd() * n);
  switch (kind) {
    case 0: for (let i = 0; i < 1 + at(6); i++) b[at(b.length)]! ^= 1 << at(8); return b;
    case 1: return b.subarray(0, at(b.length + 1));
    case 2: b.writeUInt16BE(at(0x10000), 4); return b;
    case 3: b[6] = EXT[at(EXT.length)]!; return b;
    case 4: {
      // Splice a random chain of extension headers in after the fixed header.
      const parts: Buffer[] = [];
      for (let i = 0; i < 1 + at(16); i++) {
        const h = Buffer.alloc(8 * (1 + at(3)));
        h[0] = EXT[at(EXT.length)]!;
        h[1] = rnd() < 0.8 ? h.length / 8 - 1 : at(256);
        if (rnd() < 0.3) h.writeUInt16BE(at(0x10000), 2);
        parts.push(h);
      }
      const body = Buffer.concat([...parts, b.subarray(Math.min(b.length, IPV6_HEADER_LEN))]);
      const head = Buffer.from(b.subarray(0, Math.min(b.length, IPV6_HEADER_LEN)));
      if (head.length >= 8) {
        head.writeUInt16BE(Math.min(0xffff, body.length + (rnd() < 0.1 ? at(64) - 32 : 0)) & 0xffff, 4);
        head[6] = EXT[at(EXT.length)]!;
      }
      return Buffer.concat([head, body]);
    }
    case 5: b[0] = (at(16) << 4) | (b[0]! & 0x0f); return b;
    default: return Buffer.from(Array.from({ length: at(200) }, () => at(256)));
  }
}

test(`IPv6 codec and vlink checks under ${ROUNDS} seeded mutations (seed ${SEED})`, () => {
  const rnd = prng(SEED);
  const bases = [V6_ECHO, V6_REPLY, V6_MLD, V6_BIG, V6_PTB];
  const chain = new Ipv6Chain();
  const tally: Record<string, number> = {};
  let accepted = 0;
  let ptbs = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const pkt = mutate(rnd, bases[i % bases.length]!);
    const off = rnd() < 0.1 ? Math.floor(rnd() * 4) : 0;
    const total = ipv6Check(pkt, off);
    if (typeof total === 'number') {
      assert.ok(total >= IPV6_HEADER_LEN && total <= pkt.length - off);
      const w = ipv6Walk(pkt, off, total, chain);
      if (w === null) assert.ok(chain.upperOffset <= total || chain.laterFragment, 'the upper layer starts inside the packet');
      const p = new Ipv6Packet(pkt, off);
      void [p.version, p.trafficClass, p.ecn, p.flowLabel, p.payloadLength, p.nextHeader, p.hopLimit, p.src, p.dst, p.payload];
    }
    const ptb = buildPacketTooBig(pkt, 1280 + Math.floor(rnd() * 200), parseIpv6('fd00::1')!);
    if (ptb !== null) {
      ptbs++;
      assert.ok(ptb.length <= 1280);
      assert.ok(icmpv6ChecksumOk(ptb, 0, 40, ptb.length - 40));
    }
    // Both directions of a vlink: every refusal is exactly one named counter.
    for (const dir of ['in', 'out'] as const) {
      const v = vlink(1280 + Math.floor(rnd() * 300));
      const errs: Buffer[] = [];
      const copy = Buffer.from(pkt);
      const n = dir === 'in' ? inboundV6(v, copy, 0, copy.length, Math.floor(rnd() * 256) - 1) : outboundV6(v, copy, 0, copy.length, errs);
      const counted = Object.entries(v.drops).filter(([, c]) => c > 0);
      if (n < 0) {
        assert.equal(counted.length, 1, `one reason for a refusal: ${JSON.stringify(counted)}`);
        assert.equal(counted[0]![1], 1);
        assert.ok((DROP_REASONS as readonly string[]).includes(counted[0]![0]));
        tally[`${dir}:${counted[0]![0]}`] = (tally[`${dir}:${counted[0]![0]}`] ?? 0) + 1;
      } else {
        assert.equal(counted.length, 0);
        assert.equal(ipv6Check(copy), n);
        assert.equal(ipv6Walk(copy, 0, n, chain), null);
        accepted++;
      }
      assert.equal(errs.length, v.stats.icmp6PacketTooBig);
    }
    ipipVersionMismatch(vlink(1400), pkt, 0, pkt.length);
  }
  process.stdout.write(`# MEASURED fuzz6 seed=${SEED} accepted=${accepted} ptb=${ptbs} ${JSON.stringify(tally)}\n`);
  // The mutations must reach every refusal, not only the first check.
  for (const r of ['in:ipv6-truncated', 'in:ipv6-ext-chain', 'in:inner-version-mismatch', 'in:ecn-ce-not-ect', 'out:mtu', 'out:malformed', 'out:ipv6-truncated', 'out:ipv6-ext-chain']) {
    assert.ok((tally[r] ?? 0) > 0, `no input reached ${r}`);
  }
  assert.ok(accepted > ROUNDS / 10, `only ${accepted} accepted`);
});
