// One IKE SA: its SPIs, the IKE_SA_INIT material AUTH later signs, its keys, its CHILD_SAs, and
// the message-ID bookkeeping of RFC 7296 §2.1-2.2 with a window of one in each direction:
//   - as requester: one outstanding request, retransmitted until its response arrives;
//   - as responder: the last response is kept and sent again, byte for byte, when the same
//     request arrives again, and only the next message ID is processed. While a request is
//     still being worked on (peer authorisation may wait on a lookup), a retransmission of it
//     is neither processed again nor answered.
// Requests of our own beyond IKE_SA_INIT and IKE_AUTH are queued as tasks (tasks/manager.ts).

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock, ClockTimer } from '../clock.js';
import { type IkeMessageHeader } from '../wire/ike/index.js';
import type { DhKeyPair } from './crypto/dh.js';
import type { IkeSaKeys } from './crypto/keys.js';
import type { IkeSuite } from './crypto/suites.js';
import type { SkContext, IkeRole } from './protect.js';
import { Retransmitter, type RetransmitPolicy } from './retransmit.js';
import type { ChildSaInstall, IkeDatagram, IkePeerConfig } from './types.js';
import type { NatState } from './nat.js';
import type { PeerKeyInfo } from './auth-pubkey.js';
import { TaskManager } from './tasks/manager.js';
import { hex64 } from '../wire/hex.js';

export type IkeSaState = 'CONNECTING' | 'ESTABLISHED' | 'DELETED';

export interface ChildSaRecord {
  spiIn: number;
  spiOut: number;
  suite: ChildSaInstall['suite'];
  esn: boolean;
  /** ChildSaInstall.protocols: what the traffic selectors agreed on. */
  protocols: number[];
  createdAt: number;
}

export interface Remote {
  addr: string;
  port: number;
  localPort: 500 | 4500;
}

/** What a responder needs to answer retransmissions of its last exchange, even after the SA is gone. */
export interface LastExchange {
  messageId: number;
  exchangeType: number;
  request: Buffer;
  response: Buffer;
}

export interface IkeSaIo {
  send(d: IkeDatagram): void;
  log: Logger;
  retransmit: RetransmitPolicy;
  clock: Clock;
}

interface Pending {
  messageId: number;
  exchangeType: number;
  retx: Retransmitter;
}

/** A fresh non-zero 64-bit IKE SPI. */
export function newIkeSpi(): bigint {
  for (;;) {
    const v = randomBytes(8).readBigUInt64BE();
    if (v !== 0n) return v;
  }
}

export function spiBytes(spi: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(spi);
  return b;
}

export class IkeSa {
  state: IkeSaState = 'CONNECTING';
  spiR = 0n;
  readonly createdAt: number;
  establishedAt: number | null = null;
  /** Our requests once ESTABLISHED, one in flight at a time. */
  readonly tasks: TaskManager;

  // IKE_SA_INIT material, kept because AUTH covers it (RFC 7296 §2.15).
  dh: DhKeyPair | null = null;
  ni: Buffer = Buffer.alloc(0);
  nr: Buffer = Buffer.alloc(0);
  initRequest: Buffer = Buffer.alloc(0);
  initResponse: Buffer = Buffer.alloc(0);
  /** COOKIE the responder asked us to echo (RFC 7296 §2.6). */
  cookie: Buffer | null = null;
  /** DH groups the responder already refused with INVALID_KE_PAYLOAD: never retry one twice. */
  readonly refusedGroups = new Set<number>();
  /** Initiator: whether IKE_AUTH carries INITIAL_CONTACT; not when we still hold another IKE SA with the peer (§2.4). */
  sendInitialContact = true;
  /** NAT detection outcome (nat.ts); null until IKE_SA_INIT, or when the peer sent no NAT_DETECTION. */
  nat: NatState | null = null;
  /**
   * Responder: the IKE_SA_INIT came from an address no vlink expects, for a vlink with a named
   * peer. IKE_AUTH's IDi picks the vlink, and the host must vouch for the address by DNS.
   */
  addrUnproven = false;
  /** RFC 7427 hashes the peer announced in IKE_SA_INIT; null if it sent none (auth-pubkey.ts). */
  peerSigHashes: number[] | null = null;
  /** Raw public key the peer authenticated with (auth-pubkey.ts): what IPSECA checks will compare. */
  peerKey: PeerKeyInfo | null = null;

  suite: IkeSuite | null = null;
  keys: IkeSaKeys | null = null;
  sk: SkContext | null = null;

  /** Inbound ESP SPI we offered in IKE_AUTH (initiator side). */
  childSpiIn = 0;
  readonly children: ChildSaRecord[] = [];
  /** Why the SA failed or was deleted, for logs and the inspector. */
  lastError: string | null = null;
  /** Why IKE_AUTH brought no usable CHILD_SA (the IKE SA itself stands), for the inspector. */
  childError: string | null = null;

  /** The initiator's IKE_SA_INIT is always message 0, however often it is re-sent. */
  private nextRequestId: number;
  private pending: Pending | null = null;
  /** Next request ID we accept from the peer. */
  private peerNextId = 0;
  private lastRequest: Buffer | null = null;
  private lastResponse: Buffer | null = null;
  /** The request being worked on (its answer is not ready yet), to recognise its retransmissions. */
  private inProgress: Buffer | null = null;
  private timers = new Set<ClockTimer>();

  constructor(
    /** Not readonly: an SA from behind a NAT learns its vlink from IDi (nat.ts rebindByIdentity). */
    public cfg: IkePeerConfig,
    /** Our role in IKE_SA_INIT; fixed for the SA's life (RFC 7296 §2.2). */
    readonly role: IkeRole,
    readonly spiI: bigint,
    public remote: Remote,
    private readonly io: IkeSaIo,
  ) {
    this.nextRequestId = role === 'initiator' ? 1 : 0;
    this.createdAt = io.clock.now();
    this.tasks = new TaskManager(this);
  }

  get clock(): Clock {
    return this.io.clock;
  }

  /** Our SPI: the one the peer puts in the header for us. */
  get ourSpi(): bigint {
    return this.role === 'initiator' ? this.spiI : this.spiR;
  }

  get name(): string {
    return `${hex64(this.spiI)}_i ${hex64(this.spiR)}_r`;
  }

  /** Header for a message we originate; the I flag is about the SA, the R flag about the message. */
  header(exchangeType: number, response: boolean, messageId: number): IkeMessageHeader {
    return { spiI: this.spiI, spiR: this.spiR, exchangeType, initiator: this.role === 'initiator', response, messageId };
  }

  sendRaw(data: Buffer): void {
    this.io.send({ data, addr: this.remote.addr, port: this.remote.port, localPort: this.remote.localPort });
  }

  /** An SA created by a rekey had no IKE_SA_INIT: both directions start at message 0 (RFC 7296 §2.18). */
  startMessageIdsAtZero(): void {
    this.nextRequestId = 0;
  }

  /** The ID for our next request. */
  takeRequestId(): number {
    return this.nextRequestId++;
  }

  get requestPending(): boolean {
    return this.pending !== null;
  }

  /**
   * Sends a request and retransmits it until a response for `messageId` arrives or the tries
   * run out. Calling it again with the same ID (IKE_SA_INIT after INVALID_KE_PAYLOAD or COOKIE)
   * replaces the outstanding request.
   */
  request(exchangeType: number, messageId: number, data: Buffer, onGiveUp: (tries: number) => void): void {
    this.pending?.retx.stop();
    const retx = new Retransmitter(this.io.retransmit, () => this.sendRaw(data), (tries) => {
      // The window is free again: a late response to this request is no longer expected.
      if (this.pending?.retx === retx) this.pending = null;
      onGiveUp(tries);
    }, this.io.clock);
    this.pending = { messageId, exchangeType, retx };
    retx.start();
  }

  /** Whether a response with this exchange and ID would answer our outstanding request. */
  expects(exchangeType: number, messageId: number): boolean {
    const p = this.pending;
    return p !== null && p.messageId === messageId && p.exchangeType === exchangeType;
  }

  /** Whether a response belongs to our outstanding request; if so the request is done. */
  takeResponse(exchangeType: number, messageId: number): boolean {
    const p = this.pending;
    if (p === null || p.messageId !== messageId || p.exchangeType !== exchangeType) return false;
    p.retx.stop();
    this.pending = null;
    return true;
  }

  /**
   * Classifies a request from the peer: 'new' (process it), 'retransmit' (our cached response
   * was re-sent), 'in-progress' (a copy of the request we are still working on), or 'drop'.
   */
  checkRequest(messageId: number, raw: Buffer): 'new' | 'retransmit' | 'in-progress' | 'drop' {
    if (messageId === this.peerNextId) {
      if (this.inProgress === null) return 'new';
      return this.inProgress.equals(raw) ? 'in-progress' : 'drop';
    }
    if (messageId === this.peerNextId - 1 && this.lastResponse !== null && this.lastRequest !== null && this.lastRequest.equals(raw)) {
      this.sendRaw(this.lastResponse);
      return 'retransmit';
    }
    return 'drop';
  }

  /** The request `raw` will be answered later (respond): its retransmissions wait for that. */
  beginRequest(raw: Buffer): void {
    this.inProgress = raw;
  }

  /** Sends the response to the request just processed and keeps it for retransmissions. */
  respond(request: Buffer, response: Buffer): void {
    this.inProgress = null;
    this.peerNextId++;
    this.lastRequest = request;
    this.lastResponse = response;
    this.sendRaw(response);
  }

  /** For IKE_SA_INIT, whose retransmissions arrive before the peer knows our SPI. */
  isInitRetransmit(raw: Buffer): boolean {
    return this.role === 'responder' && this.initRequest.equals(raw);
  }

  resendLastResponse(): void {
    if (this.lastResponse !== null) this.sendRaw(this.lastResponse);
  }

  /** The peer's last request and our answer to it; null before we answered any. */
  lastExchange(): LastExchange | null {
    if (this.lastRequest === null || this.lastResponse === null) return null;
    // Byte 18 of the IKE header is the exchange type (RFC 7296 §3.1).
    return { messageId: this.peerNextId - 1, exchangeType: this.lastRequest[18]!, request: this.lastRequest, response: this.lastResponse };
  }

  /** A timer that dies with the SA. */
  after(ms: number, fn: () => void): void {
    const t = this.io.clock.setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Stops every timer; the engine drops the SA from its tables. */
  close(reason: string | null): void {
    if (this.state !== 'DELETED' && reason !== null) this.lastError = reason;
    this.state = 'DELETED';
    this.pending?.retx.stop();
    this.pending = null;
    this.inProgress = null;
    this.tasks.clear();
    for (const t of this.timers) this.io.clock.clearTimeout(t);
    this.timers.clear();
  }
}
