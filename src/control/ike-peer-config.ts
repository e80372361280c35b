// From a validated vlink config to what the engine runs with: proposals parsed, identities
// defaulted to the underlay addresses, and `role: auto` decided.

import type { IkeKeying } from './config-types.js';
import { compareAddr } from '../ike/addr-bytes.js';
import { parseIdentity, type IkeIdentity } from '../ike/identity.js';
import { parseEspProposals, parseIkeProposals } from '../ike/proposals.js';
import type { IkePeerConfig } from '../ike/types.js';
import { DEFAULT_DPD_INTERVAL_S } from '../ike/dpd.js';
import type { PubkeyAuth } from '../ike/auth-pubkey.js';

export const IKE_PORT = 500;

function identity(text: string): IkeIdentity {
  const r = parseIdentity(text);
  // config.ts validated it already.
  if (typeof r === 'string') throw new RangeError(`identity ${text}: ${r}`);
  return r;
}

/**
 * `auto` lets both ends share one config shape without both initiating (simultaneous
 * initiation is not handled yet): the end with the numerically lower underlay address initiates.
 */
export function resolveRole(role: IkeKeying['role'], local: string, peer: string): 'initiator' | 'responder' {
  if (role !== 'auto') return role;
  // A named peer not resolved yet: the initiation path resolves it first and settles the role
  // from the address (peers.ts relocate); only then does anything go out.
  if (peer === '') return 'initiator';
  return compareAddr(local, peer) < 0 ? 'initiator' : 'responder';
}

/** `psk` is empty with `auth: pubkey`, which passes its loaded keys instead (auth-pubkey.ts loadPubkeyAuth). */
export function ikePeerConfig(vlink: string, local: string, peer: string, k: IkeKeying, psk: Buffer, pubkey?: PubkeyAuth, peerName?: string): IkePeerConfig {
  return {
    vlink,
    local,
    peer,
    ...(peerName === undefined ? {} : { peerName }),
    peerPort: IKE_PORT,
    role: resolveRole(k.role, local, peer),
    psk,
    ike: parseIkeProposals(k.ikeProposals),
    esp: parseEspProposals(k.espProposals),
    localId: identity(k.localId ?? local),
    // A named peer proves its name (ID_FQDN) unless remote_id says otherwise.
    remoteId: identity(k.remoteId ?? peerName ?? peer),
    ikeLifetimeS: k.ikeLifetimeS,
    childLifetimeS: k.childLifetimeS,
    childLifetimeBytes: k.childLifetimeBytes ?? 0,
    childLifetimePackets: k.childLifetimePackets ?? 0,
    dpdIntervalS: k.dpdIntervalS ?? DEFAULT_DPD_INTERVAL_S,
    childMode: k.childMode,
    ...(pubkey === undefined ? {} : { pubkey }),
  };
}
