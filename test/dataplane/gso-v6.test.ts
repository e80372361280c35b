// TUN offloads for IPv6 inner packets: the TUN is granted USO4 only together with USO6, and
// checksum offload covers IPv6, so UDP super-packets and partial checksums arrive over IPv6
// too. TSO6 is never enabled: a TCPv6 super-packet is refused like any other metadata we did
// not ask for. The addon against the JS reference (gso.ts) byte for byte, sealed with next
// header 41, each segment's lengths and checksums checked on their own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadEspCrypto } from '../../src/io/esp-native.js';
import { EspBatch, SealOut, ST_BAD_OFFLOAD, ST_OK } from '../../src/dataplane/esp-batch.js';
import { applyOffload, GSO_NONE, GSO_TCPV4, GSO_UDP_L4, planOffload, pseudoSum, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, writeVnetHdr, type VnetHdr } from '../../src/dataplane/gso.js';
import { espOpen } from '../../src/dataplane/esp-engine.js';
import { newInboundSa, newOutboundSa } from '../../src/dataplane/sa.js';
import { checksumOk, internetChecksum } from '../../src/wire/checksum.js';
import { bytes } from './offload-fixtures.js';

const native = new EspBatch(loadEspCrypto());
const js = new EspBatch(null);
const GSO_TCPV6 = 4;

/** An IPv6 packet: traffic class `tc`, next header `nh`, the transport part `l4` with its checksum at `csumAt`. */
function ipv6(l4: Buffer, nh: number, tc: number, csumAt: number, partial: boolean): Buffer {
  const p = Buffer.concat([Buffer.alloc(40), l4]);
  p.writeUInt32BE(((6 << 28) | (tc << 20) | 0x12345) >>> 0, 0);
  p.writeUInt16BE(l4.length, 4);
  p[6] = nh;
  p[7] = 64;
  Buffer.from('fd000000000000000000000000000001', 'hex').copy(p, 8);
  Buffer.from('fd000000000000000000000000000002', 'hex').copy(p, 24);
  const pseudo = pseudoSum(p, nh, l4.length);
  const c = partial ? pseudo : internetChecksum(p, 40, p.length, pseudo);
  p.writeUInt16BE(c === 0 ? 0xffff : c, 40 + csumAt);
  return p;
}

function udp6(payload: Buffer, tc = 0, partial = true): Buffer {
  const l4 = Buffer.concat([Buffer.alloc(8), payload]);
  l4.writeUInt16BE(40001, 0);
  l4.writeUInt16BE(5201, 2);
  l4.writeUInt16BE(l4.length, 4);
  return ipv6(l4, 17, tc, 6, partial);
}

function tcp6(payload: Buffer, partial = true): Buffer {
  const l4 = Buffer.concat([Buffer.alloc(20), payload]);
  l4.writeUInt16BE(40002, 0);
  l4.writeUInt16BE(5201, 2);
  l4.writeUInt32BE(1000, 4);
  l4[12] = 5 << 4;
  l4[13] = 0x10;
  return ipv6(l4, 6, 0, 16, partial);
}

const uso = (mss: number): VnetHdr => ({ flags: VNET_F_NEEDS_CSUM, gsoType: GSO_UDP_L4, hdrLen: 48, gsoSize: mss, csumStart: 40, csumOffset: 6 });

function udpValid(p: Buffer): boolean {
  return checksumOk(p, 40, p.length, pseudoSum(p, 17, p.length - 40));
}

/** Seals with both engines (next header 41) from the same SA state; the opened inner packets, statuses and TOS bytes. */
function sealBoth(items: Array<{ pkt: Buffer; vnet: VnetHdr }>) {
  const common = { spi: 0x6161, suite: 'aes-gcm-128' as const, key: bytes(16, 3), salt: bytes(4, 4), src: '192.0.2.1', dst: '192.0.2.2' };
  const a = newOutboundSa(common);
  const rx = newInboundSa(common);
  const b = { ...a, stats: { ...a.stats } };
  const res = [];
  for (const [e, sa] of [[native, a], [js, b]] as const) {
    const buf = Buffer.alloc(items.reduce((s, x) => s + x.pkt.length + VNET_HDR_LEN, 0));
    const off = new Int32Array(items.length);
    const len = new Int32Array(items.length);
    let at = 0;
    items.forEach((x, i) => {
      writeVnetHdr(x.vnet, buf, at);
      x.pkt.copy(buf, at + VNET_HDR_LEN);
      off[i] = at + VNET_HDR_LEN;
      len[i] = x.pkt.length;
      at += x.pkt.length + VNET_HDR_LEN;
    });
    const status = new Int32Array(items.length);
    const out = new SealOut(1 << 20, 4096);
    assert.equal(e.seal(sa, buf, off, len, status, 0, items.length, true, 41, out), items.length);
    res.push({
      status: Array.from(status),
      esp: Array.from({ length: out.count }, (_, i) => Buffer.from(out.buf.subarray(out.off[i]!, out.off[i]! + out.len[i]!))),
      tos: Array.from(out.tos.subarray(0, out.count)),
    });
  }
  const [n, j] = res as [(typeof res)[0], (typeof res)[0]];
  assert.deepEqual(n.status, j.status);
  assert.deepEqual(n.esp.map((p) => p.toString('hex')), j.esp.map((p) => p.toString('hex')), 'addon and reference agree byte for byte');
  assert.deepEqual(n.tos, j.tos);
  const inner = n.esp.map((p) => {
    const r = espOpen(rx, p);
    assert.ok(typeof r === 'object', String(r));
    assert.equal(r.nextHeader, 41);
    return r.payload;
  });
  return { status: n.status, inner, tos: n.tos };
}

test('IPv6 UDP super-packet (USO6): segments with their own payload length, UDP length and checksum; traffic class as outer TOS', () => {
  const payload = bytes(2 * 1200 + 345, 7);
  const sp = { pkt: udp6(payload, 0xb8 | 2), vnet: uso(1200) };
  const { inner, status, tos } = sealBoth([sp]);
  assert.deepEqual(status, [ST_OK]);
  assert.deepEqual(inner.map((p) => p.length), [48 + 1200, 48 + 1200, 48 + 345]);
  inner.forEach((p, k) => {
    assert.equal(p.readUInt16BE(4), p.length - 40, `segment ${k} payload length`);
    assert.equal(p.readUInt16BE(44), p.length - 40, `segment ${k} UDP length`);
    assert.ok(udpValid(p), `segment ${k} UDP checksum`);
    assert.ok(p.subarray(0, 4).equals(sp.pkt.subarray(0, 4)), 'version, traffic class and flow label repeated');
    assert.ok(p.subarray(48).equals(payload.subarray(k * 1200, Math.min(payload.length, (k + 1) * 1200))));
  });
  assert.deepEqual(tos, [0xba, 0xba, 0xba], 'the traffic class, not the second header byte');
  const ref = applyOffload(Buffer.from(sp.pkt), planOffload(Buffer.from(sp.pkt), sp.vnet) as never);
  assert.deepEqual(ref.map((p) => p.toString('hex')), inner.map((p) => p.toString('hex')));
});

test('IPv6 partial checksums (TCP and UDP) completed; a plain IPv6 packet goes as it is', () => {
  const t = tcp6(bytes(700, 2));
  const u = udp6(bytes(99, 3));
  const plain = udp6(bytes(50, 4), 0, false);
  const none: VnetHdr = { flags: 0, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
  const { inner, status } = sealBoth([
    { pkt: t, vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 40, csumOffset: 16 } },
    { pkt: u, vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 40, csumOffset: 6 } },
    { pkt: plain, vnet: none },
  ]);
  assert.deepEqual(status, [ST_OK, ST_OK, ST_OK]);
  assert.ok(checksumOk(inner[0]!, 40, inner[0]!.length, pseudoSum(inner[0]!, 6, inner[0]!.length - 40)), 'TCP completed');
  assert.ok(udpValid(inner[1]!), 'UDP completed');
  assert.ok(inner[2]!.equals(plain));
});

test('IPv6 offload metadata we never enabled, or that does not fit the packet, is refused by both engines', () => {
  const good = { pkt: udp6(bytes(3000, 1)), vnet: uso(1000) };
  const hbh = udp6(bytes(3000, 1));
  hbh[6] = 0; // a Hop-by-Hop header in front of UDP: segmentation would need the chain walked
  const bad: Array<[string, { pkt: Buffer; vnet: VnetHdr }]> = [
    ['TSO6 (never enabled)', { pkt: tcp6(bytes(3000, 1)), vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV6, hdrLen: 60, gsoSize: 1000, csumStart: 40, csumOffset: 16 } }],
    ['TCPv4 GSO on IPv6', { pkt: tcp6(bytes(3000, 1)), vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 60, gsoSize: 1000, csumStart: 40, csumOffset: 16 } }],
    ['USO6 behind an extension header', { pkt: hbh, vnet: uso(1000) }],
    ['USO6 on TCP', { pkt: tcp6(bytes(3000, 1)), vnet: uso(1000) }],
    ['checksum start inside the IPv6 header', { pkt: udp6(bytes(10, 1)), vnet: { ...uso(0), gsoType: GSO_NONE, csumStart: 20 } }],
    ['USO6 checksum start not the UDP header', { pkt: udp6(bytes(3000, 1)), vnet: { ...uso(1000), csumStart: 48 } }],
    ['payload length not the packet', { pkt: Buffer.concat([udp6(bytes(3000, 1)), Buffer.alloc(3)]), vnet: uso(1000) }],
  ];
  const { status, inner } = sealBoth([good, ...bad.map((b) => b[1]), good]);
  assert.equal(status[0], ST_OK);
  assert.equal(status.at(-1), ST_OK);
  bad.forEach(([what], i) => assert.equal(status[i + 1], ST_BAD_OFFLOAD, what));
  assert.equal(inner.length, 6);
});
