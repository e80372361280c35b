// The batch send and receive paths over an IPv6 UDP socket on ::1: sendBatch (send_seg.c, UDP
// GSO runs) with 16-byte destinations and a traffic class per datagram, onBatch with 16-byte
// sources beside the batch (Reader addrs6), and the addon's one sendmmsg routine taking either
// family (sendBatch with a Uint8Array of addresses; sendBatch6 hands over to it).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadNative } from '../../src/native/index.js';
import { openUdpUnderlay, type UdpUnderlay } from '../../src/io/udp-underlay.js';
import type { DatagramBatch } from '../../src/io/types.js';
import { addrFromString as addrOf } from '../../src/wire/addr.js';

interface Got { data: Buffer; src: string; port: number; tos: number }

const LOOP6 = Buffer.from((addrOf('::1') as { v6: Uint8Array }).v6);

/** Datagrams off onBatch, GRO runs split, sources read from addr6. */
function collect(s: UdpUnderlay, want: number, ms = 3000): Promise<Got[]> {
  const got: Got[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`only ${got.length}/${want} datagrams arrived`)), ms);
    s.onBatch((b: DatagramBatch) => {
      for (let i = 0; i < b.count; i++) {
        const l = b.len[i]!;
        if (l < 0) continue;
        assert.equal(b.addr[i], 0, 'an IPv6 source leaves addr at 0');
        const src = Buffer.from(b.addr6!.subarray(16 * i, 16 * i + 16)).toString('hex');
        const seg = b.gso !== null && b.gso[i]! > 0 ? b.gso[i]! : l;
        for (let p = b.off[i]!, end = b.off[i]! + l; p < end; p += seg) {
          got.push({ data: Buffer.from(b.buf.subarray(p, Math.min(end, p + seg))), src, port: b.port[i]!, tos: b.tos[i]! });
        }
      }
      if (got.length >= want) {
        clearTimeout(t);
        resolve(got);
      }
    });
  });
}

describe('batch paths over an IPv6 UDP socket on ::1', () => {
  const sockets: UdpUnderlay[] = [];
  after(() => sockets.forEach((s) => s.close()));
  const open = (): UdpUnderlay => {
    const s = openUdpUnderlay('::1', 0, { offload: true });
    sockets.push(s);
    return s;
  };

  it('sendBatch: an equal-sized run and odd datagrams arrive intact, with their traffic class and a 16-byte source', async () => {
    const a = open();
    const b = open();
    const sizes = [...Array<number>(12).fill(1000), 300, 40];
    const tos = [...Array<number>(12).fill(0xb8), 0x02, 0];
    const buf = Buffer.alloc(sizes.reduce((x, y) => x + y, 0));
    const off = new Int32Array(sizes.length);
    const len = new Int32Array(sizes.length);
    let at = 0;
    sizes.forEach((n, i) => {
      buf.fill(i + 1, at, at + n);
      buf.writeUInt16BE(i, at);
      off[i] = at;
      len[i] = n;
      at += n;
    });
    const arriving = collect(b, sizes.length);
    assert.equal(a.sendBatch(buf, off, len, Uint8Array.from(tos), sizes.length, addrOf('::1'), b.localPort), sizes.length);
    const got = await arriving;
    assert.equal(got.length, sizes.length);
    for (const g of got) {
      const i = g.data.readUInt16BE(0);
      assert.equal(g.data.length, sizes[i], `datagram ${i} length`);
      assert.ok(g.data.subarray(2).every((x) => x === i + 1), `datagram ${i} contents`);
      assert.equal(g.tos, tos[i], `datagram ${i} traffic class`);
      assert.equal(g.src, LOOP6.toString('hex'));
      assert.equal(g.port, a.localPort);
    }
    assert.deepEqual(new Set(got.map((g) => g.data.readUInt16BE(0))).size, sizes.length);
    assert.equal(a.errors.write, 0);
    assert.equal(a.path.udpGso, true, 'the kernel took the IPv6 run as a UDP GSO send (it did not refuse it)');
  });

  it('sendBatch refuses, and counts, destinations this socket cannot carry', () => {
    const a = open();
    const one = Buffer.from('x');
    const args = [one, Int32Array.of(0), Int32Array.of(1), Uint8Array.of(0), 1] as const;
    assert.equal(a.sendBatch(...args, addrOf('127.0.0.1'), 9), 0, 'IPv4 on an IPv6 socket');
    assert.equal(a.sendBatch(...args, addrOf('::'), 9), 0, 'the unspecified address');
    assert.equal(a.sendBatch(...args, addrOf('::1'), 0), 0, 'port 0');
    assert.equal(a.errors.write, 3);
  });

  it('the addon sends for either family from one routine: sendBatch with 16-byte addresses, sendBatch6 checking it got them', async () => {
    const n = loadNative();
    const a = open();
    const b = open();
    const arriving = collect(b, 3);
    const addrs = new Uint8Array(48);
    for (let k = 0; k < 3; k++) addrs.set(LOOP6, 16 * k);
    const bufs = [Buffer.from('six-0'), Buffer.from('six-1'), Buffer.from('six-2')];
    const status = new Int32Array(1);
    assert.equal(n.sendBatch(a.fd, bufs.slice(0, 2), addrs, new Uint16Array(2).fill(b.localPort), 2, status, Uint8Array.of(0x2e, 0)), 2);
    assert.equal(n.sendBatch6(a.fd, bufs.slice(2), addrs, new Uint16Array(1).fill(b.localPort), 1, status, Uint8Array.of(0x01)), 1);
    const got = await arriving;
    assert.deepEqual(got.map((g) => [g.data.toString(), g.tos]).sort(), [['six-0', 0x2e], ['six-1', 0], ['six-2', 0x01]]);
    assert.throws(() => n.sendBatch(a.fd, bufs, new Uint8Array(47), new Uint16Array(3), 3), RangeError, '16 bytes per datagram');
    assert.throws(() => n.sendBatch6(a.fd, bufs, new Uint32Array(3) as unknown as Uint8Array, new Uint16Array(3), 3), TypeError);
  });
});
