// The IKEv2 engine of one node: every vlink with `keying.mode: ikev2` is a peer here. It
// demultiplexes datagrams to IKE SAs by SPI, runs the exchanges (exchange-*.ts), and hands
// negotiated CHILD_SAs to the node through IkeHost. It never throws on network input: every
// datagram ends in an exchange, an answer the RFC asks for, or a counted, logged drop.

import type { Logger } from 'pino';
import {
  ExchangeType, IkeMessageCodec, IKE_MAX_MESSAGE_LEN, NotifyType, notify, notifyForDecodeError, notifyName, spiHex,
  type DecodedMessage, type MessageError,
} from '../../wire/ike/index.js';
import { ikeSuiteName } from './crypto/suites.js';
import type { ExchangeContext } from './context.js';
import { onAuthRequest, onAuthResponse } from './exchange-auth.js';
import { onInformationalRequest, refuseCreateChild, sendDeleteIke } from './exchange-info.js';
import { firstGroup, initError, onInitRequest, onInitResponse, sendInitRequest } from './exchange-init.js';
import { IkeSa, newIkeSpi, type Remote } from './ike-sa.js';
import { DEFAULT_RETRANSMIT, type RetransmitPolicy } from './retransmit.js';
import type { IkeDatagram, IkeHost, IkeKeyLogRecord, IkePeerConfig } from './types.js';
import { ikeSaView, type IkePeerView } from './view.js';
import { DeadPeerDetector } from './dpd.js';
import { Rekeyer, type RekeyOptions } from './rekey.js';
import { DEFAULT_REINIT, reinitDelay } from './reinit.js';
import { initialContactVictims, invalidIkeSpiAnswer, isInvalidIkeSpi, RateLimit } from './restart.js';
import { hasNotify } from './payloads.js';
import { CookieGuard, DEFAULT_COOKIE_THRESHOLD, type CookieStats } from './cookie.js';
import { planPeerUpdate, type PeerUpdate } from './peer-update.js';
import { authenticatedFrom, DEFAULT_NAT_KEEPALIVE_MS, natCandidates, natDetected, rebindByIdentity, startNatKeepalive } from './nat.js';

export interface IkeEngineOptions {
  log: Logger;
  host: IkeHost;
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
}

interface Peer {
  cfg: IkePeerConfig;
  sas: Set<IkeSa>;
  current: IkeSa | null;
  lastError: string | null;
  failures: number;
  reinit: NodeJS.Timeout | null;
  /** When `reinit` fires, for `show ike`. */
  reinitAt?: number | null;
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
}

/** One operator log line per key per interval: a flood of garbage must not become a flood of logs. */
class Throttle {
  private last = new Map<string, number>();
  constructor(private readonly ms: number) {}
  ok(key: string): boolean {
    const now = Date.now();
    const t = this.last.get(key);
    if (t !== undefined && now - t < this.ms) return false;
    if (this.last.size > 4096) this.last.clear();
    this.last.set(key, now);
    return true;
  }
}

export class IkeEngine {
  private readonly peers = new Map<string, Peer>();
  private readonly byAddr = new Map<string, Peer>();
  private readonly bySpi = new Map<bigint, IkeSa>();
  /** Responder SAs between IKE_SA_INIT and IKE_AUTH, by (peer address, SPIi): SPIr is not yet known to the peer. */
  private readonly halfOpen = new Map<string, IkeSa>();
  private readonly ctx: ExchangeContext;
  private readonly retransmit: RetransmitPolicy;
  private readonly throttle = new Throttle(10000);
  private readonly cookies: CookieGuard;
  readonly stats: IkeStats;
  private stopped = false;
  private readonly dpd: DeadPeerDetector;
  private readonly rekey: Rekeyer;
  /** Answers to requests for IKE SAs we do not know, per peer; hint-driven initiations, per vlink. */
  private readonly unknownSpiAnswers = new RateLimit(250);
  private readonly hintReinit = new RateLimit(10000);

  constructor(private readonly opts: IkeEngineOptions) {
    this.retransmit = { ...DEFAULT_RETRANSMIT, ...opts.retransmit };
    this.dpd = new DeadPeerDetector({
      log: opts.log,
      espPackets: (sa) => sa.children.reduce((n, c) => n + (opts.host.childUsage?.(sa.cfg.vlink, c)?.inPackets ?? 0), 0),
      dead: (sa, why) => this.onFailed(sa, `${why}; IKE SA and its CHILD_SAs deleted (${sa.cfg.vlink} drops packets as no-sa, carrier off)`, true),
    });
    this.cookies = new CookieGuard(opts.cookieThreshold ?? DEFAULT_COOKIE_THRESHOLD, opts.cookieRotateMs);
    this.stats = { rx: 0, tx: 0, dropped: {}, halfOpen: 0, cookieMode: false, cookies: this.cookies.stats, natKeepalives: 0 };
    // Live values, read whenever the stats are copied for the inspector.
    Object.defineProperty(this.stats, 'halfOpen', { enumerable: true, get: () => this.halfOpen.size });
    Object.defineProperty(this.stats, 'cookieMode', { enumerable: true, get: () => this.cookies.required(this.halfOpen.size) });
    const send = (d: IkeDatagram) => {
      this.stats.tx++;
      opts.host.send(d);
    };
    this.ctx = {
      log: opts.log,
      host: opts.host,
      send,
      keyLog: (rec) => opts.keyLog?.(rec),
      established: (sa) => this.onEstablished(sa),
      failed: (sa, why, retry) => this.onFailed(sa, why, retry),
      indexed: (sa) => this.bySpi.set(sa.ourSpi, sa),
    };
    this.rekey = new Rekeyer({
      ctx: this.ctx,
      host: opts.host,
      log: opts.log,
      newSa: (cfg, role, spiI, remote) => new IkeSa(cfg, role, spiI, remote, this.saIo()),
      adopt: (sa, current) => this.adopt(sa, current),
      retire: (sa, why) => {
        this.log.info({ vlink: sa.cfg.vlink, ike: sa.name }, `IKE_SA ${sa.name} ${why}`);
        this.forget(sa, null);
      },
    }, opts.rekey);
  }

  /** An IKE SA made by a rekey (rekey.ts) joins the tables without IKE_AUTH. */
  private adopt(sa: IkeSa, current: boolean): void {
    const p = this.peers.get(sa.cfg.vlink);
    if (p === undefined) return;
    p.sas.add(sa);
    this.bySpi.set(sa.ourSpi, sa);
    if (current) {
      p.current = sa;
      this.dpd.watch(sa);
      // The old SA's keepalives stop with it.
      this.natEstablished(sa);
    }
  }

  private get log(): Logger {
    return this.opts.log;
  }

  private saIo() {
    return { send: this.ctx.send, log: this.log, retransmit: this.retransmit };
  }

  /** A vlink with IKEv2 keying; an initiator starts negotiating at once. */
  addPeer(cfg: IkePeerConfig): void {
    if (this.peers.has(cfg.vlink)) throw new Error(`IKE peer for ${cfg.vlink} already exists`);
    if (this.byAddr.has(cfg.peer)) throw new Error(`two IKE vlinks with peer ${cfg.peer}`);
    const p: Peer = { cfg, sas: new Set(), current: null, lastError: null, failures: 0, reinit: null };
    this.peers.set(cfg.vlink, p);
    this.byAddr.set(cfg.peer, p);
    if (cfg.role === 'initiator' && !this.stopped) this.initiate(p);
  }

  /** Forgets a vlink: its SAs are deleted (the peer is told, once) and never retried. */
  removePeer(vlink: string): void {
    const p = this.peers.get(vlink);
    if (p === undefined) return;
    if (p.reinit !== null) clearTimeout(p.reinit);
    for (const sa of [...p.sas]) {
      sendDeleteIke(sa);
      this.forget(sa, 'vlink removed');
    }
    this.peers.delete(vlink);
    this.byAddr.delete(p.cfg.peer);
  }

  /** A reload changed the vlink's IKE settings; peer-update.ts decides what happens to its SAs. */
  updatePeer(cfg: IkePeerConfig, credentialsChanged: boolean): PeerUpdate {
    const p = this.peers.get(cfg.vlink);
    if (p === undefined) throw new Error(`no IKE peer for ${cfg.vlink}`);
    const cur = p.current;
    const u = planPeerUpdate(p.cfg, cfg, credentialsChanged, { ike: cur?.suite ?? null, children: cur?.children ?? [] });
    if (u.action === 'reestablish') {
      this.removePeer(cfg.vlink);
      this.addPeer(cfg);
      return u;
    }
    p.cfg = cfg;
    for (const sa of p.sas) sa.cfg = cfg;
    if (u.dpd && cur !== null) {
      this.dpd.unwatch(cur);
      this.dpd.watch(cur);
    }
    if (u.rekeyIke) this.rekeyNow(cfg.vlink, 'ike');
    if (u.rekeyChild) this.rekeyNow(cfg.vlink, 'child');
    if (cfg.role === 'responder' && p.reinit !== null) {
      clearTimeout(p.reinit);
      p.reinit = null;
      p.reinitAt = null;
    } else if (cfg.role === 'initiator' && p.sas.size === 0 && p.reinit === null) {
      this.initiate(p);
    }
    return u;
  }

  stop(): void {
    this.stopped = true;
    this.dpd.stop();
    this.rekey.stop();
    for (const name of [...this.peers.keys()]) this.removePeer(name);
  }

  private initiate(p: Peer): void {
    p.reinit = null;
    p.reinitAt = null;
    if (this.stopped || !this.peers.has(p.cfg.vlink)) return;
    const cfg = p.cfg;
    const sa = new IkeSa(cfg, 'initiator', newIkeSpi(), { addr: cfg.peer, port: cfg.peerPort, localPort: 500 }, this.saIo());
    sa.sendInitialContact = ![...p.sas].some((s) => s.state === 'ESTABLISHED');
    p.sas.add(sa);
    this.bySpi.set(sa.spiI, sa);
    this.log.info({ vlink: cfg.vlink, peer: cfg.peer }, `initiating IKE_SA with ${cfg.peer} for ${cfg.vlink}`);
    sendInitRequest(this.ctx, sa, firstGroup(cfg));
  }

  private scheduleReinit(p: Peer): void {
    if (this.stopped || p.cfg.role !== 'initiator' || p.reinit !== null || !this.peers.has(p.cfg.vlink)) return;
    if ([...p.sas].some((s) => s.state !== 'DELETED')) return;
    const o = this.opts;
    const policy = { baseMs: o.reinitMs ?? DEFAULT_REINIT.baseMs, maxMs: o.reinitMaxMs ?? DEFAULT_REINIT.maxMs, jitter: o.reinitJitter ?? DEFAULT_REINIT.jitter };
    const wait = reinitDelay(p.failures, policy, o.random);
    this.log.info({ vlink: p.cfg.vlink, peer: p.cfg.peer, waitMs: wait, attempt: p.failures + 1 },
      `retrying IKE with ${p.cfg.peer} in ${(wait / 1000).toFixed(1)} s (attempt ${p.failures + 1})`);
    p.reinitAt = Date.now() + wait;
    p.reinit = setTimeout(() => this.initiate(p), wait);
  }

  /** Removes an SA from every table and the data plane. */
  private forget(sa: IkeSa, reason: string | null): void {
    sa.close(reason);
    this.dpd.unwatch(sa);
    if (this.bySpi.get(sa.ourSpi) === sa) this.bySpi.delete(sa.ourSpi);
    const hk = `${sa.remote.addr}:${sa.spiI}`;
    if (this.halfOpen.get(hk) === sa) this.halfOpen.delete(hk);
    const p = this.peers.get(sa.cfg.vlink);
    if (p !== undefined) {
      p.sas.delete(sa);
      if (p.current === sa) p.current = null;
    }
    for (const c of sa.children.splice(0)) this.opts.host.removeChild(sa.cfg.vlink, { spiIn: c.spiIn, spiOut: c.spiOut });
  }

  private onFailed(sa: IkeSa, why: string, retry: boolean): void {
    const p = this.peers.get(sa.cfg.vlink);
    this.log.error({ vlink: sa.cfg.vlink, peer: sa.remote.addr, ike: sa.name }, why);
    this.forget(sa, why);
    if (p === undefined) return;
    p.lastError = why;
    p.failures++;
    if (retry) this.scheduleReinit(p);
  }

  private onEstablished(sa: IkeSa): void {
    const p = this.peers.get(sa.cfg.vlink);
    if (p === undefined) return;
    this.halfOpen.delete(`${sa.remote.addr}:${sa.spiI}`);
    const old = p.current;
    p.current = sa;
    p.failures = 0;
    p.lastError = null;
    this.natEstablished(sa);
    if (old !== null && old !== sa) {
      this.log.info({ vlink: sa.cfg.vlink, old: old.name, new: sa.name }, `IKE_SA ${old.name} with ${sa.remote.addr} replaced by ${sa.name}`);
      this.forget(old, 'replaced by a newer IKE SA');
    }
    const ms = Date.now() - sa.createdAt;
    this.log.info(
      { vlink: sa.cfg.vlink, peer: sa.remote.addr, role: sa.role, ike: sa.name, suite: ikeSuiteName(sa.suite!), ms },
      `IKE_SA with ${sa.remote.addr} ESTABLISHED as ${sa.role} in ${ms} ms (${ikeSuiteName(sa.suite!)})`,
    );
    // The peer initiated while we waited to retry: its SA serves.
    if (p.reinit !== null) clearTimeout(p.reinit);
    p.reinit = null;
    p.reinitAt = null;
    this.dpd.watch(sa);
    this.rekey.watch(sa);
  }

  /** An authenticated INITIAL_CONTACT (§2.4): the peer restarted, so its other SAs with us are stale. */
  private initialContact(sa: IkeSa): void {
    const all = [...this.peers.values()].flatMap((p) => [...p.sas]);
    const stale = initialContactVictims(all, sa);
    if (stale.length === 0) return;
    this.log.warn({ vlink: sa.cfg.vlink, peer: sa.remote.addr, stale: stale.map((s) => s.name) },
      `peer ${sa.remote.addr} (${sa.cfg.remoteId.text}) restarted (INITIAL_CONTACT): deleting ${stale.length} stale IKE SA(s) and their CHILD_SAs`);
    for (const old of stale) {
      const why = `peer ${old.remote.addr} restarted (INITIAL_CONTACT on IKE SA ${sa.name})`;
      // On another vlink nothing replaces it: fail it so an initiator there starts over.
      if (old.cfg.vlink === sa.cfg.vlink) this.forget(old, why);
      else this.onFailed(old, why, true);
    }
  }

  /**
   * A request for an IKE SA we do not have: most likely we restarted and the peer still holds the
   * old one. Telling it (§2.21.4) spares it the wait for DPD; only configured peers are answered,
   * and at a bounded rate, since the answer goes to an unauthenticated source.
   */
  private answerUnknownSpi(h: DecodedMessage['header'], from: { addr: string; port: number }, localPort: 500 | 4500): void {
    // A zero SPI of ours cannot name an SA anyone established with us: junk, not a lost SA.
    if ((h.initiator ? h.spiR : h.spiI) === 0n || h.exchangeType === ExchangeType.IKE_SA_INIT) return;
    if (!this.byAddr.has(from.addr) || !this.unknownSpiAnswers.take(from.addr)) return;
    this.ctx.send({ data: invalidIkeSpiAnswer(h), addr: from.addr, port: from.port, localPort });
    if (this.throttle.ok(`invalid-ike-spi-sent/${from.addr}`)) {
      this.log.warn({ peer: from.addr, spiI: spiHex(h.spiI), spiR: spiHex(h.spiR) },
        `${from.addr} asked about IKE SA ${spiHex(h.spiI)}_i ${spiHex(h.spiR)}_r, which we do not have (did this daemon restart?); answered INVALID_IKE_SPI`);
    }
  }

  /** A restarted peer's INVALID_IKE_SPI (unauthenticated, §2.21.4): it may only make us look closer. */
  private restartHint(sa: IkeSa): void {
    const p = this.peers.get(sa.cfg.vlink);
    if (p === undefined || sa.state !== 'ESTABLISHED') return;
    const trying = [...p.sas].some((s) => s.role === 'initiator' && s.state === 'CONNECTING');
    if (p.cfg.role === 'initiator' && !trying && p.reinit === null && this.hintReinit.take(p.cfg.vlink)) {
      this.log.warn({ vlink: sa.cfg.vlink, peer: sa.remote.addr, ike: sa.name },
        `peer ${sa.remote.addr} says it does not know IKE SA ${sa.name} (INVALID_IKE_SPI): it probably restarted; ` +
        'negotiating a new IKE SA (the old one stays until the new one replaces it or DPD declares the peer dead)');
      this.initiate(p);
      return;
    }
    this.dpd.checkNow(sa);
  }

  /** An SA that came in from behind a NAT joins the vlink its (authenticated, next) IDi names. */
  private rebind(sa: IkeSa, ps: Parameters<typeof rebindByIdentity>[1]): void {
    sa.nat!.unbound = false;
    const cfg = rebindByIdentity(sa, ps, [...this.peers.values()].map((x) => x.cfg));
    if (cfg === null || cfg.vlink === sa.cfg.vlink) return;
    this.peers.get(sa.cfg.vlink)?.sas.delete(sa);
    this.peers.get(cfg.vlink)?.sas.add(sa);
    this.log.info({ from: sa.cfg.vlink, vlink: cfg.vlink, peer: sa.remote.addr }, `IKE SA from ${sa.remote.addr} (behind a NAT) is for ${cfg.vlink}, by its identity ${cfg.remoteId.text}`);
    sa.cfg = cfg;
  }

  /** Logs what NAT detection found and starts keepalives when we are the end behind the NAT. */
  private natEstablished(sa: IkeSa): void {
    if (!natDetected(sa)) return;
    const where = [sa.nat!.local ? 'we are behind a NAT' : null, sa.nat!.remote ? 'the peer is behind a NAT' : null].filter((x) => x !== null).join(' and ');
    this.log.info({ vlink: sa.cfg.vlink, peer: sa.remote.addr, peerPort: sa.remote.port, natLocal: sa.nat!.local, natRemote: sa.nat!.remote },
      `NAT detected with ${sa.cfg.remoteId.text} (${where}): IKE and ESP use UDP ${sa.remote.localPort}, peer seen at ${sa.remote.addr}:${sa.remote.port}`);
    startNatKeepalive(sa, this.opts.natKeepaliveMs ?? DEFAULT_NAT_KEEPALIVE_MS, (addr, port) => {
      this.stats.natKeepalives++;
      this.opts.host.sendKeepalive?.(addr, port);
    });
  }

  /**
   * RFC 7296 §2.6: with too many half-open SAs, an IKE_SA_INIT without a valid COOKIE gets one
   * back and leaves no trace here. False when the request must go no further.
   */
  private cookieGate(m: DecodedMessage, remote: Remote): boolean {
    if (!this.cookies.required(this.halfOpen.size)) return true;
    const h = m.header;
    const verdict = this.cookies.check(m.payloads, remote.addr, h.spiI);
    if (verdict === 'valid') return true;
    const cookie = this.cookies.challenge(m.payloads, remote.addr, h.spiI);
    if (cookie !== null) this.ctx.send({ data: initError(h, notify(NotifyType.COOKIE, cookie)), addr: remote.addr, port: remote.port, localPort: remote.localPort });
    this.drop(verdict === 'missing' ? 'cookie-required' : 'bad-cookie', remote.addr,
      `${this.halfOpen.size} half-open IKE SAs (cookie threshold ${this.cookies.threshold}): IKE_SA_INIT ${verdict === 'missing' ? 'without a COOKIE' : 'with a COOKIE that does not verify'}; answered with a COOKIE, no state kept`);
    return false;
  }

  private drop(reason: string, from: string, detail: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    if (this.throttle.ok(`${reason}/${from}`)) this.log.warn({ peer: from, reason }, `IKE message from ${from} dropped: ${detail}`);
  }

  /**
   * One IKE datagram (the non-ESP marker already stripped on 4500). `data` may be a view into a
   * buffer the caller reuses; it is copied before anything keeps it.
   */
  receive(data: Buffer, from: { addr: string; port: number }, localPort: 500 | 4500): void {
    this.stats.rx++;
    if (this.stopped) return;
    if (data.length > IKE_MAX_MESSAGE_LEN) {
      this.drop('oversized', from.addr, `${data.length} bytes is more than an IKE message can be`);
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
    const sa = this.bySpi.get(ourSpi);
    if (sa === undefined || sa.role !== (h.initiator ? 'responder' : 'initiator') || sa.remote.addr !== from.addr || sa.state === 'DELETED') {
      if (sa === undefined && !h.response) this.answerUnknownSpi(h, from, localPort);
      this.drop('unknown-spi', from.addr, `no IKE SA with SPI ${spiHex(ourSpi)} for this peer (exchange ${h.exchangeType})`);
      return;
    }
    if (h.response) this.response(sa, m, raw);
    else this.request(sa, m, raw, { addr: from.addr, port: from.port, localPort });
  }

  private undecodable(m: MessageError, from: { addr: string; port: number }, localPort: 500 | 4500): void {
    const h = m.header;
    // Only IKE_SA_INIT may be answered unprotected, and only to a configured peer: anything
    // else could turn us into a reflector.
    if (h !== undefined && h.exchangeType === ExchangeType.IKE_SA_INIT && !h.response && h.messageId === 0 && this.byAddr.has(from.addr)) {
      const n = notifyForDecodeError(m.error);
      if (n !== null) {
        const data = n === NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD ? Buffer.from([m.payloadType ?? 0]) : Buffer.alloc(0);
        this.ctx.send({ data: initError(h, notify(n, data)), addr: from.addr, port: from.port, localPort });
        this.drop(m.error, from.addr, `IKE_SA_INIT is malformed (${m.detail}); answered ${notifyName(n)}`);
        return;
      }
    }
    this.drop(m.error, from.addr, `${m.error}: ${m.detail}`);
  }

  private initRequest(m: DecodedMessage, raw: Buffer, remote: Remote): void {
    const h = m.header;
    if (h.messageId !== 0 || h.spiR !== 0n) {
      this.drop('bad-init', remote.addr, 'IKE_SA_INIT request with a responder SPI or message ID');
      return;
    }
    // Behind a NAT the initiator's address is the NAT's, which no config may name: nat.ts lets
    // IDi pick the vlink then, but only for an initiator that says it is behind a NAT.
    const byNat = this.byAddr.has(remote.addr) ? [] : natCandidates(m.payloads, h.spiI, remote, [...this.peers.values()].map((x) => x.cfg));
    const p = this.byAddr.get(remote.addr) ?? (byNat.length > 0 ? this.peers.get(byNat[0]!.vlink) : undefined);
    if (p === undefined) {
      this.drop('unknown-peer', remote.addr, `IKE_SA_INIT from ${remote.addr}, which is not the peer of any ikev2 vlink`);
      return;
    }
    const key = `${remote.addr}:${h.spiI}`;
    const existing = this.halfOpen.get(key);
    if (existing !== undefined) {
      if (existing.isInitRetransmit(raw)) existing.resendLastResponse();
      else this.drop('bad-init', remote.addr, 'a different IKE_SA_INIT reusing a half-open SPI');
      return;
    }
    if (!this.cookieGate(m, remote)) return;
    if (this.halfOpen.size >= (this.opts.maxHalfOpen ?? 1024)) {
      this.drop('half-open-limit', remote.addr, `${this.halfOpen.size} half-open IKE SAs; dropping new IKE_SA_INIT`);
      return;
    }
    const r = onInitRequest(this.ctx, p.cfg, m, raw, remote, this.saIo());
    if (r.kind === 'refused') {
      this.ctx.send({ data: r.reply, addr: remote.addr, port: remote.port, localPort: remote.localPort });
      this.log.warn({ vlink: p.cfg.vlink, peer: remote.addr }, `IKE_SA_INIT from ${remote.addr}: ${r.why}`);
      return;
    }
    const sa = r.sa;
    p.sas.add(sa);
    this.bySpi.set(sa.spiR, sa);
    this.halfOpen.set(key, sa);
    if (byNat.length > 0 && sa.nat !== null) sa.nat.unbound = true;
    sa.after(this.opts.halfOpenTimeoutMs ?? 30000, () => {
      if (sa.state === 'CONNECTING') this.onFailed(sa, `IKE_SA_INIT from ${remote.addr} was never followed by IKE_AUTH`, false);
    });
    this.log.info({ vlink: p.cfg.vlink, peer: remote.addr, suite: ikeSuiteName(sa.suite!) }, `IKE_SA_INIT from ${remote.addr}: ${ikeSuiteName(sa.suite!)}`);
  }

  private request(sa: IkeSa, m: DecodedMessage, raw: Buffer, from: Remote): void {
    const h = m.header;
    const verdict = sa.checkRequest(h.messageId, raw);
    if (verdict === 'retransmit') {
      this.log.debug({ vlink: sa.cfg.vlink, messageId: h.messageId }, 'retransmitted request: re-sent the cached response');
      return;
    }
    if (verdict === 'drop' || sa.sk === null) {
      this.drop('message-id', sa.remote.addr, `request with message ID ${h.messageId} is outside the window`);
      return;
    }
    const opened = sa.sk.open(raw, m.payloads);
    if (!opened.ok && opened.stage === 'outer') {
      // Unauthenticated: may be forged, so it changes nothing and is not answered (RFC 7296 §2.21).
      this.drop(opened.reason, sa.remote.addr, `request ${h.messageId}: ${opened.detail}`);
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
      if (sa.state !== 'ESTABLISHED') this.onFailed(sa, why, false);
      else this.drop(opened.reason, sa.remote.addr, why);
      return;
    }
    switch (h.exchangeType) {
      case ExchangeType.IKE_AUTH: {
        if (sa.role !== 'responder' || sa.state !== 'CONNECTING') {
          reply([notify(NotifyType.INVALID_SYNTAX)]);
          return;
        }
        if (sa.nat?.unbound === true) this.rebind(sa, opened.payloads);
        const out = onAuthRequest(this.ctx, sa, opened.payloads);
        reply(out.reply);
        if (out.error !== null) this.onFailed(sa, out.error, false);
        else {
          // First, so the operator reads "peer restarted" rather than a plain replacement.
          if (hasNotify(opened.payloads, NotifyType.INITIAL_CONTACT)) this.initialContact(sa);
          this.onEstablished(sa);
        }
        return;
      }
      case ExchangeType.INFORMATIONAL: {
        const rekeyed = this.rekey.onInformational(sa, opened.payloads);
        if (rekeyed !== null) {
          reply(rekeyed);
          return;
        }
        const out = onInformationalRequest(this.ctx, sa, opened.payloads);
        reply(out.reply);
        if (out.closeSa !== null) this.onFailed(sa, out.closeSa, true);
        return;
      }
      case ExchangeType.CREATE_CHILD_SA:
        if (sa.state !== 'ESTABLISHED') {
          reply([notify(NotifyType.INVALID_SYNTAX)]);
          return;
        }
        reply(this.rekey.onCreateChildRequest(sa, opened.payloads));
        return;
      default:
        reply([notify(NotifyType.INVALID_SYNTAX)]);
        this.drop('unknown-exchange', sa.remote.addr, `exchange type ${h.exchangeType}; answered INVALID_SYNTAX`);
    }
  }

  private response(sa: IkeSa, m: DecodedMessage, raw: Buffer): void {
    const h = m.header;
    if (!sa.expects(h.exchangeType, h.messageId)) {
      this.drop('unexpected-response', sa.remote.addr, `response ${h.messageId} (exchange ${h.exchangeType}) answers nothing we asked`);
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
        this.drop('invalid-ike-spi', sa.remote.addr, `response ${h.messageId} is an unprotected INVALID_IKE_SPI: the peer does not know IKE SA ${sa.name}`);
        this.restartHint(sa);
        return;
      }
      // Keep retransmitting: the real response may still come.
      this.drop(opened.reason, sa.remote.addr, `response ${h.messageId}: ${opened.detail}`);
      return;
    }
    sa.takeResponse(h.exchangeType, h.messageId);
    this.dpd.heard(sa);
    if (!opened.ok) {
      this.onFailed(sa, `response ${h.messageId} from ${sa.remote.addr} is malformed inside SK: ${opened.detail}`, true);
      return;
    }
    if (this.rekey.onResponse(sa, h.messageId, opened.payloads)) return;
    if (h.exchangeType === ExchangeType.IKE_AUTH) onAuthResponse(this.ctx, sa, opened.payloads);
    if (h.exchangeType === ExchangeType.IKE_AUTH && sa.state === 'ESTABLISHED' && hasNotify(opened.payloads, NotifyType.INITIAL_CONTACT)) this.initialContact(sa);
  }

  /** For the inspector. */
  view(): IkePeerView[] {
    const now = Date.now();
    return [...this.peers.values()].map((p) => ({
      vlink: p.cfg.vlink,
      peer: p.cfg.peer,
      role: p.cfg.role,
      state: p.current !== null ? 'ESTABLISHED' : [...p.sas].some((s) => s.state === 'CONNECTING') ? 'CONNECTING' : p.reinit !== null ? 'WAITING' : 'IDLE',
      attempt: p.failures + 1,
      retryInSeconds: p.reinit !== null && p.reinitAt != null ? Math.max(0, Math.ceil((p.reinitAt - now) / 1000)) : null,
      lastError: p.lastError,
      sas: [...p.sas].map((s) => ikeSaView(s, now)),
    }));
  }

  /** Rekeys a vlink's IKE SA or CHILD_SA now (rekey.ts). Null, or why not. */
  rekeyNow(vlink: string, what: 'ike' | 'child'): string | null {
    const sa = this.peers.get(vlink)?.current ?? null;
    return sa === null ? `no established IKE SA for ${vlink}` : this.rekey.rekeyNow(sa, what);
  }

  /** Current SA of a vlink, for tests. */
  sa(vlink: string): IkeSa | null {
    return this.peers.get(vlink)?.current ?? null;
  }
}
