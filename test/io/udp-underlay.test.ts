import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openUdpUnderlay, type UdpUnderlay } from '../../src/io/udp-underlay.js';
import type { Datagram } from '../../src/io/types.js';
import { addrFromString as addrOf, formatAddr } from '../../src/wire/addr.js';

function payload(i: number): Buffer {
  const b = Buffer.alloc(8 + ((i * 37) % 1400), i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

function collect(s: UdpUnderlay, want: number, ms = 3000): Promise<{ got: Datagram[]; batches: number[] }> {
  const got: Datagram[] = [];
  const batches: number[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`only ${got.length}/${want} datagrams arrived`)), ms);
    s.onDatagrams((ds) => {
      batches.push(ds.length);
      // The views are reused after this callback: copy.
      for (const d of ds) got.push({ data: Buffer.from(d.data), addr: d.addr, port: d.port, tos: d.tos });
      if (got.length >= want) {
        clearTimeout(t);
        resolve({ got, batches });
      }
    });
  });
}

describe('UdpUnderlay on 127.0.0.1', () => {
  const sockets: UdpUnderlay[] = [];
  after(() => sockets.forEach((s) => s.close()));
  const open = (): UdpUnderlay => {
    const s = openUdpUnderlay('127.0.0.1', 0);
    sockets.push(s);
    return s;
  };

  it('exchanges a batch of 100 datagrams with contents and source intact', async () => {
    const a = open();
    const b = open();
    assert.equal(a.kind, 'udp');
    assert.equal(a.localAddr, '127.0.0.1');
    assert.ok(a.localPort > 0 && a.localPort !== b.localPort);
    const arriving = collect(b, 100);
    const out: Datagram[] = [];
    for (let i = 0; i < 100; i++) out.push({ data: payload(i), addr: addrOf('127.0.0.1'), port: b.localPort });
    assert.equal(a.send(out), 100);
    const { got, batches } = await arriving;
    assert.equal(got.length, 100);
    const seen = new Set<number>();
    for (const d of got) {
      assert.equal(formatAddr(d.addr), '127.0.0.1');
      assert.equal(d.port, a.localPort);
      const i = d.data.readUInt32BE(0);
      assert.ok(d.data.equals(payload(i)), `datagram ${i} intact`);
      seen.add(i);
    }
    assert.equal(seen.size, 100);
    assert.ok(Math.max(...batches) > 1, `batched delivery (batches: ${batches.join(',')})`);
    assert.ok(Math.max(...batches) <= 64);
    assert.deepEqual(b.errors, { read: 0, write: 0, dropped: 0, lastErrno: 0 });

    // And back, to the sender's port.
    const back = collect(a, 1);
    assert.equal(b.send([{ data: Buffer.from('pong'), addr: addrOf('127.0.0.1'), port: a.localPort }]), 1);
    const r = await back;
    assert.equal(r.got[0]!.data.toString(), 'pong');
    assert.equal(r.got[0]!.port, b.localPort);
  });

  it('sends more than one sendmmsg chunk (256) in one call', async () => {
    const a = open();
    const b = open();
    const arriving = collect(b, 600);
    const out: Datagram[] = [];
    for (let i = 0; i < 600; i++) out.push({ data: payload(i).subarray(0, 8), addr: addrOf('127.0.0.1'), port: b.localPort });
    assert.equal(a.send(out), 600);
    // The 4 MiB receive buffer (SO_RCVBUFFORCE) needs CAP_NET_ADMIN; the default may drop some.
    if (process.getuid?.() === 0) {
      const { got } = await arriving;
      assert.equal(new Set(got.map((d) => d.data.readUInt32BE(0))).size, 600);
    } else {
      arriving.catch(() => {});
    }
  });

  it('sends each datagram with its own outer TOS and reports the TOS it received', async () => {
    const a = open();
    const b = open();
    const tos = [0xba, undefined, 0x03, 0, 0xb8];
    const arriving = collect(b, tos.length);
    assert.equal(a.send(tos.map((t, i) => ({ data: payload(i), addr: addrOf('127.0.0.1'), port: b.localPort, tos: t }))), tos.length);
    const { got } = await arriving;
    const byIndex = new Map(got.map((d) => [d.data.readUInt32BE(0), d.tos]));
    // undefined on send means 0; on receive, a UDP socket always knows.
    assert.deepEqual(tos.map((_, i) => byIndex.get(i)), [0xba, 0, 0x03, 0, 0xb8]);
  });

  it('refuses a TOS that is not a byte instead of truncating it', () => {
    const a = open();
    const n = a.send([
      { data: Buffer.from('x'), addr: addrOf('127.0.0.1'), port: 9, tos: 256 },
      { data: Buffer.from('x'), addr: addrOf('127.0.0.1'), port: 9, tos: -1 },
      { data: Buffer.from('x'), addr: addrOf('127.0.0.1'), port: 9, tos: 1.5 },
    ]);
    assert.equal(n, 0);
    assert.equal(a.errors.write, 3);
  });

  it('skips and counts datagrams it cannot address', () => {
    const a = open();
    const n = a.send([
      // An address this socket cannot carry (an IPv6 destination on an IPv4 socket).
      { data: Buffer.from('x'), addr: addrOf('2001:db8::1'), port: 9 },
      { data: Buffer.from('x'), addr: addrOf('0.0.0.0'), port: 9 },
      { data: Buffer.from('x'), addr: addrOf('127.0.0.1'), port: 0 },
      { data: Buffer.from('x'), addr: addrOf('127.0.0.1'), port: 70000 },
    ]);
    assert.equal(n, 0);
    assert.equal(a.errors.write, 4);
  });

  it('refuses a second bind to the same port', () => {
    const a = open();
    assert.throws(() => openUdpUnderlay('127.0.0.1', a.localPort), { code: 'IIPTRAN_ERR_NATIVE', errno: 98 });
  });

  it('close is idempotent and later calls are inert', () => {
    const a = openUdpUnderlay('127.0.0.1', 0);
    a.onDatagrams(() => {});
    a.close();
    a.close();
    assert.equal(a.send([{ data: Buffer.from('x'), addr: addrOf('127.0.0.1'), port: 9 }]), 0);
    a.onDatagrams(() => {});
  });
});
