// Two OverlayNodes over fakes for the DHCP wiring tests: hub `a` (192.0.2.1) relays for its
// vlink vl-b (10.10.0.1/32, peer_address dhcp) to a FakeServer behind 10.99.0.2; spoke `b`
// (192.0.2.2) gets its VN address on vl-a by DHCP. Manual keying, real timers made short.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { FakeDhcpNet } from '../../src/io/fake-dhcp-net.js';
import type { OpenDhcpUdp } from '../../src/control/node-dhcp-relay.js';
import type { ClientTiming } from '../../src/dhcp/client.js';
import { Dhcp, type DhcpRepr } from '../../src/wire/dhcp/index.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { FakeServer } from './fake-server.js';
import { fakeNodeIo, manualKeying, pairYaml, writePairKeys } from '../control/fake-node-io.js';

export const RELAY = '10.99.0.1';
export const SERVER = '10.99.0.2';
export const HUB_VN = '10.10.0.1';
export const POOL = '10.10.5.10';

export const FAST: Partial<ClientTiming> = { initDelayMaxMs: 0, baseMs: 300, maxMs: 1200, jitterMs: 0, declineWaitMs: 300, renewMinMs: 400 };

export interface RigOptions {
  lease?: number;
  t1?: number;
  t2?: number;
  /** More lines under the spoke's `dhcp:` mapping (two-space indented there). */
  spokeDhcp?: string[];
  /** Lines replacing the hub's dhcp_relay body. */
  relay?: string[];
}

export interface Rig {
  dir: string;
  hub: OverlayNode;
  spoke: OverlayNode;
  server: FakeServer;
  hubNet: FakeDhcpNet;
  spokeNet: FakeDhcpNet;
  tuns: Map<string, FakeTun>;
  /** What reached the server: decoded relayed messages. */
  toServer: DhcpRepr[];
  hubYaml: string;
  spokeYaml: string;
  startHub(): Promise<OverlayNode>;
  startSpoke(): Promise<OverlayNode>;
  stop(): Promise<void>;
}

const log = pino({ level: process.env.IIPTRAN_TEST_LOG ?? 'silent' });

export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function rig(o: RigOptions = {}): Promise<Rig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-node-dhcp-'));
  writePairKeys(dir, 'aes-gcm-128');
  const server = new FakeServer({ serverId: ipv4ToU32(RELAY), poolStart: ipv4ToU32(POOL), lease: o.lease ?? 60, t1: o.t1 ?? 30, t2: o.t2 ?? 50 });
  const toServer: DhcpRepr[] = [];
  const open: OpenDhcpUdp = async (_addr, _port, onMessage) => ({
    send: (data, to) => {
      toServer.push(Dhcp.decode(data) as DhcpRepr);
      setImmediate(() => {
        const a = server.answer(data);
        if (a !== null) onMessage(a, { addr: to, port: 67 });
      });
    },
    close: () => {},
  });
  const relay = (o.relay ?? [`address: ${RELAY}`, `servers: [${SERVER}]`]).map((l) => `  ${l}`).join('\n');
  const hubYaml = `${pairYaml(dir, 'a', manualKeying('a', 'aes-gcm-128'), { address: `${HUB_VN}/32`, extra: ['peer_address: dhcp'] })}dhcp_relay:\n${relay}\n`;
  const spokeDhcp = [`lease_file: ${dir}/b.lease.json`, ...(o.spokeDhcp ?? [])].map((l) => `      ${l}`).join('\n');
  const spokeYaml = pairYaml(dir, 'b', manualKeying('b', 'aes-gcm-128'), { address: 'dhcp', extra: [`peer_address: ${HUB_VN}`, `dhcp:\n${spokeDhcp}`] });
  // A fresh underlay socket per start (a stopped node closes its own), joined to the other end's.
  const ends: { hub: FakeUnderlay | null; spoke: FakeUnderlay | null } = { hub: null, spoke: null };
  const socket = (me: 'hub' | 'spoke') => {
    const u = new FakeUnderlay(me === 'hub' ? '192.0.2.1' : '192.0.2.2', 4500, 'udp', { poison: false });
    ends[me] = u;
    const other = ends[me === 'hub' ? 'spoke' : 'hub'];
    if (other !== null) {
      u.peer = other;
      other.peer = u;
    }
    return u;
  };
  const tuns = new Map<string, FakeTun>();
  const hubNet = new FakeDhcpNet();
  const spokeNet = new FakeDhcpNet();
  const r: Rig = {
    dir, hub: undefined as unknown as OverlayNode, spoke: undefined as unknown as OverlayNode, server, hubNet, spokeNet, tuns, toServer, hubYaml, spokeYaml,
    startHub: async () => {
      r.hub = new OverlayNode(parseNodeConfig(hubYaml, { baseDir: dir }), fakeNodeIo(socket('hub'), tuns, { dhcp: { net: hubNet, openUdp: open, timing: FAST } }), log);
      await r.hub.start();
      return r.hub;
    },
    startSpoke: async () => {
      r.spoke = new OverlayNode(parseNodeConfig(spokeYaml, { baseDir: dir }), fakeNodeIo(socket('spoke'), tuns, { dhcp: { net: spokeNet, timing: FAST } }), log);
      await r.spoke.start();
      return r.spoke;
    },
    stop: async () => {
      await r.spoke?.stop();
      await r.hub?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await r.startHub();
  return r;
}
