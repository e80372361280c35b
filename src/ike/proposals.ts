// Proposal strings in the configuration, in strongSwan's notation so an operator can copy a
// line between a swanctl.conf and an iiptran config:
//
//   IKE:  aes256gcm16-prfsha256-x25519      aes128-sha256-ecp256      aes256-sha384-prfsha384-ecp256-x25519
//   ESP:  aes256gcm16      aes128gcm16-aes256gcm16      chacha20poly1305-esn
//
// A string is '-'-separated algorithm tokens; several tokens of one kind are alternatives, in
// preference order. One string is one Proposal substructure on the wire (RFC 7296 §3.3.1).
// An AEAD and a non-AEAD cipher never share a string: their INTEG rules differ (RFC 5282 §8).

import type { Suite } from '../dataplane/suite.js';
import {
  AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, DH_CURVE25519, DH_ECP_256, ENCR_AES_CBC, ENCR_AES_GCM_16,
  ENCR_CHACHA20_POLY1305, PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, type DhGroupId, type IntegId, type PrfId,
} from './crypto/suites.js';

export interface EncrChoice {
  id: number;
  /** Key Length attribute in bits; null for ChaCha20-Poly1305, which must not carry one. */
  keyLenBits: number | null;
  aead: boolean;
}

export interface IkeProposalSpec {
  /** The string it was parsed from, for logs and the inspector. */
  text: string;
  encrs: EncrChoice[];
  /** Empty for AEAD proposals. */
  integs: IntegId[];
  prfs: PrfId[];
  dhs: DhGroupId[];
}

export interface EspProposalSpec {
  text: string;
  suites: Suite[];
  /** ESN transform IDs in preference order: 0 = no ESN, 1 = ESN. */
  esns: number[];
}

const IKE_ENCR_TOKENS: Record<string, EncrChoice> = {
  aes128: { id: ENCR_AES_CBC, keyLenBits: 128, aead: false },
  aes256: { id: ENCR_AES_CBC, keyLenBits: 256, aead: false },
  aes128gcm16: { id: ENCR_AES_GCM_16, keyLenBits: 128, aead: true },
  aes256gcm16: { id: ENCR_AES_GCM_16, keyLenBits: 256, aead: true },
  chacha20poly1305: { id: ENCR_CHACHA20_POLY1305, keyLenBits: null, aead: true },
};
const INTEG_TOKENS: Record<string, IntegId> = { sha256: AUTH_HMAC_SHA2_256_128, sha384: AUTH_HMAC_SHA2_384_192 };
const PRF_TOKENS: Record<string, PrfId> = { prfsha256: PRF_HMAC_SHA2_256, prfsha384: PRF_HMAC_SHA2_384 };
const DH_TOKENS: Record<string, DhGroupId> = { ecp256: DH_ECP_256, x25519: DH_CURVE25519, curve25519: DH_CURVE25519 };
/** RFC 4868 pairs each HMAC with the PRF of the same hash; strongSwan derives the PRF the same way. */
const PRF_FOR_INTEG: Record<IntegId, PrfId> = { [AUTH_HMAC_SHA2_256_128]: PRF_HMAC_SHA2_256, [AUTH_HMAC_SHA2_384_192]: PRF_HMAC_SHA2_384 };
const ESP_TOKENS: Record<string, Suite> = { aes128gcm16: 'aes-gcm-128', aes256gcm16: 'aes-gcm-256', chacha20poly1305: 'chacha20-poly1305' };

export const DEFAULT_IKE_PROPOSALS: readonly string[] = Object.freeze([
  'aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519-ecp256',
  'aes256-aes128-sha256-sha384-x25519-ecp256',
]);
export const DEFAULT_ESP_PROPOSALS: readonly string[] = Object.freeze(['aes256gcm16-aes128gcm16-chacha20poly1305']);

export const IKE_TOKENS_HELP = `cipher ${Object.keys(IKE_ENCR_TOKENS).join('|')}; integrity ${Object.keys(INTEG_TOKENS).join('|')}; ` +
  `prf ${Object.keys(PRF_TOKENS).join('|')}; dh ${Object.keys(DH_TOKENS).join('|')}`;
export const ESP_TOKENS_HELP = `cipher ${Object.keys(ESP_TOKENS).join('|')}; optional esn|noesn`;

function tokens(text: string): string[] {
  return text.trim().toLowerCase().split('-').filter((t) => t !== '');
}

function pushOnce<T>(list: T[], v: T): void {
  if (!list.includes(v)) list.push(v);
}

/** An IKE proposal string, or a sentence saying what is wrong with it. */
export function parseIkeProposal(text: string): IkeProposalSpec | string {
  const spec: IkeProposalSpec = { text, encrs: [], integs: [], prfs: [], dhs: [] };
  const toks = tokens(text);
  if (toks.length === 0) return 'is empty';
  for (const t of toks) {
    const e = IKE_ENCR_TOKENS[t];
    if (e !== undefined) {
      if (!spec.encrs.includes(e)) spec.encrs.push(e);
    } else if (INTEG_TOKENS[t] !== undefined) pushOnce(spec.integs, INTEG_TOKENS[t]!);
    else if (PRF_TOKENS[t] !== undefined) pushOnce(spec.prfs, PRF_TOKENS[t]!);
    else if (DH_TOKENS[t] !== undefined) pushOnce(spec.dhs, DH_TOKENS[t]!);
    else return `unknown algorithm "${t}" (known: ${IKE_TOKENS_HELP})`;
  }
  if (spec.encrs.length === 0) return 'names no cipher';
  const aead = spec.encrs.filter((e) => e.aead).length;
  if (aead !== 0 && aead !== spec.encrs.length) return 'mixes AEAD and non-AEAD ciphers; write them as two proposals';
  if (aead !== 0 && spec.integs.length > 0) return 'an AEAD cipher has its own integrity check; drop the integrity algorithm';
  if (aead === 0 && spec.integs.length === 0) return `a CBC cipher needs an integrity algorithm (${Object.keys(INTEG_TOKENS).join('|')})`;
  if (spec.prfs.length === 0) {
    if (aead !== 0) return `an AEAD proposal needs a PRF (${Object.keys(PRF_TOKENS).join('|')})`;
    for (const i of spec.integs) pushOnce(spec.prfs, PRF_FOR_INTEG[i]);
  }
  if (spec.dhs.length === 0) return `names no Diffie-Hellman group (${Object.keys(DH_TOKENS).join('|')})`;
  return spec;
}

/** An ESP proposal string (the CHILD_SA AEAD suites of the data plane), or what is wrong with it. */
export function parseEspProposal(text: string): EspProposalSpec | string {
  const spec: EspProposalSpec = { text, suites: [], esns: [] };
  const toks = tokens(text);
  if (toks.length === 0) return 'is empty';
  for (const t of toks) {
    const s = ESP_TOKENS[t];
    if (s !== undefined) pushOnce(spec.suites, s);
    else if (t === 'esn') pushOnce(spec.esns, 1);
    else if (t === 'noesn') pushOnce(spec.esns, 0);
    else if (DH_TOKENS[t] !== undefined) return `"${t}": PFS groups apply to CREATE_CHILD_SA, and our rekey offers do not ask for PFS yet (a peer that asks gets it); drop it`;
    else if (IKE_ENCR_TOKENS[t] !== undefined || INTEG_TOKENS[t] !== undefined) return `"${t}": the data plane only does AEAD suites (${Object.keys(ESP_TOKENS).join('|')})`;
    else return `unknown algorithm "${t}" (known: ${ESP_TOKENS_HELP})`;
  }
  if (spec.suites.length === 0) return 'names no cipher';
  if (spec.esns.length === 0) spec.esns.push(0);
  return spec;
}

export function parseIkeProposals(list: readonly string[]): IkeProposalSpec[] {
  return list.map((t) => {
    const p = parseIkeProposal(t);
    if (typeof p === 'string') throw new RangeError(`IKE proposal "${t}" ${p}`);
    return p;
  });
}

export function parseEspProposals(list: readonly string[]): EspProposalSpec[] {
  return list.map((t) => {
    const p = parseEspProposal(t);
    if (typeof p === 'string') throw new RangeError(`ESP proposal "${t}" ${p}`);
    return p;
  });
}
