// 100k mutated DHCP packets through the node's DHCP wiring (control/node-dhcp.ts), the layer
// above what fuzz.test.ts covers: whole inner IPv4/UDP packets as they come out of a vlink's
// receive path into the relay and the client (IP and UDP headers mutated too, checksums made
// right again half the time so mutations get past them), and Kea's captured replies, mutated,
// into the relay's server socket, whose deliveries and route events reach the vlink send path
// and the kernel interface. Nothing may throw, and every packet taken is accounted for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseNodeConfig } from '../../src/control/config.js';
import { NodeDhcp } from '../../src/control/node-dhcp.js';
import { FakeDhcpNet } from '../../src/io/fake-dhcp-net.js';
import { FakeNetSys } from '../../src/io/fake-netsys.js';
import { FakeClock } from '../../src/fake-clock.js';
import type { Vlink } from '../../src/dataplane/vlink.js';
import { Dhcp, Opt, withoutOption, type DhcpRepr } from '../../src/wire/dhcp/index.js';
import { frameDhcp } from '../../src/dhcp/frame.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import { UdpDatagram } from '../../src/wire/udp.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { KEA_VECTORS } from '../wire/dhcp/kea-vectors.js';

const N = 100_000;
const SEED = Number(process.env.IIPTRAN_FUZZ_SEED ?? 0x5eed5678);
const HUB = ipv4ToU32('10.99.0.1');
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const requests = KEA_VECTORS.filter((v) => v.name.endsWith('_REQ')).map((v) => {
  const r = Dhcp.decode(hex(v.hex)) as DhcpRepr;
  return Dhcp.encode({ ...r, giaddr: 0, hops: 0, options: withoutOption(r.options, Opt.RELAY_AGENT_INFO) });
});
const replies = KEA_VECTORS.filter((v) => v.name.endsWith('_REPLY')).map((v) => hex(v.hex));

function yaml(dir: string): string {
  const k = (i: number) => `{ mode: manual, suite: aes-gcm-128, spi_in: ${0x1000 + i}, spi_out: ${0x2000 + i}, key_in: in${i}.key, key_out: out${i}.key }`;
  return `node: fuzz
underlay: { address: 10.200.1.9 }
dhcp_relay: { address: 10.99.0.1, servers: [10.99.0.2], rate: { burst: 10000, per_second: 10000 } }
vlinks:
  - { name: vl-hub, peer: 10.200.1.1, address: dhcp, dhcp: { client_id: spoke-a.test, lease_file: ${dir}/lease.json }, keying: ${k(0)} }
${['a', 'b', 'c'].map((x, i) => `  - { name: vl-${x}, peer: 10.200.2.${i + 1}, address: 10.10.0.${i * 2}/31, keying: ${k(i + 1)} }`).join('\n')}
`;
}

function fakeVlink(name: string): Vlink {
  return { name, policy: { sa: {} }, vnAddr: '0.0.0.0', vnAddrU32: 0, vnPrefixLen: 32, vnPeer: undefined, icmpSrcU32: 0 } as unknown as Vlink;
}

/** Fixes the IPv4 header and UDP checksums after a mutation, when the lengths still allow it. */
function fixChecksums(p: Buffer): void {
  if (p.length < 28 || p[0]! >> 4 !== 4) return;
  const ip = new Ipv4Packet(p);
  const hl = (p[0]! & 15) * 4;
  if (hl < 20 || hl + 8 > p.length) return;
  p.writeUInt16BE(Math.min(p.length, 0xffff), 2);
  ip.fillChecksum();
  const u = new UdpDatagram(p, hl);
  if (hl + u.length > p.length || u.length < 8) return;
  u.fillChecksum(ip.srcU32, ip.dstU32);
}

function mutate(src: Buffer, rnd: SeededRandom): Buffer {
  const b = Buffer.from(src);
  const pick = (n: number) => Math.floor(rnd.unit() * n);
  let out = b;
  switch (pick(8)) {
    case 0: b[pick(28)] = pick(256); break; // IP and UDP headers: version, lengths, flags, ports
    case 1: out = b.subarray(0, pick(b.length + 1)); break;
    case 2: out = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + pick(200) }, () => pick(256)))]); break;
    case 3: for (let i = 1 + pick(4); i > 0; i--) b[28 + pick(b.length - 28)]! ^= 1 << pick(8); break;
    case 4: b[28 + 240 + pick(Math.max(1, b.length - 268))] = [0, 1, 52, 53, 54, 61, 82, 255][pick(8)]!; break;
    case 5: b[28 + pick(240)] = pick(256); break; // BOOTP fixed header
    case 6: b.writeUInt16BE([0x2000, 0x0001, 0x4000, 0][pick(4)]!, 6); break; // fragments, DF
    default: { const i = 28 + 240 + pick(Math.max(1, b.length - 268)); out = Buffer.concat([b.subarray(0, i), Buffer.from([pick(256), pick(8)]), b.subarray(i)]); }
  }
  if (rnd.unit() < 0.5) fixChecksums(out);
  return out;
}

test(`fuzz: ${N} mutated DHCP packets through the node's relay and client wiring, nothing throws`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-dhcp-nfuzz-'));
  const rnd = new SeededRandom(SEED);
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const cfg = parseNodeConfig(yaml(dir), { baseDir: dir });
  const vlinks = new Map(cfg.vlinks.map((v) => [v.name, fakeVlink(v.name)]));
  const sent = { toVlink: 0, toServer: 0 };
  let server: ((data: Buffer, from: { addr: string; port: number }) => void) | null = null;
  let lastXid = 0;
  const net = new FakeDhcpNet();
  const dhcp = NodeDhcp.create(cfg, {
    net, clock, random: new SeededRandom(SEED ^ 0x77),
    openUdp: async (_a, _p, onMessage) => {
      server = onMessage;
      return { send: () => sent.toServer++, close: () => {} };
    },
  }, new FakeNetSys(), pino({ level: 'silent' }), {
    vlink: (n) => vlinks.get(n),
    send: (v, ip) => {
      sent.toVlink++;
      if (v.name === 'vl-hub') lastXid = (Dhcp.decode(ip.subarray(28)) as DhcpRepr).xid;
    },
    peerIdentity: (n) => `spoke-${n.slice(3)}.test`,
  })!;
  await dhcp.start();
  clock.advance(2000);
  const client = dhcp.clients.get('vl-hub')!;
  let clientIn = 0;
  const receive = client.receive.bind(client);
  client.receive = (p) => {
    clientIn++;
    receive(p);
  };
  const aimed = replies.map((r) => Dhcp.decode(r) as DhcpRepr);
  const t0 = process.hrtime.bigint();
  const taken = { relay: 0, client: 0, passed: 0, server: 0 };
  for (let i = 0; i < N; i++) {
    const k = i % 3;
    if (k === 0) {
      const v = vlinks.get(['vl-a', 'vl-b', 'vl-c'][i % 9 / 3 | 0]!)!;
      const dst = i % 2 === 0 ? 0xffffffff : HUB;
      const pkt = mutate(frameDhcp(requests[i % requests.length]!, 0, dst, 68, 67), rnd);
      if (dhcp.intercept(v, pkt)) taken.relay++;
      else taken.passed++;
    } else if (k === 1) {
      const base = aimed[i % aimed.length]!;
      const target = Dhcp.encode({ ...base, xid: lastXid, chaddr: client.client.identity.chaddr,
        options: withoutOption(base.options, Opt.RELAY_AGENT_INFO).map((o) => (o.code === Opt.CLIENT_ID ? { code: o.code, data: client.client.identity.clientId } : o)) });
      if (dhcp.intercept(vlinks.get('vl-hub')!, mutate(frameDhcp(target, HUB, 0xffffffff, 67, 68), rnd))) taken.client++;
      else taken.passed++;
      if (i % 100 === 1) clock.advance(3000);
    } else {
      // A server reply as the relay's socket gets it: the DHCP payload of a mutated packet.
      const m = mutate(frameDhcp(replies[i % replies.length]!, ipv4ToU32('10.99.0.2'), HUB, 67, 67), rnd);
      server!(m.subarray(28), { addr: '10.99.0.2', port: 67 });
      taken.server++;
      if (i % 300 === 2) clock.advance(20000);
    }
    if (i % 5000 === 0) await dhcp.settled();
  }
  await dhcp.settled();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const relayView = dhcp.relay!.view() as { drops: Record<string, number>; vlinks: Record<string, { relayed: number; delivered: number }> };
  const relayed = Object.values(relayView.vlinks).reduce((a, v) => a + v.relayed, 0);
  const delivered = Object.values(relayView.vlinks).reduce((a, v) => a + v.delivered, 0);
  const frameDrops = sum(dhcp.drops);
  const relayDrops = sum(dhcp.relay!.relay.drops);
  const clientDrops = sum(client.client.drops);
  console.log(`MEASURED dhcp node fuzz: ${N} inputs in ${ms.toFixed(0)} ms (seed 0x${SEED.toString(16)}); taken by the relay ${taken.relay}, by the client ${taken.client}, left to the TUN ${taken.passed}; framing drops ${JSON.stringify(Object.fromEntries(dhcp.drops))}`);
  console.log(`MEASURED dhcp node fuzz relay: relayed ${relayed} to the server, delivered ${delivered} replies into vlinks, drops ${JSON.stringify(Object.fromEntries(dhcp.relay!.relay.drops))}, route changes ${net.calls.length}, failed ${dhcp.relay!.routeErrors}`);
  console.log(`MEASURED dhcp node fuzz client: ${clientIn} reached it, acted on ${clientIn - clientDrops}, drops ${JSON.stringify(Object.fromEntries(client.client.drops))}, state ${client.client.state}`);
  // Every packet the node took, and every server reply, was dropped under a named reason,
  // relayed, delivered into a vlink or handed to the client.
  assert.equal(taken.relay + taken.client + taken.server, frameDrops + relayed + delivered + relayDrops + clientIn);
  assert.equal(sent.toServer, relayed * cfg.dhcpRelay!.servers.length);
  assert.ok(relayed > 1000 && delivered > 1000 && clientIn > 1000 && clientIn - clientDrops > 50, 'mutations reach past the framing everywhere');
  assert.ok(taken.passed > 100, 'packets that are not DHCP for the node are left to the TUN');
  await dhcp.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
