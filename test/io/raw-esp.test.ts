import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RawEspUnderlay, stripIpv4Header } from '../../src/io/raw-esp.js';
import type { Datagram } from '../../src/io/types.js';
import { createNetns, deleteNetns, runInNetns } from './netns.js';
import { netnsSkip } from '../netns/helpers.js';

function ipv4(payload: Buffer, opts: { ihl?: number; total?: number; version?: number } = {}): Buffer {
  const ihl = opts.ihl ?? 5;
  const hdr = Buffer.alloc(Math.max(ihl * 4, 20));
  hdr[0] = ((opts.version ?? 4) << 4) | ihl;
  hdr.writeUInt16BE(opts.total ?? hdr.length + payload.length, 2);
  hdr[9] = 50;
  return Buffer.concat([hdr, payload]);
}

describe('stripIpv4Header', () => {
  const esp = Buffer.from('0000100000000001aabbccdd', 'hex');

  it('returns the payload after a plain 20-byte header', () => {
    assert.deepEqual(stripIpv4Header(ipv4(esp)), esp);
  });

  it('honours IHL when options are present', () => {
    assert.deepEqual(stripIpv4Header(ipv4(esp, { ihl: 7 })), esp);
  });

  it('trims to the total length', () => {
    const p = Buffer.concat([ipv4(esp), Buffer.from([1, 2, 3])]);
    assert.deepEqual(stripIpv4Header(p), esp);
  });

  it('drops malformed headers', () => {
    assert.equal(stripIpv4Header(Buffer.alloc(19)), undefined, 'short');
    assert.equal(stripIpv4Header(ipv4(esp, { version: 6 })), undefined, 'version');
    assert.equal(stripIpv4Header(ipv4(esp, { ihl: 4 })), undefined, 'IHL below 5');
    assert.equal(stripIpv4Header(ipv4(Buffer.alloc(0), { ihl: 15 }).subarray(0, 40)), undefined, 'IHL past end');
    assert.equal(stripIpv4Header(ipv4(esp, { total: 500 })), undefined, 'total past end');
    assert.equal(stripIpv4Header(ipv4(esp, { total: 10 })), undefined, 'total inside header');
  });
});

describe('RawEspUnderlay.decode', () => {
  // decode uses only the socket's family, so it runs without root or a socket.
  type Decode = (this: { family: 4 | 6 }, d: Buffer, a: string, port: number, tos: number) => Datagram | undefined;
  const decode = (RawEspUnderlay.prototype as unknown as { decode: Decode }).decode;

  it('takes the outer TOS from the IPv4 header it strips', () => {
    const esp = Buffer.from('0000100000000001aabbccdd', 'hex');
    const pkt = ipv4(esp);
    pkt[1] = 0xbb;
    assert.deepEqual(decode.call({ family: 4 }, pkt, '192.0.2.1', 0, -1), { data: esp, addr: '192.0.2.1', port: 0, tos: 0xbb });
    assert.equal(decode.call({ family: 4 }, Buffer.alloc(19), '192.0.2.1', 0, -1), undefined);
  });

  it('over IPv6 the datagram is the ESP packet itself, and the traffic class came as a control message', () => {
    const esp = Buffer.from('0000100000000001aabbccdd', 'hex');
    assert.deepEqual(decode.call({ family: 6 }, esp, '2001:db8::1', 0, 0xba), { data: esp, addr: '2001:db8::1', port: 0, tos: 0xba });
    assert.deepEqual(decode.call({ family: 6 }, esp, '2001:db8::1', 0, -1), { data: esp, addr: '2001:db8::1', port: 0, tos: undefined });
  });
});

describe('RawEspUnderlay (raw protocol 50 in a namespace)', { skip: netnsSkip(['ip']) }, () => {
  const namespaces: string[] = [];
  after(() => namespaces.forEach(deleteNetns));

  it('receives ESP sent by another raw socket, IP header stripped', async () => {
    const ns = createNetns('io-esp');
    namespaces.push(ns);
    try {
      const r = await runInNetns(ns, 'esp-child.js', []);
      const f = r.json;
      assert.ok(f, `child printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      assert.equal(f.error, undefined, String(f.error));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(f.accepted, 10);
      assert.equal(f.received, 10);
      assert.deepEqual(f.addrs, ['127.0.0.2']);
      assert.deepEqual(f.ports, [0]);
      assert.equal(f.contentsMatch, true, 'data starts at the ESP header and matches');
      assert.equal(f.senderReceived, 0, 'a socket bound to 127.0.0.2 does not see ESP for 127.0.0.1');
      assert.deepEqual(f.rxErrors, { read: 0, write: 0, dropped: 0, lastErrno: 0 });
      assert.equal(f.localAddr, '127.0.0.1');
    } finally {
      deleteNetns(ns);
    }
  });
});
