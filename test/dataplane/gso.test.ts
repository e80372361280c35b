// TUN offloads on the way out: TCP and UDP super-packets segmented as they are sealed, partial
// checksums completed, bad metadata refused. The addon against the JS reference (gso.ts) byte
// for byte, the segments' fields against what the kernel's TSO produces, and the checksums
// against tshark, an independent decoder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEspCrypto } from '../../src/io/esp-native.js';
import { EspBatch, SealOut, ST_BAD_OFFLOAD, ST_OK } from '../../src/dataplane/esp-batch.js';
import { applyOffload, planOffload, VNET_HDR_LEN, writeVnetHdr, type VnetHdr } from '../../src/dataplane/gso.js';
import { espOpen } from '../../src/dataplane/esp-engine.js';
import { newInboundSa, newOutboundSa } from '../../src/dataplane/sa.js';
import { checksumOk } from '../../src/wire/checksum.js';
import { pseudoSum } from '../../src/dataplane/gso.js';
import { writeRawPcap } from '../netns/pcap.js';
import { requirePrograms } from '../netns/helpers.js';
import { bytes, TCP_ACK, TCP_CWR, TCP_FIN, TCP_PSH, tcpSuper, udpPacket, udpSuper } from './offload-fixtures.js';

const native = new EspBatch(loadEspCrypto());
const js = new EspBatch(null);

function sas() {
  const common = { spi: 0x5151, suite: 'aes-gcm-256' as const, key: bytes(32, 3), salt: bytes(4, 4), src: '192.0.2.1', dst: '192.0.2.2' };
  return { out: newOutboundSa(common), in: newInboundSa(common) };
}

/** Items laid out as a TUN with offloads delivers them: a virtio_net_hdr right before each packet. */
function vnetItems(items: Array<{ pkt: Buffer; vnet: VnetHdr }>) {
  const buf = Buffer.alloc(items.reduce((a, x) => a + x.pkt.length + VNET_HDR_LEN + 6, 0));
  const off = new Int32Array(items.length);
  const len = new Int32Array(items.length);
  let at = 0;
  items.forEach((x, i) => {
    writeVnetHdr(x.vnet, buf, at);
    x.pkt.copy(buf, at + VNET_HDR_LEN);
    off[i] = at + VNET_HDR_LEN;
    len[i] = x.pkt.length;
    at += x.pkt.length + VNET_HDR_LEN + 6;
  });
  return { buf, off, len };
}

/** Seal with both engines from the same SA state; returns the inner packets (opened again) and statuses. */
function sealBoth(items: Array<{ pkt: Buffer; vnet: VnetHdr }>) {
  const { out: a, in: rx } = sas();
  const b = { ...a, stats: { ...a.stats } };
  const res = [];
  for (const [e, sa] of [[native, a], [js, b]] as const) {
    const it = vnetItems(items.map((x) => ({ pkt: Buffer.from(x.pkt), vnet: x.vnet })));
    const status = new Int32Array(items.length);
    const out = new SealOut(1 << 20, 4096);
    assert.equal(e.seal(sa, it.buf, it.off, it.len, status, 0, items.length, true, 4, out), items.length);
    res.push({ status: Array.from(status), esp: Array.from({ length: out.count }, (_, i) => Buffer.from(out.buf.subarray(out.off[i]!, out.off[i]! + out.len[i]!))), tos: Array.from(out.tos.subarray(0, out.count)), segmented: e.segmented });
  }
  const [n, j] = res as [(typeof res)[0], (typeof res)[0]];
  assert.deepEqual(n.status, j.status);
  assert.deepEqual(n.esp.map((p) => p.toString('hex')), j.esp.map((p) => p.toString('hex')), 'addon and reference agree byte for byte');
  assert.deepEqual(n.tos, j.tos);
  assert.equal(n.segmented, j.segmented);
  assert.deepEqual(a.stats, b.stats);
  const inner = n.esp.map((p) => {
    const r = espOpen(rx, p);
    assert.equal(typeof r, 'object');
    return (r as { payload: Buffer }).payload;
  });
  return { status: n.status, inner, segmented: n.segmented };
}

function tcpValid(p: Buffer): boolean {
  return checksumOk(p, 0, 20) && checksumOk(p, 20, p.length, pseudoSum(p, 6, p.length - 20));
}

test('TCP super-packet with timestamps: segments with the kernel TSO fields, short last one, PSH and FIN last, CWR first', () => {
  const payload = bytes(4000, 9);
  const sp = tcpSuper({ payload, seq: 0xfffff000, id: 0xfffe, flags: TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, tos: 0xb9 }, 1386);
  const { inner, status, segmented } = sealBoth([sp]);
  assert.deepEqual(status, [ST_OK]);
  assert.equal(segmented, 1);
  assert.equal(inner.length, 3);
  assert.deepEqual(inner.map((p) => p.length), [20 + 32 + 1386, 20 + 32 + 1386, 20 + 32 + 4000 - 2 * 1386]);
  inner.forEach((p, k) => {
    assert.ok(tcpValid(p), `segment ${k} checksums`);
    assert.equal(p.readUInt16BE(2), p.length);
    assert.equal(p.readUInt16BE(4), (0xfffe + k) & 0xffff, 'IPv4 ID counts up and wraps');
    assert.equal(p[1], 0xb9);
    assert.equal(p.readUInt32BE(24), (0xfffff000 + k * 1386) >>> 0, 'sequence numbers back to back, wrapping');
    assert.ok(p.subarray(40, 52).equals(sp.pkt.subarray(40, 52)), 'options repeated');
    const last = k === 2;
    assert.equal(p[33], TCP_ACK | (last ? TCP_PSH | TCP_FIN : 0) | (k === 0 ? TCP_CWR : 0));
    assert.ok(p.subarray(52).equals(payload.subarray(k * 1386, Math.min(4000, (k + 1) * 1386))));
  });
  // The JS reference says the same on its own.
  const ref = applyOffload(Buffer.from(sp.pkt), planOffload(Buffer.from(sp.pkt), sp.vnet) as never);
  assert.deepEqual(ref.map((p) => p.toString('hex')), inner.map((p) => p.toString('hex')));
});

test('UDP super-packet (USO), a payload that divides evenly, one that fits one segment, checksum completion', () => {
  const udp = udpSuper({ payload: bytes(3 * 1200, 5), id: 7 }, 1200);
  const one = tcpSuper({ payload: bytes(500, 6) }, 1386);
  const partialUdp = { pkt: udpPacket({ payload: bytes(333, 8) }, true), vnet: { flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 6 } };
  const plain = { pkt: udpPacket({ payload: bytes(99, 2) }), vnet: { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 } };
  const { inner, status, segmented } = sealBoth([udp, one, partialUdp, plain]);
  assert.deepEqual(status, [ST_OK, ST_OK, ST_OK, ST_OK]);
  assert.equal(segmented, 2);
  assert.equal(inner.length, 3 + 1 + 1 + 1);
  for (const [k, p] of inner.slice(0, 3).entries()) {
    assert.equal(p.length, 28 + 1200);
    assert.equal(p.readUInt16BE(24), 8 + 1200);
    assert.equal(p.readUInt16BE(4), 7 + k);
    assert.ok(checksumOk(p, 20, p.length, pseudoSum(p, 17, p.length - 20)));
  }
  assert.ok(tcpValid(inner[3]!));
  assert.equal(inner[3]!.length, 20 + 32 + 500);
  assert.ok(checksumOk(inner[4]!, 20, inner[4]!.length, pseudoSum(inner[4]!, 17, inner[4]!.length - 20)), 'partial UDP checksum completed');
  assert.ok(inner[5]!.equals(plain.pkt), 'a packet without offload metadata goes as it is');
});

test('malformed virtio_net_hdr / GSO metadata is refused by both engines, and the rest of the batch still goes', () => {
  const sp = () => tcpSuper({ payload: bytes(3000, 1) }, 1000);
  const good = sp();
  const bad: Array<[string, { pkt: Buffer; vnet: VnetHdr }]> = [
    ['unknown flag', { ...sp(), vnet: { ...sp().vnet, flags: 5 } }],
    ['UFO', { ...sp(), vnet: { ...sp().vnet, gsoType: 3 } }],
    ['TCPv6 on IPv4', { ...sp(), vnet: { ...sp().vnet, gsoType: 4 } }],
    ['ECN-flagged TSO (never enabled)', { ...sp(), vnet: { ...sp().vnet, gsoType: 0x81 } }],
    ['TCP GSO on a UDP packet', { pkt: udpPacket({ payload: bytes(3000) }, true), vnet: sp().vnet }],
    ['UDP GSO on a TCP packet', { ...sp(), vnet: { ...udpSuper({ payload: bytes(10) }, 5).vnet } }],
    ['checksum offset not TCP\'s', { ...sp(), vnet: { ...sp().vnet, csumOffset: 6 } }],
    ['checksum start not the transport header', { ...sp(), vnet: { ...sp().vnet, csumStart: 24 } }],
    ['GSO without NEEDS_CSUM', { ...sp(), vnet: { ...sp().vnet, flags: 0 } }],
    ['gso_size 0', { ...sp(), vnet: { ...sp().vnet, gsoSize: 0 } }],
    ['segments over 64 KiB', { ...sp(), vnet: { ...sp().vnet, gsoSize: 65500 } }],
    ['checksum field beyond the packet', { pkt: udpPacket({ payload: bytes(10) }), vnet: { flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 60 } }],
    ['checksum start inside the IPv4 header', { pkt: udpPacket({ payload: bytes(10) }), vnet: { flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 10, csumOffset: 6 } }],
  ];
  const frag = sp();
  frag.pkt.writeUInt16BE(0x2000, 6); // MF: a fragment cannot be segmented
  bad.push(['a fragment', frag]);
  const shortTcp = sp();
  shortTcp.pkt[32] = 0x40; // data offset 4 words
  bad.push(['TCP data offset below 5', shortTcp]);
  const { status, inner } = sealBoth([good, ...bad.map((b) => b[1]), good]);
  assert.equal(status[0], ST_OK);
  assert.equal(status.at(-1), ST_OK);
  bad.forEach(([what], i) => assert.equal(status[i + 1], ST_BAD_OFFLOAD, what));
  assert.equal(inner.length, 6);
});

test('segments decoded by tshark: IPv4 and TCP/UDP checksums good, fields as expected', { skip: requirePrograms(['tshark']) }, () => {
  const tcp = tcpSuper({ payload: bytes(5000, 4), seq: 123456, id: 40, flags: TCP_ACK | TCP_PSH }, 1386);
  const udp = udpSuper({ payload: bytes(2500, 5), id: 90 }, 1000);
  const { inner } = sealBoth([tcp, udp]);
  const dir = mkdtempSync(join(tmpdir(), 'iiptran-gso-'));
  try {
    const file = join(dir, 'segments.pcap');
    writeRawPcap(file, inner);
    const fields = ['ip.id', 'ip.len', 'ip.checksum.status', 'tcp.seq_raw', 'tcp.len', 'tcp.flags.push', 'tcp.checksum.status', 'tcp.options.timestamp.tsval', 'udp.length', 'udp.checksum.status'];
    const r = spawnSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
      '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split('|'));
    assert.deepEqual(rows, [
      ['0x0028', '1438', '2', '123456', '1386', '0', '2', '123456', '', ''],
      ['0x0029', '1438', '2', String(123456 + 1386), '1386', '0', '2', '123456', '', ''],
      ['0x002a', '1438', '2', String(123456 + 2 * 1386), '1386', '0', '2', '123456', '', ''],
      ['0x002b', String(52 + 5000 - 3 * 1386), '2', String(123456 + 3 * 1386), String(5000 - 3 * 1386), '1', '2', '123456', '', ''],
      ['0x005a', '1028', '2', '', '', '', '', '', '1008', '2'],
      ['0x005b', '1028', '2', '', '', '', '', '', '1008', '2'],
      ['0x005c', '528', '2', '', '', '', '', '', '508', '2'],
    ].map((row) => row.map((v, i) => (fields[i]!.endsWith('checksum.status') && v === '2' ? STATUS_GOOD : v))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** tshark's checksum.status for a verified, good checksum. */
const STATUS_GOOD = '1';
