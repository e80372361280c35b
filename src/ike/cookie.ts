// Stateless COOKIEs against IKE_SA_INIT floods (RFC 7296 §2.6).
//
// Every IKE_SA_INIT a responder accepts costs a Diffie-Hellman computation and a half-open SA.
// Past a threshold of half-open SAs the responder stops paying for requests that may come from
// spoofed addresses: it answers with a COOKIE computed from the request alone and keeps
// nothing. Only an initiator that can receive at its source address can echo the cookie, and
// only then does the responder do the expensive work.
//
//   Cookie = <secret version, 1 byte> | HMAC-SHA-256(secret, Ni | IPi | SPIi)
//
// The secret is replaced every `rotateMs`; the previous one stays valid for one more period, so
// a cookie handed out just before a rotation still works when its initiator comes back. The
// version byte says which secret to check against without trying both.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { addrBytes } from './addr-bytes.js';
import { NotifyType, PayloadType, type PayloadRepr } from '../wire/ike/index.js';
import { realClock } from '../clock.js';

export const DEFAULT_COOKIE_THRESHOLD = 10;
export const DEFAULT_COOKIE_ROTATE_MS = 120000;
const COOKIE_LEN = 1 + 32;

interface Secret {
  version: number;
  key: Buffer;
  since: number;
}

export interface CookieStats {
  /** IKE_SA_INIT requests answered with a COOKIE instead of an SA. */
  sent: number;
  /** Requests that carried a cookie we had issued and that still verified. */
  accepted: number;
  /** Requests with a cookie that did not verify (forged, stale, or for another address). */
  rejected: number;
  /** Secret rotations so far. */
  rotations: number;
}

export type CookieVerdict = 'valid' | 'missing' | 'invalid';

export class CookieGuard {
  private cur: Secret;
  private prev: Secret | null = null;
  readonly stats: CookieStats = { sent: 0, accepted: 0, rejected: 0, rotations: 0 };

  constructor(
    /** Half-open SAs at which cookies become mandatory; 0: always. */
    readonly threshold: number = DEFAULT_COOKIE_THRESHOLD,
    readonly rotateMs: number = DEFAULT_COOKIE_ROTATE_MS,
    private readonly now: () => number = realClock.now,
  ) {
    this.cur = { version: randomBytes(1)[0]!, key: randomBytes(32), since: now() };
  }

  /** Whether a new IKE_SA_INIT must bring a valid cookie, given the half-open SAs we hold. */
  required(halfOpen: number): boolean {
    return halfOpen >= this.threshold;
  }

  /**
   * Rotates lazily, on use: a responder nobody talks to needs no timer. A secret older than two
   * periods is dropped entirely, so no cookie is ever valid for much more than 2 × rotateMs.
   */
  private fresh(): void {
    const t = this.now();
    if (t - this.cur.since < this.rotateMs) return;
    const next = (s: number): Secret => ({ version: (this.cur.version + 1) & 0xff, key: randomBytes(32), since: s });
    this.prev = t - this.cur.since < 2 * this.rotateMs ? this.cur : null;
    this.cur = next(t);
    this.stats.rotations++;
  }

  private mac(s: Secret, ni: Buffer, ipi: string, spiI: bigint): Buffer {
    const ip = addrBytes(ipi);
    const b = Buffer.alloc(ip.length + 8);
    ip.copy(b, 0);
    b.writeBigUInt64BE(spiI, ip.length);
    return Buffer.concat([Buffer.from([s.version]), createHmac('sha256', s.key).update(ni).update(b).digest()]);
  }

  /** The cookie for a request from `ipi` with nonce `ni` and SPI `spiI`. */
  make(ni: Buffer, ipi: string, spiI: bigint): Buffer {
    this.fresh();
    return this.mac(this.cur, ni, ipi, spiI);
  }

  verify(cookie: Buffer, ni: Buffer, ipi: string, spiI: bigint): boolean {
    this.fresh();
    if (cookie.length !== COOKIE_LEN) return false;
    const s = cookie[0] === this.cur.version ? this.cur : this.prev !== null && cookie[0] === this.prev.version ? this.prev : null;
    return s !== null && timingSafeEqual(cookie, this.mac(s, ni, ipi, spiI));
  }

  /**
   * Judges a request's cookie. RFC 7296 §2.6 puts the COOKIE notify first in the retried
   * request, so a cookie anywhere else does not count.
   */
  check(ps: readonly PayloadRepr[], ipi: string, spiI: bigint): CookieVerdict {
    const first = ps[0];
    if (first === undefined || first.type !== PayloadType.NOTIFY || first.notifyType !== NotifyType.COOKIE) return 'missing';
    const nonce = ps.find((p) => p.type === PayloadType.NONCE);
    if (nonce === undefined || !this.verify(first.data, nonce.data, ipi, spiI)) {
      this.stats.rejected++;
      return 'invalid';
    }
    this.stats.accepted++;
    return 'valid';
  }

  /** The cookie to answer a request with; null when it has no nonce (nothing to bind it to). */
  challenge(ps: readonly PayloadRepr[], ipi: string, spiI: bigint): Buffer | null {
    const nonce = ps.find((p) => p.type === PayloadType.NONCE);
    if (nonce === undefined) return null;
    this.stats.sent++;
    return this.make(nonce.data, ipi, spiI);
  }
}
