// CREATE_CHILD_SA (RFC 7296 §1.3) as used for rekeying: the payloads of both messages and the
// checks on them. What to rekey, when, and what to do with the old SAs is rekey.ts's business;
// this file only turns decisions into payloads and payloads into keys.
//
//   rekey a CHILD_SA:  HDR, SK {N(REKEY_SA), [N(USE_TRANSPORT_MODE)], SA, Ni, [KEi], TSi, TSr}  -->
//                                    <--  HDR, SK {[N(USE_TRANSPORT_MODE)], SA, Nr, [KEr], TSi, TSr}
//   rekey the IKE SA:  HDR, SK {SA, Ni, KEi}  -->
//                                    <--  HDR, SK {SA, Nr, KEr}
//   either may be:                   <--  HDR, SK {N(TEMPORARY_FAILURE | CHILD_SA_NOT_FOUND |
//                                                   NO_PROPOSAL_CHOSEN | INVALID_KE_PAYLOAD | ...)}

import { randomBytes } from 'node:crypto';
import {
  NotifyType, PayloadType, ProtocolId, TransformType, invalidKeGroup, notify, notifyName,
  type KePayload, type NotifyPayload, type PayloadRepr, type Proposal, type SaPayload, type TsPayload,
} from '../wire/ike/index.js';
import { generate, type DhKeyPair } from './crypto/dh.js';
import { childSaKeys, rekeyedIkeSaKeys } from './crypto/keys.js';
import { ikeSuiteName, isDhGroupId, type IkeSuite } from './crypto/suites.js';
import type { ExchangeContext } from './context.js';
import { spiBytes, type IkeSa } from './ike-sa.js';
import { checkEspAnswer, checkIkeAnswer, espAnswer, espOffer, ikeOffer, selectEsp, selectIke, type EspChoice } from './negotiate.js';
import { errorNotify, find, notifies } from './payloads.js';
import { SkContext } from './protect.js';
import { checkChildAnswer, checkChildRequest, childProtocols, childTsPayloads } from './tunnel-any.js';
import { natTsCfg } from './nat.js';
import type { ChildSaInstall, IkePeerConfig } from './types.js';
import { noProposalDetail } from './proposal-text.js';
import { hex64 } from '../wire/hex.js';

export const REKEY_NONCE_LEN = 32;

function spi4(spi: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(spi >>> 0);
  return b;
}

/** An error notify that names a CHILD_SA (protocol ESP and its SPI), as CHILD_SA_NOT_FOUND does. */
function espNotify(type: number, spi: Buffer): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocolId: ProtocolId.ESP, spi: Buffer.from(spi), notifyType: type, data: Buffer.alloc(0) };
}

export function refusal(type: number, spi?: Buffer): PayloadRepr[] {
  return [spi === undefined ? notify(type) : espNotify(type, spi)];
}

// ---------------------------------------------------------------------------------------------
// Rekeying a CHILD_SA.

/**
 * The request. REKEY_SA carries the SPI we receive the old SA on (§1.3.3), the SA payload our
 * new inbound SPI. No KE: PFS groups are not configurable yet, so ours never ask for one.
 */
export function childRekeyRequest(cfg: IkePeerConfig, oldSpiIn: number, newSpiIn: number, ni: Buffer): PayloadRepr[] {
  const ts = childTsPayloads(cfg, 'requester');
  return [
    espNotify(NotifyType.REKEY_SA, spi4(oldSpiIn)),
    ...ts.mode,
    espOffer(cfg.esp, newSpiIn),
    { type: PayloadType.NONCE, data: ni },
    ts.tsi,
    ts.tsr,
  ];
}

export type ChildAnswer =
  | { ok: true; choice: EspChoice; nr: Buffer; protocols: number[] }
  | { ok: false; notify: number | null; why: string };

/** The initiator's view of the response. */
export function checkChildRekeyAnswer(cfg: IkePeerConfig, ps: readonly PayloadRepr[]): ChildAnswer {
  const err = errorNotify(ps);
  if (err !== undefined) return { ok: false, notify: err.notifyType, why: `peer answered ${notifyName(err.notifyType)}` };
  const saP = find(ps, PayloadType.SA);
  const nonce = find(ps, PayloadType.NONCE);
  const tsi = find(ps, PayloadType.TSi);
  const tsr = find(ps, PayloadType.TSr);
  if (saP === undefined || nonce === undefined || tsi === undefined || tsr === undefined) {
    return { ok: false, notify: null, why: 'response lacks SA, nonce or traffic selectors' };
  }
  if (find(ps, PayloadType.KE) !== undefined) return { ok: false, notify: null, why: 'peer sent a KE payload we did not ask for' };
  const bad = checkChildAnswer(cfg, ps, tsi, tsr);
  if (bad !== null) return { ok: false, notify: null, why: bad };
  const choice = checkEspAnswer(saP, cfg.esp);
  if (typeof choice === 'string') return { ok: false, notify: null, why: choice };
  return { ok: true, choice, nr: Buffer.from(nonce.data), protocols: childProtocols(cfg, 'requester', tsi, tsr) };
}

/**
 * KEYMAT of a CHILD_SA made by CREATE_CHILD_SA (§2.17): SK_d of the IKE SA that ran the exchange,
 * that exchange's nonces, and g^ir when PFS was used. `weInitiated` is about this exchange, not
 * about who set up the IKE SA.
 */
export function rekeyedChild(sa: IkeSa, choice: EspChoice, ni: Buffer, nr: Buffer, spiIn: number, weInitiated: boolean, protocols: readonly number[], gir?: Buffer): ChildSaInstall {
  const k = childSaKeys(sa.suite!.prf.id, sa.keys!.skD, choice.suite, ni, nr, gir);
  const [inn, out] = weInitiated ? [k.responderToInitiator, k.initiatorToResponder] : [k.initiatorToResponder, k.responderToInitiator];
  return { spiIn, spiOut: choice.peerSpi, suite: choice.suite, keyIn: inn.key, saltIn: inn.salt, keyOut: out.key, saltOut: out.salt, esn: choice.esn, protocols: [...protocols] };
}

// ---------------------------------------------------------------------------------------------
// What a CREATE_CHILD_SA request asks for.

export type CreateChildRequest =
  | { kind: 'child-rekey'; rekeySpi: number; sa: SaPayload; ni: Buffer; ke: KePayload | undefined; tsi: TsPayload; tsr: TsPayload }
  | { kind: 'ike-rekey'; sa: SaPayload; ni: Buffer; ke: KePayload }
  | { kind: 'new-child' }
  | { kind: 'invalid'; why: string };

export function classifyCreateChild(ps: readonly PayloadRepr[]): CreateChildRequest {
  const saP = find(ps, PayloadType.SA);
  const nonce = find(ps, PayloadType.NONCE);
  const ke = find(ps, PayloadType.KE);
  if (saP === undefined || nonce === undefined) return { kind: 'invalid', why: 'no SA or nonce payload' };
  if (saP.proposals.length > 0 && saP.proposals.every((p) => p.protocolId === ProtocolId.IKE)) {
    if (ke === undefined) return { kind: 'invalid', why: 'IKE SA rekey without a KE payload' };
    return { kind: 'ike-rekey', sa: saP, ni: Buffer.from(nonce.data), ke };
  }
  const rekey = notifies(ps).find((n) => n.notifyType === NotifyType.REKEY_SA);
  if (rekey === undefined) return { kind: 'new-child' };
  const tsi = find(ps, PayloadType.TSi);
  const tsr = find(ps, PayloadType.TSr);
  if (rekey.protocolId !== ProtocolId.ESP || rekey.spi.length !== 4) return { kind: 'invalid', why: 'REKEY_SA names no ESP SPI' };
  if (tsi === undefined || tsr === undefined) return { kind: 'invalid', why: 'CHILD_SA rekey without traffic selectors' };
  return { kind: 'child-rekey', rekeySpi: rekey.spi.readUInt32BE(0), sa: saP, ni: Buffer.from(nonce.data), ke, tsi, tsr };
}

function dhIds(p: Proposal): number[] {
  return p.transforms.filter((t) => t.type === TransformType.DH).map((t) => t.id);
}

export type ChildRekeyAnswer =
  | { ok: true; reply: PayloadRepr[]; install: ChildSaInstall; nr: Buffer }
  | { ok: false; reply: PayloadRepr[]; why: string };

/**
 * Responder: the answer to a CHILD_SA rekey, with the keys of the new SA. PFS is accepted when
 * the initiator asks for it with a group we implement; our own offers never ask.
 */
export function answerChildRekey(sa: IkeSa, req: Extract<CreateChildRequest, { kind: 'child-rekey' }>, ps: readonly PayloadRepr[], spiIn: number): ChildRekeyAnswer {
  // Across a NAT the selectors name addresses we never see (RFC 7296 §2.23.1; nat.ts).
  const cfg = natTsCfg(sa, sa.cfg, req.tsi, req.tsr);
  const mode = checkChildRequest(cfg, ps, req.tsi, req.tsr);
  if (mode !== null) return { ok: false, reply: refusal(mode.refuse), why: mode.why };
  const choice = selectEsp(req.sa, cfg.esp);
  if (choice === null) {
    return { ok: false, reply: refusal(NotifyType.NO_PROPOSAL_CHOSEN), why: `no ESP proposal in common with our esp_proposals (${noProposalDetail(req.sa, ProtocolId.ESP, cfg.esp)})` };
  }
  const offered = req.sa.proposals.find((p) => p.number === choice.number);
  const groups = offered === undefined ? [] : dhIds(offered);
  let dh: DhKeyPair | null = null;
  let gir: Buffer | undefined;
  if (groups.length > 0 && !(groups.includes(0) && req.ke === undefined)) {
    const usable = groups.filter(isDhGroupId);
    const want = req.ke === undefined ? undefined : usable.find((g) => g === req.ke!.group);
    if (want === undefined) {
      if (usable.length === 0) return { ok: false, reply: refusal(NotifyType.NO_PROPOSAL_CHOSEN), why: `peer wants PFS with DH group(s) ${groups.join(', ')}, none of which we implement` };
      const data = Buffer.alloc(2);
      data.writeUInt16BE(usable[0]!);
      return { ok: false, reply: [notify(NotifyType.INVALID_KE_PAYLOAD, data)], why: `peer's KE is not for a group it offered; asked for group ${usable[0]}` };
    }
    dh = generate(want);
    const shared = dh.computeShared(req.ke!.data);
    if (shared === 'invalid-ke') return { ok: false, reply: refusal(NotifyType.INVALID_SYNTAX), why: 'the peer\'s Diffie-Hellman value is invalid' };
    gir = shared;
  }
  const nr = randomBytes(REKEY_NONCE_LEN);
  const protocols = childProtocols(cfg, 'responder', req.tsi, req.tsr);
  const install = rekeyedChild(sa, choice, req.ni, nr, spiIn, false, protocols, gir);
  const answer = espAnswer(choice, spiIn);
  if (dh !== null) answer.proposals[0]!.transforms.push({ type: TransformType.DH, id: dh.group });
  const ts = childTsPayloads(cfg, 'responder', protocols);
  const reply: PayloadRepr[] = [...ts.mode, answer, { type: PayloadType.NONCE, data: nr }];
  if (dh !== null) reply.push({ type: PayloadType.KE, group: dh.group, data: dh.publicValue });
  reply.push(ts.tsi, ts.tsr);
  return { ok: true, reply, install, nr };
}

// ---------------------------------------------------------------------------------------------
// Rekeying the IKE SA (§1.3.2, §2.18).

/** Our IKE proposals, each carrying the SPI the new SA will have on our side. */
export function ikeRekeyRequest(cfg: IkePeerConfig, newSpi: bigint, ni: Buffer, dh: DhKeyPair): PayloadRepr[] {
  const offer = ikeOffer(cfg.ike);
  const spi = spiBytes(newSpi);
  return [
    { type: PayloadType.SA, proposals: offer.proposals.map((p) => ({ ...p, spi })) },
    { type: PayloadType.NONCE, data: ni },
    { type: PayloadType.KE, group: dh.group, data: dh.publicValue },
  ];
}

export interface NewIkeSaParams {
  suite: IkeSuite;
  spiI: bigint;
  spiR: bigint;
  ni: Buffer;
  nr: Buffer;
  gir: Buffer;
}

export type IkeAnswer =
  | { ok: true; params: NewIkeSaParams }
  | { ok: false; notify: number | null; wantGroup: number | null; why: string };

export function checkIkeRekeyAnswer(sa: IkeSa, ps: readonly PayloadRepr[], newSpi: bigint, ni: Buffer, dh: DhKeyPair): IkeAnswer {
  const err = errorNotify(ps);
  if (err !== undefined) return { ok: false, notify: err.notifyType, wantGroup: invalidKeGroup(err), why: `peer answered ${notifyName(err.notifyType)}` };
  const saP = find(ps, PayloadType.SA);
  const nonce = find(ps, PayloadType.NONCE);
  const ke = find(ps, PayloadType.KE);
  const fail = (why: string): IkeAnswer => ({ ok: false, notify: null, wantGroup: null, why });
  if (saP === undefined || nonce === undefined || ke === undefined) return fail('response lacks SA, nonce or KE');
  const suite = checkIkeAnswer(saP, sa.cfg.ike);
  if (typeof suite === 'string') return fail(suite);
  const spi = saP.proposals[0]!.spi;
  if (spi.length !== 8 || spi.readBigUInt64BE(0) === 0n) return fail('the chosen proposal carries no 8-byte SPI for the new IKE SA');
  if (ke.group !== suite.dh.id || ke.group !== dh.group) return fail(`KE group ${ke.group} does not match the chosen group ${suite.dh.id}`);
  const gir = dh.computeShared(ke.data);
  if (gir === 'invalid-ke') return fail('the peer\'s Diffie-Hellman value is invalid');
  return { ok: true, params: { suite, spiI: newSpi, spiR: spi.readBigUInt64BE(0), ni, nr: Buffer.from(nonce.data), gir } };
}

export type IkeRekeyAnswer =
  | { ok: true; reply: PayloadRepr[]; params: NewIkeSaParams }
  | { ok: false; reply: PayloadRepr[]; why: string };

/** Responder: choose among the offer (proposal SPIs set aside: selectIke knows IKE_SA_INIT's empty ones). */
export function answerIkeRekey(req: Extract<CreateChildRequest, { kind: 'ike-rekey' }>, cfg: IkePeerConfig, newSpi: bigint): IkeRekeyAnswer {
  const spis = new Map<number, Buffer>();
  for (const p of req.sa.proposals) spis.set(p.number, p.spi);
  const stripped: SaPayload = { ...req.sa, proposals: req.sa.proposals.map((p) => ({ ...p, spi: Buffer.alloc(0) })) };
  const sel = selectIke(stripped, cfg.ike, req.ke.group);
  if (sel.kind === 'no-proposal') {
    return { ok: false, reply: refusal(NotifyType.NO_PROPOSAL_CHOSEN), why: `no IKE proposal in common with our ike_proposals (${noProposalDetail(req.sa, ProtocolId.IKE, cfg.ike)})` };
  }
  if (sel.kind === 'invalid-ke') {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(sel.group);
    return { ok: false, reply: [notify(NotifyType.INVALID_KE_PAYLOAD, data)], why: `peer sent a KE for group ${req.ke.group}; asked for group ${sel.group}` };
  }
  const peerSpi = spis.get(sel.choice.proposal.number);
  if (peerSpi === undefined || peerSpi.length !== 8 || peerSpi.readBigUInt64BE(0) === 0n) {
    return { ok: false, reply: refusal(NotifyType.INVALID_SYNTAX), why: 'IKE SA rekey proposal without an 8-byte SPI' };
  }
  const suite = sel.choice.suite;
  const dh = generate(suite.dh.id);
  const gir = dh.computeShared(req.ke.data);
  if (gir === 'invalid-ke') return { ok: false, reply: refusal(NotifyType.INVALID_SYNTAX), why: 'the peer\'s Diffie-Hellman value is invalid' };
  const nr = randomBytes(REKEY_NONCE_LEN);
  const reply: PayloadRepr[] = [
    { type: PayloadType.SA, proposals: [{ ...sel.choice.proposal, spi: spiBytes(newSpi) }] },
    { type: PayloadType.NONCE, data: nr },
    { type: PayloadType.KE, group: dh.group, data: dh.publicValue },
  ];
  return { ok: true, reply, params: { suite, spiI: peerSpi.readBigUInt64BE(0), spiR: newSpi, ni: req.ni, nr, gir } };
}

/**
 * Keys the IKE SA that replaces `old` (§2.18: SKEYSEED from the old SA's SK_d and PRF) and logs
 * them like IKE_SA_INIT's. The SA object comes from the engine, which owns its I/O.
 */
export function keyRekeyedIkeSa(ctx: ExchangeContext, old: IkeSa, fresh: IkeSa, p: NewIkeSaParams): void {
  fresh.spiR = p.spiR;
  fresh.ni = p.ni;
  fresh.nr = p.nr;
  fresh.suite = p.suite;
  fresh.keys = rekeyedIkeSaKeys(old.suite!.prf.id, old.keys!.skD, p.suite, { ni: p.ni, nr: p.nr, gir: p.gir, spiI: spiBytes(p.spiI), spiR: spiBytes(p.spiR) });
  fresh.sk = new SkContext(p.suite, fresh.keys, fresh.role);
  fresh.startMessageIdsAtZero();
  fresh.state = 'ESTABLISHED';
  fresh.establishedAt = fresh.clock.now();
  // Carried over: the new SA talks to the same peer over the same path, with the same identity.
  fresh.nat = old.nat;
  fresh.peerKey = old.peerKey;
  fresh.peerSigHashes = old.peerSigHashes;
  const k = fresh.keys;
  ctx.keyLog({
    type: 'ike', vlink: fresh.cfg.vlink, spiI: hex64(p.spiI), spiR: hex64(p.spiR),
    suite: ikeSuiteName(p.suite), prf: p.suite.prf.id, ni: p.ni.toString('hex'), nr: p.nr.toString('hex'),
    skeyseed: k.skeyseed.toString('hex'), skD: k.skD.toString('hex'), skAi: k.skAi.toString('hex'), skAr: k.skAr.toString('hex'),
    skEi: k.skEi.toString('hex'), skEr: k.skEr.toString('hex'), skPi: k.skPi.toString('hex'), skPr: k.skPr.toString('hex'),
    rekeyOf: `${hex64(old.spiI)}_${hex64(old.spiR)}`,
  });
}

/** §2.8.1: of two colliding exchanges, the one holding the lowest of the four nonces is redundant. */
export function lowestNonce(a: readonly Buffer[]): Buffer {
  return a.reduce((m, n) => (Buffer.compare(n, m) < 0 ? n : m));
}
