// The RFC 2131 client state machine, for a node whose VN address comes from DHCP over a vlink
// (RFC 3456): htype 31, chaddr 0x40 0x00 + underlay IPv4 + a persisted octet, a stable
// client-id. No I/O of its own: it is handed a transport (DHCP payload out, with the IP source
// and destination the node must use), a clock, randomness and a lease store.
//
//   INIT --DISCOVER--> SELECTING --OFFER/REQUEST--> REQUESTING --ACK--> BOUND
//   BOUND --T1--> RENEWING (unicast to the server id, i.e. the hub) --T2--> REBINDING (broadcast)
//   RENEWING/REBINDING --ACK--> BOUND;  --NAK or lease expiry--> INIT (lease lost)
//   start with an unexpired stored lease: INIT-REBOOT --REQUEST(50)--> REBOOTING --ACK--> BOUND
//   decline(): DECLINE, lease lost, INIT after 10 s;  stop({release}): RELEASE, lease lost

import { MessageType } from '../wire/dhcp/index.js';
import { clientIdFromChaddr, clientIdFromName, rfc3456Chaddr } from '../wire/dhcp/rfc3456.js';
import { realClock, type Clock, type ClockTimer } from '../clock.js';
import { systemRandom, type DhcpRandom } from './random.js';
import {
  INFINITE_LEASE, buildClientMessage, parseReply, timers, type ClientDropReason, type ClientIdentity, type ReplyInfo,
} from './client-messages.js';
import type { LeaseStore, PersistedLease } from './lease-store.js';
import { hexShort } from '../wire/hex.js';

// Lease and retry timers never keep the process alive on their own: the socket does that.
const UNREF = { unref: true } as const;

export type ClientState = 'STOPPED' | 'INIT' | 'SELECTING' | 'REQUESTING' | 'BOUND' | 'RENEWING' | 'REBINDING' | 'INIT-REBOOT' | 'REBOOTING';

export const BROADCAST = 0xffffffff;

export interface Lease extends PersistedLease {
  routers: number[];
  dns: number[];
  t1At: number;
  t2At: number;
  expiresAt: number;
}

export type LostReason = 'expired' | 'nak' | 'declined' | 'released' | 'stopped';

export type ClientEvent =
  | { type: 'acquired'; lease: Lease; via: 'discover' | 'init-reboot' }
  | { type: 'renewed'; lease: Lease; via: 'renew' | 'rebind' }
  | { type: 'lost'; address: number; reason: LostReason };

export interface ClientTransport {
  /** One DHCP payload from `src`:68 to `dst`:67 into the vlink. */
  send(payload: Buffer, ip: { src: number; dst: number }): void;
}

export interface ClientTiming {
  /** RFC 2131 §4.1 retransmission: 4 s doubling to 64 s, each ±1 s. */
  baseMs: number;
  maxMs: number;
  jitterMs: number;
  /** REQUESTs in REQUESTING / REBOOTING before falling back to INIT. */
  requestTries: number;
  rebootTries: number;
  /** RFC 2131 §4.4.5: RENEWING/REBINDING retransmit at half the remaining time, not below this. */
  renewMinMs: number;
  /** RFC 2131 §3.1.5: wait at least 10 s after a DECLINE. */
  declineWaitMs: number;
  /** A random wait before the first DISCOVER, so nodes started together do not ask at once. */
  initDelayMaxMs: number;
}

export const DEFAULT_TIMING: ClientTiming = {
  baseMs: 4000, maxMs: 64000, jitterMs: 1000, requestTries: 4, rebootTries: 3, renewMinMs: 60000, declineWaitMs: 10000, initDelayMaxMs: 1000,
};

export interface DhcpClientOptions {
  vlink: string;
  /** This node's underlay IPv4 address (u32): the middle of the RFC 3456 chaddr. */
  underlay: number;
  /** Client-id = 0x00 + this name (survives an underlay change); absent: 0x1f + chaddr. */
  clientIdName?: string;
  hostname?: string;
  transport: ClientTransport;
  store: LeaseStore;
  onEvent: (e: ClientEvent) => void;
  /** One line per message and state change: the renewal trace. */
  onTrace?: (line: string) => void;
  clock?: Clock;
  random?: DhcpRandom;
  timing?: Partial<ClientTiming>;
}

export class DhcpClient {
  readonly identity: ClientIdentity;
  readonly drops = new Map<ClientDropReason, number>();
  readonly sent = new Map<string, number>();
  private st: ClientState = 'STOPPED';
  private cur: Lease | null = null;
  private xid = 0;
  private xidSentAt = 0;
  private firstSendXid: number | null = null;
  private attemptStart = 0;
  private tries = 0;
  private offer: ReplyInfo | null = null;
  private retryTimer: ClockTimer | null = null;
  private leaseTimers: ClockTimer[] = [];
  private readonly clock: Clock;
  private readonly rnd: DhcpRandom;
  private readonly t: ClientTiming;
  private readonly octet: number;

  constructor(private readonly o: DhcpClientOptions) {
    this.clock = o.clock ?? realClock;
    this.rnd = o.random ?? systemRandom;
    this.t = { ...DEFAULT_TIMING, ...o.timing };
    const stored = o.store.load();
    this.octet = stored?.octet ?? Math.floor(this.rnd.unit() * 256);
    if (stored === null) o.store.save({ octet: this.octet, lease: null });
    const chaddr = rfc3456Chaddr(o.underlay, this.octet);
    this.identity = {
      chaddr,
      clientId: o.clientIdName !== undefined ? clientIdFromName(o.clientIdName) : clientIdFromChaddr(chaddr),
      ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
    };
  }

  get state(): ClientState { return this.st; }
  get lease(): Lease | null { return this.cur; }

  start(): void {
    if (this.st !== 'STOPPED') return;
    const l = this.o.store.load()?.lease ?? null;
    if (l !== null && (l.leaseTime === INFINITE_LEASE || l.startedAt + l.leaseTime * 1000 > this.clock.now())) {
      this.to('INIT-REBOOT');
      this.cur = this.withTimes(l, [], []);
      this.newXid();
      this.tries = 0;
      this.sendReboot();
    } else {
      this.enterInit(Math.floor(this.rnd.unit() * this.t.initDelayMaxMs));
    }
  }

  /** The node found the address in use (RFC 2131 §3.1.5): DECLINE it and start over. */
  decline(): void {
    const l = this.cur;
    if (l === null || !['BOUND', 'RENEWING', 'REBINDING'].includes(this.st)) return;
    this.send(MessageType.DECLINE, { xid: this.rnd.u32(), secs: 0, requested: l.address, serverId: l.server }, 0, BROADCAST);
    this.loseLease('declined');
    this.enterInit(this.t.declineWaitMs);
  }

  /** Clean stop: RELEASE the lease (or keep it for INIT-REBOOT with release false). */
  stop(opts: { release: boolean }): void {
    if (this.st === 'STOPPED') return;
    const l = this.cur;
    const holding = l !== null && ['BOUND', 'RENEWING', 'REBINDING'].includes(this.st);
    if (opts.release && holding) {
      this.send(MessageType.RELEASE, { xid: this.rnd.u32(), secs: 0, ciaddr: l.address, serverId: l.server }, l.address, l.server);
    }
    this.clearTimers();
    if (holding) {
      if (opts.release) this.loseLease('released');
      else this.o.onEvent({ type: 'lost', address: l.address, reason: 'stopped' });
    }
    this.cur = null;
    this.to('STOPPED');
  }

  /** A DHCP payload that arrived for this client on its vlink (port 68). Never throws. */
  receive(payload: Buffer): void {
    const r = parseReply(payload, this.identity);
    if (typeof r === 'string') return this.drop(r);
    if (r.xid !== this.xid) return this.drop('wrong-xid');
    const s = this.st;
    if (r.type === MessageType.OFFER) {
      if (s !== 'SELECTING') return this.drop('unexpected-type');
      if (r.yiaddr === 0 || r.serverId === undefined) return this.drop('bad-offer');
      this.trace(`OFFER ${ip(r.yiaddr)} from server ${ip(r.serverId)}`);
      this.offer = r;
      this.to('REQUESTING');
      this.tries = 0;
      return this.sendSelecting();
    }
    if (s !== 'REQUESTING' && s !== 'REBOOTING' && s !== 'RENEWING' && s !== 'REBINDING') return this.drop('unexpected-type');
    if (r.type === MessageType.NAK) {
      this.trace(`NAK in ${s}`);
      if (this.cur !== null && s !== 'REBOOTING') this.loseLease('nak');
      else if (s === 'REBOOTING') this.forget();
      return this.enterInit(0);
    }
    if (r.yiaddr === 0 || r.leaseTime === undefined) return this.drop('bad-ack');
    this.bind(r, s);
  }

  /** For the inspector. */
  view(): object {
    const l = this.cur;
    return {
      vlink: this.o.vlink, state: this.st, chaddr: this.identity.chaddr.toString('hex'), client_id: this.identity.clientId.toString('hex'),
      lease: l === null ? null : {
        address: ip(l.address), mask: ip(l.mask), server: ip(l.server), lease_time: l.leaseTime, t1: l.t1, t2: l.t2,
        t1_at: new Date(l.t1At).toISOString(), t2_at: new Date(l.t2At).toISOString(), expires_at: new Date(l.expiresAt).toISOString(),
      },
      sent: Object.fromEntries(this.sent), drops: Object.fromEntries(this.drops),
    };
  }

  private bind(r: ReplyInfo, from: ClientState): void {
    const prev = this.cur;
    const server = r.serverId ?? prev?.server ?? this.offer?.serverId ?? 0;
    const { t1, t2 } = timers(r.leaseTime!, r.t1, r.t2);
    const base: PersistedLease = { address: r.yiaddr, mask: r.mask ?? 0xffffffff, server, leaseTime: r.leaseTime!, t1, t2, startedAt: this.xidSentAt };
    const lease = this.withTimes(base, r.routers, r.dns);
    if (prev !== null && prev.address !== r.yiaddr && (from === 'RENEWING' || from === 'REBINDING')) this.loseLease('nak');
    this.cur = lease;
    this.offer = null;
    this.clearTimers();
    this.o.store.save({ octet: this.octet, lease: base });
    this.to('BOUND');
    this.trace(`ACK ${ip(lease.address)} lease ${lease.leaseTime} s, T1 ${lease.t1} s, T2 ${lease.t2} s, server ${ip(server)}`);
    this.armLeaseTimers(lease);
    if (from === 'RENEWING' || from === 'REBINDING') {
      if (prev !== null && prev.address === lease.address) this.o.onEvent({ type: 'renewed', lease, via: from === 'RENEWING' ? 'renew' : 'rebind' });
      else this.o.onEvent({ type: 'acquired', lease, via: 'discover' });
    } else {
      this.o.onEvent({ type: 'acquired', lease, via: from === 'REBOOTING' ? 'init-reboot' : 'discover' });
    }
  }

  private withTimes(b: PersistedLease, routers: number[], dns: number[]): Lease {
    const inf = b.leaseTime === INFINITE_LEASE;
    const at = (s: number) => (inf ? Number.POSITIVE_INFINITY : b.startedAt + s * 1000);
    return { ...b, routers, dns, t1At: at(b.t1), t2At: at(b.t2), expiresAt: at(b.leaseTime) };
  }

  private armLeaseTimers(l: Lease): void {
    if (l.leaseTime === INFINITE_LEASE) return;
    const now = this.clock.now();
    this.leaseTimers = [
      this.clock.setTimeout(() => this.enterRenewing(), l.t1At - now, UNREF),
      this.clock.setTimeout(() => this.enterRebinding(), l.t2At - now, UNREF),
      this.clock.setTimeout(() => this.expire(), l.expiresAt - now, UNREF),
    ];
  }

  private enterInit(delayMs: number): void {
    this.clearRetry();
    this.to('INIT');
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.to('SELECTING');
      this.newXid();
      this.attemptStart = this.clock.now();
      this.tries = 0;
      this.sendDiscover();
    }, delayMs, UNREF);
  }

  private sendDiscover(): void {
    this.send(MessageType.DISCOVER, { xid: this.xid, secs: this.secs() }, 0, BROADCAST);
    this.retry(() => this.sendDiscover());
  }

  private sendSelecting(): void {
    const o = this.offer!;
    if (this.tries >= this.t.requestTries) return this.enterInit(0);
    this.send(MessageType.REQUEST, { xid: this.xid, secs: this.secs(), requested: o.yiaddr, serverId: o.serverId! }, 0, BROADCAST);
    this.retry(() => this.sendSelecting());
  }

  private sendReboot(): void {
    if (this.tries >= this.t.rebootTries) {
      this.trace('no answer to INIT-REBOOT: starting over with DISCOVER');
      this.forget();
      return this.enterInit(0);
    }
    this.to('REBOOTING');
    this.send(MessageType.REQUEST, { xid: this.xid, secs: this.secs(), requested: this.cur!.address }, 0, BROADCAST);
    this.retry(() => this.sendReboot());
  }

  private enterRenewing(): void {
    this.to('RENEWING');
    this.newXid();
    this.renewSend(() => this.cur!.t2At, this.cur!.server);
  }

  private enterRebinding(): void {
    this.clearRetry();
    this.to('REBINDING');
    this.newXid();
    this.renewSend(() => this.cur!.expiresAt, BROADCAST);
  }

  /** One REQUEST with ciaddr; the next at half the time left before `until`, if that fits (RFC 2131 §4.4.5). */
  private renewSend(until: () => number, dst: number): void {
    const l = this.cur!;
    this.send(MessageType.REQUEST, { xid: this.xid, secs: 0, ciaddr: l.address }, l.address, dst);
    const left = until() - this.clock.now();
    const wait = Math.max(this.t.renewMinMs, left / 2);
    if (wait < left) this.retryTimer = this.clock.setTimeout(() => this.renewSend(until, dst), wait, UNREF);
  }

  private expire(): void {
    this.trace('lease expired');
    this.loseLease('expired');
    this.enterInit(0);
  }

  private loseLease(reason: LostReason): void {
    const l = this.cur;
    this.clearTimers();
    this.forget();
    if (l !== null) this.o.onEvent({ type: 'lost', address: l.address, reason });
  }

  private forget(): void {
    this.cur = null;
    this.o.store.save({ octet: this.octet, lease: null });
  }

  private retry(again: () => void): void {
    this.clearRetry();
    const n = this.tries++;
    const wait = Math.min(this.t.baseMs * 2 ** n, this.t.maxMs) + (this.rnd.unit() * 2 - 1) * this.t.jitterMs;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      again();
    }, Math.max(0, wait), UNREF);
  }

  private send(type: number, f: Parameters<typeof buildClientMessage>[2], src: number, dst: number): void {
    // The lease runs from the first transmission of the exchange that gets the ACK (RFC 2131 §4.4.1).
    if (f.xid === this.xid && f.xid !== this.firstSendXid) {
      this.firstSendXid = f.xid;
      this.xidSentAt = this.clock.now();
    }
    const name = MESSAGE_NAMES[type] ?? String(type);
    this.sent.set(name, (this.sent.get(name) ?? 0) + 1);
    this.trace(`send ${name} xid ${hexShort(f.xid >>> 0)} ${ip(src)} -> ${ip(dst)}${f.ciaddr ? ` ciaddr ${ip(f.ciaddr)}` : ''}${f.requested ? ` requested ${ip(f.requested)}` : ''}`);
    this.o.transport.send(buildClientMessage(this.identity, type, f), { src, dst });
  }

  private newXid(): void {
    this.xid = this.rnd.u32();
    this.tries = 0;
  }

  private secs(): number {
    return Math.floor((this.clock.now() - this.attemptStart) / 1000);
  }

  private to(s: ClientState): void {
    if (s !== this.st) this.trace(`${this.st} -> ${s}`);
    this.st = s;
  }

  private drop(r: ClientDropReason): void {
    this.drops.set(r, (this.drops.get(r) ?? 0) + 1);
  }

  private clearRetry(): void {
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearTimers(): void {
    this.clearRetry();
    for (const h of this.leaseTimers) this.clock.clearTimeout(h);
    this.leaseTimers = [];
  }

  private trace(line: string): void {
    this.o.onTrace?.(`${this.o.vlink}: ${line}`);
  }
}

const MESSAGE_NAMES: Record<number, string> = { 1: 'DISCOVER', 3: 'REQUEST', 4: 'DECLINE', 7: 'RELEASE' };

function ip(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
