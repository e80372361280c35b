// IKE_SA_INIT (RFC 7296 §1.2): proposals, Diffie-Hellman and nonces, in the clear.
//
//   initiator                                   responder
//   HDR, SAi1, KEi, Ni                 -->
//                                      <--      HDR, SAr1, KEr, Nr
//                                      <--      HDR, N(INVALID_KE_PAYLOAD | NO_PROPOSAL_CHOSEN | COOKIE)
//
// Both messages carry NAT_DETECTION_SOURCE_IP/DESTINATION_IP (nat.ts decides what they mean).

import { randomBytes } from 'node:crypto';
import {
  ExchangeType, NotifyType, PayloadType, ProtocolId, invalidKeGroup, notify, notifyName,
  type DecodedMessage, type KePayload, type NoncePayload, type NotifyPayload, type PayloadRepr, type SaPayload,
} from '../wire/ike/index.js';
import { errorNotify, find, notifies } from './payloads.js';
import { generate, type DhGroupId } from './crypto/dh.js';
import { initialIkeSaKeys } from './crypto/keys.js';
import { isDhGroupId, ikeSuiteName, type IkeSuite } from './crypto/suites.js';
import { IkeSa, newIkeSpi, spiBytes, type IkeSaIo } from './ike-sa.js';
import { checkIkeAnswer, ikeOffer, selectIke } from './negotiate.js';
import { encodePlain, SkContext } from './protect.js';
import type { ExchangeContext } from './context.js';
import type { IkePeerConfig } from './types.js';
import { startAuth } from './exchange-auth.js';
import { initRequestNatNotifies, initResponseNat, onInitResponseNat } from './nat.js';
import { initPayloads, notePeerInit } from './auth-pubkey.js';
import { noProposalDetail } from './proposal-text.js';
import { hex64 } from '../wire/hex.js';

const NONCE_LEN = 32;

/** Initiator: sends (or re-sends, after INVALID_KE_PAYLOAD or COOKIE) the first message. */
export function sendInitRequest(ctx: ExchangeContext, sa: IkeSa, group: DhGroupId): void {
  // A retry keeps what it can: after a COOKIE every other payload must be unchanged (RFC 7296
  // §2.6; the responder's cookie covers Ni), after INVALID_KE_PAYLOAD only the KE changes.
  if (sa.dh === null || sa.dh.group !== group) sa.dh = generate(group);
  if (sa.ni.length === 0) sa.ni = randomBytes(NONCE_LEN);
  const payloads: PayloadRepr[] = [];
  // RFC 7296 §2.6: the cookie goes first.
  if (sa.cookie !== null) payloads.push(notify(NotifyType.COOKIE, sa.cookie));
  payloads.push(
    ikeOffer(sa.cfg.ike),
    { type: PayloadType.KE, group, data: sa.dh.publicValue },
    { type: PayloadType.NONCE, data: sa.ni },
    ...initRequestNatNotifies(sa),
    ...initPayloads(sa.cfg, 'initiator'),
  );
  sa.initRequest = encodePlain(sa.header(ExchangeType.IKE_SA_INIT, false, 0), payloads);
  sa.request(ExchangeType.IKE_SA_INIT, 0, sa.initRequest, (n) =>
    ctx.failed(sa, `no answer to IKE_SA_INIT from ${sa.remote.addr} after ${n} tries (is the peer running, and is UDP ${sa.remote.port} open?)`, true));
}

/** Initiator: first DH group of our first proposal, like every implementation guesses. */
export function firstGroup(cfg: IkePeerConfig): DhGroupId {
  return cfg.ike[0]!.dhs[0]!;
}

function deriveKeys(ctx: ExchangeContext, sa: IkeSa, suite: IkeSuite, peerKe: Buffer): string | null {
  const gir = sa.dh!.computeShared(peerKe);
  if (gir === 'invalid-ke') return 'the peer\'s Diffie-Hellman value is invalid';
  sa.suite = suite;
  sa.keys = initialIkeSaKeys(suite, { ni: sa.ni, nr: sa.nr, gir, spiI: spiBytes(sa.spiI), spiR: spiBytes(sa.spiR) });
  sa.sk = new SkContext(suite, sa.keys, sa.role);
  const k = sa.keys;
  ctx.keyLog({
    type: 'ike', vlink: sa.cfg.vlink, spiI: hex64(sa.spiI), spiR: hex64(sa.spiR),
    suite: ikeSuiteName(suite), prf: suite.prf.id, ni: sa.ni.toString('hex'), nr: sa.nr.toString('hex'),
    skeyseed: k.skeyseed.toString('hex'), skD: k.skD.toString('hex'), skAi: k.skAi.toString('hex'), skAr: k.skAr.toString('hex'),
    skEi: k.skEi.toString('hex'), skEr: k.skEr.toString('hex'), skPi: k.skPi.toString('hex'), skPr: k.skPr.toString('hex'),
  });
  return null;
}

/** Initiator: the response to IKE_SA_INIT. */
export function onInitResponse(ctx: ExchangeContext, sa: IkeSa, m: DecodedMessage, raw: Buffer): void {
  const peer = sa.remote.addr;
  const ps = m.payloads;
  const err = errorNotify(ps);
  if (err !== undefined) {
    const want = invalidKeGroup(err);
    if (want !== null) {
      const offered = sa.cfg.ike.some((p) => (p.dhs as number[]).includes(want));
      if (!offered || !isDhGroupId(want) || sa.refusedGroups.has(want)) {
        ctx.failed(sa, `IKE_SA_INIT to ${peer}: peer wants DH group ${want}, which we did not offer`, true);
        return;
      }
      sa.refusedGroups.add(sa.dh!.group);
      ctx.log.info({ vlink: sa.cfg.vlink, peer, group: want }, `IKE_SA_INIT to ${peer}: peer asked for DH group ${want} (INVALID_KE_PAYLOAD); retrying with it`);
      sendInitRequest(ctx, sa, want);
      return;
    }
    const hint = err.notifyType === NotifyType.NO_PROPOSAL_CHOSEN ? ' (no common IKE proposal: compare ike_proposals with the peer\'s)' : '';
    ctx.failed(sa, `IKE_SA_INIT to ${peer}: peer refused with ${notifyName(err.notifyType)}${hint}`, true);
    return;
  }
  const cookie = notifies(ps).find((n) => n.notifyType === NotifyType.COOKIE);
  if (cookie !== undefined) {
    if (sa.cookie !== null) {
      ctx.failed(sa, `IKE_SA_INIT to ${peer}: peer asked for a cookie twice`, true);
      return;
    }
    sa.cookie = Buffer.from(cookie.data);
    sendInitRequest(ctx, sa, sa.dh!.group);
    return;
  }
  const saP = find(ps, PayloadType.SA);
  const ke = find(ps, PayloadType.KE);
  const nonce = find(ps, PayloadType.NONCE);
  if (saP === undefined || ke === undefined || nonce === undefined || m.header.spiR === 0n) {
    ctx.failed(sa, `IKE_SA_INIT to ${peer}: response lacks SA, KE, nonce or responder SPI`, true);
    return;
  }
  const suite = checkIkeAnswer(saP, sa.cfg.ike);
  if (typeof suite === 'string') {
    ctx.failed(sa, `IKE_SA_INIT to ${peer}: ${suite}`, true);
    return;
  }
  if (ke.group !== suite.dh.id || ke.group !== sa.dh!.group) {
    ctx.failed(sa, `IKE_SA_INIT to ${peer}: KE group ${ke.group} does not match the chosen group ${suite.dh.id}`, true);
    return;
  }
  sa.spiR = m.header.spiR;
  sa.nr = Buffer.from(nonce.data);
  sa.initResponse = raw;
  onInitResponseNat(sa, ps);
  notePeerInit(sa, ps);
  const bad = deriveKeys(ctx, sa, suite, ke.data);
  if (bad !== null) {
    ctx.failed(sa, `IKE_SA_INIT to ${peer}: ${bad}`, true);
    return;
  }
  ctx.indexed(sa);
  ctx.log.debug({ vlink: sa.cfg.vlink, peer, ike: sa.name, suite: ikeSuiteName(suite) }, 'IKE_SA_INIT done');
  startAuth(ctx, sa);
}

/** Responder: an unprotected error answer to IKE_SA_INIT; no state is kept (RFC 7296 §2.6). */
export function initError(m: { spiI: bigint }, n: NotifyPayload): Buffer {
  return encodePlain({ spiI: m.spiI, spiR: 0n, exchangeType: ExchangeType.IKE_SA_INIT, initiator: false, response: true, messageId: 0 }, [n]);
}

function ruleOut(ke: KePayload | undefined, nonce: NoncePayload | undefined, saP: SaPayload | undefined): string | null {
  if (saP === undefined) return 'no SA payload';
  if (ke === undefined) return 'no KE payload';
  if (nonce === undefined) return 'no nonce';
  return null;
}

export type InitRequestOutcome =
  | { kind: 'sa'; sa: IkeSa }
  /** `failure`: false when the refusal is a step of the negotiation (INVALID_KE_PAYLOAD). */
  | { kind: 'refused'; reply: Buffer; why: string; failure: boolean };

/** Responder: a new IKE_SA_INIT request from a configured peer. */
export function onInitRequest(
  ctx: ExchangeContext, cfg: IkePeerConfig, m: DecodedMessage, raw: Buffer, remote: IkeSa['remote'],
  io: IkeSaIo,
): InitRequestOutcome {
  const ps = m.payloads;
  const saP = find(ps, PayloadType.SA);
  const ke = find(ps, PayloadType.KE);
  const nonce = find(ps, PayloadType.NONCE);
  const missing = ruleOut(ke, nonce, saP);
  if (missing !== null) return { kind: 'refused', reply: initError(m.header, notify(NotifyType.INVALID_SYNTAX)), why: `malformed request (${missing}); answered INVALID_SYNTAX`, failure: true };
  const sel = selectIke(saP!, cfg.ike, ke!.group);
  if (sel.kind === 'no-proposal') {
    return {
      kind: 'refused', reply: initError(m.header, notify(NotifyType.NO_PROPOSAL_CHOSEN)),
      why: `no proposal in common with our ike_proposals; answered NO_PROPOSAL_CHOSEN (${noProposalDetail(saP!, ProtocolId.IKE, cfg.ike)})`,
      failure: true,
    };
  }
  if (sel.kind === 'invalid-ke') {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(sel.group);
    return { kind: 'refused', reply: initError(m.header, notify(NotifyType.INVALID_KE_PAYLOAD, data)), why: `peer sent a KE for group ${ke!.group}; asked for group ${sel.group} (INVALID_KE_PAYLOAD)`, failure: false };
  }
  const sa = new IkeSa(cfg, 'responder', m.header.spiI, remote, io);
  sa.spiR = newIkeSpi();
  sa.ni = Buffer.from(nonce!.data);
  sa.nr = randomBytes(NONCE_LEN);
  sa.dh = generate(sel.choice.suite.dh.id);
  sa.initRequest = raw;
  notePeerInit(sa, ps);
  const bad = deriveKeys(ctx, sa, sel.choice.suite, ke!.data);
  if (bad !== null) {
    sa.close(bad);
    return { kind: 'refused', reply: initError(m.header, notify(NotifyType.INVALID_SYNTAX)), why: `${bad}; answered INVALID_SYNTAX`, failure: true };
  }
  sa.initResponse = encodePlain(sa.header(ExchangeType.IKE_SA_INIT, true, 0), [
    { type: PayloadType.SA, proposals: [sel.choice.proposal] },
    { type: PayloadType.KE, group: sel.choice.suite.dh.id, data: sa.dh.publicValue },
    { type: PayloadType.NONCE, data: sa.nr },
    ...initResponseNat(sa, ps),
    ...initPayloads(cfg, 'responder'),
  ]);
  sa.respond(raw, sa.initResponse);
  return { kind: 'sa', sa };
}
