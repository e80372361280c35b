// The IKEv2 key schedule (RFC 7296 §2.14, §2.17, §2.18). Pure functions over byte strings: the
// caller supplies nonces, SPIs and g^ir exactly as carried on the wire (nonces without payload
// headers, SPIs as the 8 header bytes).

import type { Suite } from '../../dataplane/suite.js';
import { SUITES } from '../../dataplane/aead.js';
import { prf, prfPlus, type PrfId } from './prf.js';
import { ikeKeyLengths, type IkeSuite } from './suites.js';

export interface IkeSaKeys {
  readonly skeyseed: Buffer;
  readonly skD: Buffer;
  readonly skAi: Buffer;
  readonly skAr: Buffer;
  /** Cipher key followed by the 4-byte salt for AEAD suites (RFC 5282 §7.1, RFC 7634 §2). */
  readonly skEi: Buffer;
  readonly skEr: Buffer;
  readonly skPi: Buffer;
  readonly skPr: Buffer;
}

/**
 * SKEYSEED = prf(Ni | Nr, g^ir) for IKE_SA_INIT. The fixed-key-size rule of §2.14 (half of the key
 * from each nonce) only concerns PRFs such as AES-XCBC; HMAC takes the whole Ni | Nr.
 */
export function initialSkeyseed(prfId: PrfId, ni: Buffer, nr: Buffer, gir: Buffer): Buffer {
  return prf(prfId, Buffer.concat([ni, nr]), gir);
}

/**
 * SKEYSEED for an IKE SA rekey: prf(SK_d (old), g^ir (new) | Ni | Nr). The exchange belongs to the
 * old SA, so `oldPrfId` is the old SA's PRF even if the new one negotiated another (§2.18).
 * Ni/Nr are the CREATE_CHILD_SA nonces of the rekey initiator/responder.
 */
export function rekeySkeyseed(oldPrfId: PrfId, oldSkD: Buffer, gir: Buffer, ni: Buffer, nr: Buffer): Buffer {
  return prf(oldPrfId, oldSkD, [gir, ni, nr]);
}

/**
 * {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr),
 * using the PRF of the SA being keyed. For a rekey, Ni/Nr/SPIi/SPIr are those of the new SA.
 */
export function deriveIkeSaKeys(suite: IkeSuite, skeyseed: Buffer, ni: Buffer, nr: Buffer, spiI: Buffer, spiR: Buffer): IkeSaKeys {
  if (spiI.length !== 8 || spiR.length !== 8) throw new RangeError('IKE SPIs are 8 bytes');
  const len = ikeKeyLengths(suite);
  const stream = prfPlus(suite.prf.id, skeyseed, Buffer.concat([ni, nr, spiI, spiR]), len.d + 2 * len.a + 2 * len.e + 2 * len.p);
  let o = 0;
  // Copies, so one SA's keys never alias the prf+ output shared by the others.
  const take = (n: number): Buffer => Buffer.from(stream.subarray(o, (o += n)));
  return Object.freeze({
    skeyseed: Buffer.from(skeyseed),
    skD: take(len.d), skAi: take(len.a), skAr: take(len.a),
    skEi: take(len.e), skEr: take(len.e), skPi: take(len.p), skPr: take(len.p),
  });
}

/** The whole IKE_SA_INIT schedule: SKEYSEED, then the seven SK_* keys. */
export function initialIkeSaKeys(suite: IkeSuite, p: { ni: Buffer; nr: Buffer; gir: Buffer; spiI: Buffer; spiR: Buffer }): IkeSaKeys {
  return deriveIkeSaKeys(suite, initialSkeyseed(suite.prf.id, p.ni, p.nr, p.gir), p.ni, p.nr, p.spiI, p.spiR);
}

/** The keys of the IKE SA that replaces an old one (CREATE_CHILD_SA rekey, §2.18). */
export function rekeyedIkeSaKeys(
  oldPrfId: PrfId, oldSkD: Buffer, newSuite: IkeSuite,
  p: { ni: Buffer; nr: Buffer; gir: Buffer; spiI: Buffer; spiR: Buffer },
): IkeSaKeys {
  return deriveIkeSaKeys(newSuite, rekeySkeyseed(oldPrfId, oldSkD, p.gir, p.ni, p.nr), p.ni, p.nr, p.spiI, p.spiR);
}

/** One direction of an ESP AEAD CHILD_SA: what src/dataplane/sa.ts takes. */
export interface ChildDirectionKeys {
  readonly key: Buffer;
  readonly salt: Buffer;
}

export interface ChildSaKeys {
  readonly suite: Suite;
  /** Protects traffic from the exchange's initiator to its responder. */
  readonly initiatorToResponder: ChildDirectionKeys;
  readonly responderToInitiator: ChildDirectionKeys;
}

/**
 * KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (§2.17), taken as encr-i | integ-i | encr-r |
 * integ-r. Our ESP suites are AEAD, so integ is empty and each encr part is key | salt.
 * "Initiator" is the initiator of the exchange creating the CHILD_SA, which after a rekey may be
 * the original responder; Ni/Nr are that exchange's nonces.
 */
export function childSaKeys(prfId: PrfId, skD: Buffer, suite: Suite, ni: Buffer, nr: Buffer, gir?: Buffer): ChildSaKeys {
  const info = SUITES[suite];
  if (!info) throw new RangeError(`unsupported CHILD_SA suite ${String(suite)}`);
  const per = info.keyLen + info.saltLen;
  const seed = gir === undefined ? Buffer.concat([ni, nr]) : Buffer.concat([gir, ni, nr]);
  const km = prfPlus(prfId, skD, seed, 2 * per);
  const dir = (o: number): ChildDirectionKeys =>
    Object.freeze({ key: Buffer.from(km.subarray(o, o + info.keyLen)), salt: Buffer.from(km.subarray(o + info.keyLen, o + per)) });
  return Object.freeze({ suite, initiatorToResponder: dir(0), responderToInitiator: dir(per) });
}

/** A direction's keys as one key | salt string, the form key files and charon's log use. */
export function childKeymat(k: ChildDirectionKeys): Buffer {
  return Buffer.concat([k.key, k.salt]);
}
