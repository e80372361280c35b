// The IKEv2 engine of one node: every vlink with `keying.mode: ikev2` is a peer here. It
// demultiplexes datagrams to IKE SAs by SPI (sa-table.ts), runs the exchanges (exchange-*.ts for
// IKE_SA_INIT and IKE_AUTH, responder.ts for the peer's requests, tasks/ for ours), and hands
// negotiated CHILD_SAs to the node through IkeHost. It never throws on network input: every
// datagram ends in an exchange, an answer the RFC asks for, or a counted, logged drop
// (drop-reasons.ts).

import type { Logger } from 'pino';
import {
  ExchangeType, IkeMessageCodec, IKE_MAX_MESSAGE_LEN, NotifyType, PayloadType, notify, notifyForDecodeError, notifyName,
  type DecodedMessage, type MessageError,
} from '../wire/ike/index.js';
import { realClock, type Clock } from '../clock.js';
import { DEFAULT_AUTH_TIMEOUT_MS } from './authorise.js';
import type { CookieStats } from './cookie.js';
import { ikeSuiteName } from './crypto/suites.js';
import type { ExchangeContext } from './context.js';
import { DosGate } from './dos-gate.js';
import { IkeDrops } from './drop-reasons.js';
import { onAuthResponse } from './exchange-auth.js';
import { sendDeleteIke } from './exchange-info.js';
import { initError, onInitRequest, onInitResponse } from './exchange-init.js';
import { IkeSa, type IkeSaIo, type Remote } from './ike-sa.js';
import { authenticatedFrom, DEFAULT_NAT_KEEPALIVE_MS, namedCandidates, natCandidates } from './nat.js';
import { hasNotify, notifies } from './payloads.js';
import { PeerTable } from './peers.js';
import type { PeerUpdate } from './peer-update.js';
import { DEFAULT_REINIT } from './reinit.js';
import { Rekeyer, type RekeyOptions } from './rekey.js';
import { Responder } from './responder.js';
import { isInvalidIkeSpi } from './restart.js';
import { DEFAULT_RETRANSMIT, type RetransmitPolicy } from './retransmit.js';
import { SaTable } from './sa-table.js';
import { DeadPeerDetector } from './dpd.js';
import type { IkeDatagram, IkeHost, IkeKeyLogRecord, IkePeerConfig } from './types.js';
import type { IkePeerView } from './view.js';
import { hex64 } from '../wire/hex.js';

export interface IkeEngineOptions {
  log: Logger;
  host: IkeHost;
  /** Every timer and age of the engine; tests pass a FakeClock (../fake-clock.ts). Default: the real one. */
  clock?: Clock;
  retransmit?: Partial<RetransmitPolicy>;
  /** Responder: an SA whose IKE_AUTH never came is forgotten after this. Default 30 s. */
  halfOpenTimeoutMs?: number;
  /** More half-open SAs than this and new IKE_SA_INIT requests are dropped, cookie or not. */
  maxHalfOpen?: number;
  /** Half-open SAs at which IKE_SA_INIT must bring a COOKIE (cookie.ts); 0: always. Default 10. */
  cookieThreshold?: number;
  cookieRotateMs?: number;
  /** NAT keepalive interval from the end behind a NAT (nat.ts); 0: none. Default 20 s. */
  natKeepaliveMs?: number;
  /** Initiator: first wait before trying again after a failure; doubles up to reinitMaxMs. */
  reinitMs?: number;
  reinitMaxMs?: number;
  /** Up to this fraction of each retry wait is taken off at random (reinit.ts). Default 0.2. */
  reinitJitter?: number;
  random?: () => number;
  /** Receives every derived secret (IKE SA keys, CHILD_SA keys). Off unless asked for. */
  keyLog?: (rec: IkeKeyLogRecord) => void;
  /** Rekey timing (rekey.ts): poll period, grace period of old inbound SAs, jitter. */
  rekey?: RekeyOptions;
  /** How long IKE_AUTH may wait for the peer's authorisation (authorise.ts). Default 10 s. */
  authTimeoutMs?: number;
  /** How long a deleted IKE SA's last response is kept for retransmissions (sa-table.ts). Default 60 s. */
  deletedSaKeepMs?: number;
}

export interface IkeStats {
  rx: number;
  tx: number;
  dropped: Record<string, number>;
  /** Responder SAs waiting for IKE_AUTH, and whether new IKE_SA_INIT needs a cookie at that count. */
  halfOpen: number;
  cookieMode: boolean;
  cookies: CookieStats;
  natKeepalives: number;
  /** Completed rekeys per vlink (both roles; a redundant SA of a simultaneous rekey counts too): metrics. */
  rekeys: Record<string, { ike: number; child: number }>;
}

export class IkeEngine {
  readonly stats: IkeStats;
  private readonly clock: Clock;
  private readonly ctx: ExchangeContext;
  private readonly sas: SaTable;
  private readonly peers: PeerTable;
  private readonly drops: IkeDrops;
  private readonly gate: DosGate;
  private readonly dpd: DeadPeerDetector;
  private readonly rekey: Rekeyer;
  private readonly responder: Responder;
  private readonly saIo: IkeSaIo;
  private stopped = false;

  constructor(private readonly opts: IkeEngineOptions) {
    const clock = (this.clock = opts.clock ?? realClock);
    const log = opts.log;
    this.drops = new IkeDrops(log, clock);
    this.sas = new SaTable(clock, opts.deletedSaKeepMs);
    const send = (d: IkeDatagram) => {
      this.stats.tx++;
      opts.host.send(d);
    };
    this.saIo = { send, log, retransmit: { ...DEFAULT_RETRANSMIT, ...opts.retransmit }, clock };
    this.ctx = {
      log,
      host: opts.host,
      authTimeoutMs: opts.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
      send,
      keyLog: (rec) => {
        // Every rekeyed SA's keys pass here, marked (exchange-child.ts, tasks/child-sas.ts):
        // the one place that sees both kinds, in both roles.
        if (rec['rekey'] === 1 || rec['rekeyOf'] !== undefined) {
          const vl = String(rec['vlink']);
          const c = (this.stats.rekeys[vl] ??= { ike: 0, child: 0 });
          if (rec['type'] === 'ike') c.ike++;
          else c.child++;
        }
        opts.keyLog?.(rec);
      },
      established: (sa) => this.peers.established(sa),
      failed: (sa, why, retry) => this.peers.failed(sa, why, retry),
      indexed: (sa) => this.sas.index(sa),
    };
    this.dpd = new DeadPeerDetector({
      log,
      clock,
      espPackets: (sa) => sa.children.reduce((n, c) => n + (opts.host.childUsage?.(sa.cfg.vlink, c)?.inPackets ?? 0), 0),
      dead: (sa, why) => this.peers.failed(sa, `${why}; IKE SA and its CHILD_SAs deleted (${sa.cfg.vlink} drops packets as no-sa, carrier off)`, true),
    });
    this.rekey = new Rekeyer({
      ctx: this.ctx,
      host: opts.host,
      log,
      clock,
      newSa: (cfg, role, spiI, remote) => new IkeSa(cfg, role, spiI, remote, this.saIo),
      adopt: (sa, current) => this.peers.adopt(sa, current),
      retire: (sa, why) => {
        log.info({ vlink: sa.cfg.vlink, ike: sa.name }, `IKE_SA ${sa.name} ${why}`);
        this.peers.forget(sa, null);
      },
    }, opts.rekey);
    this.peers = new PeerTable({
      log, clock, host: opts.host, ctx: this.ctx, sas: this.sas, dpd: this.dpd, rekey: this.rekey, saIo: this.saIo,
      reinit: {
        baseMs: opts.reinitMs ?? DEFAULT_REINIT.baseMs, maxMs: opts.reinitMaxMs ?? DEFAULT_REINIT.maxMs, jitter: opts.reinitJitter ?? DEFAULT_REINIT.jitter,
        ...(opts.random === undefined ? {} : { random: opts.random }),
      },
      natKeepaliveMs: opts.natKeepaliveMs ?? DEFAULT_NAT_KEEPALIVE_MS,
      keepalive: (addr, port) => {
        this.stats.natKeepalives++;
        opts.host.sendKeepalive?.(addr, port);
      },
      stopped: () => this.stopped,
    });
    this.gate = new DosGate(opts, clock, log, this.drops, send, (addr) => this.peers.isPeerAddr(addr));
    this.responder = new Responder({ ctx: this.ctx, peers: this.peers, rekey: this.rekey, drops: this.drops, internalError: (e, raw) => this.internalError(e, raw) });
    this.stats = { rx: 0, tx: 0, dropped: this.drops.counts as Record<string, number>, halfOpen: 0, cookieMode: false, cookies: this.gate.cookies.stats, natKeepalives: 0, rekeys: Object.create(null) as IkeStats['rekeys'] };
    // Live values, read whenever the stats are copied for the inspector.
    Object.defineProperty(this.stats, 'halfOpen', { enumerable: true, get: () => this.sas.halfOpenCount });
    Object.defineProperty(this.stats, 'cookieMode', { enumerable: true, get: () => this.gate.cookieMode(this.sas.halfOpenCount) });
  }

  /** A vlink with IKEv2 keying; an initiator starts negotiating at once. */
  addPeer(cfg: IkePeerConfig): void {
    this.peers.add(cfg);
  }

  /** Forgets a vlink: its SAs are deleted (the peer is told, once) and never retried. */
  removePeer(vlink: string): void {
    this.peers.remove(vlink, sendDeleteIke);
  }

  /** A reload changed the vlink's IKE settings: keep, rekey or re-establish (peer-update.ts). */
  /** A named peer resolved to a new address (peers.ts relocate); null when moved, else why not. */
  relocatePeer(vlink: string, addr: string, role: 'initiator' | 'responder'): string | null {
    return this.peers.relocate(vlink, addr, role);
  }

  /** Make-before-break after a relocation: a new IKE SA with the new address (initiator role). */
  reconnectPeer(vlink: string): void {
    if (!this.stopped) this.peers.reconnect(vlink);
  }

  updatePeer(cfg: IkePeerConfig, credentialsChanged: boolean): PeerUpdate {
    return this.peers.update(cfg, credentialsChanged, sendDeleteIke);
  }

  stop(): void {
    this.stopped = true;
    this.dpd.stop();
    this.rekey.stop();
    this.peers.removeAll(sendDeleteIke);
  }

  /** A handler threw, now or in work it left for later: the input is dropped, the engine serves on. */
  private internalError(e: unknown, sample: Buffer): void {
    this.drops.count('internal-error');
    this.opts.log.error({ err: e instanceof Error ? e.stack : String(e), sample: sample.subarray(0, 64).toString('hex') },
      'IKE message made a handler throw (a bug, please report it with this line): dropped, the engine keeps running');
  }

  /**
   * One IKE datagram (the non-ESP marker already stripped on 4500). `data` may be a view into a
   * buffer the caller reuses; it is copied before anything keeps it.
   */
  receive(data: Buffer, from: { addr: string; port: number }, localPort: 500 | 4500): void {
    this.stats.rx++;
    if (this.stopped) {
      this.drops.drop('stopped', from.addr, 'the IKE engine is shutting down');
      return;
    }
    if (data.length > IKE_MAX_MESSAGE_LEN) {
      this.drops.drop('oversized', from.addr, `${data.length} bytes is more than an IKE message can be`);
      return;
    }
    const raw = Buffer.from(data);
    const m = IkeMessageCodec.decode(raw);
    if (!m.ok) {
      this.undecodable(m, from, localPort);
      return;
    }
    const h = m.header;
    if (h.exchangeType === ExchangeType.IKE_SA_INIT && !h.response) {
      this.initRequest(m, raw, { addr: from.addr, port: from.port, localPort });
      return;
    }
    // The I flag says who created the SA, so whose SPI is ours (RFC 7296 §2.2).
    const ourSpi = h.initiator ? h.spiR : h.spiI;
    const sa = this.sas.get(ourSpi);
    if (sa === undefined || sa.role !== (h.initiator ? 'responder' : 'initiator') || sa.remote.addr !== from.addr || sa.state === 'DELETED') {
      if (sa === undefined) this.noSa(m, raw, ourSpi, from, localPort);
      else this.drops.drop('unknown-spi', from.addr, `no IKE SA with SPI ${hex64(ourSpi)} for this peer (exchange ${h.exchangeType})`);
      return;
    }
    if (h.response) this.response(sa, m, raw);
    else this.request(sa, m, raw, { addr: from.addr, port: from.port, localPort });
  }

  /** A message for an SA we do not have: one deleted moments ago may still owe its last answer. */
  private noSa(m: DecodedMessage, raw: Buffer, ourSpi: bigint, from: { addr: string; port: number }, localPort: 500 | 4500): void {
    const h = m.header;
    const gone = this.sas.deletedSa(ourSpi, from.addr);
    if (gone !== undefined && !h.response && h.messageId === gone.messageId && raw.equals(gone.request)) {
      this.opts.log.debug({ peer: from.addr, ike: gone.name, messageId: h.messageId }, 'retransmitted request for a deleted IKE SA: re-sent its cached response');
      this.ctx.send({ data: gone.response, addr: from.addr, port: from.port, localPort });
      return;
    }
    if (!h.response) this.gate.answerUnknownSpi(h, from, localPort, gone, this.clock.now());
    if (gone !== undefined) this.drops.drop('deleted-sa', from.addr, `exchange ${h.exchangeType} ${h.response ? 'response' : 'request'} ${h.messageId} for IKE SA ${gone.name}, which we deleted`);
    else this.drops.drop('unknown-spi', from.addr, `no IKE SA with SPI ${hex64(ourSpi)} for this peer (exchange ${h.exchangeType})`);
  }

  private undecodable(m: MessageError, from: { addr: string; port: number }, localPort: 500 | 4500): void {
    const h = m.header;
    // Only IKE_SA_INIT may be answered unprotected, and only to a configured peer: anything
    // else could turn us into a reflector.
    if (h !== undefined && h.exchangeType === ExchangeType.IKE_SA_INIT && !h.response && h.messageId === 0 && this.peers.isPeerAddr(from.addr)) {
      const n = notifyForDecodeError(m.error);
      if (n !== null) {
        const data = n === NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD ? Buffer.from([m.payloadType ?? 0]) : Buffer.alloc(0);
        this.ctx.send({ data: initError(h, notify(n, data)), addr: from.addr, port: from.port, localPort });
        this.drops.drop(m.error, from.addr, `IKE_SA_INIT is malformed (${m.detail}); answered ${notifyName(n)}`);
        return;
      }
    }
    this.drops.drop(m.error, from.addr, `${m.error}: ${m.detail}`);
  }

  private initRequest(m: DecodedMessage, raw: Buffer, remote: Remote): void {
    const h = m.header;
    if (h.messageId !== 0 || h.spiR !== 0n) {
      this.drops.drop('bad-init', remote.addr, 'IKE_SA_INIT request with a responder SPI or message ID');
      return;
    }
    // Behind a NAT the initiator's address is the NAT's, which no config may name: nat.ts lets
    // IDi pick the vlink then, but only for an initiator that says it is behind a NAT.
    const byNat = this.peers.isPeerAddr(remote.addr) ? [] : natCandidates(m.payloads, h.spiI, remote, this.peers.configs());
    const named = this.peers.isPeerAddr(remote.addr) || byNat.length > 0 ? [] : namedCandidates(m.payloads, this.peers.namedConfigs());
    const cfg = this.peers.byAddress(remote.addr) ?? byNat[0] ?? named[0];
    if (cfg === undefined) {
      this.drops.drop('unknown-peer', remote.addr, `IKE_SA_INIT from ${remote.addr}, which is not the peer of any ikev2 vlink`);
      return;
    }
    const existing = this.sas.halfOpenSa(remote, h.spiI);
    if (existing !== undefined) {
      if (existing.isInitRetransmit(raw)) existing.resendLastResponse();
      else this.drops.drop('bad-init', remote.addr, 'a different IKE_SA_INIT reusing a half-open SPI');
      return;
    }
    if (!this.gate.admitInit(m, remote, this.sas.halfOpenCount)) return;
    const r = onInitRequest(this.ctx, cfg, m, raw, remote, this.saIo);
    if (r.kind === 'refused') {
      this.ctx.send({ data: r.reply, addr: remote.addr, port: remote.port, localPort: remote.localPort });
      this.opts.log.warn({ vlink: cfg.vlink, peer: remote.addr }, `IKE_SA_INIT from ${remote.addr}: ${r.why}`);
      if (r.failure) this.peers.noteFailure(cfg.vlink, `IKE_SA_INIT from ${remote.addr}: ${r.why}`);
      return;
    }
    const sa = r.sa;
    this.peers.addSa(cfg.vlink, sa);
    this.sas.index(sa);
    this.sas.addHalfOpen(sa);
    if (byNat.length > 0 && sa.nat !== null) sa.nat.unbound = true;
    if (named.length > 0) sa.addrUnproven = true;
    sa.after(this.opts.halfOpenTimeoutMs ?? 30000, () => {
      if (sa.state === 'CONNECTING') this.peers.failed(sa, `IKE_SA_INIT from ${remote.addr} was never followed by IKE_AUTH`, false);
    });
    this.opts.log.info({ vlink: cfg.vlink, peer: remote.addr, suite: ikeSuiteName(sa.suite!) }, `IKE_SA_INIT from ${remote.addr}: ${ikeSuiteName(sa.suite!)}`);
  }

  private request(sa: IkeSa, m: DecodedMessage, raw: Buffer, from: Remote): void {
    const h = m.header;
    const verdict = sa.checkRequest(h.messageId, raw);
    if (verdict === 'retransmit') {
      this.opts.log.debug({ vlink: sa.cfg.vlink, messageId: h.messageId }, 'retransmitted request: re-sent the cached response');
      return;
    }
    if (verdict === 'in-progress') {
      this.drops.drop('request-in-progress', sa.remote.addr, `request ${h.messageId} is a retransmission of one we are still working on (peer authorisation pending)`);
      return;
    }
    if (verdict === 'drop' || sa.sk === null) {
      this.drops.drop('message-id', sa.remote.addr, `request with message ID ${h.messageId} is outside the window`);
      return;
    }
    const opened = sa.sk.open(raw, m.payloads);
    if (!opened.ok && opened.stage === 'outer') {
      // Unauthenticated: may be forged, so it changes nothing and is not answered (RFC 7296 §2.21).
      this.drops.drop(opened.reason, sa.remote.addr, `request ${h.messageId}: ${opened.detail}`);
      return;
    }
    authenticatedFrom(sa, from);
    this.dpd.heard(sa);
    const reply = (payloads: Parameters<NonNullable<IkeSa['sk']>['seal']>[1]) =>
      sa.respond(raw, sa.sk!.seal(sa.header(h.exchangeType, true, h.messageId), payloads));
    if (!opened.ok) {
      const n = notifyForDecodeError(opened.reason) ?? NotifyType.INVALID_SYNTAX;
      reply([notify(n, n === NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD ? Buffer.from([opened.payloadType ?? 0]) : Buffer.alloc(0))]);
      const why = `request ${h.messageId} from ${sa.remote.addr} is malformed inside SK (${opened.detail}); answered ${notifyName(n)}`;
      if (sa.state !== 'ESTABLISHED') this.peers.failed(sa, why, false);
      else this.drops.drop(opened.reason, sa.remote.addr, why);
      return;
    }
    this.responder.handle(sa, h.exchangeType, opened.payloads, raw, reply);
  }

  private response(sa: IkeSa, m: DecodedMessage, raw: Buffer): void {
    const h = m.header;
    if (!sa.expects(h.exchangeType, h.messageId)) {
      this.drops.drop('unexpected-response', sa.remote.addr, `response ${h.messageId} (exchange ${h.exchangeType}) answers nothing we asked`);
      return;
    }
    if (this.staleCookie(sa, m)) {
      this.drops.drop('unexpected-response', sa.remote.addr, 'a COOKIE we already echo: the answer to an earlier copy of our IKE_SA_INIT');
      return;
    }
    if (h.exchangeType === ExchangeType.IKE_SA_INIT) {
      sa.takeResponse(h.exchangeType, h.messageId);
      onInitResponse(this.ctx, sa, m, raw);
      return;
    }
    const opened = sa.sk!.open(raw, m.payloads);
    if (!opened.ok && opened.stage === 'outer') {
      if (isInvalidIkeSpi(m)) {
        this.drops.drop('invalid-ike-spi', sa.remote.addr, `response ${h.messageId} is an unprotected INVALID_IKE_SPI: the peer does not know IKE SA ${sa.name}`);
        this.peers.restartHint(sa);
        return;
      }
      // Keep retransmitting: the real response may still come.
      this.drops.drop(opened.reason, sa.remote.addr, `response ${h.messageId}: ${opened.detail}`);
      return;
    }
    sa.takeResponse(h.exchangeType, h.messageId);
    this.dpd.heard(sa);
    if (!opened.ok) {
      this.peers.failed(sa, `response ${h.messageId} from ${sa.remote.addr} is malformed inside SK: ${opened.detail}`, true);
      return;
    }
    if (sa.tasks.onResponse(h.messageId, opened.payloads)) return;
    // A request of ours that was no task held the window; queued tasks may go now.
    sa.tasks.next();
    if (h.exchangeType !== ExchangeType.IKE_AUTH) return;
    const ps = opened.payloads;
    onAuthResponse(this.ctx, sa, ps).then(() => {
      if (sa.state === 'ESTABLISHED' && hasNotify(ps, NotifyType.INITIAL_CONTACT)) this.peers.initialContact(sa);
    }).catch((e: unknown) => this.internalError(e, raw));
  }

  /**
   * A COOKIE answering an earlier copy of our IKE_SA_INIT, which crossed the responder's first
   * COOKIE: we already echo that very cookie, so it is no news.
   */
  private staleCookie(sa: IkeSa, m: DecodedMessage): boolean {
    if (m.header.exchangeType !== ExchangeType.IKE_SA_INIT || sa.cookie === null) return false;
    const c = notifies(m.payloads).find((n) => n.notifyType === NotifyType.COOKIE);
    return c !== undefined && c.data.equals(sa.cookie) && !m.payloads.some((p) => p.type === PayloadType.SA);
  }

  /** For the inspector. */
  view(): IkePeerView[] {
    return this.peers.view();
  }

  /** Rekeys a vlink's IKE SA or CHILD_SA now (rekey.ts). Null, or why not. */
  rekeyNow(vlink: string, what: 'ike' | 'child'): string | null {
    const sa = this.peers.current(vlink);
    return sa === null ? `no established IKE SA for ${vlink}` : this.rekey.rekeyNow(sa, what);
  }

  /** Current SA of a vlink, for tests. */
  sa(vlink: string): IkeSa | null {
    return this.peers.current(vlink);
  }
}
