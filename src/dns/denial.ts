// What an authenticated denial proves (RFC 4035 §5.4, RFC 5155 §8, RFC 6840 §4): the common
// shape that nsec.ts and nsec3.ts return, so the validator and the chain walker read one type.

import type { Reason } from './verdict.js';

export type Denial =
  /** The name does not exist, nor does a wildcard that could have answered. */
  | { kind: 'nxdomain' }
  /** The name exists (or a wildcard does) without the type; `types` is the matching bitmap, [] for an empty non-terminal. */
  | { kind: 'nodata'; types: number[]; wildcard: boolean }
  /** NSEC3 opt-out covers the name: there may be an unsigned delegation, so the answer is insecure (RFC 5155 §6). */
  | { kind: 'optout' }
  /** Proof cannot be judged securely (NSEC3 iterations above the cap, unknown hash): insecure (RFC 9276). */
  | { kind: 'insecure'; reason: Reason }
  /** The records present prove nothing about the name. */
  | { kind: 'fail'; reason: Reason };

export interface DenialQuery {
  qname: import('../wire/dns/name.js').DnsName;
  qtype: number;
  /** The signer zone whose keys verified the NSEC/NSEC3 records. */
  zone: import('../wire/dns/name.js').DnsName;
  /** The response said NXDOMAIN (else NOERROR with no data). */
  nxdomain: boolean;
}
