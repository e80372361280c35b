// Runs inside a throwaway namespace (spawned by fastpath.test.ts): the daemon's receive path
// with the native inbound fast path, over a real UDP underlay on loopback and a real TUN. A
// plain UDP socket plays the peer and sends ESP sealed by the JS engine; an application socket
// on the TUN's address receives what comes out. Prints one JSON line of observations.

import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { openTun } from '../../src/io/tun.js';
import { openUdpUnderlay } from '../../src/io/udp-underlay.js';
import { loadEspCrypto } from '../../src/io/esp-native.js';
import { loadNativeTestOnly } from '../../src/native/index.js';
import { Receiver } from '../../src/dataplane/receive.js';
import { Sender } from '../../src/dataplane/send.js';
import { Spd, IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { Sad } from '../../src/dataplane/sad.js';
import { newInboundSa, newOutboundSa } from '../../src/dataplane/sa.js';
import { espSeal } from '../../src/dataplane/esp-engine.js';
import { newDropCounters, newVlinkStats, type Vlink } from '../../src/dataplane/vlink.js';
import { addrFromString } from '../../src/wire/addr.js';
import { internetChecksum } from '../../src/wire/checksum.js';

const IFNAME = 'iif1';
const facts: Record<string, unknown> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fail(e: unknown): never {
  console.log(JSON.stringify({ ...facts, error: String((e as Error)?.stack ?? e) }));
  process.exit(1);
}

/** An IPv4/UDP packet 10.98.1.2:7 -> 10.98.1.1:port (UDP checksum 0: none). */
function innerUdp(port: number, payload: Buffer): Buffer {
  const p = Buffer.alloc(28 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from([10, 98, 1, 2, 10, 98, 1, 1]).copy(p, 12);
  p.writeUInt16BE(internetChecksum(p.subarray(0, 20)), 10);
  p.writeUInt16BE(7, 20);
  p.writeUInt16BE(port, 22);
  p.writeUInt16BE(8 + payload.length, 24);
  payload.copy(p, 28);
  return p;
}

async function main(): Promise<void> {
  const { ifSetUp } = loadNativeTestOnly();
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  // Only the packets the test sends: no IPv6 link upkeep (RS, MLD) from the TUN, which a daemon
  // carrying IPv6 would seal too.
  for (const k of ['all', 'default']) execFileSync('sysctl', ['-qw', `net.ipv6.conf.${k}.disable_ipv6=1`]);
  const tun = openTun(IFNAME, { offload: true });
  ifSetUp(IFNAME, true);
  execFileSync('ip', ['addr', 'add', '10.98.1.1/24', 'dev', IFNAME]);
  const app = createSocket('udp4');
  const got: string[] = [];
  app.on('message', (m) => got.push(m.toString()));
  app.bind(0, '10.98.1.1');
  await once(app, 'listening');

  const peer = createSocket('udp4');
  peer.bind(0, '127.0.0.1');
  await once(peer, 'listening');
  const underlay = openUdpUnderlay('127.0.0.1', 0, { offload: true });

  const crypto = loadEspCrypto();
  const spd = new Spd();
  const sad = new Sad();
  const sender = new Sender(spd, crypto);
  const fast = sender.fast!;
  fast.watchSad(sad);
  const local = addrFromString('127.0.0.1');
  const key = randomBytes(32);
  const salt = randomBytes(4);
  const params = { spi: 0x4444, suite: 'aes-gcm-256' as const, key, salt, src: local, dst: local, keying: 'manual' as const };
  const inn = newInboundSa(params);
  const peerOut = newOutboundSa(params);
  const policy = spd.add({ src: local, dst: local, proto: IPPROTO_IPIP, action: 'protect', vlink: 'vl', sa: null });
  sad.add(inn, 'vl');
  // Asserted, not annotated: the fields a vlink grows elsewhere (e.g. IPv6) play no part here.
  const v = {
    name: 'vl', local, peer: local, peerDst: local, peerPort: peer.address().port, encap: 'udp',
    vnAddr: '10.98.1.1', vnAddrU32: 0x0a620101, vnPrefixLen: 24, vnPeer: undefined, icmpSrcU32: 0x0a620101,
    mtu: 1400, tun, underlay, policy, inbound: [inn], drops: newDropCounters(), stats: newVlinkStats(),
    carrier: true, rxAlive: false, lastAliveAt: 0,
  } as unknown as Vlink;
  const nodeDrops = newDropCounters();
  const receiver = new Receiver(sad, (n) => (n === 'vl' ? v : undefined), nodeDrops, null, crypto);
  receiver.fast = fast;
  receiver.onPeerPort = () => fast.clearAll();
  underlay.onBatch((b) => receiver.processBatch('udp', b));
  const to = underlay.localPort;

  const seal = (text: string): Buffer => {
    const out = Buffer.alloc(2048);
    const n = espSeal(peerOut, innerUdp(app.address().port, Buffer.from(text)), IPPROTO_IPIP, out, 0);
    if (typeof n !== 'number') throw new Error(n);
    return out.subarray(0, n);
  };
  const sendAll = async (ds: Buffer[]): Promise<void> => {
    for (const d of ds) {
      peer.send(d, to, '127.0.0.1');
      await sleep(5);
    }
    await sleep(50);
  };

  const first = Array.from({ length: 20 }, (_, i) => seal(`m${i}`));
  await sendAll(first);
  fast.sync();
  facts.delivered = got.slice();
  facts.stats = fast.stats(v);
  facts.rxPackets = v.stats.rxPackets;
  facts.saPackets = inn.stats.packets;
  facts.top = inn.replay.top;
  facts.rxAlive = v.rxAlive;

  // Replays (the fast path hands them to JS, which drops and counts them), then a forgery.
  got.length = 0;
  await sendAll([first[3]!, first[19]!]);
  const forged = seal('forged');
  forged[forged.length - 1]! ^= 1;
  await sendAll([forged]);
  fast.sync();
  facts.afterBad = got.slice();
  facts.replayDrops = v.drops.replay;
  facts.icvDrops = v.drops['bad-icv'];
  facts.saReplayDrops = inn.stats.replayDrops;

  // Still on for good packets after those.
  await sendAll([seal('again')]);
  facts.afterAgain = got.slice();

  // The SA deleted (as removeChildSa does): off before the next packet, which drops as unknown-spi.
  got.length = 0;
  v.inbound.splice(0);
  sad.remove(0x4444);
  facts.inSasAfterDelete = fast.stats(v)!.inSas;
  await sendAll([seal('after-delete')]);
  facts.afterDelete = got.slice();
  facts.unknownSpi = nodeDrops['unknown-spi'];

  app.close();
  peer.close();
  tun.close();
  underlay.close();
  console.log(JSON.stringify(facts));
}

main().catch(fail);
