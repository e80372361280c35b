// Deciding whether the peer of an IKE_AUTH exchange is who it must be: its identity, and the
// proof that it holds the PSK or the private half of a key it may use. The decision may wait on
// a lookup (the `verifyPeerKey` hook of auth-pubkey.ts returns a Promise: an IPSECA or KX query
// plugs in there), so it is asynchronous, and bounded: a lookup that never answers fails the
// exchange with AUTHENTICATION_FAILED after `timeoutMs` instead of holding it forever. While it
// runs, the engine answers nothing for that request, and retransmissions of it start no second
// check (ike-sa.ts, beginRequest).

import { idToString, type AuthPayload, type IdPayload, type PayloadRepr } from '../wire/ike/index.js';
import type { Clock } from '../clock.js';
import { AUTH_SHARED_KEY_MIC, signedOctets, verifyPskAuth } from './crypto/auth.js';
import { checkPubkeyPeer } from './auth-pubkey.js';
import { idBody, sameIdentity } from './identity.js';
import type { IkeSa } from './ike-sa.js';

/** Below our own retransmission give-up (15.5 s), so an initiator waiting on us still hears the verdict. */
export const DEFAULT_AUTH_TIMEOUT_MS = 10000;

export const PSK_HINT = 'PSK mismatch?';

/** Asks the host whether a named peer may be at `addr` (IkeHost.checkPeerAddress). */
export type AddressCheck = (vlink: string, addr: string) => Promise<string | null>;

/**
 * The peer's ID and AUTH, checked, and (for an SA from an address the vlink did not expect) the
 * DNS proof that its name is there. The DNS proof comes after the cryptographic one, so an
 * unauthenticated initiator cannot make us query DNS, unless a key verifier decides the key: it
 * looks the key up in DNS anyway (IPSECA), and needs to know first which gateway the address is
 * (the exchanger the KX proof found). Null when everything holds.
 */
async function checkPeer(sa: IkeSa, id: IdPayload, auth: AuthPayload, ps: readonly PayloadRepr[], checkAddress?: AddressCheck): Promise<string | null> {
  const addressFirst = sa.addrUnproven && sa.cfg.pubkey?.verifyPeerKey !== undefined;
  if (addressFirst) {
    const bad = await checkPeerAddress(sa, checkAddress);
    if (bad !== null) return bad;
  }
  const proof = await checkProof(sa, id, auth, ps);
  if (proof !== null || !sa.addrUnproven || addressFirst) return proof;
  return checkPeerAddress(sa, checkAddress);
}

async function checkPeerAddress(sa: IkeSa, checkAddress?: AddressCheck): Promise<string | null> {
  const name = sa.cfg.peerName ?? sa.cfg.remoteId.text;
  if (checkAddress === undefined) return `IKE_SA from ${sa.remote.addr}, which is not where ${name} is expected, and nothing can check its name`;
  const bad = await checkAddress(sa.cfg.vlink, sa.remote.addr);
  return bad === null ? null : `peer ${name} at ${sa.remote.addr}: ${bad}`;
}

async function checkProof(sa: IkeSa, id: IdPayload, auth: AuthPayload, ps: readonly PayloadRepr[]): Promise<string | null> {
  if (!sameIdentity(id, sa.cfg.remoteId)) {
    return `peer identifies as "${idToString(id)}", but remote_id is "${sa.cfg.remoteId.text}"`;
  }
  const k = sa.keys!;
  const [msg, peerNonce, skP] = sa.role === 'initiator' ? [sa.initResponse, sa.ni, k.skPr] : [sa.initRequest, sa.nr, k.skPi];
  const octets = signedOctets(sa.suite!.prf.id, msg, peerNonce, skP, idBody(id));
  if (sa.cfg.pubkey !== undefined) return checkPubkeyPeer(sa, auth, ps, octets);
  if (auth.method !== AUTH_SHARED_KEY_MIC) return `peer authenticates with method ${auth.method}; this vlink uses a PSK (method 2)`;
  return verifyPskAuth(sa.suite!.prf.id, sa.cfg.psk, octets, auth.data) ? null : `authentication failed (${PSK_HINT})`;
}

const TIMED_OUT = Symbol('timed out');

/** `work`, or TIMED_OUT once `ms` have passed on `clock`, whichever comes first. */
function withTimeout<T>(clock: Clock, ms: number, work: Promise<T>): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const t = clock.setTimeout(() => resolve(TIMED_OUT), ms);
    work.then(
      (v) => {
        clock.clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clock.clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * Null when the peer is authenticated and authorised; otherwise a sentence for the operator.
 * Any failure, the timeout included, is AUTHENTICATION_FAILED.
 */
export async function authorisePeer(
  sa: IkeSa, id: IdPayload, auth: AuthPayload, ps: readonly PayloadRepr[], timeoutMs: number, checkAddress?: AddressCheck,
): Promise<string | null> {
  const verdict = await withTimeout(sa.clock, timeoutMs, checkPeer(sa, id, auth, ps, checkAddress));
  if (verdict !== TIMED_OUT) return verdict;
  return `peer authorisation did not finish within ${(timeoutMs / 1000).toFixed(1)} s (a key or DNS lookup that never answered?)`;
}
