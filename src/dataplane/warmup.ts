// Runs the packet paths over throwaway SAs and devices before the daemon opens its own, so V8
// has compiled and optimised them by the time real packets arrive: otherwise the first seconds
// of traffic (and every sparse flow, such as interactive pings, until then) pay the interpreter.
// Nothing here touches the OS; the SAs are keyed at random and thrown away.

import { randomBytes } from 'node:crypto';
import type { DatagramBatch, EspCrypto, TunBatch, TunDevice, UnderlaySocket } from '../io/types.js';
import { internetChecksum } from '../wire/checksum.js';
import { Receiver } from './receive.js';
import { newInboundSa, newOutboundSa } from './sa.js';
import { Sad } from './sad.js';
import { Sender } from './send.js';
import { IPPROTO_IPIP, Spd } from './spd.js';
import { newDropCounters, newVlinkStats, type Vlink } from './vlink.js';

const LOCAL = { family: 4 as const, v4: 0xc0000201 };
const PEER = { family: 4 as const, v4: 0xc0000202 };

/** An ICMP echo of `len` bytes from 10.255.0.0 to 10.255.0.1. */
function echo(len: number): Buffer {
  const p = Buffer.alloc(len);
  p[0] = 0x45;
  p.writeUInt16BE(len, 2);
  p.writeUInt16BE(0x4000, 6);
  p[8] = 64;
  p[9] = 1;
  p.writeUInt32BE(0x0aff0000, 12);
  p.writeUInt32BE(0x0aff0001, 16);
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  p[20] = 8;
  return p;
}

/** `rounds` small packets out and back in through Sender and Receiver (about 10 µs each with native crypto). */
export function warmDataPath(crypto: EspCrypto | null, rounds = 4000): void {
  const keymat = { spi: 0x100, suite: 'aes-gcm-256' as const, key: randomBytes(32), salt: randomBytes(4) };
  const out = newOutboundSa({ ...keymat, src: LOCAL, dst: PEER });
  const inb = newInboundSa({ ...keymat, src: PEER, dst: LOCAL });
  const spd = new Spd();
  const sad = new Sad();
  sad.add(inb, 'warm');
  let wire: { buf: Buffer; off: Int32Array; len: Int32Array; count: number } | undefined;
  const underlay: UnderlaySocket = {
    kind: 'udp',
    onDatagrams: () => {},
    send: (d) => d.length,
    close: () => {},
    sendBatch: (buf, off, len, _tos, count) => {
      wire = { buf: Buffer.from(buf.subarray(0, off[count - 1]! + len[count - 1]!)), off: off.slice(0, count), len: len.slice(0, count), count };
      return count;
    },
  };
  const tun: TunDevice = {
    name: 'warm', ifindex: 0, onPackets: () => {}, write: (p) => p.length, setCarrier: () => {}, close: () => {},
    writeBatch: (_b, _o, _l, count) => count,
  };
  const policy = spd.add({ src: LOCAL, dst: PEER, proto: IPPROTO_IPIP, action: 'protect', vlink: 'warm', sa: out });
  const v: Vlink = {
    name: 'warm', local: LOCAL, peer: PEER, peerDst: PEER, peerPort: 4500, encap: 'udp', vnAddr: '10.255.0.0',
    vnAddrU32: 0x0aff0000, vnPrefixLen: 31, vnPeer: undefined, icmpSrcU32: 0x0aff0001, icmp6Src: null, mtu: 1438, tun, underlay, policy,
    inbound: [inb], drops: newDropCounters(), stats: newVlinkStats(), carrier: true, rxAlive: false, lastAliveAt: 0,
  };
  const tx = new Sender(spd, crypto);
  const rx = new Receiver(sad, (n) => (n === 'warm' ? v : undefined), newDropCounters(), null, crypto);
  const pkts = [echo(84), echo(1400)];
  const arena = Buffer.alloc(4096);
  const tb: TunBatch = { buf: arena, off: new Int32Array(2), len: new Int32Array(2), count: 1, vnet: false };
  const db: DatagramBatch = {
    buf: arena, off: new Int32Array(1), len: new Int32Array(1), count: 1, addr: Uint32Array.of(PEER.v4),
    port: Uint16Array.of(4500), tos: Int16Array.of(0), gso: null, addr6: null,
  };
  for (let i = 0; i < rounds; i++) {
    const p = pkts[i & 1]!;
    p.copy(arena, 64);
    tb.off[0] = 64;
    tb.len[0] = p.length;
    tx.processBatch(v, tb);
    if (wire === undefined) continue;
    const w: { buf: Buffer; off: Int32Array; len: Int32Array } = wire;
    w.buf.copy(arena, 0, w.off[0]!, w.off[0]! + w.len[0]!);
    db.len[0] = w.len[0]!;
    rx.processBatch('udp', db);
  }
}
