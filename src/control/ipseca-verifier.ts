// `auth: dns`: the peer's raw public key (RFC 7670) is accepted when a secure IPSECA record for
// its gateway vouches for it (draft-osterweil-dane-ipsec; matching in src/dns/ipseca.ts). The
// outcomes, as the draft has them: secure and matching, use it; secure and none matching,
// AUTHENTICATION_FAILED; bogus, abort; insecure, indeterminate or absent, the record is
// unusable: the configured peer_public_key decides if there is one, else the peer is refused.

import type { Logger } from 'pino';
import type { DnsLookup } from '../dns/kx.js';
import { ipsecaOwner, ipsecaRecords, judgeIpseca, peerKeyVerdict, type IpsecaSet } from '../dns/ipseca.js';
import type { PeerKeyDecision } from '../ike/auth-pubkey.js';
import { RRType } from '../wire/dns/types.js';

/** Where a gateway's IPSECA record lives: `_500.<fqdn>`, or `_500.<reverse name>` for an address. */
export function ownerFor(gateway: string): string {
  return ipsecaOwner(gateway);
}

/** Fetched ahead by an initiator: a bogus set means IKE is not started at all. */
export async function prefetchIpseca(lookup: DnsLookup, gateway: string): Promise<IpsecaSet> {
  const owner = ownerFor(gateway);
  return ipsecaRecords(owner, await lookup(owner, RRType.IPSECA));
}

/** The verifier's answer for one presented key. Never rejects. */
export async function verifyByIpseca(lookup: DnsLookup, gateway: string, spki: Buffer, configured: Buffer | null, log: Logger, vlink: string): Promise<PeerKeyDecision> {
  const owner = ownerFor(gateway);
  const d = judgeIpseca(owner, await lookup(owner, RRType.IPSECA), spki);
  const v = peerKeyVerdict(d, configured, spki);
  log[v.accept ? 'info' : 'warn']({ vlink, owner, verdict: d.verdict, outcome: d.outcome }, `IPSECA ${owner}: ${v.log}`);
  if (!v.accept) return { accept: false, why: v.log };
  return v.source === 'ipseca'
    ? { accept: true, source: 'ipseca', ipseca: { owner, verdict: d.verdict, record: d.matched } }
    : { accept: true, source: 'config' };
}
