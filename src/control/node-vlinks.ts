// A vlink's side-effect-free preparation: keys loaded, manual SAs built, MTU settled, IKE peer
// config made. A config that fails here changes nothing, so start and reload prepare every
// vlink before they touch the system.

import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { newInboundSa, newOutboundSa, type InboundSa, type OutboundSa } from '../dataplane/sa.js';
import { vlinkMtu } from '../dataplane/mtu.js';
import type { IkePeerConfig } from '../ike/types.js';
import { pubkeyFingerprint } from '../ike/auth-pubkey.js';
import type { NodeConfig, VlinkConfig } from './config-types.js';
import { loadKeyFile } from './keyfile.js';
import { vlinkMtuProblem } from './config.js';
import { loadPskFile, loadPubkeyAuth } from './credentials.js';
import { ikePeerConfig } from './ike-peer-config.js';

/** Everything a vlink needs that can fail without side effects: keys, SAs, MTU. */
export interface PreparedVlink {
  cfg: VlinkConfig;
  mtu: number;
  /** Manual keying: the SAs from the key files. IKEv2: none until IKE installs them. */
  out: OutboundSa | null;
  in: InboundSa | null;
  ike: IkePeerConfig | null;
  /** Key material fingerprint so a reload notices a changed key file. */
  keyId: string;
}

export function prepareVlink(cfg: NodeConfig, v: VlinkConfig, i: number): PreparedVlink {
  const max = vlinkMtu(cfg.underlay.mtu, v.encap);
  let mtu = max;
  if (v.mtu !== 'auto') {
    // Config validation already refused this; kept for NodeConfigs built in code.
    const bad = vlinkMtuProblem(cfg.underlay.mtu, v.encap, v.mtu);
    if (bad !== undefined) throw new ConfigError(`vlinks[${i}].mtu`, bad);
    mtu = v.mtu;
  }
  const k = v.keying;
  const local = cfg.underlay.address;
  if (k.mode === 'ikev2') {
    if (k.auth === 'pubkey') {
      const pk = loadPubkeyAuth(k.privateKey, k.peerPublicKey);
      return { cfg: v, mtu, out: null, in: null, ike: ikePeerConfig(v.name, local, v.peer, k, Buffer.alloc(0), pk), keyId: pubkeyFingerprint(pk) };
    }
    const psk = loadPskFile(k.pskFile);
    const keyId = createHash('sha256').update(psk).digest('base64');
    return { cfg: v, mtu, out: null, in: null, ike: ikePeerConfig(v.name, local, v.peer, k, psk), keyId };
  }
  const kin = loadKeyFile(k.keyIn, k.suite);
  const kout = loadKeyFile(k.keyOut, k.suite);
  const out = newOutboundSa({ spi: k.spiOut, suite: k.suite, key: kout.key, salt: kout.salt, esn: k.esn, src: local, dst: v.peer });
  const inn = newInboundSa({
    spi: k.spiIn,
    suite: k.suite,
    key: kin.key,
    salt: kin.salt,
    esn: k.esn,
    src: v.peer,
    dst: local,
    replayWindow: v.replayWindow,
  });
  const keyId = Buffer.concat([kin.key, kin.salt, kout.key, kout.salt]).toString('base64');
  return { cfg: v, mtu, out, in: inn, ike: null, keyId };
}

export function sameVlink(a: PreparedVlink, b: PreparedVlink): boolean {
  return a.keyId === b.keyId && a.mtu === b.mtu && JSON.stringify(a.cfg) === JSON.stringify(b.cfg);
}
