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

export interface IkeEngineOptions {
  log: Logger;
  host: IkeHost;
  retransmit?: Partial<RetransmitPolicy>;
  /** Responder: an SA whose IKE_AUTH never came is forgotten after this. Default 30 s. */
  halfOpenTimeoutMs?: number;
  /** More half-open SAs than this and new IKE_SA_INIT requests are dropped (COOKIEs are a later slice). */
  maxHalfOpen?: number;
  /** Initiator: first wait before trying again after a failure; doubles up to reinitMaxMs. */
  reinitMs?: number;
  reinitMaxMs?: number;
  /** Receives every derived secret (IKE SA keys, CHILD_SA keys). Off unless asked for. */
  keyLog?: (rec: IkeKeyLogRecord) => void;
}

interface Peer {
  cfg: IkePeerConfig;
  sas: Set<IkeSa>;
  current: IkeSa | null;
  lastError: string | null;
  failures: number;
  reinit: NodeJS.Timeout | null;
}

export interface IkeStats {
  rx: number;
  tx: number;
  dropped: Record<string, number>;
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
  readonly stats: IkeStats = { rx: 0, tx: 0, dropped: {} };
  private stopped = false;

  constructor(private readonly opts: IkeEngineOptions) {
    this.retransmit = { ...DEFAULT_RETRANSMIT, ...opts.retransmit };
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

  stop(): void {
    this.stopped = true;
    for (const name of [...this.peers.keys()]) this.removePeer(name);
  }

  private initiate(p: Peer): void {
    p.reinit = null;
    if (this.stopped || !this.peers.has(p.cfg.vlink)) return;
    const cfg = p.cfg;
    const sa = new IkeSa(cfg, 'initiator', newIkeSpi(), { addr: cfg.peer, port: cfg.peerPort, localPort: 500 }, this.saIo());
    p.sas.add(sa);
    this.bySpi.set(sa.spiI, sa);
    this.log.info({ vlink: cfg.vlink, peer: cfg.peer }, `initiating IKE_SA with ${cfg.peer} for ${cfg.vlink}`);
    sendInitRequest(this.ctx, sa, firstGroup(cfg));
  }

  private scheduleReinit(p: Peer): void {
    if (this.stopped || p.cfg.role !== 'initiator' || p.reinit !== null || !this.peers.has(p.cfg.vlink)) return;
    if ([...p.sas].some((s) => s.state !== 'DELETED')) return;
    const base = this.opts.reinitMs ?? 5000;
    const wait = Math.min(base * 2 ** Math.min(p.failures - 1, 16), this.opts.reinitMaxMs ?? 120000);
    this.log.info({ vlink: p.cfg.vlink, peer: p.cfg.peer, waitMs: wait }, `retrying IKE with ${p.cfg.peer} in ${(wait / 1000).toFixed(1)} s`);
    p.reinit = setTimeout(() => this.initiate(p), wait);
  }

  /** Removes an SA from every table and the data plane. */
  private forget(sa: IkeSa, reason: string | null): void {
    sa.close(reason);
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
    if (old !== null && old !== sa) {
      this.log.info({ vlink: sa.cfg.vlink, old: old.name, new: sa.name }, `IKE_SA ${old.name} with ${sa.remote.addr} replaced by ${sa.name}`);
      this.forget(old, 'replaced by a newer IKE SA');
    }
    const ms = Date.now() - sa.createdAt;
    this.log.info(
      { vlink: sa.cfg.vlink, peer: sa.remote.addr, role: sa.role, ike: sa.name, suite: ikeSuiteName(sa.suite!), ms },
      `IKE_SA with ${sa.remote.addr} ESTABLISHED as ${sa.role} in ${ms} ms (${ikeSuiteName(sa.suite!)})`,
    );
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
      this.drop('unknown-spi', from.addr, `no IKE SA with SPI ${spiHex(ourSpi)} for this peer (exchange ${h.exchangeType})`);
      return;
    }
    if (h.response) this.response(sa, m, raw);
    else this.request(sa, m, raw);
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
    const p = this.byAddr.get(remote.addr);
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
    sa.after(this.opts.halfOpenTimeoutMs ?? 30000, () => {
      if (sa.state === 'CONNECTING') this.onFailed(sa, `IKE_SA_INIT from ${remote.addr} was never followed by IKE_AUTH`, false);
    });
    this.log.info({ vlink: p.cfg.vlink, peer: remote.addr, suite: ikeSuiteName(sa.suite!) }, `IKE_SA_INIT from ${remote.addr}: ${ikeSuiteName(sa.suite!)}`);
  }

  private request(sa: IkeSa, m: DecodedMessage, raw: Buffer): void {
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
        const out = onAuthRequest(this.ctx, sa, opened.payloads);
        reply(out.reply);
        if (out.error !== null) this.onFailed(sa, out.error, false);
        else this.onEstablished(sa);
        return;
      }
      case ExchangeType.INFORMATIONAL: {
        const out = onInformationalRequest(this.ctx, sa, opened.payloads);
        reply(out.reply);
        if (out.closeSa !== null) this.onFailed(sa, out.closeSa, true);
        return;
      }
      case ExchangeType.CREATE_CHILD_SA:
        reply(refuseCreateChild());
        if (this.throttle.ok(`ccs/${sa.remote.addr}`)) {
          this.log.warn({ vlink: sa.cfg.vlink, peer: sa.remote.addr }, `CREATE_CHILD_SA from ${sa.remote.addr} refused with NO_ADDITIONAL_SAS: rekeying is not implemented yet`);
        }
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
      // Keep retransmitting: the real response may still come.
      this.drop(opened.reason, sa.remote.addr, `response ${h.messageId}: ${opened.detail}`);
      return;
    }
    sa.takeResponse(h.exchangeType, h.messageId);
    if (!opened.ok) {
      this.onFailed(sa, `response ${h.messageId} from ${sa.remote.addr} is malformed inside SK: ${opened.detail}`, true);
      return;
    }
    if (h.exchangeType === ExchangeType.IKE_AUTH) onAuthResponse(this.ctx, sa, opened.payloads);
  }

  /** For the inspector. */
  view(): IkePeerView[] {
    const now = Date.now();
    return [...this.peers.values()].map((p) => ({
      vlink: p.cfg.vlink,
      peer: p.cfg.peer,
      role: p.cfg.role,
      state: p.current !== null ? 'ESTABLISHED' : [...p.sas].some((s) => s.state === 'CONNECTING') ? 'CONNECTING' : p.reinit !== null ? 'WAITING' : 'IDLE',
      lastError: p.lastError,
      sas: [...p.sas].map((s) => ikeSaView(s, now)),
    }));
  }

  /** Current SA of a vlink, for tests. */
  sa(vlink: string): IkeSa | null {
    return this.peers.get(vlink)?.current ?? null;
  }
}
