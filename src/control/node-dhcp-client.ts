// One vlink whose VN address comes from DHCP (`address: dhcp`): the RFC 3456 client
// (dhcp/client.ts) with its packets framed into the vlink, and what a lease changes on the
// node. Acquired: unless the address is already on another link of this host (then DECLINE,
// RFC 2131 §3.1.5), it goes on the vlink's TUN as ADDRESS/32 (peer `peer_address` when set),
// where the kernel uses it as the source and routing daemons see it; the data plane's idea of
// the vlink's address follows. Lost (expired, NAK, released): the address is removed, and the
// log says why. Kernel changes run one at a time, in event order.

import type { Logger } from 'pino';
import { DhcpClient, type ClientEvent, type ClientTiming } from '../dhcp/client.js';
import { JsonLeaseStore, type LeaseStore, type StoredClientState } from '../dhcp/lease-store.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, frameDhcp } from '../dhcp/frame.js';
import type { DhcpRandom } from '../dhcp/random.js';
import type { Clock, ClockTimer } from '../clock.js';
import { realClock } from '../clock.js';
import { linkPeerU32, type Vlink } from '../dataplane/vlink.js';
import { ipv4ToU32, u32ToIpv4 } from '../wire/addr.js';
import type { DhcpLinkAddress, DhcpNet } from '../io/dhcp-net.js';
import type { VlinkConfig, VlinkDhcp } from './config-types.js';
import { coveredBy } from './vn-prefixes.js';

const TRACE_LINES = 40;
/** How often a client waiting for its vlink's first SA looks again. */
const READY_POLL_MS = 100;

export interface ClientHost {
  log: Logger;
  net: DhcpNet;
  vlink(name: string): Vlink | undefined;
  send(v: Vlink, ip: Buffer): void;
  underlay: string;
  vnPrefixes: string[] | undefined;
  clock?: Clock;
  random?: DhcpRandom;
  timing?: Partial<ClientTiming>;
}

/** A lease file that cannot be written must not take the packet path down with it. */
class LoggedStore implements LeaseStore {
  constructor(private readonly inner: JsonLeaseStore, private readonly log: Logger) {}
  load(): StoredClientState | null {
    const s = this.inner.load();
    if (this.inner.problem !== null) this.log.warn({ file: this.inner.file }, this.inner.problem);
    return s;
  }
  save(s: StoredClientState): void {
    try {
      this.inner.save(s);
    } catch (e) {
      this.log.error({ file: this.inner.file, err: (e as Error).message }, 'DHCP lease file not written: a restart will start over with DISCOVER');
    }
  }
}

export class VlinkDhcpClient {
  readonly client: DhcpClient;
  readonly trace: string[] = [];
  readonly events = { acquired: 0, renewed: 0, declined: 0, lost: {} as Record<string, number> };
  /** What is on the TUN now. */
  installed: DhcpLinkAddress | null = null;
  private queue: Promise<void> = Promise.resolve();
  private readyTimer: ClockTimer | null = null;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly h: ClientHost, private readonly cfg: VlinkConfig & { dhcp: Extract<VlinkDhcp, { role: 'client' }> }) {
    this.clock = h.clock ?? realClock;
    this.log = h.log.child({ vlink: cfg.name, dhcp: 'client' });
    const d = cfg.dhcp;
    this.client = new DhcpClient({
      vlink: cfg.name,
      underlay: ipv4ToU32(h.underlay),
      clientIdName: d.clientId,
      hostname: d.hostname,
      store: new LoggedStore(new JsonLeaseStore(d.leaseFile), this.log),
      transport: { send: (payload, ip) => this.send(payload, ip.src, ip.dst) },
      onEvent: (e) => this.onEvent(e),
      onTrace: (line) => {
        this.trace.push(`${new Date(this.clock.now()).toISOString()} ${line}`);
        if (this.trace.length > TRACE_LINES) this.trace.shift();
        this.log.debug(line);
      },
      ...(h.clock === undefined ? {} : { clock: h.clock }),
      ...(h.random === undefined ? {} : { random: h.random }),
      ...(h.timing === undefined ? {} : { timing: h.timing }),
    });
  }

  /**
   * Starts once the vlink can carry a packet: an IKEv2 vlink has no SA for its first second or
   * so, and a DISCOVER sent into it then would be lost and retried only 4 s later.
   */
  start(): void {
    const v = this.h.vlink(this.cfg.name);
    if (v !== undefined && v.policy.sa !== null) {
      this.readyTimer = null;
      this.log.info({ leaseFile: this.cfg.dhcp.leaseFile, chaddr: this.client.identity.chaddr.toString('hex') }, 'DHCP client starting (RFC 3456, htype 31)');
      this.client.start();
      return;
    }
    this.readyTimer = this.clock.setTimeout(() => this.start(), READY_POLL_MS, { unref: true });
  }

  receive(payload: Buffer): void {
    this.client.receive(payload);
  }

  /** Clean stop: RELEASE (unless `release: false`), then the address goes. */
  async stop(): Promise<void> {
    this.clock.clearTimeout(this.readyTimer);
    this.client.stop({ release: this.cfg.dhcp.release });
    await this.queue;
  }

  /** Waits for the kernel changes queued so far (tests). */
  settled(): Promise<void> {
    return this.queue;
  }

  private send(payload: Buffer, src: number, dst: number): void {
    const v = this.h.vlink(this.cfg.name);
    if (v === undefined) return;
    this.h.send(v, frameDhcp(payload, src, dst, DHCP_CLIENT_PORT, DHCP_SERVER_PORT));
  }

  private later(what: string, fn: () => Promise<void>): void {
    this.queue = this.queue.then(fn).catch((e: unknown) => {
      this.log.error({ err: (e as Error).message }, `DHCP: ${what} failed`);
    });
  }

  private onEvent(e: ClientEvent): void {
    if (e.type === 'renewed') {
      this.events.renewed++;
      this.log.info({ address: u32ToIpv4(e.lease.address), via: e.via, leaseS: e.lease.leaseTime, t1S: e.lease.t1, t2S: e.lease.t2 }, 'DHCP lease renewed');
      return;
    }
    if (e.type === 'lost') {
      const why = e.reason;
      this.events.lost[why] = (this.events.lost[why] ?? 0) + 1;
      const addr = u32ToIpv4(e.address);
      const level = why === 'released' || why === 'stopped' ? 'info' : 'warn';
      this.log[level]({ address: addr, reason: why }, `DHCP lease lost (${why}): ${addr} removed from ${this.cfg.name}`);
      this.later('removing the address', () => this.uninstall(addr));
      return;
    }
    const addr = u32ToIpv4(e.lease.address);
    this.later('installing the address', () => this.install(addr, e));
  }

  private async install(addr: string, e: Extract<ClientEvent, { type: 'acquired' }>): Promise<void> {
    const elsewhere = (await this.h.net.addresses()).find((a) => a.address === addr && a.link !== this.cfg.name);
    if (elsewhere !== undefined) {
      this.events.declined++;
      this.log.warn({ address: addr, link: elsewhere.link }, `DHCP: ${addr} is already on ${elsewhere.link}; DECLINE, and ask again in 10 s`);
      if (this.installed?.address === addr) await this.uninstall(addr);
      this.client.decline();
      return;
    }
    if (this.installed !== null && this.installed.address !== addr) await this.uninstall(this.installed.address);
    const a: DhcpLinkAddress = { address: addr, peer: this.cfg.peerAddress };
    await this.h.net.addAddress(this.cfg.name, a);
    this.installed = a;
    this.events.acquired++;
    const v = this.h.vlink(this.cfg.name);
    if (v !== undefined) setVnAddress(v, addr, this.cfg.peerAddress);
    const l = e.lease;
    this.log.info(
      { address: `${addr}/32`, peer: this.cfg.peerAddress, via: e.via, server: u32ToIpv4(l.server), leaseS: l.leaseTime, t1S: l.t1, t2S: l.t2 },
      `DHCP lease acquired: ${addr} is this node's VN address on ${this.cfg.name}`,
    );
    const vn = this.h.vnPrefixes;
    if (vn !== undefined && !coveredBy(`${addr}/32`, vn)) this.log.warn({ address: addr, vnPrefixes: vn }, 'the leased address is outside vn_prefixes: traffic to it is not guarded');
  }

  private async uninstall(addr: string): Promise<void> {
    if (this.installed?.address !== addr) return;
    const a = this.installed;
    this.installed = null;
    const v = this.h.vlink(this.cfg.name);
    if (v !== undefined) setVnAddress(v, '0.0.0.0', this.cfg.peerAddress);
    await this.h.net.delAddress(this.cfg.name, a);
  }
}

/** The data plane's view of the vlink's own address (ICMP errors it originates use it). */
export function setVnAddress(v: Vlink, addr: string, peer: string | undefined): void {
  v.vnAddr = addr;
  v.vnAddrU32 = ipv4ToU32(addr);
  v.vnPrefixLen = 32;
  v.vnPeer = peer;
  v.icmpSrcU32 = linkPeerU32(v.vnAddrU32, 32, peer === undefined ? undefined : ipv4ToU32(peer));
}
