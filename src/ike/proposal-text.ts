// A peer's SA payload in the notation of our ike_proposals/esp_proposals (strongSwan's proposal
// strings), so that a NO_PROPOSAL_CHOSEN log line shows what the peer offered next to ours and
// the operator can see the difference, or copy a line into either config. Algorithms we do not
// implement get strongSwan's token too (3des, modp2048, sha1, ...); an ID nobody named comes out
// as e.g. `encr99`.

import { ProtocolId, TransformType, type Proposal, type SaPayload, type Transform } from '../wire/ike/index.js';

/** IANA "Transform Type 1" IDs with a key length (bits) appended to the token, e.g. aes128gcm16. */
const ENCR: Record<number, (bits: string) => string> = {
  2: () => 'des',
  3: () => '3des',
  6: () => 'cast128',
  7: () => 'blowfish',
  11: () => 'null',
  12: (b) => `aes${b}`,
  13: (b) => `aes${b}ctr`,
  14: (b) => `aes${b}ccm8`,
  15: (b) => `aes${b}ccm12`,
  16: (b) => `aes${b}ccm16`,
  18: (b) => `aes${b}gcm8`,
  19: (b) => `aes${b}gcm12`,
  20: (b) => `aes${b}gcm16`,
  21: (b) => `aes${b}gmac`,
  23: (b) => `camellia${b}`,
  24: (b) => `camellia${b}ctr`,
  25: (b) => `camellia${b}ccm8`,
  26: (b) => `camellia${b}ccm12`,
  27: (b) => `camellia${b}ccm16`,
  28: () => 'chacha20poly1305',
};
const PRF: Record<number, string> = { 1: 'prfmd5', 2: 'prfsha1', 4: 'prfaesxcbc', 5: 'prfsha256', 6: 'prfsha384', 7: 'prfsha512', 8: 'prfaescmac' };
const INTEG: Record<number, string> = { 1: 'md5', 2: 'sha1', 5: 'aesxcbc', 8: 'aescmac', 12: 'sha256', 13: 'sha384', 14: 'sha512' };
const DH: Record<number, string> = {
  1: 'modp768', 2: 'modp1024', 5: 'modp1536', 14: 'modp2048', 15: 'modp3072', 16: 'modp4096', 17: 'modp6144', 18: 'modp8192',
  19: 'ecp256', 20: 'ecp384', 21: 'ecp521', 22: 'modp1024s160', 23: 'modp2048s224', 24: 'modp2048s256', 25: 'ecp192', 26: 'ecp224',
  27: 'ecp224bp', 28: 'ecp256bp', 29: 'ecp384bp', 30: 'ecp512bp', 31: 'x25519', 32: 'x448',
};

function token(t: Transform): string | null {
  switch (t.type) {
    case TransformType.ENCR: {
      const f = ENCR[t.id];
      if (f !== undefined) return f(t.keyLength === undefined ? '' : String(t.keyLength));
      return `encr${t.id}${t.keyLength === undefined ? '' : `_${t.keyLength}`}`;
    }
    case TransformType.PRF:
      return PRF[t.id] ?? `prf${t.id}`;
    case TransformType.INTEG:
      // NONE beside an AEAD cipher says nothing strongSwan would write.
      return t.id === 0 ? null : INTEG[t.id] ?? `integ${t.id}`;
    case TransformType.DH:
      return t.id === 0 ? null : DH[t.id] ?? `dh${t.id}`;
    case TransformType.ESN:
      return t.id === 0 ? 'noesn' : t.id === 1 ? 'esn' : `esn${t.id}`;
    default:
      return `type${t.type}-${t.id}`;
  }
}

/** One proposal as a proposal string; a protocol other than the exchange's is prefixed (`ah:`). */
export function proposalText(p: Proposal, expected: number): string {
  const order = [TransformType.ENCR, TransformType.INTEG, TransformType.PRF, TransformType.DH, TransformType.ESN];
  const ts = [...p.transforms].sort((a, b) => {
    const ia = order.indexOf(a.type as (typeof order)[number]);
    const ib = order.indexOf(b.type as (typeof order)[number]);
    return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib);
  });
  const body = ts.map(token).filter((x): x is string => x !== null).join('-') || '(no transforms)';
  if (p.protocolId === expected) return body;
  const proto = p.protocolId === ProtocolId.IKE ? 'ike' : p.protocolId === ProtocolId.AH ? 'ah' : p.protocolId === ProtocolId.ESP ? 'esp' : `protocol${p.protocolId}`;
  return `${proto}:${body}`;
}

/** Every proposal of an offer, comma-separated, at most `max` of them (an offer is network input). */
export function offerText(sa: SaPayload, expected: number, max = 8): string {
  const shown = sa.proposals.slice(0, max).map((p) => proposalText(p, expected));
  if (sa.proposals.length > max) shown.push(`... (${sa.proposals.length} proposals)`);
  return shown.length === 0 ? '(none)' : shown.join(', ');
}

/** The clause a NO_PROPOSAL_CHOSEN log line ends with: what the peer offered and what we accept. */
export function noProposalDetail(offer: SaPayload, expected: number, ours: readonly { text: string }[]): string {
  return `peer offered ${offerText(offer, expected)}; ours: ${ours.map((o) => o.text).join(', ')}`;
}
