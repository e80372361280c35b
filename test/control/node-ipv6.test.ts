// IPv6 inside a vlink (issue #10), two OverlayNodes over fake TUNs and a fake underlay: IPv6
// packets cross byte for byte as ESP next header 41 on the vlink's one SA, the traffic class
// becomes the outer TOS (RFC 2983, RFC 6040 §4.1) and RFC 6040 §4.2 applies on the way out, an
// oversize packet gets ICMPv6 Packet Too Big, and authentic ESP whose next header does not match
// its payload, or whose IPv6 is truncated or has a broken extension-header chain, is a named drop.

import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { Ipv6, IPPROTO_IPV6, ipv6TrafficClass, ipv6Ecn } from '../../src/wire/ipv6.js';
import { icmpv6ChecksumOk, ICMPV6_PACKET_TOO_BIG } from '../../src/wire/icmpv6.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ipv6-text.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { espOpen, espSeal } from '../../src/dataplane/esp-engine.js';
import { newInboundSa } from '../../src/dataplane/sa.js';
import { loadKeyFile } from '../../src/control/keyfile.js';
import { fakeNodeIo, pairYaml, manualKeying, writePairKeys } from './fake-node-io.js';

const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setImmediate(r));
const SUITE = 'aes-gcm-256';

/** An ICMPv6 echo request fd00:10::1 -> fd00:10::2 of `size` data bytes, traffic class `tc`. */
function echo6(size: number, tc = 0, nh = 58, ext = Buffer.alloc(0)): Buffer {
  const icmp = Buffer.alloc(8 + size, 0x6b);
  icmp.writeUInt32BE(0x80000000, 0);
  return Ipv6.encode({ src: parseIpv6('fd00:10::1')!, dst: parseIpv6('fd00:10::2')!, nextHeader: nh, hopLimit: 64, trafficClass: tc, payload: Buffer.concat([ext, icmp]) });
}

function yamlFor(dir: string, me: 'a' | 'b'): string {
  return pairYaml(dir, me, manualKeying(me, SUITE), { extra: [`address6: fd00:255::${me === 'a' ? 0 : 1}/127`] });
}

describe('IPv6 inner packets between two OverlayNodes over fakes', () => {
  let dir: string;
  let a: OverlayNode;
  let b: OverlayNode;
  let tuns: Map<string, FakeTun>;
  let ua: FakeUnderlay;
  let io: ReturnType<typeof fakeNodeIo>;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-node6-'));
    writePairKeys(dir, SUITE);
    const [sa, sb] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
    ua = sa;
    tuns = new Map();
    io = fakeNodeIo(sa, tuns);
    a = new OverlayNode(parseNodeConfig(yamlFor(dir, 'a'), { baseDir: dir }), io, log);
    b = new OverlayNode(parseNodeConfig(yamlFor(dir, 'b'), { baseDir: dir }), fakeNodeIo(sb, tuns), log);
    await a.start();
    await b.start();
  });

  afterEach(async () => {
    await a.stop();
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** What A sent, opened with B's inbound key: next header and payload. */
  function openSent(i: number): { nextHeader: number; payload: Buffer } {
    const k = loadKeyFile(path.join(dir, 'b-in.key'), SUITE);
    const sa = newInboundSa({ spi: 0x1001, suite: SUITE, key: k.key, salt: k.salt, esn: false, src: '192.0.2.1', dst: '192.0.2.2' });
    // Every packet A sent so far, in order, so the replay window sees them as they came.
    let r;
    for (let j = 0; j <= i; j++) r = espOpen(sa, ua.sent[j]!.data);
    assert.ok(r !== undefined && typeof r !== 'string', String(r));
    return r;
  }

  test('the TUN is configured with its link-local and address6', () => {
    const l = io.netsys as unknown as { links: Map<string, { ipv6?: unknown }> };
    assert.deepEqual(l.links.get('vl-b')!.ipv6, { linkLocal: 'fe80::aff:0', address6: 'fd00:255::/127', prefixLen6: 127 });
  });

  test('an IPv6 packet crosses byte for byte as ESP next header 41, on the same SA as IPv4', async () => {
    const p6 = echo6(100);
    const p4 = Ipv4.encode({ src: ipv4ToU32('10.10.0.1'), dst: ipv4ToU32('10.10.0.2'), protocol: IPPROTO_ICMP, ttl: 64, payload: Buffer.alloc(16, 1) });
    tuns.get('vl-b')!.inject([p6, p4, Buffer.concat([p6, Buffer.alloc(5)])]);
    await tick();
    await tick();
    assert.equal(ua.sent.length, 3);
    assert.ok(ua.sent.every((d) => d.data.readUInt32BE(0) === 0x1001), 'one SA for both families');
    assert.equal(openSent(0).nextHeader, IPPROTO_IPV6);
    assert.deepEqual(openSent(0).payload, p6);
    assert.equal(openSent(1).nextHeader, 4);
    assert.deepEqual(openSent(2).payload, p6, 'bytes past the payload length are not sent');
    assert.deepEqual(tuns.get('vl-a')!.written, [p6, p4, p6]);
    assert.equal(b.vlinks.get('vl-a')!.stats.rxPackets, 3);
  });

  test('the traffic class is the outer TOS, and RFC 6040 §4.2 applies to IPv6 on the way out', async () => {
    // DSCP 46 (EF) with ECT(0): the outer header carries it as is.
    tuns.get('vl-b')!.inject([echo6(10, (46 << 2) | 2)]);
    await tick();
    await tick();
    assert.equal(ua.sent[0]!.tos, (46 << 2) | 2);
    // A CE mark picked up on the underlay survives decapsulation.
    ua.pathTos = (t) => (t ?? 0) | 3;
    tuns.get('vl-b')!.inject([echo6(10, 2)]);
    await tick();
    await tick();
    const got = tuns.get('vl-a')!.written.at(-1)!;
    assert.equal(ipv6Ecn(got), 3);
    assert.equal(ipv6TrafficClass(got), 3);
    // CE over a Not-ECT inner packet is dropped (RFC 6040: the mark cannot be passed on).
    tuns.get('vl-b')!.inject([echo6(10, 0)]);
    await tick();
    await tick();
    assert.equal(b.vlinks.get('vl-a')!.drops['ecn-ce-not-ect'], 1);
    assert.equal(tuns.get('vl-a')!.written.length, 2);
  });

  test('an oversize IPv6 packet is dropped and its sender gets Packet Too Big from the /127 partner', async () => {
    const v = a.vlinks.get('vl-b')!;
    const big = echo6(v.mtu);
    tuns.get('vl-b')!.inject([big]);
    await tick();
    assert.equal(ua.sent.length, 0);
    assert.equal(v.drops.mtu, 1);
    assert.equal(v.stats.icmp6PacketTooBig, 1);
    const ptb = tuns.get('vl-b')!.written[0]!;
    assert.equal(ptb[6], 58);
    assert.equal(formatIpv6(ptb.subarray(8, 24)), 'fd00:255::1');
    assert.equal(formatIpv6(ptb.subarray(24, 40)), 'fd00:10::1');
    assert.equal(ptb[40], ICMPV6_PACKET_TOO_BIG);
    assert.equal(ptb.readUInt32BE(44), v.mtu);
    assert.ok(icmpv6ChecksumOk(ptb, 0, 40, ptb.length - 40));
    assert.ok(ptb.length <= 1280);
  });

  /** Seals `payload` with A's outbound SA under next header `nh` and hands it to B as if from A. */
  async function forge(payload: Buffer, nh: number): Promise<void> {
    const sa = a.vlinks.get('vl-b')!.policy.sa!;
    const out = Buffer.alloc(payload.length + 64);
    const n = espSeal(sa, payload, nh, out, 0) as number;
    ua.send([{ data: out.subarray(0, n), addr: ua.sent[0]?.addr ?? a.vlinks.get('vl-b')!.peerDst, port: 4500 }]);
    await tick();
    await tick();
  }

  test('authentic ESP whose payload does not match its next header, or whose IPv6 is broken, is a named drop', async () => {
    const vb = b.vlinks.get('vl-a')!;
    const p4 = Ipv4.encode({ src: ipv4ToU32('10.10.0.1'), dst: ipv4ToU32('10.10.0.2'), protocol: IPPROTO_ICMP, ttl: 64, payload: Buffer.alloc(8) });
    await forge(p4, IPPROTO_IPV6);
    await forge(echo6(20), 4);
    assert.equal(vb.drops['inner-version-mismatch'], 2);
    await forge(echo6(20).subarray(0, 30), IPPROTO_IPV6);
    const short = echo6(20);
    short.writeUInt16BE(200, 4);
    await forge(short, IPPROTO_IPV6);
    assert.equal(vb.drops['ipv6-truncated'], 2);
    // Hop-by-Hop after a Destination Options header: out of order (RFC 8200 §4.1).
    const dst = Buffer.alloc(8);
    dst[0] = 0;
    const hbh = Buffer.alloc(8);
    hbh[0] = 58;
    await forge(echo6(20, 0, 60, Buffer.concat([dst, hbh])), IPPROTO_IPV6);
    assert.equal(vb.drops['ipv6-ext-chain'], 1);
    await forge(echo6(20), 99);
    assert.equal(vb.drops['bad-next-header'], 1);
    assert.equal(tuns.get('vl-a')!.written.length, 0, 'none of them reached the TUN');
    // A well-formed chain passes.
    const ok = Buffer.alloc(8);
    ok[0] = 58;
    await forge(echo6(20, 0, 60, ok), IPPROTO_IPV6);
    assert.equal(tuns.get('vl-a')!.written.length, 1);
  });
});

test('a reload that changes address6 or link_local updates the TUN in place; removing both turns IPv6 off', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-node6r-'));
  writePairKeys(dir, SUITE);
  const [sa] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const tuns = new Map<string, FakeTun>();
  const io = fakeNodeIo(sa, tuns);
  const netsys = io.netsys as unknown as { links: Map<string, { ipv6?: unknown }>; calls: string[] };
  const cfg = (extra: string[]) => parseNodeConfig(pairYaml(dir, 'a', manualKeying('a', SUITE), { extra }), { baseDir: dir });
  const a = new OverlayNode(cfg(['address6: fd00:255::/127']), io, log);
  try {
    await a.start();
    const tun = tuns.get('vl-b');
    const r = await a.reload(cfg(['address6: fd00:9::4/64', 'link_local: fe80::77']));
    assert.deepEqual(r.updated, ['vl-b']);
    assert.deepEqual(r.changes['vl-b'], ['address6', 'link_local']);
    assert.equal(tuns.get('vl-b'), tun, 'the same TUN');
    assert.deepEqual(netsys.links.get('vl-b')!.ipv6, { linkLocal: 'fe80::77', address6: 'fd00:9::4/64', prefixLen6: 64 });
    assert.equal(formatIpv6(a.vlinks.get('vl-b')!.icmp6Src!), 'fd00:9::4', 'a /64 end sends its errors from its own address');
    await a.reload(cfg([]));
    assert.equal(netsys.links.get('vl-b')!.ipv6, undefined);
    assert.equal(a.vlinks.get('vl-b')!.icmp6Src, null);
    assert.deepEqual(netsys.calls.filter((c) => c.startsWith('ipv6')), ['ipv6 vl-b fe80::77 fd00:9::4/64', 'ipv6 vl-b off']);
  } finally {
    await a.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
