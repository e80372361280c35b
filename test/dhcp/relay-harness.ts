// Test harness for test/netns/dhcp-kea.test.ts, run inside the hub's namespace: our DhcpRelay
// on a real UDP socket (relay address:67 <-> Kea:67) and our DhcpClients ("spokes"), each on
// an in-memory vlink to the relay, with real timers and JSON lease files. Not the daemon: the
// node will inject the same payloads into real vlinks later.
//
// stdin, one JSON command a line: {"cmd":"start","spoke":"a"} | {"cmd":"stop","spoke":"a","release":true}
//   | {"cmd":"flood","vlink":"vl-f","identity":"f","n":200} | {"cmd":"view"} | {"cmd":"exit"}
// stdout, one JSON event a line: client events, traces, route events, views.

import dgram from 'node:dgram';
import path from 'node:path';
import readline from 'node:readline';
import fs from 'node:fs';
import { ipv4ToU32, u32ToIpv4 } from '../../src/wire/addr.js';
import { MessageType, rfc3456Chaddr, clientIdFromName } from '../../src/wire/dhcp/index.js';
import { DhcpRelay } from '../../src/dhcp/relay.js';
import { DhcpClient } from '../../src/dhcp/client.js';
import { JsonLeaseStore } from '../../src/dhcp/lease-store.js';
import { buildClientMessage } from '../../src/dhcp/client-messages.js';

export interface HarnessSpoke {
  name: string;
  vlink: string;
  /** The IKE identity the hub authenticated on this vlink. */
  identity: string;
  underlay: string;
  /** Client-id name; defaults to the identity. Set to another spoke's to spoof it. */
  clientIdName?: string;
  /** Lease file; spoofers point at their victim's to copy its chaddr octet. */
  leaseFile?: string;
}

export interface HarnessConfig {
  relayAddr: string;
  kea: string;
  stateDir: string;
  spokes: HarnessSpoke[];
  rate: { burst: number; perSecond: number };
}

const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const ip = (n: number) => u32ToIpv4(n >>> 0);

async function main(cfg: HarnessConfig): Promise<void> {
  const relayAddr = ipv4ToU32(cfg.relayAddr);
  const kea = ipv4ToU32(cfg.kea);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(67, cfg.relayAddr, r));
  const clients = new Map<string, { spoke: HarnessSpoke; client: DhcpClient | null }>();
  const relay = new DhcpRelay({
    relayAddr, servers: [kea], rate: cfg.rate,
    output: {
      toServer: (payload, server) => sock.send(payload, 67, ip(server)),
      // The vlink is point to point, but a spoofer shares vl-c with c: every client there sees it and filters.
      toVlink: (vlink, payload, dst) => setImmediate(() => {
        for (const c of clients.values()) if (c.spoke.vlink === vlink) c.client?.receive(payload);
        out({ ev: 'delivered', vlink, dst: ip(dst), bytes: payload.length });
      }),
      route: (e) => out({ ev: 'route', ...e, address: ip(e.address) }),
    },
  });
  sock.on('message', (m, rinfo) => relay.fromServer(m, ipv4ToU32(rinfo.address)));
  for (const s of cfg.spokes) clients.set(s.name, { spoke: s, client: null });

  const makeClient = (s: HarnessSpoke): DhcpClient => new DhcpClient({
    vlink: s.vlink, underlay: ipv4ToU32(s.underlay), clientIdName: s.clientIdName ?? s.identity,
    store: new JsonLeaseStore(s.leaseFile ?? path.join(cfg.stateDir, `${s.name}.lease.json`)),
    timing: { initDelayMaxMs: 200 },
    transport: { send: (payload) => setImmediate(() => relay.fromVlink(s.vlink, s.identity, payload)) },
    onEvent: (e) => out({
      ev: 'client', spoke: s.name, type: e.type, at: Date.now(),
      ...(e.type === 'lost' ? { address: ip(e.address), reason: e.reason } : {
        via: e.via, address: ip(e.lease.address), mask: ip(e.lease.mask), server: ip(e.lease.server),
        leaseTime: e.lease.leaseTime, t1: e.lease.t1, t2: e.lease.t2, expiresAt: e.lease.expiresAt,
      }),
    }),
    onTrace: (line) => out({ ev: 'trace', at: Date.now(), line }),
  });

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const entry = typeof c.spoke === 'string' ? clients.get(c.spoke) : undefined;
    if (c.cmd === 'start' && entry !== undefined) {
      entry.client = makeClient(entry.spoke);
      out({ ev: 'started', spoke: entry.spoke.name, chaddr: entry.client.identity.chaddr.toString('hex'), clientId: entry.client.identity.clientId.toString('hex') });
      entry.client.start();
    } else if (c.cmd === 'stop' && entry?.client) {
      entry.client.stop({ release: c.release === true });
      entry.client = null;
      out({ ev: 'stopped', spoke: entry.spoke.name });
    } else if (c.cmd === 'flood') {
      // DISCOVERs with a fresh chaddr each, as an exhaustion attack would send them.
      const n = Number(c.n);
      for (let i = 0; i < n; i++) {
        const chaddr = rfc3456Chaddr(0x0ac8ff00 + (i & 0xff), i >> 8);
        relay.fromVlink(String(c.vlink), String(c.identity), buildClientMessage({ chaddr, clientId: clientIdFromName(`flood-${i}`) }, MessageType.DISCOVER, { xid: i + 1, secs: 0 }));
      }
      out({ ev: 'flooded', n });
    } else if (c.cmd === 'view') {
      out({ ev: 'view', relay: relay.view(), clients: Object.fromEntries([...clients].map(([n, e]) => [n, e.client?.view() ?? null])) });
    } else if (c.cmd === 'exit') {
      for (const e of clients.values()) e.client?.stop({ release: false });
      relay.close();
      sock.close();
      out({ ev: 'exited' });
      process.exit(0);
    }
  }
}

await main(JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as HarnessConfig);
