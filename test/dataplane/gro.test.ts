// TUN offloads on the way in: decrypted TCP segments of one flow coalesced into one super-packet
// per TUN write (tun_write.c), with the JS reference (gro.ts) as the yardstick. A coalesced
// packet segmented again (gso.ts) must give back exactly the segments it was made of, and
// whatever must not be merged (other flows, gaps, bad checksums, SYN/FIN/RST, changed options,
// IDs that do not count up) is written as it came, in order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeTestOnly, TW_GRO, TW_VNET } from '../../src/native/index.js';
import { coalesce, type TunWrite } from '../../src/dataplane/gro.js';
import { applyOffload, GSO_NONE, GSO_TCPV4, planOffload, readVnetHdr, VNET_HDR_LEN } from '../../src/dataplane/gso.js';
import { bytes, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, tcpPacket, tcpSuper, TIMESTAMPS, udpPacket, type TcpSpec } from './offload-fixtures.js';

const testOnly = loadNativeTestOnly();

/** What the addon would write for `pkts`, parsed back into (virtio_net_hdr, packet). */
function nativeWrites(pkts: Buffer[], flags = TW_VNET | TW_GRO): TunWrite[] {
  const buf = Buffer.concat(pkts);
  const off = new Int32Array(pkts.length);
  const len = new Int32Array(pkts.length);
  let at = 0;
  pkts.forEach((p, i) => {
    off[i] = at;
    len[i] = p.length;
    at += p.length;
  });
  const cap = testOnly.tunWriteCapture(buf, off, len, pkts.length, flags);
  const out: TunWrite[] = [];
  for (let o = 0; o < cap.length; ) {
    const l = cap.readUInt32LE(o);
    const rec = cap.subarray(o + 4, o + 4 + l);
    if ((flags & TW_VNET) !== 0) out.push({ vnet: readVnetHdr(rec, 0), pkt: Buffer.from(rec.subarray(VNET_HDR_LEN)) });
    else out.push({ vnet: readVnetHdr(Buffer.alloc(10), 0), pkt: Buffer.from(rec) });
    o += 4 + l;
  }
  return out;
}

/** Both implementations, which must agree; returns the writes. */
function writes(pkts: Buffer[]): TunWrite[] {
  const n = nativeWrites(pkts);
  const j = coalesce(pkts);
  assert.deepEqual(
    n.map((w) => [w.vnet, w.pkt.toString('hex')]),
    j.map((w) => [{ ...w.vnet }, w.pkt.toString('hex')]),
    'addon and reference write the same',
  );
  return n;
}

/** The segments a sender's TSO cuts from one super-packet. */
function segmentsOf(t: TcpSpec, mss: number): Buffer[] {
  const sp = tcpSuper(t, mss);
  return applyOffload(sp.pkt, planOffload(sp.pkt, sp.vnet) as never);
}

test('segments of one flow become one GSO write, and segmenting it again gives them back exactly', () => {
  const segs = segmentsOf({ payload: bytes(20000, 3), seq: 0xffffa000, id: 65530, flags: TCP_ACK | TCP_PSH }, 1386);
  assert.equal(segs.length, 15);
  const w = writes(segs);
  assert.equal(w.length, 1);
  const { vnet, pkt } = w[0]!;
  assert.deepEqual({ ...vnet }, { flags: 1, gsoType: GSO_TCPV4, hdrLen: 52, gsoSize: 1386, csumStart: 20, csumOffset: 16 });
  assert.equal(pkt.length, 52 + 20000);
  assert.equal(pkt[33], TCP_ACK | TCP_PSH, 'PSH of the last segment kept');
  const again = applyOffload(Buffer.from(pkt), planOffload(Buffer.from(pkt), vnet) as never);
  assert.deepEqual(again.map((p) => p.toString('hex')), segs.map((p) => p.toString('hex')));
});

test('two interleaved flows: two super-packets, each in order; a third protocol passes in between', () => {
  const a = segmentsOf({ payload: bytes(5000, 1), sport: 1111 }, 1000);
  const b = segmentsOf({ payload: bytes(4000, 2), sport: 2222 }, 1000);
  const u = udpPacket({ payload: bytes(100) });
  const mixed = [a[0]!, b[0]!, a[1]!, u, b[1]!, a[2]!, b[2]!, a[3]!, b[3]!, a[4]!];
  const w = writes(mixed);
  assert.deepEqual(w.map((x) => [x.vnet.gsoType, x.pkt.length]), [
    [GSO_NONE, u.length],
    [GSO_TCPV4, 52 + 5000],
    [GSO_TCPV4, 52 + 4000],
  ]);
});

test('what must not be merged is written as it came, after its flow', () => {
  const segs = segmentsOf({ payload: bytes(6000, 4), id: 100 }, 1000);
  const badSum = Buffer.from(segs[2]!);
  badSum[60] ^= 0xff;
  const cases: Array<[string, Buffer[], number[]]> = [
    ['a gap in sequence numbers', [segs[0]!, segs[1]!, segs[3]!, segs[4]!], [2, 2]],
    ['a segment with a bad checksum', [segs[0]!, segs[1]!, badSum, segs[3]!], [2, 1, 1]],
    ['IPv4 IDs not counting up', [segs[0]!, segs[2]!.subarray(0)], [1, 1]],
    ['a short segment ends the flow', [...segmentsOf({ payload: bytes(1500), id: 100 }, 1000), segs[2]!], [2, 1]],
  ];
  const flag = (f: number, seq: number, id: number) => tcpPacket({ payload: bytes(1000), flags: f, seq, id });
  cases.push(['SYN, FIN and RST alone', [segs[0]!, flag(TCP_ACK | TCP_FIN, 2000, 101), flag(TCP_SYN, 3000, 102), flag(TCP_RST | TCP_ACK, 4000, 103)], [1, 1, 1, 1]]);
  const otherTs = tcpPacket({ payload: bytes(1000), seq: 2000, id: 101, options: Buffer.from('0101080a0001e2410000abcd', 'hex') });
  cases.push(['changed TCP options (a new timestamp)', [segs[0]!, otherTs], [1, 1]]);
  const psh = segmentsOf({ payload: bytes(3000), flags: TCP_ACK | TCP_PSH, id: 100 }, 1000);
  cases.push(['PSH ends the flow', [...psh, tcpPacket({ payload: bytes(1000), seq: 4000, id: 103 })], [3, 1]]);
  const noOpts = segmentsOf({ payload: bytes(3000), options: Buffer.alloc(0) }, 1000);
  cases.push(['no TCP options at all is fine', noOpts, [3]]);
  for (const [what, pkts, sizes] of cases) {
    const w = writes(pkts);
    assert.deepEqual(w.map((x) => (x.vnet.gsoType === GSO_TCPV4 ? Math.round((x.pkt.length - 20 - ((x.pkt[32]! >> 4) * 4)) / x.vnet.gsoSize + 0.49) : 1)), sizes, what);
    // Whatever was merged or not, the bytes all arrive, in order per flow.
    const back = w.flatMap((x) => (x.vnet.gsoType === GSO_TCPV4 ? applyOffload(Buffer.from(x.pkt), planOffload(Buffer.from(x.pkt), x.vnet) as never) : [x.pkt]));
    assert.deepEqual(back.map((p) => p.toString('hex')), pkts.map((p) => Buffer.from(p).toString('hex')), what);
  }
});

test('more than 8 flows at once: the oldest is written to make room, nothing is lost', () => {
  const flows = Array.from({ length: 10 }, (_, f) => segmentsOf({ payload: bytes(2000, f), sport: 3000 + f }, 1000));
  const pkts = [...flows.map((s) => s[0]!), ...flows.map((s) => s[1]!)];
  const w = writes(pkts);
  assert.ok(w.some((x) => x.vnet.gsoType === GSO_TCPV4), 'flows that kept their slot were still merged');
  const back = w.flatMap((x) => (x.vnet.gsoType === GSO_TCPV4 ? applyOffload(Buffer.from(x.pkt), planOffload(Buffer.from(x.pkt), x.vnet) as never) : [x.pkt]));
  for (const [f, s] of flows.entries()) {
    const mine = back.filter((p) => p.readUInt16BE(20) === 3000 + f).map((p) => p.toString('hex'));
    assert.deepEqual(mine, s.map((p) => p.toString('hex')), `flow ${f} whole and in order`);
  }
});

test('without GRO every packet gets a plain virtio_net_hdr; without a virtio header, the bare packet', () => {
  const segs = segmentsOf({ payload: bytes(3000) }, 1000);
  const a = nativeWrites(segs, TW_VNET);
  assert.equal(a.length, 3);
  assert.ok(a.every((w, i) => w.vnet.gsoType === GSO_NONE && w.vnet.flags === 0 && w.pkt.equals(segs[i]!)));
  const b = nativeWrites(segs, 0);
  assert.ok(b.every((w, i) => w.pkt.equals(segs[i]!)));
  const opts = segmentsOf({ payload: bytes(3000), options: TIMESTAMPS }, 1000);
  assert.equal(nativeWrites(opts, TW_GRO).length, 3, 'GRO needs the virtio header');
});
