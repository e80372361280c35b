// The hub's relay (dhcp/relay.ts) wired to the node: client messages taken from the vlinks it
// serves, the servers reached by UDP from `dhcp_relay.address`:67 (where their replies come
// back, to giaddr:67), replies framed into the vlink the circuit-id names. The remote-id is the
// identity the vlink's peer authenticated as, asked of the node for every message, never read
// from the packet. Route events become /32 routes via the vlink (protocol dhcp, metric
// `route_metric`), and on a vlink with `peer_address: dhcp` the TUN's peer address follows the
// lease too, so OSPF on that point-to-point link sees the client's address at the far end.

import type { Logger } from 'pino';
import { DhcpRelay, type RouteEvent } from '../dhcp/relay.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, frameDhcp } from '../dhcp/frame.js';
import type { Clock } from '../clock.js';
import type { Vlink } from '../dataplane/vlink.js';
import { ipv4ToU32, u32ToIpv4 } from '../wire/addr.js';
import type { DhcpNet } from '../io/dhcp-net.js';
import type { IkeUdpSocket } from '../io/ike-udp.js';
import type { NetSys } from '../io/netsys.js';
import type { DhcpRelayConfig, VlinkConfig } from './config-types.js';
import { IiptranError } from '../errors.js';
import { setVnAddress } from './node-dhcp-client.js';

export type OpenDhcpUdp = (bindAddr: string, port: number, onMessage: (data: Buffer, from: { addr: string; port: number }) => void, onError: (e: Error) => void) => Promise<IkeUdpSocket>;

export interface RelayHost {
  log: Logger;
  net: DhcpNet;
  netsys: NetSys;
  vlink(name: string): Vlink | undefined;
  vlinkConfig(name: string): VlinkConfig | undefined;
  send(v: Vlink, ip: Buffer): void;
  openUdp: OpenDhcpUdp | undefined;
  clock?: Clock;
}

export class NodeDhcpRelay {
  readonly relay: DhcpRelay;
  readonly addrU32: number;
  readonly served: ReadonlySet<string>;
  routeErrors = 0;
  private sock: IkeUdpSocket | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** vlink -> the address its TUN now has as peer (`peer_address: dhcp`). */
  private readonly peers = new Map<string, string>();
  private readonly log: Logger;

  constructor(private readonly h: RelayHost, private readonly cfg: DhcpRelayConfig) {
    this.log = h.log.child({ dhcp: 'relay' });
    this.addrU32 = ipv4ToU32(cfg.address);
    this.served = new Set(cfg.vlinks);
    this.relay = new DhcpRelay({
      relayAddr: this.addrU32,
      servers: cfg.servers.map((s) => ipv4ToU32(s)),
      rate: cfg.rate,
      serverIdMode: cfg.serverId === 'rfc5107' ? 'rfc5107' : 'server-configured',
      ...(h.clock === undefined ? {} : { clock: h.clock }),
      output: {
        toServer: (payload, server) => this.sock?.send(payload, u32ToIpv4(server), DHCP_SERVER_PORT),
        toVlink: (name, payload, dst) => {
          const v = h.vlink(name);
          if (v !== undefined) h.send(v, frameDhcp(payload, this.addrU32, dst, DHCP_SERVER_PORT, DHCP_CLIENT_PORT));
        },
        route: (e) => this.later(e),
      },
    });
  }

  async start(): Promise<void> {
    if (this.h.openUdp === undefined) throw new IiptranError('IIPTRAN_ERR_CONFIG', 'dhcp_relay is set, but this node was started without a UDP socket for it', { field: 'dhcp_relay' });
    try {
      this.sock = await this.h.openUdp(this.cfg.address, DHCP_SERVER_PORT, (data, from) => this.relay.fromServer(data, ipv4ToU32(from.addr)), (e) => this.log.warn({ err: e.message }, 'DHCP relay socket error'));
    } catch (e) {
      throw new IiptranError(
        'IIPTRAN_ERR_CONFIG',
        `dhcp_relay.address: cannot bind UDP ${this.cfg.address}:${DHCP_SERVER_PORT} for the servers' replies (${(e as Error).message}); the address must be on an interface of this node and port 67 free (stop any DHCP server or relay there)`,
        { field: 'dhcp_relay.address', cause: e },
      );
    }
    this.log.info({ address: this.cfg.address, servers: this.cfg.servers, vlinks: this.cfg.vlinks, rate: this.cfg.rate, serverId: this.cfg.serverId }, 'DHCP relay listening (RFC 3456: remote-id = the peer\'s authenticated identity)');
  }

  fromVlink(name: string, identity: string, payload: Buffer): void {
    this.relay.fromVlink(name, identity, payload);
  }

  /** Stop: every route it installed goes (the clients' leases stay with the server). */
  async stop(): Promise<void> {
    this.relay.close();
    await this.queue;
    this.sock?.close();
    this.sock = null;
  }

  settled(): Promise<void> {
    return this.queue;
  }

  view(): object {
    return { address: this.cfg.address, servers: this.cfg.servers, served_vlinks: this.cfg.vlinks, route_metric: this.cfg.routeMetric, route_errors: this.routeErrors, peers: Object.fromEntries(this.peers), ...this.relay.view() };
  }

  private later(e: RouteEvent): void {
    this.queue = this.queue.then(() => this.apply(e)).catch((err: unknown) => {
      this.routeErrors++;
      this.log.error({ vlink: e.vlink, address: u32ToIpv4(e.address), action: e.action, err: (err as Error).message }, 'DHCP relay route change failed');
    });
  }

  private async apply(e: RouteEvent): Promise<void> {
    const addr = u32ToIpv4(e.address);
    const peerDhcp = this.h.vlinkConfig(e.vlink)?.dhcp?.role === 'peer';
    if (e.action === 'install') {
      if (peerDhcp) await this.setPeer(e.vlink, addr);
      await this.h.net.addRoute(e.vlink, addr, this.cfg.routeMetric);
      this.log.info({ vlink: e.vlink, address: addr, metric: this.cfg.routeMetric }, `DHCP relay: ${addr}/32 routed via ${e.vlink} (ACK snooped)`);
      return;
    }
    await this.h.net.delRoute(e.vlink, addr, this.cfg.routeMetric);
    if (peerDhcp && this.peers.get(e.vlink) === addr) await this.setPeer(e.vlink, undefined);
    this.log.info({ vlink: e.vlink, address: addr, reason: e.reason }, `DHCP relay: route ${addr}/32 via ${e.vlink} removed (${e.reason})`);
  }

  private async setPeer(name: string, peer: string | undefined): Promise<void> {
    const c = this.h.vlinkConfig(name);
    const v = this.h.vlink(name);
    if (c === undefined || v === undefined) return;
    const own = c.address.split('/')[0]!;
    const from = this.peers.get(name);
    if (from === peer) return;
    await this.h.netsys.replaceAddress(name, { address: own, prefixLen: 32, peer: from }, { address: own, prefixLen: 32, peer });
    if (peer === undefined) this.peers.delete(name);
    else this.peers.set(name, peer);
    setVnAddress(v, own, peer);
  }
}
