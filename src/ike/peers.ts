// The engine's vlinks with IKEv2 keying, one peer each: which of its IKE SAs is current, the
// lifecycle around them (initiation, retries with backoff, establishment, failure, restarts of
// the peer), and what `show ike` says about them.

import type { Logger } from 'pino';
import type { Clock, ClockTimer } from '../clock.js';
import { IiptranError } from '../errors.js';
import { ikeSuiteName } from './crypto/suites.js';
import type { ExchangeContext } from './context.js';
import { firstGroup, sendInitRequest } from './exchange-init.js';
import { IkeSa, newIkeSpi, type IkeSaIo } from './ike-sa.js';
import { natDetected, rebindByIdentity, startNatKeepalive } from './nat.js';
import { RateLimit } from '../rate-limit.js';
import { reinitDelay, type ReinitPolicy } from './reinit.js';
import type { Rekeyer } from './rekey.js';
import { initialContactVictims } from './restart.js';
import { planPeerUpdate, type PeerUpdate } from './peer-update.js';
import { sendDeleteIke } from './exchange-info.js';
import type { SaTable } from './sa-table.js';
import type { DeadPeerDetector } from './dpd.js';
import type { IkeHost, IkePeerConfig } from './types.js';
import { ikeSaView, type IkePeerView } from './view.js';

interface Peer {
  cfg: IkePeerConfig;
  sas: Set<IkeSa>;
  current: IkeSa | null;
  lastError: string | null;
  failures: number;
  reinit: ClockTimer | null;
  /** When `reinit` fires, for `show ike`. */
  reinitAt: number | null;
  /** A named peer's address is being looked up before an initiation. */
  resolving: boolean;
}

export interface PeerTableDeps {
  log: Logger;
  clock: Clock;
  host: IkeHost;
  ctx: ExchangeContext;
  sas: SaTable;
  dpd: DeadPeerDetector;
  rekey: Rekeyer;
  saIo: IkeSaIo;
  reinit: ReinitPolicy & { random?: () => number };
  natKeepaliveMs: number;
  /** A NAT keepalive went out. */
  keepalive(addr: string, port: number): void;
  stopped(): boolean;
}

export class PeerTable {
  private readonly peers = new Map<string, Peer>();
  private readonly byAddr = new Map<string, Peer>();
  /** Initiations on a restart hint, per vlink: the hint is unauthenticated. */
  private readonly hintReinit: RateLimit;

  constructor(private readonly d: PeerTableDeps) {
    this.hintReinit = new RateLimit(10000, d.clock);
  }

  private get log(): Logger {
    return this.d.log;
  }

  configs(): IkePeerConfig[] {
    return [...this.peers.values()].map((p) => p.cfg);
  }

  isPeerAddr(addr: string): boolean {
    return this.byAddr.has(addr);
  }

  /** The vlink whose configured peer is `addr`. */
  byAddress(addr: string): IkePeerConfig | undefined {
    return this.byAddr.get(addr)?.cfg;
  }

  current(vlink: string): IkeSa | null {
    return this.peers.get(vlink)?.current ?? null;
  }

  add(cfg: IkePeerConfig): void {
    // config.ts rules both out; reaching here is a bug in the caller.
    if (this.peers.has(cfg.vlink)) throw new IiptranError('IIPTRAN_ERR_CONFIG', `IKE peer for ${cfg.vlink} already exists`);
    if (cfg.peer !== '' && this.byAddr.has(cfg.peer)) throw new IiptranError('IIPTRAN_ERR_CONFIG', `two IKE vlinks with peer ${cfg.peer}`);
    const p: Peer = { cfg, sas: new Set(), current: null, lastError: null, failures: 0, reinit: null, reinitAt: null, resolving: false };
    this.peers.set(cfg.vlink, p);
    if (cfg.peer !== '') this.byAddr.set(cfg.peer, p);
    if (cfg.role === 'initiator' && !this.d.stopped()) this.initiate(p);
  }

  /** Forgets a vlink after `deleteSa` told the peer about each SA (once); never retried. */
  remove(vlink: string, deleteSa: (sa: IkeSa) => void): void {
    const p = this.peers.get(vlink);
    if (p === undefined) return;
    this.d.clock.clearTimeout(p.reinit);
    for (const sa of [...p.sas]) {
      deleteSa(sa);
      this.forget(sa, 'vlink removed');
    }
    this.peers.delete(vlink);
    if (this.byAddr.get(p.cfg.peer) === p) this.byAddr.delete(p.cfg.peer);
  }

  /**
   * A named peer moved (the host resolved a new address): later initiations go there, and an
   * IKE_SA_INIT from there finds the vlink. SAs already up keep their own address until a new
   * SA replaces them (`reconnect`): make-before-break. Null when it moved; otherwise why not.
   */
  relocate(vlink: string, addr: string, role: 'initiator' | 'responder'): string | null {
    const p = this.peers.get(vlink);
    if (p === undefined) return `no IKE vlink ${vlink}`;
    const other = this.byAddr.get(addr);
    if (other !== undefined && other !== p) return `${addr} is already the peer of ${other.cfg.vlink}`;
    if (p.cfg.peer === addr && p.cfg.role === role) return null;
    if (this.byAddr.get(p.cfg.peer) === p) this.byAddr.delete(p.cfg.peer);
    const cfg = { ...p.cfg, peer: addr, role };
    p.cfg = cfg;
    this.byAddr.set(addr, p);
    for (const sa of p.sas) if (sa.remote.addr === addr) sa.cfg = cfg;
    return null;
  }

  /**
   * After `relocate`: an initiator negotiates a new IKE SA with the new address while the old
   * one keeps carrying traffic; `established` retires the old one. A responder waits for the
   * peer, which initiates from its new address.
   */
  reconnect(vlink: string): void {
    const p = this.peers.get(vlink);
    if (p === undefined || p.cfg.role !== 'initiator' || p.resolving) return;
    const live = [...p.sas].filter((s) => s.state !== 'DELETED');
    if (live.some((s) => s.remote.addr === p.cfg.peer)) return;
    if (live.length === 0 && p.reinit !== null) return;
    this.d.clock.clearTimeout(p.reinit);
    this.initiate(p);
  }

  /** A reload changed the vlink's IKE settings; peer-update.ts decides what happens to its SAs. */
  update(cfg: IkePeerConfig, credentialsChanged: boolean, deleteSa: (sa: IkeSa) => void): PeerUpdate {
    const p = this.peers.get(cfg.vlink);
    if (p === undefined) throw new IiptranError('IIPTRAN_ERR_CONFIG', `no IKE peer for ${cfg.vlink} to update`);
    const cur = p.current;
    const u = planPeerUpdate(p.cfg, cfg, credentialsChanged, { ike: cur?.suite ?? null, children: cur?.children ?? [] });
    if (u.action === 'reestablish') {
      this.remove(cfg.vlink, deleteSa);
      this.add(cfg);
      return u;
    }
    p.cfg = cfg;
    for (const sa of p.sas) sa.cfg = cfg;
    if (cur !== null) {
      if (u.dpd) {
        this.d.dpd.unwatch(cur);
        this.d.dpd.watch(cur);
      }
      if (u.rekeyIke) this.d.rekey.rekeyNow(cur, 'ike');
      if (u.rekeyChild) this.d.rekey.rekeyNow(cur, 'child');
    }
    if (cfg.role === 'responder') {
      this.d.clock.clearTimeout(p.reinit);
      p.reinit = null;
      p.reinitAt = null;
    } else if (p.sas.size === 0 && p.reinit === null) {
      this.initiate(p);
    }
    return u;
  }

  removeAll(deleteSa: (sa: IkeSa) => void): void {
    for (const name of [...this.peers.keys()]) this.remove(name, deleteSa);
  }

  /** A responder's new half-open SA joins its vlink. */
  addSa(vlink: string, sa: IkeSa): void {
    this.peers.get(vlink)?.sas.add(sa);
  }

  /** A failure that did not get as far as an SA (an IKE_SA_INIT we refused): `show ike` keeps it. */
  noteFailure(vlink: string, why: string): void {
    const p = this.peers.get(vlink);
    if (p !== undefined) p.lastError = why;
  }

  private initiate(p: Peer): void {
    p.reinit = null;
    p.reinitAt = null;
    if (this.d.stopped() || !this.peers.has(p.cfg.vlink)) return;
    const resolve = this.d.host.resolvePeer;
    if (p.cfg.peerName === undefined || resolve === undefined) {
      this.startSa(p);
      return;
    }
    // Cisco's "set peer HOST dynamic": the name is resolved before every attempt, so a peer that
    // moved is found. A failed lookup is a failed attempt, retried with the same backoff.
    p.resolving = true;
    void resolve.call(this.d.host, p.cfg.vlink, p.failures).then((r) => {
      p.resolving = false;
      if (this.d.stopped() || this.peers.get(p.cfg.vlink) !== p) return;
      if ('error' in r) {
        p.lastError = `cannot resolve ${p.cfg.peerName}: ${r.error}`;
        p.failures++;
        this.log.warn({ vlink: p.cfg.vlink, peer: p.cfg.peerName }, p.lastError);
        this.scheduleReinit(p);
        return;
      }
      // resolvePeer relocated the vlink; with `role: auto` the new address may make us the responder.
      if (p.cfg.role !== 'initiator') {
        this.log.info({ vlink: p.cfg.vlink, peer: p.cfg.peer }, `${p.cfg.peerName} is ${p.cfg.peer}; waiting for it to initiate (role responder)`);
        return;
      }
      if ([...p.sas].some((s) => s.state === 'CONNECTING' && s.role === 'initiator' && s.remote.addr === p.cfg.peer)) return;
      this.startSa(p);
    });
  }

  private startSa(p: Peer): void {
    const cfg = p.cfg;
    const sa = new IkeSa(cfg, 'initiator', newIkeSpi(), { addr: cfg.peer, port: cfg.peerPort, localPort: 500 }, this.d.saIo);
    sa.sendInitialContact = ![...p.sas].some((s) => s.state === 'ESTABLISHED');
    p.sas.add(sa);
    this.d.sas.index(sa);
    this.log.info({ vlink: cfg.vlink, peer: cfg.peer }, `initiating IKE_SA with ${cfg.peer} for ${cfg.vlink}`);
    sendInitRequest(this.d.ctx, sa, firstGroup(cfg));
  }

  private scheduleReinit(p: Peer): void {
    if (this.d.stopped() || p.cfg.role !== 'initiator' || p.reinit !== null || p.resolving || !this.peers.has(p.cfg.vlink)) return;
    if ([...p.sas].some((s) => s.state !== 'DELETED')) return;
    const wait = reinitDelay(p.failures, this.d.reinit, this.d.reinit.random);
    this.log.info({ vlink: p.cfg.vlink, peer: p.cfg.peer, waitMs: wait, attempt: p.failures + 1 },
      `retrying IKE with ${p.cfg.peer} in ${(wait / 1000).toFixed(1)} s (attempt ${p.failures + 1})`);
    p.reinitAt = this.d.clock.now() + wait;
    p.reinit = this.d.clock.setTimeout(() => this.initiate(p), wait);
  }

  /** Removes an SA from every table and the data plane. */
  forget(sa: IkeSa, reason: string | null): void {
    sa.close(reason);
    this.d.dpd.unwatch(sa);
    this.d.sas.remove(sa);
    const p = this.peers.get(sa.cfg.vlink);
    if (p !== undefined) {
      p.sas.delete(sa);
      if (p.current === sa) p.current = null;
    }
    for (const c of sa.children.splice(0)) this.d.host.removeChild(sa.cfg.vlink, { spiIn: c.spiIn, spiOut: c.spiOut });
  }

  failed(sa: IkeSa, why: string, retry: boolean): void {
    const p = this.peers.get(sa.cfg.vlink);
    this.log.error({ vlink: sa.cfg.vlink, peer: sa.remote.addr, ike: sa.name }, why);
    this.forget(sa, why);
    if (sa.role === 'initiator' || sa.establishedAt !== null) this.d.host.peerAttempt?.(sa.cfg.vlink, sa.remote.addr, false, why);
    if (p === undefined) return;
    p.lastError = why;
    p.failures++;
    if (retry) this.scheduleReinit(p);
  }

  established(sa: IkeSa): void {
    const p = this.peers.get(sa.cfg.vlink);
    if (p === undefined) return;
    this.d.sas.endHalfOpen(sa);
    this.d.host.peerAttempt?.(sa.cfg.vlink, sa.remote.addr, true);
    // A named peer proven at another address (checkPeerAddress) now lives there.
    if (p.cfg.peerName !== undefined && sa.remote.addr !== p.cfg.peer && (sa.nat === null || !natDetected(sa))) {
      const why = this.relocate(p.cfg.vlink, sa.remote.addr, p.cfg.role);
      if (why === null) this.d.host.peerRelocated?.(p.cfg.vlink, sa.remote.addr);
      else this.log.warn({ vlink: p.cfg.vlink, peer: sa.remote.addr }, `cannot move ${p.cfg.vlink} to ${sa.remote.addr}: ${why}`);
    }
    const old = p.current;
    p.current = sa;
    p.failures = 0;
    // An IKE SA without its CHILD_SA leaves the vlink without traffic: that stays visible.
    p.lastError = sa.childError;
    this.natEstablished(sa);
    if (old !== null && old !== sa) {
      this.log.info({ vlink: sa.cfg.vlink, old: old.name, new: sa.name }, `IKE_SA ${old.name} with ${old.remote.addr} replaced by ${sa.name} with ${sa.remote.addr}`);
      // The vlink moved to another gateway (a named peer or KX exchanger): the old one would
      // otherwise keep its half until its own DPD gives up. Told once, best effort.
      if (old.remote.addr !== sa.remote.addr) sendDeleteIke(old);
      this.forget(old, 'replaced by a newer IKE SA');
    }
    const ms = this.d.clock.now() - sa.createdAt;
    this.log.info(
      { vlink: sa.cfg.vlink, peer: sa.remote.addr, role: sa.role, ike: sa.name, suite: ikeSuiteName(sa.suite!), ms },
      `IKE_SA with ${sa.remote.addr} ESTABLISHED as ${sa.role} in ${ms} ms (${ikeSuiteName(sa.suite!)})`,
    );
    // The peer initiated while we waited to retry: its SA serves.
    this.d.clock.clearTimeout(p.reinit);
    p.reinit = null;
    p.reinitAt = null;
    this.d.dpd.watch(sa);
    this.d.rekey.watch(sa);
  }

  /** An IKE SA made by a rekey joins the tables without IKE_AUTH; `current` makes it the vlink's SA. */
  adopt(sa: IkeSa, current: boolean): void {
    const p = this.peers.get(sa.cfg.vlink);
    if (p === undefined) return;
    p.sas.add(sa);
    this.d.sas.index(sa);
    if (current) {
      p.current = sa;
      this.d.dpd.watch(sa);
      // The old SA's keepalives stop with it.
      this.natEstablished(sa);
    }
  }

  /** An authenticated INITIAL_CONTACT (§2.4): the peer restarted, so its other SAs with us are stale. */
  initialContact(sa: IkeSa): void {
    const all = [...this.peers.values()].flatMap((p) => [...p.sas]);
    const stale = initialContactVictims(all, sa);
    if (stale.length === 0) return;
    this.log.warn({ vlink: sa.cfg.vlink, peer: sa.remote.addr, stale: stale.map((s) => s.name) },
      `peer ${sa.remote.addr} (${sa.cfg.remoteId.text}) restarted (INITIAL_CONTACT): deleting ${stale.length} stale IKE SA(s) and their CHILD_SAs`);
    for (const old of stale) {
      const why = `peer ${old.remote.addr} restarted (INITIAL_CONTACT on IKE SA ${sa.name})`;
      // On another vlink nothing replaces it: fail it so an initiator there starts over.
      if (old.cfg.vlink === sa.cfg.vlink) this.forget(old, why);
      else this.failed(old, why, true);
    }
  }

  /** A restarted peer's INVALID_IKE_SPI (unauthenticated, §2.21.4): it may only make us look closer. */
  restartHint(sa: IkeSa): void {
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
    this.d.dpd.checkNow(sa);
  }

  /** An SA that came in from behind a NAT joins the vlink its (authenticated, next) IDi names. */
  rebind(sa: IkeSa, ps: Parameters<typeof rebindByIdentity>[1]): void {
    if (sa.nat !== null) sa.nat.unbound = false;
    if (sa.addrUnproven) {
      this.rebindNamed(sa, ps);
      return;
    }
    const cfg = rebindByIdentity(sa, ps, this.configs());
    if (cfg === null || cfg.vlink === sa.cfg.vlink) return;
    this.peers.get(sa.cfg.vlink)?.sas.delete(sa);
    this.peers.get(cfg.vlink)?.sas.add(sa);
    this.log.info({ from: sa.cfg.vlink, vlink: cfg.vlink, peer: sa.remote.addr }, `IKE SA from ${sa.remote.addr} (behind a NAT) is for ${cfg.vlink}, by its identity ${cfg.remoteId.text}`);
    sa.cfg = cfg;
  }

  /**
   * An SA from an unexpected address for a named peer: IDi picks among the named vlinks, and the
   * SA's selectors name the address it came from. authorise.ts then asks DNS to vouch for it.
   */
  private rebindNamed(sa: IkeSa, ps: Parameters<typeof rebindByIdentity>[1]): void {
    const named = this.configs().filter((c) => c.peerName !== undefined);
    const cfg = rebindByIdentity(sa, ps, named) ?? sa.cfg;
    if (cfg.vlink !== sa.cfg.vlink) {
      this.peers.get(sa.cfg.vlink)?.sas.delete(sa);
      this.peers.get(cfg.vlink)?.sas.add(sa);
      this.log.info({ from: sa.cfg.vlink, vlink: cfg.vlink, peer: sa.remote.addr }, `IKE SA from ${sa.remote.addr} claims ${cfg.remoteId.text}: ${cfg.vlink}`);
    }
    sa.cfg = { ...cfg, peer: sa.remote.addr };
  }

  /** Named vlinks that may answer an IKE_SA_INIT from an address no vlink expects. */
  namedConfigs(): IkePeerConfig[] {
    return this.d.host.checkPeerAddress === undefined ? [] : this.configs().filter((c) => c.peerName !== undefined);
  }

  /** Logs what NAT detection found and starts keepalives when we are the end behind the NAT. */
  private natEstablished(sa: IkeSa): void {
    if (!natDetected(sa)) return;
    const where = [sa.nat!.local ? 'we are behind a NAT' : null, sa.nat!.remote ? 'the peer is behind a NAT' : null].filter((x) => x !== null).join(' and ');
    this.log.info({ vlink: sa.cfg.vlink, peer: sa.remote.addr, peerPort: sa.remote.port, natLocal: sa.nat!.local, natRemote: sa.nat!.remote },
      `NAT detected with ${sa.cfg.remoteId.text} (${where}): IKE and ESP use UDP ${sa.remote.localPort}, peer seen at ${sa.remote.addr}:${sa.remote.port}`);
    startNatKeepalive(sa, this.d.natKeepaliveMs, (addr, port) => this.d.keepalive(addr, port));
  }

  /** For the inspector. */
  view(): IkePeerView[] {
    const now = this.d.clock.now();
    return [...this.peers.values()].map((p) => ({
      vlink: p.cfg.vlink,
      peer: p.cfg.peer,
      peerName: p.cfg.peerName ?? null,
      role: p.cfg.role,
      state: p.current !== null ? 'ESTABLISHED' : [...p.sas].some((s) => s.state === 'CONNECTING') ? 'CONNECTING' : p.resolving ? 'RESOLVING' : p.reinit !== null ? 'WAITING' : 'IDLE',
      attempt: p.failures + 1,
      retryInSeconds: p.reinit !== null && p.reinitAt !== null ? Math.max(0, Math.ceil((p.reinitAt - now) / 1000)) : null,
      lastError: p.lastError,
      sas: [...p.sas].map((s) => ikeSaView(s, now)),
    }));
  }
}
