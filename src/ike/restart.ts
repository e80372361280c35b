// A peer that restarted has forgotten every SA it had with us. Two things tell us so sooner than
// dead-peer detection would (RFC 7296 §2.4, §2.21.4):
//
//   - INITIAL_CONTACT in its IKE_AUTH: authenticated, so every other IKE SA with that identity
//     is stale and goes at once (no Delete: the peer has nothing to delete);
//   - an unprotected INVALID_IKE_SPI answering one of our requests: anyone could forge it, so it
//     changes no state; it only makes us check (DPD now) or, as initiator, negotiate a new SA
//     beside the old one, which replaces the old one only once it authenticates.
//
// And the other way round: a request for an IKE SA we do not know (we are the one that
// restarted) may be answered with INVALID_IKE_SPI, but only to a configured peer's address and
// at a bounded rate, so we cannot be used as a reflector.

import {
  ExchangeType, NotifyType, PayloadType, notify,
  type DecodedMessage, type IkeMessageHeader,
} from '../wire/ike/index.js';
import type { IkeSa } from './ike-sa.js';
import { encodePlain } from './protect.js';

/**
 * The SAs an authenticated INITIAL_CONTACT on `fresh` makes stale: every other live SA whose
 * peer proved the same identity. Our own initiations still in progress are spared: they are
 * newer than the peer's restart.
 */
export function initialContactVictims(all: Iterable<IkeSa>, fresh: IkeSa): IkeSa[] {
  const id = fresh.cfg.remoteId;
  const out: IkeSa[] = [];
  for (const sa of all) {
    if (sa === fresh || sa.state === 'DELETED') continue;
    if (sa.state === 'CONNECTING' && sa.role === 'initiator') continue;
    if (sa.cfg.remoteId.idType !== id.idType || !sa.cfg.remoteId.data.equals(id.data)) continue;
    out.push(sa);
  }
  return out;
}

/** The unprotected answer to a request for an IKE SA we do not have (§2.21.4): SPIs and ID copied. */
export function invalidIkeSpiAnswer(h: IkeMessageHeader): Buffer {
  return encodePlain(
    { spiI: h.spiI, spiR: h.spiR, exchangeType: h.exchangeType, initiator: !h.initiator, response: true, messageId: h.messageId },
    [notify(NotifyType.INVALID_IKE_SPI)],
  );
}

/** Whether an (unauthenticated) response is the INVALID_IKE_SPI a restarted peer sends. */
export function isInvalidIkeSpi(m: DecodedMessage): boolean {
  return m.header.response && m.header.exchangeType !== ExchangeType.IKE_SA_INIT &&
    m.payloads.some((p) => p.type === PayloadType.NOTIFY && p.notifyType === NotifyType.INVALID_IKE_SPI);
}
