// DHCP over the overlay in the node daemon (RFC 3456, README "DHCP over the overlay"): the
// clients of the vlinks whose address is `dhcp` (node-dhcp-client.ts) and the hub's relay
// (node-dhcp-relay.ts). Transport: DHCP packets are IPv4/UDP packets *inside* the vlink. What
// the node sends is framed and injected into the vlink's send path (the SPD's outer-header
// policy, the vlink's SA, ESP), never through the kernel; what arrives is taken out of the
// receive path after ESP and IPIP, before the TUN (Receiver.onLocal), so the kernel never sees
// a DHCP packet and no socket on 67/68 is bound to a vlink. The vlink's transport SA is
// selected by the outer header alone, so it protects DHCP from the first DISCOVER on, with no
// "DHCP SA" of its own.

import type { Logger } from 'pino';
import type { Vlink } from '../dataplane/vlink.js';
import type { DhcpNet } from '../io/dhcp-net.js';
import type { IkeEngine } from '../ike/engine.js';
import type { PreparedVlink } from './node-vlinks.js';
import type { NetSys } from '../io/netsys.js';
import type { Clock } from '../clock.js';
import type { ClientTiming } from '../dhcp/client.js';
import type { DhcpRandom } from '../dhcp/random.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, udpPorts, unframeDhcp } from '../dhcp/frame.js';
import type { NodeConfig, VlinkConfig } from './config-types.js';
import { IiptranError } from '../errors.js';
import { VlinkDhcpClient } from './node-dhcp-client.js';
import { NodeDhcpRelay, type OpenDhcpUdp } from './node-dhcp-relay.js';
import { SCHEMA } from './inspect.js';

const BROADCAST = 0xffffffff;

export type NodeDhcpDrop = 'ip-malformed' | 'ip-fragment' | 'udp-malformed' | 'no-peer-identity';

/** What the node's io brings for DHCP (cli/node-cmd.ts wires the real ones). */
export interface DhcpIo {
  /** Addresses and routes in the kernel. */
  net: DhcpNet;
  /** The relay's UDP 67 socket towards its servers. */
  openUdp?: OpenDhcpUdp;
  /** Timers; tests pass a FakeClock, shorter retransmissions and seeded randomness. */
  clock?: Clock;
  timing?: Partial<ClientTiming>;
  random?: DhcpRandom;
}

/** What the node itself lends: its vlinks, its send path, who each peer authenticated as. */
export interface NodeHooks {
  vlink(name: string): Vlink | undefined;
  /** Into the vlink's send path: SPD, SA, ESP. */
  send(v: Vlink, ip: Buffer): void;
  /** The identity the vlink's peer authenticated as (null: none yet). */
  peerIdentity(name: string): string | null;
}

interface NodeDhcpHost extends NodeHooks, Omit<DhcpIo, 'net' | 'openUdp'> {
  log: Logger;
  cfg: NodeConfig;
  netsys: NetSys;
  net: DhcpNet;
  openUdp: OpenDhcpUdp | undefined;
}

/**
 * Who a vlink's peer authenticated as: the IKE identity it proved (remote_id; no packet can
 * arrive on a vlink before an IKE SA authenticated exactly that), or with manual keying, whose
 * keys are its proof, its underlay address. Null for an unknown vlink.
 */
export function peerIdentity(p: PreparedVlink | undefined, ike: IkeEngine | null): string | null {
  if (p === undefined) return null;
  if (p.ike === null) return p.cfg.peer;
  return ike?.sa(p.cfg.name)?.cfg.remoteId.text ?? p.ike.remoteId.text;
}

export class NodeDhcp {
  readonly clients = new Map<string, VlinkDhcpClient>();
  readonly relay: NodeDhcpRelay | null = null;
  readonly drops = new Map<NodeDhcpDrop, number>();

  /** Null when the config uses no DHCP at all: the receive path then keeps its hook unset. */
  static create(cfg: NodeConfig, io: DhcpIo | undefined, netsys: NetSys, log: Logger, hooks: NodeHooks): NodeDhcp | null {
    if (cfg.dhcpRelay === undefined && !cfg.vlinks.some((v) => v.dhcp?.role === 'client')) return null;
    if (io === undefined) throw new IiptranError('IIPTRAN_ERR_CONFIG', 'DHCP is configured, but this node was started without its kernel interface (DhcpNet)');
    const { net, openUdp, ...rest } = io;
    return new NodeDhcp({ ...hooks, ...rest, log, cfg, netsys, net, openUdp });
  }

  private constructor(private readonly h: NodeDhcpHost) {
    const net = h.net;
    const cfg = h.cfg;
    const common = {
      log: h.log,
      net,
      vlink: h.vlink,
      send: h.send,
      ...(h.clock === undefined ? {} : { clock: h.clock }),
    };
    for (const v of cfg.vlinks) {
      if (v.dhcp?.role !== 'client') continue;
      const c = new VlinkDhcpClient(
        {
          ...common, underlay: cfg.underlay.address, vnPrefixes: cfg.vnPrefixes,
          ...(h.random === undefined ? {} : { random: h.random }), ...(h.timing === undefined ? {} : { timing: h.timing }),
        },
        v as VlinkConfig & { dhcp: Extract<VlinkConfig['dhcp'], { role: 'client' }> },
      );
      this.clients.set(v.name, c);
    }
    if (cfg.dhcpRelay !== undefined) {
      this.relay = new NodeDhcpRelay({ ...common, netsys: h.netsys, openUdp: h.openUdp, vlinkConfig: (n) => cfg.vlinks.find((x) => x.name === n) }, cfg.dhcpRelay);
    }
  }

  async start(): Promise<void> {
    await this.relay?.start();
    for (const c of this.clients.values()) c.start();
  }

  /** Clean stop: clients RELEASE (unless `release: false`), the relay's routes go. */
  async stop(): Promise<void> {
    try {
      await Promise.all([...this.clients.values()].map((c) => c.stop()));
      await this.relay?.stop();
    } catch (e) {
      // A stop goes on regardless: the vlinks and their TUNs are removed next.
      this.h.log.error({ err: (e as Error).message }, 'DHCP stop failed');
    }
    this.h.net.close();
  }

  /**
   * The receive path's hook: takes DHCP for this node's clients and relay, leaves every other
   * packet to the TUN. Never throws on packet content.
   */
  intercept(v: Vlink, ip: Buffer): boolean {
    const ports = udpPorts(ip);
    if (ports === null) return false;
    const toClient = ports.sport === DHCP_SERVER_PORT && ports.dport === DHCP_CLIENT_PORT ? this.clients.get(v.name) : undefined;
    const toRelay = ports.sport === DHCP_CLIENT_PORT && ports.dport === DHCP_SERVER_PORT && this.relay !== null && this.relay.served.has(v.name);
    if (toClient === undefined && !toRelay) return false;
    // The batch receive path hands over a view of its socket memory, reused by the next read.
    const f = unframeDhcp(Buffer.from(ip));
    if (typeof f === 'string') return this.drop(f);
    if (toClient !== undefined) {
      toClient.receive(f.payload);
      return true;
    }
    // A client's broadcast, or its RENEW unicast to the server identifier (the hub); DHCP to
    // other addresses is someone else's and is routed on as usual.
    if (f.dst !== BROADCAST && f.dst !== this.relay!.addrU32) return false;
    const id = this.h.peerIdentity(v.name);
    if (id === null) return this.drop('no-peer-identity');
    this.relay!.fromVlink(v.name, id, f.payload);
    return true;
  }

  /** Kernel changes queued so far are done (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.settled()));
    await this.relay?.settled();
  }

  /** `iiptran show dhcp`: each client's lease and the relay's view. */
  view(): object {
    const now = this.h.clock?.now() ?? Date.now();
    const clients = [...this.clients.values()].map((c) => {
      const v = c.client.view() as Record<string, unknown> & { lease: Record<string, unknown> | null };
      const l = c.client.lease;
      const secs = (at: number) => (Number.isFinite(at) ? Math.round((at - now) / 1000) : null);
      return {
        ...v,
        lease: v.lease === null || l === null ? null : { ...v.lease, t1_in_s: secs(l.t1At), t2_in_s: secs(l.t2At), expires_in_s: secs(l.expiresAt) },
        installed: c.installed === null ? null : `${c.installed.address}/32${c.installed.peer === undefined ? '' : ` peer ${c.installed.peer}`}`,
        events: c.events,
        trace: c.trace,
      };
    });
    return { schema: SCHEMA, node: this.h.cfg.node, clients, relay: this.relay?.view() ?? null, drops: Object.fromEntries(this.drops) };
  }

  private drop(r: NodeDhcpDrop): true {
    this.drops.set(r, (this.drops.get(r) ?? 0) + 1);
    return true;
  }
}

/** The view of a node without DHCP. */
export function noDhcpView(node: string): object {
  return { schema: SCHEMA, node, clients: [], relay: null, drops: {} };
}
