// Proposal negotiation (RFC 7296 §2.7, §3.3.6): the SA payloads we offer, the one proposal we
// pick as responder, and the check that a responder's pick was really one of our offers.
//
// The responder honours its own preference order (our config's order), not the initiator's:
// the operator who wrote the list ranked it. Among equally acceptable picks it prefers the DH
// group the initiator already sent a KE for, which saves the INVALID_KE_PAYLOAD round trip.

import type { Suite } from '../dataplane/suite.js';
import { PayloadType, ProtocolId, TransformType, type Proposal, type SaPayload, type Transform } from '../wire/ike/index.js';
import { childSuite, childTransform, ikeSuite, type IkeSuite } from './crypto/suites.js';
import type { EncrChoice, EspProposalSpec, IkeProposalSpec } from './proposals.js';

const KNOWN_TYPES = new Set<number>([TransformType.ENCR, TransformType.PRF, TransformType.INTEG, TransformType.DH, TransformType.ESN]);

function encrTransform(e: { id: number; keyLenBits: number | null }): Transform {
  return e.keyLenBits === null ? { type: TransformType.ENCR, id: e.id } : { type: TransformType.ENCR, id: e.id, keyLength: e.keyLenBits };
}

function childEncr(suite: Suite): Transform {
  const t = childTransform(suite);
  return encrTransform({ id: t.encr, keyLenBits: t.keyLenBits });
}

/** Our IKE_SA_INIT offer: one proposal per configured string, numbered from 1. */
export function ikeOffer(specs: readonly IkeProposalSpec[]): SaPayload {
  return {
    type: PayloadType.SA,
    proposals: specs.map((s, i) => ({
      number: i + 1,
      protocolId: ProtocolId.IKE,
      spi: Buffer.alloc(0),
      transforms: [
        ...s.encrs.map(encrTransform),
        ...s.prfs.map((id) => ({ type: TransformType.PRF, id })),
        ...s.integs.map((id) => ({ type: TransformType.INTEG, id })),
        ...s.dhs.map((id) => ({ type: TransformType.DH, id })),
      ],
    })),
  };
}

/** Our CHILD_SA offer in IKE_AUTH; every proposal carries our inbound SPI. */
export function espOffer(specs: readonly EspProposalSpec[], spiIn: number): SaPayload {
  const spi = Buffer.alloc(4);
  spi.writeUInt32BE(spiIn >>> 0);
  return {
    type: PayloadType.SA,
    proposals: specs.map((s, i) => ({
      number: i + 1,
      protocolId: ProtocolId.ESP,
      spi,
      transforms: [
        ...s.suites.map((suite) => childEncr(suite)),
        ...s.esns.map((id) => ({ type: TransformType.ESN, id })),
      ],
    })),
  };
}

function has(p: Proposal, type: number, id: number, keyLenBits: number | null = null): boolean {
  return p.transforms.some((t) => t.type === type && t.id === id && (t.keyLength ?? null) === keyLenBits);
}

function ofType(p: Proposal, type: number): Transform[] {
  return p.transforms.filter((t) => t.type === type);
}

/** RFC 5282 §8: with an AEAD cipher, INTEG must be absent or NONE. */
function integFreeOrNone(p: Proposal): boolean {
  return ofType(p, TransformType.INTEG).every((t) => t.id === 0);
}

function unknownTypes(p: Proposal): boolean {
  return p.transforms.some((t) => !KNOWN_TYPES.has(t.type) || (t.attributes?.length ?? 0) > 0);
}

export interface IkeChoice {
  /** The single-transform proposal to send back. */
  proposal: Proposal;
  suite: IkeSuite;
}

export type IkeSelection =
  | { kind: 'ok'; choice: IkeChoice }
  /** Acceptable, but with a DH group other than the KE payload's: answer INVALID_KE_PAYLOAD. */
  | { kind: 'invalid-ke'; group: number }
  | { kind: 'no-proposal' };

function pickIke(ours: IkeProposalSpec, offered: Proposal, dhFilter: number | null): IkeChoice | null {
  if (offered.protocolId !== ProtocolId.IKE || offered.spi.length !== 0 || unknownTypes(offered)) return null;
  if (ofType(offered, TransformType.ESN).length > 0) return null;
  const prf = ours.prfs.find((id) => has(offered, TransformType.PRF, id));
  const dh = ours.dhs.find((id) => (dhFilter === null || id === dhFilter) && has(offered, TransformType.DH, id));
  if (prf === undefined || dh === undefined) return null;
  for (const e of ours.encrs) {
    if (!has(offered, TransformType.ENCR, e.id, e.keyLenBits)) continue;
    let integ: number | null = null;
    if (e.aead) {
      if (!integFreeOrNone(offered)) continue;
    } else {
      const i = ours.integs.find((id) => has(offered, TransformType.INTEG, id));
      if (i === undefined) continue;
      integ = i;
    }
    const suite = ikeSuite({ encr: e.id, keyLenBits: e.keyLenBits, integ, prf, dh });
    if (suite === null) continue;
    const transforms: Transform[] = [encrTransform(e), { type: TransformType.PRF, id: prf }];
    if (integ !== null) transforms.push({ type: TransformType.INTEG, id: integ });
    transforms.push({ type: TransformType.DH, id: dh });
    return { proposal: { number: offered.number, protocolId: ProtocolId.IKE, spi: Buffer.alloc(0), transforms }, suite };
  }
  return null;
}

/** Responder side of IKE_SA_INIT. `keGroup` is the group of the initiator's KE payload. */
export function selectIke(offered: SaPayload, ours: readonly IkeProposalSpec[], keGroup: number): IkeSelection {
  for (const dhFilter of [keGroup, null]) {
    for (const o of ours) {
      for (const p of offered.proposals) {
        const c = pickIke(o, p, dhFilter);
        if (c === null) continue;
        return c.suite.dh.id === keGroup ? { kind: 'ok', choice: c } : { kind: 'invalid-ke', group: c.suite.dh.id };
      }
    }
  }
  return { kind: 'no-proposal' };
}

function exactlyOne(p: Proposal, type: number): Transform | null | 'many' {
  const ts = ofType(p, type);
  return ts.length === 0 ? null : ts.length === 1 ? ts[0]! : 'many';
}

/** Initiator side: the responder's answer must be a one-transform-per-type subset of our offer. */
export function checkIkeAnswer(answer: SaPayload, ours: readonly IkeProposalSpec[]): IkeSuite | string {
  if (answer.proposals.length !== 1) return `responder returned ${answer.proposals.length} proposals, expected 1`;
  const p = answer.proposals[0]!;
  const spec = ours[p.number - 1];
  if (spec === undefined || p.protocolId !== ProtocolId.IKE) return `responder chose proposal #${p.number}, which we did not offer`;
  const encr = exactlyOne(p, TransformType.ENCR);
  const prf = exactlyOne(p, TransformType.PRF);
  const integ = exactlyOne(p, TransformType.INTEG);
  const dh = exactlyOne(p, TransformType.DH);
  if (encr === null || encr === 'many' || prf === null || prf === 'many' || dh === null || dh === 'many' || integ === 'many') {
    return 'responder answered with a proposal that does not name exactly one cipher, PRF and DH group';
  }
  const e = spec.encrs.find((x: EncrChoice) => x.id === encr.id && x.keyLenBits === (encr.keyLength ?? null));
  const integId = integ === null || integ.id === 0 ? null : integ.id;
  const offeredInteg = integId === null ? e?.aead === true : (spec.integs as number[]).includes(integId);
  if (e === undefined || !(spec.prfs as number[]).includes(prf.id) || !(spec.dhs as number[]).includes(dh.id) || !offeredInteg) {
    return `responder chose transforms we did not offer in proposal #${p.number}`;
  }
  return ikeSuite({ encr: e.id, keyLenBits: e.keyLenBits, integ: integId, prf: prf.id, dh: dh.id }) ?? 'responder chose an invalid combination';
}

export interface EspChoice {
  suite: Suite;
  esn: boolean;
  /** The peer's inbound SPI, i.e. the one we put on outbound packets. */
  peerSpi: number;
  /** The proposal to answer with; its SPI is filled in by the caller. */
  number: number;
}

function pickEsp(ours: EspProposalSpec, offered: Proposal): EspChoice | null {
  if (offered.protocolId !== ProtocolId.ESP || offered.spi.length !== 4 || unknownTypes(offered)) return null;
  if (offered.spi.readUInt32BE(0) < 0x100) return null;
  // A DH group in IKE_AUTH's child proposal has no KE to go with it (RFC 7296 §1.2); ignoring
  // it is what strongSwan does too.
  if (!integFreeOrNone(offered)) return null;
  const offeredEsns = ofType(offered, TransformType.ESN).map((t) => t.id);
  const esn = ours.esns.find((id) => (offeredEsns.length === 0 ? id === 0 : offeredEsns.includes(id)));
  if (esn === undefined) return null;
  for (const suite of ours.suites) {
    const t = childTransform(suite);
    if (has(offered, TransformType.ENCR, t.encr, t.keyLenBits)) {
      return { suite, esn: esn === 1, peerSpi: offered.spi.readUInt32BE(0), number: offered.number };
    }
  }
  return null;
}

/** Responder side of the IKE_AUTH CHILD_SA. Null means NO_PROPOSAL_CHOSEN. */
export function selectEsp(offered: SaPayload, ours: readonly EspProposalSpec[]): EspChoice | null {
  for (const o of ours) {
    for (const p of offered.proposals) {
      const c = pickEsp(o, p);
      if (c !== null) return c;
    }
  }
  return null;
}

/** The single proposal a responder sends back for `c`, carrying its own inbound SPI. */
export function espAnswer(c: EspChoice, spiIn: number): SaPayload {
  const spi = Buffer.alloc(4);
  spi.writeUInt32BE(spiIn >>> 0);
  return {
    type: PayloadType.SA,
    proposals: [{
      number: c.number,
      protocolId: ProtocolId.ESP,
      spi,
      transforms: [childEncr(c.suite), { type: TransformType.ESN, id: c.esn ? 1 : 0 }],
    }],
  };
}

/** Initiator side of the CHILD_SA: validate the responder's pick against our offer. */
export function checkEspAnswer(answer: SaPayload, ours: readonly EspProposalSpec[]): EspChoice | string {
  if (answer.proposals.length !== 1) return `responder returned ${answer.proposals.length} ESP proposals, expected 1`;
  const p = answer.proposals[0]!;
  const spec = ours[p.number - 1];
  if (spec === undefined || p.protocolId !== ProtocolId.ESP || p.spi.length !== 4) return `responder chose ESP proposal #${p.number}, which we did not offer`;
  const encr = exactlyOne(p, TransformType.ENCR);
  const esn = exactlyOne(p, TransformType.ESN);
  if (encr === null || encr === 'many' || esn === 'many' || !integFreeOrNone(p)) return 'responder answered with an ESP proposal that does not name exactly one AEAD cipher';
  const suite = childSuite(encr.id, encr.keyLength ?? null);
  const esnId = esn === null ? 0 : esn.id;
  if (suite === null || !spec.suites.includes(suite) || !spec.esns.includes(esnId)) return `responder chose ESP transforms we did not offer in proposal #${p.number}`;
  const spi = p.spi.readUInt32BE(0);
  if (spi < 0x100) return `responder chose the reserved ESP SPI ${spi}`;
  return { suite, esn: esnId === 1, peerSpi: spi, number: p.number };
}
