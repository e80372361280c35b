// What a reload does to a vlink's running IKE SA when its IKE settings change (README
// "Reload (SIGHUP)"). The engine carries the decision out (engine.ts updatePeer, peers.ts update).
//
//   keep         the SAs stay; the new settings apply to what is negotiated next
//   rekey        the SAs stay up while a rekey (make-before-break, no loss) replaces them, so
//                new lifetimes hold from now on, not only from the next scheduled rekey
//   reestablish  the SAs are deleted and IKE starts over: break-before-make, on purpose. They
//                were authenticated with identities or keys the operator has just withdrawn,
//                or protect with an algorithm no longer allowed, and fail closed means they
//                must not carry one more packet.

import type { IkeSuite } from './crypto/suites.js';
import type { EspProposalSpec, IkeProposalSpec } from './proposals.js';
import type { IkePeerConfig } from './types.js';
import type { Suite } from '../dataplane/suite.js';

export type PeerUpdateAction = 'keep' | 'rekey' | 'reestablish';

export interface PeerUpdate {
  /** The settings that differ, as the config names them. */
  changed: string[];
  action: PeerUpdateAction;
  /** With 'rekey': which SAs. */
  rekeyIke: boolean;
  rekeyChild: boolean;
  /** The DPD watch restarts with the new interval. */
  dpd: boolean;
  /** One sentence for the log. */
  why: string;
}

/** The suites the vlink's SAs run with now. */
export interface RunningSuites {
  ike: IkeSuite | null;
  children: { suite: Suite; esn: boolean }[];
}

export function ikeSuiteAllowed(s: IkeSuite, specs: readonly IkeProposalSpec[]): boolean {
  return specs.some((p) =>
    p.encrs.some((e) => e.id === s.encr.id && e.keyLenBits === s.encr.keyLenBits) &&
    (p.prfs as number[]).includes(s.prf.id) &&
    (p.dhs as number[]).includes(s.dh.id) &&
    // An AEAD suite has no INTEG transform (RFC 5282 §8).
    (s.integ === null || (p.integs as number[]).includes(s.integ.id)));
}

export function espSuiteAllowed(c: { suite: Suite; esn: boolean }, specs: readonly EspProposalSpec[]): boolean {
  return specs.some((p) => p.suites.includes(c.suite) && p.esns.includes(c.esn ? 1 : 0));
}

const texts = (ps: readonly { text: string }[]) => ps.map((p) => p.text).join(',');
const sameId = (a: IkePeerConfig['localId'], b: IkePeerConfig['localId']) => a.idType === b.idType && a.data.equals(b.data);

/** `credentialsChanged`: the PSK or a key (own or the peer's) differs, which the node knows by fingerprint. */
export function planPeerUpdate(old: IkePeerConfig, neu: IkePeerConfig, credentialsChanged: boolean, running: RunningSuites): PeerUpdate {
  const diff: [string, boolean][] = [
    ['peer', old.peer !== neu.peer],
    ['credentials', credentialsChanged || (old.pubkey === undefined) !== (neu.pubkey === undefined)],
    ['local_id', !sameId(old.localId, neu.localId)],
    ['remote_id', !sameId(old.remoteId, neu.remoteId)],
    ['child_mode', (old.childMode ?? 'transport') !== (neu.childMode ?? 'transport')],
    ['ike_proposals', texts(old.ike) !== texts(neu.ike)],
    ['esp_proposals', texts(old.esp) !== texts(neu.esp)],
    ['ike_lifetime_s', old.ikeLifetimeS !== neu.ikeLifetimeS],
    ['child_lifetime_s', old.childLifetimeS !== neu.childLifetimeS],
    ['child_lifetime_bytes', (old.childLifetimeBytes ?? 0) !== (neu.childLifetimeBytes ?? 0)],
    ['child_lifetime_packets', (old.childLifetimePackets ?? 0) !== (neu.childLifetimePackets ?? 0)],
    ['dpd_interval_s', old.dpdIntervalS !== neu.dpdIntervalS],
    ['role', old.role !== neu.role],
  ];
  const changed = diff.filter(([, d]) => d).map(([f]) => f);
  const has = (f: string) => changed.includes(f);
  const base = { changed, rekeyIke: false, rekeyChild: false, dpd: has('dpd_interval_s') };
  const identity = ['peer', 'credentials', 'local_id', 'remote_id', 'child_mode'].filter(has);
  if (identity.length > 0) {
    return { ...base, action: 'reestablish', why: `${identity.join(', ')} changed: the running SAs were set up under the old one, so they are deleted and IKE starts over` };
  }
  const banned: string[] = [];
  if (has('ike_proposals') && running.ike !== null && !ikeSuiteAllowed(running.ike, neu.ike)) banned.push('the IKE SA\'s suite');
  if (has('esp_proposals') && running.children.some((c) => !espSuiteAllowed(c, neu.esp))) banned.push('the CHILD_SA\'s suite');
  if (banned.length > 0) {
    return { ...base, action: 'reestablish', why: `the new proposals no longer allow ${banned.join(' or ')}: the SAs are deleted and IKE starts over` };
  }
  const rekeyIke = has('ike_lifetime_s');
  const rekeyChild = has('child_lifetime_s') || has('child_lifetime_bytes') || has('child_lifetime_packets');
  if (rekeyIke || rekeyChild) {
    return { ...base, action: 'rekey', rekeyIke, rekeyChild, why: 'new lifetimes: rekeying now (make-before-break) so they hold from now on' };
  }
  const notes = [
    has('dpd_interval_s') ? 'DPD restarts with the new interval' : null,
    has('role') ? 'the new role decides who starts the next IKE SA' : null,
    has('ike_proposals') || has('esp_proposals') ? 'the new proposals still allow the running suites and are offered from the next rekey' : null,
  ].filter((x) => x !== null);
  const why = changed.length === 0 ? 'nothing changed' : `${changed.join(', ')} changed: the running SAs stay (${notes.join('; ')})`;
  return { ...base, action: 'keep', why };
}
