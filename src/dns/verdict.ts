// DNSSEC verdicts (RFC 4033 §5, RFC 4035 §4.3) and their reasons in the RFC 8914 Extended DNS
// Error vocabulary (plus RFC 9276's code 27), so that logs, `show dns` and the cross-check
// tests speak the same words as other resolvers.

export type Security = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export const EDE = {
  OTHER: [0, 'Other'],
  UNSUPPORTED_DNSKEY_ALGORITHM: [1, 'Unsupported DNSKEY Algorithm'],
  UNSUPPORTED_DS_DIGEST: [2, 'Unsupported DS Digest Type'],
  DNSSEC_INDETERMINATE: [5, 'DNSSEC Indeterminate'],
  DNSSEC_BOGUS: [6, 'DNSSEC Bogus'],
  SIGNATURE_EXPIRED: [7, 'Signature Expired'],
  SIGNATURE_NOT_YET_VALID: [8, 'Signature Not Yet Valid'],
  DNSKEY_MISSING: [9, 'DNSKEY Missing'],
  RRSIGS_MISSING: [10, 'RRSIGs Missing'],
  NO_ZONE_KEY_BIT: [11, 'No Zone Key Bit Set'],
  NSEC_MISSING: [12, 'NSEC Missing'],
  NOT_AUTHORITATIVE: [20, 'Not Authoritative'],
  NO_REACHABLE_AUTHORITY: [22, 'No Reachable Authority'],
  NETWORK_ERROR: [23, 'Network Error'],
  INVALID_DATA: [24, 'Invalid Data'],
  UNSUPPORTED_NSEC3_ITERATIONS: [27, 'Unsupported NSEC3 Iterations Value'],
} as const satisfies Record<string, readonly [number, string]>;

export type EdeName = keyof typeof EDE;

export interface Reason {
  /** RFC 8914 INFO-CODE. */
  code: number;
  /** RFC 8914 registry text. */
  text: string;
  /** What exactly happened, for logs and `show dns`. */
  detail: string;
}

export function reason(name: EdeName, detail: string): Reason {
  const [code, text] = EDE[name];
  return { code, text, detail };
}

export function reasonToString(r: Reason | null): string {
  return r === null ? '' : `${r.code} ${r.text}: ${r.detail}`;
}

/** A verdict together with its reason; secure carries none. */
export interface Judged {
  security: Security;
  reason: Reason | null;
}

const RANK: Record<Security, number> = { secure: 0, insecure: 1, indeterminate: 2, bogus: 3 };

/** The weaker of two verdicts, as along a CNAME chain: one bogus link makes the whole answer bogus. */
export function weaker(a: Judged, b: Judged): Judged {
  return RANK[b.security] > RANK[a.security] ? b : a;
}
