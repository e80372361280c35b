// A vlink's side-effect-free preparation: keys loaded, manual SAs built, MTU settled, IKE peer
// config made. A config that fails here changes nothing, so start and reload prepare every
// vlink before they touch the system.

import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { newInboundSa, newOutboundSa, type InboundSa, type OutboundSa } from '../dataplane/sa.js';
import { formatAddr } from '../wire/addr.js';
import { vlinkMtu } from '../dataplane/mtu.js';
import type { IkePeerConfig } from '../ike/types.js';
import { pubkeyFingerprint } from '../ike/auth-pubkey.js';
import type { NodeConfig, VlinkConfig } from './config-types.js';
import { loadKeyFile } from './keyfile.js';
import { vlinkMtuProblem } from './config.js';
import { loadDnsAuth, loadPskFile, loadPubkeyAuth } from './credentials.js';
import { ikePeerConfig } from './ike-peer-config.js';
import { familyOf, ipv6ErrorSource } from './config-ipv6.js';
import type { IpAddr } from '../wire/addr.js';
import { ipv4ToU32 } from '../wire/addr.js';
import { linkPeerU32, newVlinkStats, type Vlink } from '../dataplane/vlink.js';
import { newDropCounters } from '../dataplane/drop-reasons.js';
import type { TunDevice, UnderlaySocket } from '../io/types.js';
import type { SpdEntry } from '../dataplane/spd.js';

/** Where an unresolved named peer's SAs point: nowhere (no packet can come from 0.0.0.0). */
export const UNRESOLVED = '0.0.0.0';

/** Everything a vlink needs that can fail without side effects: keys, SAs, MTU. */
export interface PreparedVlink {
  cfg: VlinkConfig;
  mtu: number;
  /** Manual keying: the SAs from the key files. IKEv2: none until IKE installs them. */
  out: OutboundSa | null;
  in: InboundSa | null;
  ike: IkePeerConfig | null;
  /** Key material fingerprint so a reload notices a changed key file (IKEv2: PSK or keys). */
  keyId: string;
}

/** The address a prepared vlink runs with: its peer's, or UNRESOLVED for a named peer not yet resolved. */
export function preparedPeer(p: PreparedVlink): string {
  return p.ike !== null ? p.ike.peer || UNRESOLVED : p.cfg.peer || (p.out === null ? UNRESOLVED : formatAddr(p.out.dst));
}

/** The outbound SA a manual vlink may send with: none while its named peer is unresolved. */
export function usableOut(p: PreparedVlink): OutboundSa | null {
  return p.out === null || (p.out.dst.family === 4 && p.out.dst.v4 === 0) ? null : p.out;
}

/** `known`: where a named peer is now (a reload keeps it); undefined before the first resolution. */
export function prepareVlink(cfg: NodeConfig, v: VlinkConfig, i: number, known?: string): PreparedVlink {
  const family = familyOf(cfg.underlay.address);
  const max = vlinkMtu(cfg.underlay.mtu, v.encap, family);
  let mtu = max;
  if (v.mtu !== 'auto') {
    // Config validation already refused this; kept for NodeConfigs built in code.
    const bad = vlinkMtuProblem(cfg.underlay.mtu, v.encap, v.mtu, family);
    if (bad !== undefined) throw new ConfigError(`vlinks[${i}].mtu`, bad);
    mtu = v.mtu;
  }
  const k = v.keying;
  const local = cfg.underlay.address;
  if (k.mode === 'ikev2') {
    // A named peer or a KX domain: the engine resolves it (IkeHost.resolvePeer) and proves it as remote_id.
    const name = v.peerName ?? v.peerDomain;
    const peer = v.peer || (known ?? '');
    if (k.auth !== 'psk') {
      const pk = k.auth === 'dns' ? loadDnsAuth(k.privateKey, k.peerPublicKey) : loadPubkeyAuth(k.privateKey, k.peerPublicKey);
      return { cfg: v, mtu, out: null, in: null, ike: ikePeerConfig(v.name, local, peer, k, Buffer.alloc(0), pk, name), keyId: k.auth === 'dns' ? `dns:${pubkeyFingerprint(pk)}` : pubkeyFingerprint(pk) };
    }
    const psk = loadPskFile(k.pskFile);
    const keyId = createHash('sha256').update(psk).digest('base64');
    return { cfg: v, mtu, out: null, in: null, ike: ikePeerConfig(v.name, local, peer, k, psk, undefined, name), keyId };
  }
  // A named peer's SAs get its address when the name resolves (peer-names.ts); until then the
  // vlink has no outbound SA and drops as no-sa.
  const peer = v.peer || (known ?? UNRESOLVED);
  const kin = loadKeyFile(k.keyIn, k.suite);
  const kout = loadKeyFile(k.keyOut, k.suite);
  const out = newOutboundSa({ spi: k.spiOut, suite: k.suite, key: kout.key, salt: kout.salt, esn: k.esn, src: local, dst: peer });
  const inn = newInboundSa({
    spi: k.spiIn,
    suite: k.suite,
    key: kin.key,
    salt: kin.salt,
    esn: k.esn,
    src: peer,
    dst: local,
    replayWindow: v.replayWindow,
  });
  const keyId = Buffer.concat([kin.key, kin.salt, kout.key, kout.salt]).toString('base64');
  return { cfg: v, mtu, out, in: inn, ike: null, keyId };
}

/** A running vlink's data-plane state: counters at zero, carrier on, addresses parsed once. */
export function newVlink(p: PreparedVlink, o: { local: IpAddr; peer: IpAddr; vnAddr: string; tun: TunDevice; underlay: UnderlaySocket; policy: SpdEntry }): Vlink {
  const c = p.cfg;
  const vn = ipv4ToU32(o.vnAddr);
  return {
    name: c.name,
    local: o.local,
    peer: o.peer,
    peerDst: o.peer,
    peerPort: c.peerPort,
    encap: c.encap,
    vnAddr: o.vnAddr,
    vnAddrU32: vn,
    vnPrefixLen: c.prefixLen,
    vnPeer: c.peerAddress,
    icmpSrcU32: linkPeerU32(vn, c.prefixLen, c.peerAddress === undefined ? undefined : ipv4ToU32(c.peerAddress)),
    icmp6Src: ipv6ErrorSource(c),
    mtu: p.mtu,
    tun: o.tun,
    underlay: o.underlay,
    policy: o.policy,
    inbound: p.in === null ? [] : [p.in],
    drops: newDropCounters(),
    stats: newVlinkStats(),
    carrier: true,
    rxAlive: false,
    lastAliveAt: Date.now(),
  };
}
