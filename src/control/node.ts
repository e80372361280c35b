// Node lifecycle (BIRD-style hooks: start / reconfigure / shutdown) for one overlay node.
// The OS is handed in (NodeIo) so this file is testable with fakes; cli/node.ts wires the
// real TUN, sockets and netlink.

import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { TunDevice, UnderlaySocket } from '../io/types.js';
import type { NetSys } from '../io/netsys.js';
import { ConfigError, IiptranError } from '../errors.js';
import { ipv4ToU32 } from '../wire/addr.js';
import { newDropCounters, type DropCounters } from '../dataplane/drop-reasons.js';
import { newInboundSa, newOutboundSa, type InboundSa, type OutboundSa } from '../dataplane/sa.js';
import { Spd, IPPROTO_IPIP } from '../dataplane/spd.js';
import { Sad } from '../dataplane/sad.js';
import { Sender } from '../dataplane/send.js';
import { Receiver } from '../dataplane/receive.js';
import { vlinkMtu } from '../dataplane/mtu.js';
import { linkPeerU32, newVlinkStats, type Vlink } from '../dataplane/vlink.js';
import { LivenessMonitor } from '../dataplane/liveness.js';
import type { NodeConfig, VlinkConfig } from './config-types.js';
import { loadKeyFile } from './keyfile.js';
import { vlinkMtuProblem } from './config.js';
import type { IkeUdpReceive, IkeUdpSocket } from '../io/ike-udp.js';
import { IkeEngine } from '../ike/engine.js';
import { loadPskFile, loadPubkeyAuth } from './credentials.js';
import { pubkeyFingerprint } from '../ike/auth-pubkey.js';
import { ikePeerConfig, IKE_PORT } from './ike-peer-config.js';
import type { ChildSaInstall, ChildUsage, IkeDatagram, IkeKeyLogRecord, IkePeerConfig } from '../ike/types.js';
import type { RetransmitPolicy } from '../ike/retransmit.js';
import type { Clock } from '../clock.js';
import { NON_ESP_MARKER_LEN } from '../wire/ike/index.js';
import type { Guard, GuardSpec } from '../io/guard.js';
import { applyGuard, removeGuard } from './vn-guard.js';

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
}

/** Everything a vlink needs that can fail without side effects: keys, SAs, MTU. */
interface PreparedVlink {
  cfg: VlinkConfig;
  mtu: number;
  /** Manual keying: the SAs from the key files. IKEv2: none until IKE installs them. */
  out: OutboundSa | null;
  in: InboundSa | null;
  ike: IkePeerConfig | null;
  /** Key material fingerprint so a reload notices a changed key file. */
  keyId: string;
}

/** What installChildSa takes: one negotiated CHILD_SA, both directions. */
export type ChildSaParams = ChildSaInstall;

export class OverlayNode {
  readonly spd = new Spd();
  readonly sad = new Sad();
  readonly vlinks = new Map<string, Vlink>();
  readonly nodeDrops: DropCounters = newDropCounters();
  readonly startedAt = Date.now();
  private readonly sender = new Sender(this.spd);
  private readonly receiver: Receiver;
  private udp: UnderlaySocket | null = null;
  private esp: UnderlaySocket | null = null;
  private prepared = new Map<string, PreparedVlink>();
  private readonly monitors = new Map<string, LivenessMonitor>();
  private stopped = false;
  /** Created with the first ikev2 vlink; null on a node keyed manually only. */
  ike: IkeEngine | null = null;
  private ikeSocket: IkeUdpSocket | null = null;
  /** Outbound halves of rekeyed CHILD_SAs that wait for activateChildSa, by SPI. */
  private readonly pendingOut = new Map<number, { vlink: string; sa: OutboundSa }>();
  /** What the guard was last set to; null: no vn_prefixes, no guard (vn-guard.ts). */
  guardSpec: GuardSpec | null = null;

  constructor(
    public cfg: NodeConfig,
    private readonly io: NodeIo,
    private readonly log: Logger,
  ) {
    this.receiver = new Receiver(this.sad, (n) => this.vlinks.get(n), this.nodeDrops);
  }

  private async ikeEngine(): Promise<IkeEngine> {
    if (this.ike !== null) return this.ike;
    const u = this.cfg.underlay;
    if (this.io.openIkeUdp === undefined) throw new IiptranError('IIPTRAN_ERR_CONFIG', 'ikev2 keying needs an IKE socket, and this node was started without one');
    const engine = new IkeEngine({
      log: this.log.child({ ike: true }),
      host: {
        send: (d) => this.ikeSend(d),
        installChild: (v, c, o) => this.installChildSa(v, c, o),
        removeChild: (v, c) => this.removeChildSa(v, c),
        activateChild: (v, c) => this.activateChildSa(v, c),
        childUsage: (v, c) => this.childUsage(v, c),
        allocSpi: () => this.allocSpi(),
        sendKeepalive: (addr, port) => this.udp?.send([{ data: NAT_KEEPALIVE, addr, port, tos: 0 }]),
      },
      ...(this.io.ikeKeyLog === undefined ? {} : { keyLog: this.io.ikeKeyLog }),
      ...(this.io.ikeRetransmit === undefined ? {} : { retransmit: this.io.ikeRetransmit }),
      ...(this.io.ikeClock === undefined ? {} : { clock: this.io.ikeClock }),
      // Engine-wide, so read once: a reload does not change them (restart the daemon).
      ...(this.cfg.ikeCookieThreshold === undefined ? {} : { cookieThreshold: this.cfg.ikeCookieThreshold }),
      ...(this.cfg.ikeNatKeepaliveS === undefined ? {} : { natKeepaliveMs: this.cfg.ikeNatKeepaliveS * 1000 }),
      ...(this.cfg.ikeRetryMaxS === undefined ? {} : { reinitMaxMs: this.cfg.ikeRetryMaxS * 1000 }),
    });
    this.ikeSocket = await this.io.openIkeUdp(
      u.address,
      IKE_PORT,
      (data, from) => this.guarded('IKE message', data, () => engine.receive(data, from, 500)),
      (e) => this.log.warn({ err: e.message }, 'IKE socket error'),
    );
    // IKE on 4500 shares the ESP socket, marked by four zero bytes (RFC 3948 §2.2).
    this.receiver.onNonEsp = (d) =>
      this.guarded('IKE message', d.data, () => engine.receive(d.data.subarray(NON_ESP_MARKER_LEN), { addr: d.addr, port: d.port }, 4500));
    this.ike = engine;
    if (this.io.ikeKeyLog !== undefined) this.log.warn('IKE key log enabled: every IKE and ESP secret is written out; never do this in production');
    return engine;
  }

  /**
   * Nothing from the network may take the daemon down. The packet paths are written never to
   * throw; should a bug make one throw anyway, that input is dropped, counted and logged with
   * the first bytes that caused it, and the node keeps serving everyone else.
   */
  private guarded(what: string, sample: Buffer | undefined, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.nodeDrops['internal-error']++;
      this.log.error(
        { err: e instanceof Error ? e.stack : String(e), sample: sample?.subarray(0, 64).toString('hex') },
        `${what} made a handler throw (a bug, please report it with this line): dropped, daemon keeps running`,
      );
    }
  }

  private ikeSend(d: IkeDatagram): void {
    if (d.localPort === 500) {
      this.ikeSocket?.send(d.data, d.addr, d.port);
      return;
    }
    const marked = Buffer.concat([Buffer.alloc(NON_ESP_MARKER_LEN), d.data]);
    this.udp?.send([{ data: marked, addr: d.addr, port: d.port, tos: 0 }]);
  }

  /** A random inbound SPI no SA on this node uses, nor any manual spi_in of the config. */
  allocSpi(): number {
    const manual = new Set(this.cfg.vlinks.map((v) => (v.keying.mode === 'manual' ? v.keying.spiIn : 0)));
    for (;;) {
      const spi = randomBytes(4).readUInt32BE(0);
      if (spi >= 0x100 && this.sad.get(spi) === undefined && !manual.has(spi)) return spi;
    }
  }

  /**
   * Puts a negotiated CHILD_SA into the data plane: the inbound SA first, so the peer's first
   * packet under the new SA is already accepted, then the outbound one.
   */
  installChildSa(vlink: string, c: ChildSaParams, opts?: { outbound?: boolean }): void {
    const v = this.vlinks.get(vlink);
    const p = this.prepared.get(vlink);
    if (v === undefined || p === undefined) throw new Error(`no vlink ${vlink}`);
    const local = this.cfg.underlay.address;
    // Behind a NAT the peer's packets arrive from the NAT's address, and receive.ts accepts an
    // authentic packet only from its SA's source: so the inbound SA's source is the address IKE
    // saw (RFC 3948 transport mode; no NAT-OA is needed, IPIP has no checksum to fix up). An
    // install without one (a rekey) keeps what the vlink learned. The ESP port follows the IKE
    // SA's port when IKE runs on 4500: both share the NAT mapping.
    const seen = c.peerAddr ?? v.peerDst;
    v.peerDst = seen;
    if (c.peerPort !== undefined && v.encap === 'udp') v.peerPort = c.peerPort;
    const inn = newInboundSa({
      spi: c.spiIn, suite: c.suite, key: c.keyIn, salt: c.saltIn, esn: c.esn, src: seen, dst: local, replayWindow: p.cfg.replayWindow, keying: 'ikev2',
    });
    const out = newOutboundSa({ spi: c.spiOut, suite: c.suite, key: c.keyOut, salt: c.saltOut, esn: c.esn, src: local, dst: seen, keying: 'ikev2' });
    this.sad.add(inn, vlink);
    v.inbound.push(inn);
    if (opts?.outbound === false) this.pendingOut.set(c.spiOut, { vlink, sa: out });
    else {
      const back = v.policy.sa === null;
      v.policy.sa = out;
      // IKE just authenticated the peer: the link is usable again without waiting for liveness.
      if (back) this.ikeCarrier(v, true, 'CHILD_SA installed');
    }
  }

  /** Switches a vlink's outbound traffic to an SA installed with `outbound: false`. */
  activateChildSa(vlink: string, c: { spiIn: number; spiOut: number }): void {
    const p = this.pendingOut.get(c.spiOut);
    const v = this.vlinks.get(vlink);
    if (p === undefined || p.vlink !== vlink || v === undefined) return;
    this.pendingOut.delete(c.spiOut);
    v.policy.sa = p.sa;
  }

  childUsage(vlink: string, c: { spiIn: number; spiOut: number }): ChildUsage | null {
    const v = this.vlinks.get(vlink);
    if (v === undefined) return null;
    const inn = this.sad.get(c.spiIn);
    const out = v.policy.sa?.spi === c.spiOut ? v.policy.sa : this.pendingOut.get(c.spiOut)?.sa;
    return {
      inPackets: inn?.sa.stats.packets ?? 0,
      inBytes: inn?.sa.stats.bytes ?? 0,
      outPackets: out?.stats.packets ?? 0,
      outBytes: out?.stats.bytes ?? 0,
      outSeq: out?.seq ?? 0,
    };
  }

  /** Takes a CHILD_SA out of the data plane; the vlink drops packets as no-sa until the next one. */
  removeChildSa(vlink: string, c: { spiIn: number; spiOut: number }): void {
    const v = this.vlinks.get(vlink);
    if (v === undefined) return;
    const i = v.inbound.findIndex((s) => s.spi === c.spiIn);
    if (i >= 0) {
      v.inbound.splice(i, 1);
      this.sad.remove(c.spiIn);
    }
    if (v.policy.sa?.spi === c.spiOut) {
      v.policy.sa = null;
      this.ikeCarrier(v, false, 'no CHILD_SA left');
    }
    this.pendingOut.delete(c.spiOut);
  }

  /**
   * Carrier follows IKE on the transitions liveness cannot see: off as soon as the last SA goes
   * (DPD, a Delete, a restarted peer), on when one is back. With no inbound SA no packet can
   * authenticate, so the liveness monitor cannot raise the carrier in between; after a new SA it
   * gets a fresh dead interval of grace.
   */
  private ikeCarrier(v: Vlink, up: boolean, why: string): void {
    if (this.stopped) return;
    v.rxAlive = false;
    v.lastAliveAt = Date.now();
    if (v.carrier === up) return;
    v.carrier = up;
    v.tun.setCarrier(up);
    if (up) this.log.info({ vlink: v.name, peer: v.peer }, `${why}: carrier on`);
    else this.log.warn({ vlink: v.name, peer: v.peer }, `${why}: carrier off (routing daemons see the link down; packets drop as no-sa)`);
  }

  /** Validate keys, SAs and MTUs of every vlink without touching the system. */
  prepare(cfg: NodeConfig): Map<string, PreparedVlink> {
    const out = new Map<string, PreparedVlink>();
    const problems: string[] = [];
    cfg.vlinks.forEach((v, i) => {
      try {
        out.set(v.name, prepareVlink(cfg, v, i));
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
    } catch (e) {
      // Half a node is worse than none: undo what was created, then report. The guard stays,
      // as after a crash: no daemon runs, so VN traffic must still not leave in clear.
      await this.stop({ keepGuard: true });
      throw e;
    }
    this.log.info({ node: this.cfg.node, vlinks: [...this.vlinks.keys()] }, 'node started');
  }

  private socketFor(encap: 'udp' | 'esp'): UnderlaySocket {
    const u = this.cfg.underlay;
    if (encap === 'udp') {
      if (this.udp === null) {
        this.udp = this.io.openUdp(u.address, u.port);
        this.udp.onDatagrams((d) => this.guarded('UDP batch', d[0]?.data, () => this.receiver.process('udp', d)));
      }
      return this.udp;
    }
    if (this.esp === null) {
      this.esp = this.io.openRawEsp(u.address);
      this.esp.onDatagrams((d) => this.guarded('ESP batch', d[0]?.data, () => this.receiver.process('esp', d)));
    }
    return this.esp;
  }

  private async addVlink(p: PreparedVlink): Promise<void> {
    const c = p.cfg;
    const vnAddr = c.address.split('/')[0]!;
    const underlay = this.socketFor(c.encap);
    const tun = this.io.openTun(c.name);
    try {
      await this.io.netsys.configureLink({
        name: c.name,
        mtu: p.mtu,
        address: vnAddr,
        prefixLen: c.prefixLen,
        peer: c.peerAddress,
      });
    } catch (e) {
      tun.close();
      throw e;
    }
    const local = this.cfg.underlay.address;
    const policy = this.spd.add({
      src: local,
      dst: c.peer,
      srcU32: ipv4ToU32(local),
      dstU32: ipv4ToU32(c.peer),
      proto: IPPROTO_IPIP,
      action: 'protect',
      vlink: c.name,
      // IKEv2 vlinks start with none: their packets drop as no-sa, never leave in clear.
      sa: p.out,
    });
    if (p.in !== null) this.sad.add(p.in, c.name);
    const v: Vlink = {
      name: c.name,
      local,
      peer: c.peer,
      peerDst: c.peer,
      localU32: ipv4ToU32(local),
      peerU32: ipv4ToU32(c.peer),
      peerPort: c.peerPort,
      encap: c.encap,
      vnAddr,
      vnAddrU32: ipv4ToU32(vnAddr),
      vnPrefixLen: c.prefixLen,
      vnPeer: c.peerAddress,
      icmpSrcU32: linkPeerU32(ipv4ToU32(vnAddr), c.prefixLen, c.peerAddress === undefined ? undefined : ipv4ToU32(c.peerAddress)),
      mtu: p.mtu,
      tun,
      underlay,
      policy,
      inbound: p.in === null ? [] : [p.in],
      drops: newDropCounters(),
      stats: newVlinkStats(),
      carrier: true,
      rxAlive: false,
      lastAliveAt: Date.now(),
    };
    this.vlinks.set(c.name, v);
    this.prepared.set(c.name, p);
    tun.onPackets((pkts) => this.guarded(`${c.name} batch`, pkts[0], () => this.sender.process(v, pkts)));
    if (c.liveness !== null) {
      const m = new LivenessMonitor(v, c.liveness, (x) => this.sender.sendProbe(x), (x, up) =>
        up
          ? this.log.info({ vlink: x.name, peer: x.peer }, 'peer answering again: carrier on')
          : this.log.warn({ vlink: x.name, peer: x.peer, deadMs: c.liveness!.deadMs }, 'peer silent: carrier off (routing daemons see the link down)'),
      );
      this.monitors.set(c.name, m);
      m.start();
    }
    if (p.ike !== null) {
      this.log.info({ vlink: c.name, peer: c.peer, encap: c.encap, mtu: p.mtu, role: p.ike.role }, `vlink up; no SA until IKEv2 negotiates one (${p.ike.role})`);
      (await this.ikeEngine()).addPeer(p.ike);
      return;
    }
    this.log.info(
      { vlink: c.name, peer: c.peer, encap: c.encap, mtu: p.mtu, spiOut: hex(p.out!.spi), spiIn: hex(p.in!.spi), suite: p.out!.suite },
      'vlink up',
    );
    this.log.warn(
      { vlink: c.name },
      'manual keying: these SAs never rekey, and sequence numbers restart at 1 when this daemon restarts, ' +
        "so the peer's replay window drops our traffic until it restarts too; use IKEv2 for production",
    );
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
    this.monitors.get(name)?.stop();
    this.monitors.delete(name);
    this.spd.removeVlink(name);
    this.sad.removeVlink(name);
    this.receiver.forget(v);
    this.vlinks.delete(name);
    this.prepared.delete(name);
    v.tun.close();
    this.log.info({ vlink: name }, 'vlink removed');
  }

  /**
   * SIGHUP: apply a new config, touching only vlinks that changed. Everything is validated
   * (including key files) before anything is changed, so a bad config leaves the running one
   * intact.
   */
  async reload(next: NodeConfig): Promise<{ added: string[]; removed: string[]; kept: string[] }> {
    for (const f of ['node', 'controlSocket'] as const) {
      if (next[f] !== this.cfg[f]) throw new ConfigError(snake(f), 'cannot change on reload; restart the daemon');
    }
    const u = this.cfg.underlay;
    if (next.underlay.address !== u.address || next.underlay.port !== u.port || next.underlay.mtu !== u.mtu) {
      throw new ConfigError('underlay', 'cannot change on reload; restart the daemon');
    }
    const prepared = this.prepare(next);
    this.guardSpec = await applyGuard(this.io.guard, next, this.guardSpec, 'reload', this.log);
    const kept: string[] = [];
    const removed: string[] = [];
    const added: string[] = [];
    for (const name of [...this.vlinks.keys()]) {
      const old = this.prepared.get(name);
      const neu = prepared.get(name);
      if (old !== undefined && neu !== undefined && sameVlink(old, neu)) {
        kept.push(name);
        continue;
      }
      this.removeVlink(name);
      removed.push(name);
    }
    for (const [name, p] of prepared) {
      if (this.vlinks.has(name)) continue;
      await this.addVlink(p);
      added.push(name);
    }
    this.cfg = next;
    this.log.info({ added, removed, kept }, 'config reloaded');
    return { added, removed, kept };
  }

  /** Clean stop (SIGTERM/SIGINT) removes the guard; `keepGuard` is for a start that failed. */
  async stop(opts: { keepGuard?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ike?.stop();
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

function prepareVlink(cfg: NodeConfig, v: VlinkConfig, i: number): PreparedVlink {
  const max = vlinkMtu(cfg.underlay.mtu, v.encap);
  let mtu = max;
  if (v.mtu !== 'auto') {
    // Config validation already refused this; kept for NodeConfigs built in code.
    const bad = vlinkMtuProblem(cfg.underlay.mtu, v.encap, v.mtu);
    if (bad !== undefined) throw new ConfigError(`vlinks[${i}].mtu`, bad);
    mtu = v.mtu;
  }
  const k = v.keying;
  const local = cfg.underlay.address;
  if (k.mode === 'ikev2') {
    if (k.auth === 'pubkey') {
      const pk = loadPubkeyAuth(k.privateKey, k.peerPublicKey);
      return { cfg: v, mtu, out: null, in: null, ike: ikePeerConfig(v.name, local, v.peer, k, Buffer.alloc(0), pk), keyId: pubkeyFingerprint(pk) };
    }
    const psk = loadPskFile(k.pskFile);
    const keyId = createHash('sha256').update(psk).digest('base64');
    return { cfg: v, mtu, out: null, in: null, ike: ikePeerConfig(v.name, local, v.peer, k, psk), keyId };
  }
  const kin = loadKeyFile(k.keyIn, k.suite);
  const kout = loadKeyFile(k.keyOut, k.suite);
  const out = newOutboundSa({ spi: k.spiOut, suite: k.suite, key: kout.key, salt: kout.salt, esn: k.esn, src: local, dst: v.peer });
  const inn = newInboundSa({
    spi: k.spiIn,
    suite: k.suite,
    key: kin.key,
    salt: kin.salt,
    esn: k.esn,
    src: v.peer,
    dst: local,
    replayWindow: v.replayWindow,
  });
  const keyId = Buffer.concat([kin.key, kin.salt, kout.key, kout.salt]).toString('base64');
  return { cfg: v, mtu, out, in: inn, ike: null, keyId };
}

function sameVlink(a: PreparedVlink, b: PreparedVlink): boolean {
  return a.keyId === b.keyId && a.mtu === b.mtu && JSON.stringify(a.cfg) === JSON.stringify(b.cfg);
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/** RFC 3948 §2.3: a NAT-keepalive is a single 0xff octet. */
const NAT_KEEPALIVE = Buffer.from([0xff]);

export function hex(spi: number): string {
  return '0x' + spi.toString(16).padStart(8, '0');
}
