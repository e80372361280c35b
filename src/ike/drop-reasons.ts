// Why an IKE datagram was dropped, as data like the data plane's (dataplane/drop-reasons.ts):
// every datagram the engine reads ends in an exchange, an answer the RFC asks for, or one of
// these counters. Names are stable: `show ike` and its JSON print them verbatim.

import type { Logger } from 'pino';
import type { IkeDecodeError } from '../wire/ike/index.js';
import type { Clock } from '../clock.js';
import { RateLimit } from '../rate-limit.js';

export const IKE_DROP_REASONS = [
  // The codec refused the datagram (src/wire/ike/reason.ts has the details of each).
  'truncated',
  'length-mismatch',
  'unsupported-major-version',
  'bad-payload-length',
  'payload-overrun',
  'chain-overrun',
  'trailing-bytes',
  'sk-not-last',
  'unsupported-critical-payload',
  'malformed-payload',
  // Before any SA is involved.
  'oversized',            // longer than an IKE message can be
  'stopped',              // arrived while the engine was shutting down
  'unknown-peer',         // IKE_SA_INIT from an address no ikev2 vlink names (and not a NAT case)
  'bad-init',             // IKE_SA_INIT request with a responder SPI, a message ID, or a reused half-open SPI
  'cookie-required',      // COOKIE mode and no cookie: answered with one, no state kept
  'bad-cookie',           // a cookie that does not verify: answered with a fresh one
  'half-open-limit',      // the hard cap of half-open SAs is reached
  'unknown-spi',          // no IKE SA with that SPI for this peer (maybe answered INVALID_IKE_SPI)
  'deleted-sa',           // for an IKE SA deleted moments ago (not a retransmission of its last request), or while the message waited
  // Inside an SA.
  'message-id',           // a request outside the window of one
  'request-in-progress',  // a retransmission of a request we are still working on (peer authorisation)
  'unexpected-response',  // a response to nothing we asked, or to an earlier copy of our request
  'no-sk',                // a protected exchange without an SK payload
  'bad-icv',              // SK integrity check failed: forged or damaged, never answered
  'malformed',            // SK payload cannot be laid out (length, padding)
  'invalid-ike-spi',      // the peer's unprotected INVALID_IKE_SPI: a hint, never acted on as fact
  'unknown-exchange',     // an exchange type we do not implement: answered INVALID_SYNTAX
  'internal-error',       // handling it threw (a bug): dropped and logged, the engine keeps serving
] as const;

export type IkeDropReason = (typeof IKE_DROP_REASONS)[number];

// Every reason the codec can give must be a drop reason here.
const decodeErrorsAreReasons: IkeDecodeError extends IkeDropReason ? true : never = true;
void decodeErrorsAreReasons;

/**
 * Counts drops (only reasons that occurred appear in `counts`, as `show ike` has always shown
 * them) and logs each at most once per 10 s per reason and peer.
 */
export class IkeDrops {
  readonly counts: Partial<Record<IkeDropReason, number>> = {};
  private readonly logLimit: RateLimit;

  constructor(private readonly log: Logger, clock: Pick<Clock, 'now'>) {
    this.logLimit = new RateLimit(10000, clock);
  }

  /** Counts without logging, for callers that log the drop their own way. */
  count(reason: IkeDropReason): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
  }

  drop(reason: IkeDropReason, from: string, detail: string): void {
    this.count(reason);
    if (this.logLimit.take(`${reason}/${from}`)) this.log.warn({ peer: from, reason }, `IKE message from ${from} dropped: ${detail}`);
  }

  /** For other operator lines that a peer could make us repeat. */
  mayLog(key: string): boolean {
    return this.logLimit.take(key);
  }
}
