// Runs inside a throwaway namespace (spawned by fastpath.test.ts): a real TUN (with offloads,
// like the daemon's) and a real UDP underlay on loopback, the send path of the daemon with the
// native outbound fast path, and a plain UDP socket as the peer that captures every ESP datagram.
// Prints one JSON line of observations; the parent asserts on them.

import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { openTun } from '../../src/io/tun.js';
import { openUdpUnderlay } from '../../src/io/udp-underlay.js';
import { loadEspCrypto } from '../../src/io/esp-native.js';
import { loadNativeTestOnly } from '../../src/native/index.js';
import { Sender } from '../../src/dataplane/send.js';
import { Spd, IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { Sad } from '../../src/dataplane/sad.js';
import { newInboundSa, newOutboundSa, type OutboundSa } from '../../src/dataplane/sa.js';
import { espSeal, espOpen } from '../../src/dataplane/esp-engine.js';
import { newDropCounters, newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { addrFromString } from '../../src/wire/addr.js';

const IFNAME = 'iif0';
const facts: Record<string, unknown> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fail(e: unknown): never {
  console.log(JSON.stringify({ ...facts, error: String((e as Error)?.stack ?? e) }));
  process.exit(1);
}

async function main(): Promise<void> {
  const { ifSetMtu, ifSetUp } = loadNativeTestOnly();
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  // Only the packets the test sends: no IPv6 link upkeep (RS, MLD) from the TUN, which a daemon
  // carrying IPv6 would seal too.
  for (const k of ['all', 'default']) execFileSync('sysctl', ['-qw', `net.ipv6.conf.${k}.disable_ipv6=1`]);
  const tun = openTun(IFNAME, { offload: true });
  ifSetMtu(IFNAME, 1400);
  ifSetUp(IFNAME, true);
  execFileSync('ip', ['addr', 'add', '10.98.0.1/24', 'dev', IFNAME]);

  const peer = createSocket('udp4');
  const captured: Buffer[] = [];
  peer.on('message', (m) => captured.push(Buffer.from(m)));
  peer.bind(0, '127.0.0.1');
  await once(peer, 'listening');
  const underlay = openUdpUnderlay('127.0.0.1', 0, { offload: true });

  const crypto = loadEspCrypto();
  const spd = new Spd();
  const sad = new Sad();
  const sender = new Sender(spd, crypto);
  if (sender.fast === null) throw new Error('no fast path with native crypto');
  sender.fast.watchSad(sad);
  const key = randomBytes(32);
  const salt = randomBytes(4);
  const local = addrFromString('127.0.0.1');
  const dst = addrFromString('127.0.0.1');
  const mkSa = (spi: number): OutboundSa =>
    newOutboundSa({ spi, suite: 'aes-gcm-256', key, salt, src: local, dst, keying: 'manual' });
  const sa1 = mkSa(0x1111);
  const policy = spd.add({ src: local, dst, proto: IPPROTO_IPIP, action: 'protect', vlink: 'vl', sa: sa1 });
  // Asserted, not annotated: the fields a vlink grows elsewhere (e.g. IPv6) play no part here.
  const v = {
    name: 'vl', local, peer: dst, peerDst: dst, peerPort: peer.address().port, encap: 'udp',
    vnAddr: '10.98.0.1', vnAddrU32: 0x0a620001, vnPrefixLen: 24, vnPeer: undefined, icmpSrcU32: 0x0a620001,
    mtu: 1400, tun, underlay, policy, inbound: [], drops: newDropCounters(), stats: newVlinkStats(),
    carrier: true, rxAlive: false, lastAliveAt: 0,
  } as unknown as Vlink;
  tun.onBatch((b) => sender.processBatch(v, b));

  // One datagram per batch, like an idle ping: 5 ms apart, each its own TUN read.
  const app = createSocket('udp4');
  const sendSome = async (tag: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      app.send(Buffer.from(`${tag}-${i}-${'x'.repeat(i * 37)}`), 9999, '10.98.0.2');
      await sleep(5);
    }
    await sleep(50);
  };

  await sendSome('one', 20);
  facts.fastAfterFirst = sender.fast.stats(v);
  sender.fast.sync();
  facts.txPackets = v.stats.txPackets;
  facts.sa1Seq = sa1.seq;
  facts.sa1Packets = sa1.stats.packets;
  facts.capturedFirst = captured.length;

  // Each captured datagram against the JS reference: open it, seal the inner packet again with
  // the JS engine from the same SA state (seq - 1), and compare the bytes.
  const inn = newInboundSa({ spi: 0x1111, suite: 'aes-gcm-256', key, salt, src: local, dst, keying: 'manual' });
  let identical = 0;
  const seqs: number[] = [];
  for (const d of captured) {
    const seq = d.readUInt32BE(4);
    seqs.push(seq);
    const r = espOpen(inn, d);
    if (typeof r === 'string') continue;
    const ref: OutboundSa = { ...sa1, seq: seq - 1, exhausted: false, stats: { packets: 0, bytes: 0 } };
    const out = Buffer.alloc(d.length + 64);
    const n = espSeal(ref, r.payload, r.nextHeader, out, 0);
    if (typeof n === 'number' && out.subarray(0, n).equals(d)) identical++;
  }
  facts.identical = identical;
  facts.seqs = seqs;

  // A deleted SA (as removeChildSa does it): the fast path is off at once, packets drop as no-sa.
  captured.length = 0;
  policy.sa = null;
  facts.fastAfterDelete = sender.fast.stats(v);
  await sendSome('gone', 5);
  facts.capturedAfterDelete = captured.length;
  facts.noSaDrops = v.drops['no-sa'];

  // A new SA: the first batch goes through JS and installs the fast path for it.
  const sa2 = mkSa(0x2222);
  policy.sa = sa2;
  await sendSome('two', 6);
  facts.fastAfterNew = sender.fast.stats(v);
  facts.spisAfterNew = [...new Set(captured.map((d) => d.readUInt32BE(0)))];
  facts.sa2Seq = sa2.seq;

  // A change to the SAD turns it off too (a CHILD_SA rekeyed or deleted).
  sad.add(newInboundSa({ spi: 0x3333, suite: 'aes-gcm-256', key, salt, src: local, dst, keying: 'manual' }), 'vl');
  facts.fastAfterSad = sender.fast.stats(v);

  // A packet over the MTU goes to JS: fragmentation needed, counted as an mtu drop.
  execFileSync('ip', ['link', 'set', 'dev', IFNAME, 'mtu', '1500']);
  const fbBefore = sender.fast.stats(v)!.fallbacks;
  const mtuBefore = v.drops.mtu;
  await sendSome('warm', 1);
  app.send(Buffer.alloc(1450, 1), 9999, '10.98.0.2');
  await sleep(50);
  facts.mtuDrop = v.drops.mtu - mtuBefore;
  facts.fallbacksForBig = sender.fast.stats(v)!.fallbacks - fbBefore;

  app.close();
  peer.close();
  tun.close();
  underlay.close();
  console.log(JSON.stringify(facts));
}

main().catch(fail);
