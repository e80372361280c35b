// Node lifecycle (BIRD-style hooks: start / reconfigure / shutdown) for one overlay node.
// The OS is handed in (NodeIo) so this file is testable with fakes; cli/node.ts wires the
// real TUN, sockets and netlink.

import type { Logger } from 'pino';
import type { EspCrypto, PacketBatch, TunDevice, UnderlaySocket } from '../io/types.js';
import type { NetSys } from '../io/netsys.js';
import { ConfigError, IiptranError } from '../errors.js';
import { addrFromString, formatAddr } from '../wire/addr.js';
import { newDropCounters, type DropCounters } from '../dataplane/drop-reasons.js';
import { Spd, IPPROTO_IPIP } from '../dataplane/spd.js';
import { Sad } from '../dataplane/sad.js';
import { Sender } from '../dataplane/send.js';
import type { FastPath } from '../dataplane/fast-state.js';
import { Receiver } from '../dataplane/receive.js';
import type { Vlink } from '../dataplane/vlink.js';
import { LivenessMonitor } from '../dataplane/liveness.js';
import type { Liveness, NodeConfig } from './config-types.js';
import type { IkeUdpReceive, IkeUdpSocket } from '../io/ike-udp.js';
import { IkeEngine } from '../ike/engine.js';
import { ikeTunables } from './ike-peer-config.js';
import { startNodeIke } from './node-ike.js';
import type { ChildSaInstall, IkeKeyLogRecord } from '../ike/types.js';
import type { RetransmitPolicy } from '../ike/retransmit.js';
import type { Clock } from '../clock.js';
import { applyReload, type ReloadHost, type ReloadResult } from './reload.js';
import type { Guard, GuardSpec } from '../io/guard.js';
import { applyGuard, removeGuard } from './vn-guard.js';
import { hex32x } from '../wire/hex.js';
import { ChildSas } from './node-child-sa.js';
import { newVlink, prepareVlink, preparedPeer, usableOut, type PreparedVlink } from './node-vlinks.js';
import { NodeDns } from './node-dns.js';
import type { DnsTransport } from '../dns/transport.js';
import { realClock } from '../clock.js';
import { NodeDhcp, peerIdentity, type DhcpIo } from './node-dhcp.js';
import { dhcpReloadProblem } from './config-dhcp.js';
import { ipv6LinkSetup } from './config-ipv6.js';

export interface NodeIo {
  openTun(name: string): TunDevice;
  openUdp(bindAddr: string, port: number): UnderlaySocket;
  openRawEsp(bindAddr: string): UnderlaySocket;
  /** The IKE socket (UDP 500); needed only when a vlink uses ikev2 keying. */
  openIkeUdp?(bindAddr: string, port: number, onMessage: IkeUdpReceive, onError: (e: Error) => void): Promise<IkeUdpSocket>;
  /** Receives every IKE/CHILD_SA secret when set (IIPTRAN_IKE_KEYLOG): for tests and capture decryption only. */
  ikeKeyLog?: (rec: IkeKeyLogRecord) => void;
  /** IKE retransmission timing; tests shorten it. */
  ikeRetransmit?: Partial<RetransmitPolicy>;
  /** The IKE engine's timers and ages; tests pass a FakeClock. Default: the real clock. */
  ikeClock?: Clock;
  netsys: NetSys;
  /** The fail-closed guard for vn_prefixes (io/guard.ts); required when the config sets them. */
  guard?: Guard;
  /** How DNS queries travel (named peers); tests pass dns/transport-fake.ts. Default: UDP/TCP sockets. */
  dnsTransport?: DnsTransport;
  /** Native batch ESP crypto (io/esp-native.ts); without it the data plane seals and opens in JS. */
  espCrypto?: EspCrypto;
  /** DHCP over the overlay (node-dhcp.ts); needed only when the config uses it. */
  dhcp?: DhcpIo;
}

/** What installChildSa takes: one negotiated CHILD_SA, both directions. */
export type ChildSaParams = ChildSaInstall;

export class OverlayNode {
  readonly spd = new Spd();
  readonly sad = new Sad();
  readonly vlinks = new Map<string, Vlink>();
  readonly nodeDrops: DropCounters = newDropCounters();
  readonly startedAt = Date.now();
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private udp: UnderlaySocket | null = null;
  private esp: UnderlaySocket | null = null;
  private prepared = new Map<string, PreparedVlink>();
  private readonly monitors = new Map<string, LivenessMonitor>();
  private stopped = false;
  /** The CHILD_SAs IKE negotiates, in and out of the data plane (node-child-sa.ts). */
  private readonly childSas: ChildSas;
  /** Created with the first ikev2 vlink; null on a node keyed manually only. */
  ike: IkeEngine | null = null;
  private ikeSocket: IkeUdpSocket | null = null;
  /** What the guard was last set to; null: no vn_prefixes, no guard (vn-guard.ts). */
  guardSpec: GuardSpec | null = null;
  /** Resolver and named peers (node-dns.ts); null without a `dns` section. */
  dns: NodeDns | null = null;
  /** RFC 3456 client and relay (node-dhcp.ts); null when the config uses no DHCP. */
  dhcp: NodeDhcp | null = null;

  constructor(
    public cfg: NodeConfig,
    private readonly io: NodeIo,
    private readonly log: Logger,
  ) {
    this.sender = new Sender(this.spd, io.espCrypto ?? null);
    this.receiver = new Receiver(this.sad, (n) => this.vlinks.get(n), this.nodeDrops, null, io.espCrypto ?? null);
    const fast = this.sender.fast;
    if (fast !== null) {
      fast.watchSad(this.sad);
      this.receiver.onPeerPort = () => fast.clearAll();
      this.receiver.fast = fast;
    }
    this.childSas = new ChildSas(this, this.log, () => this.prepared, () => this.stopped);
    if (cfg.dns !== undefined) this.dns = this.newDns(cfg.dns);
  }

  private newDns(d: NonNullable<NodeConfig['dns']>): NodeDns {
    const node = this;
    const host = {
      get cfg() {
        return node.cfg;
      },
      spd: this.spd, sad: this.sad, vlinks: this.vlinks, prepared: () => this.prepared, ike: () => this.ike,
    };
    return new NodeDns(d, host, this.io.ikeClock ?? realClock, this.log.child({ dns: true }), this.io.dnsTransport);
  }

  private async ikeEngine(): Promise<IkeEngine> {
    if (this.ike !== null) return this.ike;
    const node = this;
    const r = await startNodeIke({
      cfg: this.cfg, io: this.io, log: this.log, childSas: this.childSas, receiver: this.receiver,
      dns: () => this.dns,
      udp: () => this.udp,
      guarded: (what, sample, fn) => node.guarded(what, sample, fn),
    });
    this.ikeSocket = r.socket;
    this.ike = r.engine;
    return r.engine;
  }

  /**
   * Nothing from the network may take the daemon down. The packet paths are written never to
   * throw; should a bug make one throw anyway, that input is dropped, counted and logged with
   * the first bytes that caused it, and the node keeps serving everyone else.
   */
  private guarded(what: string, sample: Buffer | (() => Buffer | undefined) | undefined, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.nodeDrops['internal-error']++;
      const bytes = typeof sample === 'function' ? sample() : sample;
      this.log.error(
        { err: e instanceof Error ? e.stack : String(e), sample: bytes?.subarray(0, 64).toString('hex') },
        `${what} made a handler throw (a bug, please report it with this line): dropped, daemon keeps running`,
      );
    }
  }

  /** The native outbound fast path on `v` (show links `path.fastOut`): null when never installed. */
  fastOut(v: Vlink): ReturnType<FastPath['stats']> {
    return this.sender.fast?.stats(v) ?? null;
  }

  /** Folds the fast path's counts into the vlinks' stats and drops (before a view reads them). */
  syncCounters(): void {
    this.sender.fast?.sync();
  }

  /** Whether ESP crypto runs in the addon (show links `path.crypto`). */
  get nativeCrypto(): boolean {
    return this.io.espCrypto !== undefined;
  }

  /** Validate keys, SAs and MTUs of every vlink without touching the system. */
  prepare(cfg: NodeConfig): Map<string, PreparedVlink> {
    const out = new Map<string, PreparedVlink>();
    const problems: string[] = [];
    cfg.vlinks.forEach((v, i) => {
      try {
        const name = v.peerName ?? v.peerDomain;
        const known = name === undefined ? undefined : this.dns?.addressOf(v.name, name) ?? undefined;
        const p = prepareVlink(cfg, v, i, known);
        // auth: dns: IPSECA decides which key may speak for the peer (ipseca-verifier.ts).
        const pk = p.ike?.pubkey;
        if (pk !== undefined && v.keying.mode === 'ikev2' && v.keying.auth === 'dns') {
          pk.verifyPeerKey = (spki, _id, ctx) => this.dns?.verifyKey(v.name, spki, ctx.addr) ?? { accept: false, why: 'auth: dns needs a dns section' };
        }
        out.set(v.name, p);
      } catch (e) {
        problems.push(e instanceof Error ? e.message : String(e));
      }
    });
    if (problems.length > 0) {
      throw new IiptranError(problems.some((p) => p.startsWith('key file')) ? 'IIPTRAN_ERR_KEYFILE' : 'IIPTRAN_ERR_CONFIG', problems.join('\n'));
    }
    return out;
  }

  async start(): Promise<void> {
    const prepared = this.prepare(this.cfg);
    this.guardSpec = await applyGuard(this.io.guard, this.cfg, null, 'start', this.log);
    try {
      for (const p of prepared.values()) await this.addVlink(p);
      await this.startDhcp();
    } catch (e) {
      // Half a node is worse than none: undo what was created, then report. The guard stays,
      // as after a crash: no daemon runs, so VN traffic must still not leave in clear.
      await this.stop({ keepGuard: true });
      throw e;
    }
    this.log.info({ node: this.cfg.node, vlinks: [...this.vlinks.keys()] }, 'node started');
  }

  private async startDhcp(): Promise<void> {
    this.dhcp = NodeDhcp.create(this.cfg, this.io.dhcp, this.io.netsys, this.log, {
      vlink: (n) => this.vlinks.get(n),
      send: (v, pkt) => this.guarded('DHCP packet', pkt, () => this.sender.process(v, [pkt])),
      peerIdentity: (n) => peerIdentity(this.prepared.get(n), this.ike),
    });
    const dhcp = this.dhcp;
    if (dhcp === null) return;
    this.receiver.onLocal = (v, inner) => dhcp.intercept(v, inner);
    await dhcp.start();
  }

  private socketFor(encap: 'udp' | 'esp'): UnderlaySocket {
    const u = this.cfg.underlay;
    if (encap === 'udp') {
      if (this.udp === null) {
        const udp = (this.udp = this.io.openUdp(u.address, u.port));
        if (udp.onBatch) udp.onBatch((b) => this.guarded('UDP batch', () => batchHead(b), () => this.receiver.processBatch('udp', b)));
        else udp.onDatagrams((d) => this.guarded('UDP batch', d[0]?.data, () => this.receiver.process('udp', d)));
      }
      return this.udp;
    }
    if (this.esp === null) {
      const esp = (this.esp = this.io.openRawEsp(u.address));
      if (esp.onBatch) esp.onBatch((b) => this.guarded('ESP batch', () => batchHead(b), () => this.receiver.processBatch('esp', b)));
      else esp.onDatagrams((d) => this.guarded('ESP batch', d[0]?.data, () => this.receiver.process('esp', d)));
    }
    return this.esp;
  }

  /** The vlink's TUN, up and addressed; addVlink opens it unless a reload already has (a rename). */
  private async openLink(p: PreparedVlink): Promise<TunDevice> {
    const c = p.cfg;
    const tun = this.io.openTun(c.name);
    try {
      await this.io.netsys.configureLink({
        name: c.name,
        mtu: p.mtu,
        // address dhcp: none until a lease (node-dhcp-client.ts).
        address: c.dhcp?.role === 'client' ? '' : c.address.split('/')[0]!,
        prefixLen: c.prefixLen,
        peer: c.peerAddress,
        ...(ipv6LinkSetup(c) === undefined ? {} : { ipv6: ipv6LinkSetup(c)! }),
      });
    } catch (e) {
      tun.close();
      throw e;
    }
    return tun;
  }

  private async addVlink(p: PreparedVlink, opened?: TunDevice): Promise<void> {
    const c = p.cfg;
    const vnAddr = c.dhcp?.role === 'client' ? '0.0.0.0' : c.address.split('/')[0]!;
    const underlay = this.socketFor(c.encap);
    const tun = opened ?? (await this.openLink(p));
    // Config keeps addresses as text; the data plane gets them parsed, once, here.
    const local = addrFromString(this.cfg.underlay.address, 'underlay.address');
    const peer = addrFromString(preparedPeer(p), `vlinks.${c.name}.peer`);
    const policy = this.spd.add({
      src: local,
      dst: peer,
      proto: IPPROTO_IPIP,
      action: 'protect',
      vlink: c.name,
      // IKEv2 vlinks start with none, and so does an unresolved named peer: their packets drop
      // as no-sa, never leave in clear.
      sa: usableOut(p),
    });
    if (p.in !== null) this.sad.add(p.in, c.name);
    const v = newVlink(p, { local, peer, vnAddr, tun, underlay, policy });
    this.vlinks.set(c.name, v);
    this.prepared.set(c.name, p);
    if (tun.onBatch) tun.onBatch((b) => this.guarded(`${c.name} batch`, () => batchHead(b), () => this.sender.processBatch(v, b)));
    else tun.onPackets((pkts) => this.guarded(`${c.name} batch`, pkts[0], () => this.sender.process(v, pkts)));
    this.setLiveness(v, c.liveness);
    // Before the IKE peer: an initiator's first attempt resolves the name through it.
    this.dns?.addVlink(p);
    if (p.ike !== null) {
      this.log.info({ vlink: c.name, peer: c.peer, encap: c.encap, mtu: p.mtu, role: p.ike.role }, `vlink up; no SA until IKEv2 negotiates one (${p.ike.role})`);
      (await this.ikeEngine()).addPeer(p.ike);
      return;
    }
    this.log.info(
      { vlink: c.name, peer: c.peer, encap: c.encap, mtu: p.mtu, spiOut: hex32x(p.out!.spi), spiIn: hex32x(p.in!.spi), suite: p.out!.suite },
      'vlink up',
    );
    this.log.warn(
      { vlink: c.name },
      'manual keying: these SAs never rekey, and sequence numbers restart at 1 when this daemon restarts, ' +
        "so the peer's replay window drops our traffic until it restarts too; use IKEv2 for production",
    );
  }

  /** (Re)starts the vlink's liveness monitor, or stops it with `null`. */
  private setLiveness(v: Vlink, l: Liveness | null): void {
    this.monitors.get(v.name)?.stop();
    this.monitors.delete(v.name);
    if (l === null) return;
    const m = new LivenessMonitor(v, l, (x) => this.sender.sendProbe(x), (x, up) =>
      up
        ? this.log.info({ vlink: x.name, peer: formatAddr(x.peer) }, 'peer answering again: carrier on')
        : this.log.warn({ vlink: x.name, peer: formatAddr(x.peer), deadMs: l.deadMs }, 'peer silent: carrier off (routing daemons see the link down)'),
    );
    this.monitors.set(v.name, m);
    m.start();
  }

  /** Liveness settings and how long ago the peer was last heard, for the inspector. */
  livenessOf(name: string): { intervalMs: number; deadMs: number; lastHeardMsAgo: number } | null {
    const m = this.monitors.get(name);
    const v = this.vlinks.get(name);
    if (m === undefined || v === undefined) return null;
    return { ...m.params, lastHeardMsAgo: v.rxAlive ? 0 : Date.now() - v.lastAliveAt };
  }

  private removeVlink(name: string): void {
    const v = this.vlinks.get(name);
    if (v === undefined) return;
    this.ike?.removePeer(name);
    this.dns?.removeVlink(name);
    this.monitors.get(name)?.stop();
    this.monitors.delete(name);
    this.spd.removeVlink(name);
    this.sad.removeVlink(name);
    this.receiver.forget(v);
    this.sender.fast?.forget(v);
    this.vlinks.delete(name);
    this.prepared.delete(name);
    v.tun.close();
    this.log.info({ vlink: name }, 'vlink removed');
  }

  /**
   * SIGHUP: apply a new config, touching only vlinks that changed, in place where it can
   * (reload.ts). Everything is validated (including key files) before anything is changed, so
   * a bad config leaves the running one intact.
   */
  async reload(next: NodeConfig): Promise<ReloadResult> {
    for (const f of ['node', 'controlSocket'] as const) {
      if (next[f] !== this.cfg[f]) throw new ConfigError(snake(f), 'cannot change on reload; restart the daemon');
    }
    const dhcpChange = dhcpReloadProblem(this.cfg, next);
    if (dhcpChange !== undefined) throw dhcpChange;
    const u = this.cfg.underlay;
    if (next.underlay.address !== u.address || next.underlay.port !== u.port || next.underlay.mtu !== u.mtu) {
      throw new ConfigError('underlay', 'cannot change on reload; restart the daemon');
    }
    if (JSON.stringify(next.dns ?? null) !== JSON.stringify(this.cfg.dns ?? null)) {
      if (this.dns !== null) throw new ConfigError('dns', 'cannot change on reload; restart the daemon');
      // The first named peer: a resolver from now on.
      if (next.dns !== undefined) this.dns = this.newDns(next.dns);
    }
    const t0 = Date.now();
    const prepared = this.prepare(next);
    // Vlinks change in place over several turns of the loop: JS alone sends until it is done.
    this.sender.fast?.suspend();
    // Vlinks on their way out stay allowed until they are gone: a renamed vlink's routes move to
    // its new TUN before the old one closes, and until then traffic still leaves by the old one.
    const leaving = this.cfg.vlinks.filter((v) => !prepared.has(v.name));
    this.guardSpec = await applyGuard(this.io.guard, { ...next, vlinks: [...next.vlinks, ...leaving] }, this.guardSpec, 'reload', this.log);
    // Before applying: allocSpi must already avoid the new config's manual SPIs.
    this.cfg = next;
    // Named entries first: a vlink whose IKE peer is re-added asks for its (new) name at once.
    for (const p of prepared.values()) if (this.vlinks.has(p.cfg.name)) this.dns?.register(p);
    const r = await applyReload(this.reloadHost(), prepared);
    this.ike?.retune(ikeTunables(next));
    // Named peers resolve again on every reload (peer_resolve: once included).
    for (const n of [...r.kept, ...r.updated]) {
      const p = this.prepared.get(n);
      if (p !== undefined) this.dns?.kick(p);
    }
    if (leaving.length > 0) this.guardSpec = await applyGuard(this.io.guard, next, this.guardSpec, 'reload', this.log);
    this.log.info({ ...r, ms: Date.now() - t0 }, 'config reloaded');
    this.sender.fast?.resume();
    return r;
  }

  private reloadHost(): ReloadHost {
    return {
      log: this.log,
      netsys: this.io.netsys,
      spd: this.spd,
      sad: this.sad,
      vlinks: this.vlinks,
      prepared: this.prepared,
      ike: () => this.ike,
      ikeEngine: () => this.ikeEngine(),
      socketFor: (e) => this.socketFor(e),
      openLink: (p) => this.openLink(p),
      addVlink: (p, tun) => this.addVlink(p, tun),
      removeVlink: (n) => this.removeVlink(n),
      setLiveness: (v, l) => this.setLiveness(v, l),
      carrier: (v, up, why) => this.childSas.ikeCarrier(v, up, why),
    };
  }

  /** Clean stop (SIGTERM/SIGINT) removes the guard; `keepGuard` is for a start that failed. */
  async stop(opts: { keepGuard?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Before the vlinks go: a RELEASE still needs its vlink.
    await this.dhcp?.stop();
    this.ike?.stop();
    this.dns?.stop();
    for (const name of [...this.vlinks.keys()]) this.removeVlink(name);
    this.ikeSocket?.close();
    this.ikeSocket = null;
    this.udp?.close();
    this.esp?.close();
    this.udp = null;
    this.esp = null;
    this.io.netsys.close();
    if (opts.keepGuard !== true) await removeGuard(this.io.guard, this.guardSpec, this.log);
    this.log.info({ node: this.cfg.node }, 'node stopped');
  }
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/** RFC 3948 §2.3: a NAT-keepalive is a single 0xff octet. */

/** The first packet of a batch, for the log line of a handler that threw on it. */
function batchHead(b: PacketBatch): Buffer | undefined {
  return b.count > 0 ? b.buf.subarray(b.off[0]!, b.off[0]! + Math.max(0, b.len[0]!)) : undefined;
}
