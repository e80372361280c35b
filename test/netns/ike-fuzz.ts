// Mutated IKE traffic for the daemon-level fuzz test (ike-fuzz.test.ts), run inside a test
// namespace:
//   node dist/test/netns/ike-fuzz.js '<json options>'   (see FuzzOptions)
// The corpus is every real IKE datagram charon exchanged in the captures embedded in
// test/wire/ike/charon-vectors.ts and test/ike/charon-vectors.ts (IKE_SA_INIT requests
// and responses, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL). Each datagram sent is one of them
// with 1-4 seeded mutations; the same seed gives the same byte sequence, so a crash found here can
// be replayed exactly. Prints one JSON line with what was sent (per port, source, mutation) and
// how many datagrams the target sent back.

import dgram from 'node:dgram';
import { run1, run2, type CapturedRun } from '../wire/ike/charon-vectors.js';
import { CHARON_VECTORS } from '../ike/charon-vectors.js';

export interface FuzzOptions {
  dst: string;
  count: number;
  seed: number;
  /** Source addresses in this namespace; datagrams are spread over them (ephemeral ports). */
  sources: string[];
  /**
   * The target's live IKE SA (hex, no 0x), so SPI mutations can name a real SA: such a datagram
   * passes the SPI lookup and reaches message-ID checks and SK integrity/decryption.
   */
  spiI?: string;
  spiR?: string;
  /** Datagrams per second; the target has to read them, not the kernel drop them. */
  rate: number;
}

/** mulberry32: tiny, seedable, and good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function corpus(): Buffer[] {
  const out: Buffer[] = [];
  for (const run of [run1, run2] as CapturedRun[]) {
    for (const m of Object.values(run.messages)) out.push(Buffer.from(m.hex.replace(/\s+/g, ''), 'hex'));
  }
  for (const v of CHARON_VECTORS) for (const m of v.messages) out.push(Buffer.from(m.hex.replace(/\s+/g, ''), 'hex'));
  return out;
}

/** Offsets of the generic payload headers, following the Next Payload chain as far as it holds. */
function payloadOffsets(b: Buffer): number[] {
  const offs: number[] = [];
  let off = 28;
  while (off + 4 <= b.length && offs.length < 32) {
    offs.push(off);
    const len = b.readUInt16BE(off + 2);
    if (len < 4 || b[off] === 0) break;
    off += len;
  }
  return offs;
}

const MUTATIONS = ['bitflip', 'byte', 'truncate', 'extend', 'length', 'payload-type', 'critical', 'spi', 'message-id', 'flags', 'exchange'] as const;
type Mutation = (typeof MUTATIONS)[number] | 'live-sa';

export function mutate(src: Buffer, rnd: () => number, live: { spiI: bigint; spiR: bigint } | null, used: Mutation[]): Buffer {
  const int = (n: number) => Math.floor(rnd() * n);
  let b = Buffer.from(src);
  let n = 1 + int(4);
  if (live !== null && b.length >= 28 && rnd() < 0.25) {
    // A quarter aimed squarely at the live SA: its SPIs, a request from the initiator, a message
    // ID near the window; then at most two more mutations, so most stay structurally plausible
    // and get as far as SK integrity/decryption.
    b.writeBigUInt64BE(live.spiI, 0);
    b.writeBigUInt64BE(live.spiR, 8);
    b[19] = 0x08;
    // A young SA's next request ID is 2 (IKE_SA_INIT 0, IKE_AUTH 1; liveness runs on ESP, so no
    // DPD INFORMATIONAL is spent): mostly that, to land inside the window rather than be dropped as
    // message-id before SK verification.
    b.writeUInt32BE(rnd() < 0.7 ? 2 : int(6), 20);
    used.push('live-sa');
    n = int(3);
  }
  for (let k = 0; k < n; k++) {
    const m = MUTATIONS[int(MUTATIONS.length)]!;
    used.push(m);
    if (b.length === 0) b = Buffer.alloc(1 + int(32));
    switch (m) {
      case 'bitflip': {
        const flips = 1 + int(8);
        for (let i = 0; i < flips; i++) b[int(b.length)]! ^= 1 << int(8);
        break;
      }
      case 'byte': {
        const interesting = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];
        b[int(b.length)] = rnd() < 0.5 ? interesting[int(interesting.length)]! : int(256);
        break;
      }
      case 'truncate':
        // Mostly around the interesting edges: inside the header, a payload header, the SK trailer.
        b = b.subarray(0, rnd() < 0.3 ? int(Math.min(b.length, 40)) : int(b.length));
        break;
      case 'extend': {
        const extra = rnd() < 0.05 ? 1000 + int(3000) : 1 + int(64);
        const tail = Buffer.alloc(extra);
        for (let i = 0; i < extra; i++) tail[i] = rnd() < 0.5 ? 0 : int(256);
        b = Buffer.concat([b, tail]);
        break;
      }
      case 'length': {
        const offs = b.length >= 28 ? payloadOffsets(b) : [];
        const v = [0, 1, 3, 4, 5, 0xffff, b.length, b.length + 1, b.length - 1, int(0x10000)][int(10)]!;
        if (b.length >= 28 && (offs.length === 0 || rnd() < 0.4)) {
          // The IKE header's Length: 0, off by a little, or anything.
          b.writeUInt32BE(rnd() < 0.5 ? Math.max(0, b.length + int(9) - 4) >>> 0 : (v >>> 0), 24);
        } else if (offs.length > 0) {
          b.writeUInt16BE(v & 0xffff, offs[int(offs.length)]! + 2);
        }
        break;
      }
      case 'payload-type': {
        // Next Payload in the header or in any payload: a known type in the wrong place, or unknown.
        const offs = b.length >= 28 ? payloadOffsets(b) : [];
        const where = offs.length === 0 || rnd() < 0.3 ? 16 : offs[int(offs.length)]!;
        const t = rnd() < 0.6 ? 33 + int(21) : int(256);
        if (where < b.length) b[where] = t;
        break;
      }
      case 'critical': {
        const offs = b.length >= 28 ? payloadOffsets(b) : [];
        if (offs.length > 0) b[offs[int(offs.length)]! + 1]! ^= 0x80;
        else b[int(b.length)]! ^= 0x80;
        break;
      }
      case 'spi': {
        if (b.length < 16) break;
        const r = rnd();
        if (live !== null && r < 0.5) {
          // The target's real SA: as the initiator's request, so the responder looks it up.
          b.writeBigUInt64BE(live.spiI, 0);
          b.writeBigUInt64BE(live.spiR, 8);
          if (b.length >= 20) b[19] = (b[19]! & ~0x20) | 0x08;
        } else if (live !== null && r < 0.6) {
          b.writeBigUInt64BE(live.spiR, 0);
          b.writeBigUInt64BE(live.spiI, 8);
        } else if (r < 0.75) {
          const i = b.readBigUInt64BE(0);
          b.writeBigUInt64BE(b.readBigUInt64BE(8), 0);
          b.writeBigUInt64BE(i, 8);
        } else if (r < 0.85) {
          b.fill(0, 8, 16);
        } else {
          for (let i = 0; i < 16; i++) b[i] = int(256);
        }
        break;
      }
      case 'message-id':
        // Around the next expected ID of a young SA, the edges, or anything.
        if (b.length >= 24) {
          const r = rnd();
          b.writeUInt32BE(r < 0.6 ? int(6) : r < 0.8 ? [0xffffffff, 0x7fffffff, 0x80000000][int(3)]! : int(0x100000000), 20);
        }
        break;
      case 'flags':
        if (b.length >= 20) b[19] = [0x00, 0x08, 0x20, 0x28, 0x10, int(256)][int(6)]!;
        break;
      case 'exchange':
        if (b.length >= 19) b[18] = rnd() < 0.7 ? 34 + int(4) : int(256);
        break;
    }
  }
  // Mostly keep the IKE header's Length true, as a deliberate attacker would, so the decoder gets
  // past its first check and into the payloads; 'length' corrupts it on purpose.
  if (b.length >= 28 && !used.includes('length') && rnd() < 0.8) b.writeUInt32BE(b.length, 24);
  return b;
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as FuzzOptions;
  const rnd = prng(o.seed);
  const live = o.spiI !== undefined && o.spiR !== undefined ? { spiI: BigInt(`0x${o.spiI}`), spiR: BigInt(`0x${o.spiR}`) } : null;
  const seeds = corpus();
  let answers = 0;
  const socks = o.sources.map((addr) => {
    const s = dgram.createSocket('udp4');
    s.on('message', () => answers++);
    // A junk datagram the kernel refuses (none expected, but send errors must not stop the run).
    s.on('error', () => {});
    s.bind({ address: addr, port: 0 });
    return s;
  });
  await Promise.all(socks.map((s) => new Promise((r) => s.once('listening', r))));
  const sent = { port500: 0, port4500: 0, badMarker: 0, bySource: {} as Record<string, number>, mutations: {} as Record<string, number>, sendErrors: 0 };
  const t0 = Date.now();
  for (let i = 0; i < o.count; i++) {
    const used: Mutation[] = [];
    const msg = mutate(seeds[Math.floor(rnd() * seeds.length)]!, rnd, live, used);
    for (const m of used) sent.mutations[m] = (sent.mutations[m] ?? 0) + 1;
    const si = Math.floor(rnd() * socks.length);
    const on4500 = rnd() < 0.5;
    let data = msg;
    if (on4500) {
      // RFC 3948 non-ESP marker; 2 % get a broken marker and so go the ESP way in the data plane.
      const marker = Buffer.alloc(4);
      if (rnd() < 0.02) {
        marker[Math.floor(rnd() * 4)] = 1 + Math.floor(rnd() * 255);
        sent.badMarker++;
      }
      data = Buffer.concat([marker, msg]);
      sent.port4500++;
    } else sent.port500++;
    sent.bySource[o.sources[si]!] = (sent.bySource[o.sources[si]!] ?? 0) + 1;
    await new Promise<void>((r) => socks[si]!.send(data, on4500 ? 4500 : 500, o.dst, (e) => {
      if (e) sent.sendErrors++;
      r();
    }));
    // Paced, so the target reads (nearly) everything rather than its socket buffer overflowing.
    if (i % 25 === 24) {
      const ahead = t0 + ((i + 1) * 1000) / o.rate - Date.now();
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
  }
  const ms = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 1000));
  for (const s of socks) s.close();
  process.stdout.write(JSON.stringify({ sent: o.count, ms, answers, ...sent }) + '\n');
}

if (process.argv[1] !== undefined && /ike-fuzz\.js$/.test(process.argv[1])) await main();
