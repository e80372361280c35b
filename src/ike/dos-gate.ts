// What the engine answers to sources it cannot trust yet, and how much work they may cost:
// COOKIEs (RFC 7296 §2.6) and the hard cap on half-open SAs before any Diffie-Hellman is spent
// on an IKE_SA_INIT, and INVALID_IKE_SPI (§2.21.4) for requests naming an IKE SA we do not have,
// sent only to configured peers and at a bounded rate so we never become a reflector.

import type { Logger } from 'pino';
import { ExchangeType, NotifyType, notify, type DecodedMessage, type IkeMessageHeader } from '../wire/ike/index.js';
import type { Clock } from '../clock.js';
import { CookieGuard, DEFAULT_COOKIE_THRESHOLD } from './cookie.js';
import type { IkeDrops } from './drop-reasons.js';
import { initError } from './exchange-init.js';
import type { Remote } from './ike-sa.js';
import { RateLimit } from '../rate-limit.js';
import { invalidIkeSpiAnswer } from './restart.js';
import type { DeletedSa } from './sa-table.js';
import type { IkeDatagram } from './types.js';
import { hex64 } from '../wire/hex.js';

export interface DosGateOptions {
  /** Half-open SAs at which IKE_SA_INIT must bring a COOKIE (cookie.ts); 0: always. Default 10. */
  cookieThreshold?: number;
  cookieRotateMs?: number;
  /** More half-open SAs than this and new IKE_SA_INIT requests are dropped, cookie or not. Default 1024. */
  maxHalfOpen?: number;
}

export class DosGate {
  readonly cookies: CookieGuard;
  private readonly maxHalfOpen: number;
  /** Answers to requests for IKE SAs we do not know, per peer address. */
  private readonly unknownSpiAnswers: RateLimit;

  constructor(
    o: DosGateOptions,
    clock: Clock,
    private readonly log: Logger,
    private readonly drops: IkeDrops,
    private readonly send: (d: IkeDatagram) => void,
    /** Whether an address is some ikev2 vlink's configured peer. */
    private readonly isPeer: (addr: string) => boolean,
  ) {
    this.cookies = new CookieGuard(o.cookieThreshold ?? DEFAULT_COOKIE_THRESHOLD, o.cookieRotateMs, () => clock.now());
    this.maxHalfOpen = o.maxHalfOpen ?? 1024;
    this.unknownSpiAnswers = new RateLimit(250, clock);
  }

  cookieMode(halfOpen: number): boolean {
    return this.cookies.required(halfOpen);
  }

  /**
   * An IKE_SA_INIT that would create a half-open SA: with too many of them, one without a valid
   * COOKIE gets one back and leaves no trace here, and past the hard cap none gets in. False
   * when the request must go no further.
   */
  admitInit(m: DecodedMessage, remote: Remote, halfOpen: number): boolean {
    if (this.cookies.required(halfOpen)) {
      const h = m.header;
      const verdict = this.cookies.check(m.payloads, remote.addr, h.spiI);
      if (verdict !== 'valid') {
        const cookie = this.cookies.challenge(m.payloads, remote.addr, h.spiI);
        if (cookie !== null) this.send({ data: initError(h, notify(NotifyType.COOKIE, cookie)), addr: remote.addr, port: remote.port, localPort: remote.localPort });
        this.drops.drop(verdict === 'missing' ? 'cookie-required' : 'bad-cookie', remote.addr,
          `${halfOpen} half-open IKE SAs (cookie threshold ${this.cookies.threshold}): IKE_SA_INIT ${verdict === 'missing' ? 'without a COOKIE' : 'with a COOKIE that does not verify'}; answered with a COOKIE, no state kept`);
        return false;
      }
    }
    if (halfOpen >= this.maxHalfOpen) {
      this.drops.drop('half-open-limit', remote.addr, `${halfOpen} half-open IKE SAs; dropping new IKE_SA_INIT`);
      return false;
    }
    return true;
  }

  /**
   * A request for an IKE SA we do not have: most likely we restarted and the peer still holds
   * the old one, or (`deleted`) we deleted it moments ago and the peer has not heard. Telling it
   * spares it the wait for DPD.
   */
  answerUnknownSpi(h: IkeMessageHeader, from: { addr: string; port: number }, localPort: 500 | 4500, deleted: DeletedSa | undefined, now: number): void {
    // A zero SPI of ours cannot name an SA anyone established with us: junk, not a lost SA.
    if ((h.initiator ? h.spiR : h.spiI) === 0n || h.exchangeType === ExchangeType.IKE_SA_INIT) return;
    if (!this.isPeer(from.addr) || !this.unknownSpiAnswers.take(from.addr)) return;
    this.send({ data: invalidIkeSpiAnswer(h), addr: from.addr, port: from.port, localPort });
    if (!this.drops.mayLog(`invalid-ike-spi-sent/${from.addr}`)) return;
    const sa = `IKE SA ${hex64(h.spiI)}_i ${hex64(h.spiR)}_r`;
    if (deleted !== undefined) {
      this.log.info({ peer: from.addr, spiI: hex64(h.spiI), spiR: hex64(h.spiR) },
        `${from.addr} sent exchange ${h.exchangeType} on ${sa}, which we deleted ${((now - deleted.deletedAt) / 1000).toFixed(1)} s ago; answered INVALID_IKE_SPI`);
      return;
    }
    this.log.warn({ peer: from.addr, spiI: hex64(h.spiI), spiR: hex64(h.spiR) },
      `${from.addr} asked about ${sa}, which we do not have (did this daemon restart?); answered INVALID_IKE_SPI`);
  }
}
