// One entry of `vlinks`: its TUN name, peer, encapsulation, VN addresses, MTU, replay window,
// liveness and keying; then the checks across vlinks that a single entry cannot see.

import type { Keying, Liveness, VlinkConfig } from './config-types.js';
import { DEFAULT_REPLAY_WINDOW } from '../dataplane/replay-window.js';
import { vlinkMtu } from '../dataplane/mtu.js';
import { hexShort } from '../wire/hex.js';
import type { Path } from './yaml-doc.js';
import { describe, looksIpv6, type Obj, type SchemaValidator } from './yaml-validator.js';
import { ikeKeying, manualKeying } from './config-keying.js';
import { hostName, readPeer } from './config-dns.js';
import { DHCP, readVlinkDhcp } from './config-dhcp.js';
import { familyOf, ipv6MtuProblem, readVlinkIpv6 } from './config-ipv6.js';
import type { IpFamily } from '../wire/addr.js';

export const DEFAULT_UDP_PORT = 4500;
export const DEFAULT_LIVENESS = { intervalMs: 1000, deadMs: 4000 } as const;

const ENCAPS = ['udp', 'esp'] as const;
const PEER_RESOLVE = ['dynamic', 'once'] as const;
const VLINK_FIELDS = ['name', 'peer', 'peer_domain', 'peer_resolve', 'peer_port', 'encap', 'address', 'address6', 'link_local', 'peer_address', 'mtu', 'replay_window', 'liveness', 'keying', 'dhcp'];
const LIVENESS_FIELDS = ['interval_ms', 'dead_ms'];
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** A vlink as far as it validated: '' / 0 / undefined mark fields that were invalid or missing. */
export interface PartialVlink {
  index: number;
  vl: Omit<VlinkConfig, 'keying' | 'encap'> & { encap: VlinkConfig['encap'] | undefined; keying: Keying | undefined };
}

/**
 * Why an explicit vlink MTU cannot be used, or undefined when it fits. The one rule shared by
 * config validation (check-config, start, reload) and OverlayNode.prepare.
 */
export function vlinkMtuProblem(underlayMtu: number, encap: 'udp' | 'esp', mtu: number, family: IpFamily = 4): string | undefined {
  const max = vlinkMtu(underlayMtu, encap, family);
  if (mtu <= max) return undefined;
  return `${mtu} does not fit: underlay.mtu ${underlayMtu} minus the ${encap} ESP encapsulation overhead over IPv${family} leaves at most ${max}; use mtu: auto or at most ${max}`;
}

/** Vlink MTU limits that need the whole config: the underlay's family and MTU, and IPv6's 1280 floor. */
export function checkVlinkMtus(v: SchemaValidator, underlayMtu: number, underlayAddress: string, vlinks: PartialVlink[]): void {
  const family = familyOf(underlayAddress);
  for (const { index, vl } of vlinks) {
    if (vl.encap === undefined) continue;
    const bad = vl.mtu === 'auto' ? undefined : vlinkMtuProblem(underlayMtu, vl.encap, vl.mtu, family);
    if (bad !== undefined) {
      v.err(['vlinks', index, 'mtu'], bad);
      continue;
    }
    const mtu = vl.mtu === 'auto' ? vlinkMtu(underlayMtu, vl.encap, family) : vl.mtu;
    const small = vl.linkLocal === undefined ? undefined : ipv6MtuProblem(mtu);
    if (small !== undefined) v.err(['vlinks', index, vl.mtu === 'auto' ? 'address6' : 'mtu'], vl.mtu === 'auto' ? `needs a vlink MTU of 1280, but mtu: auto gives ${mtu} (${small})` : small);
  }
}

export function readVlink(v: SchemaValidator, item: unknown, i: number, underlayAddress: string, baseDir: string): PartialVlink | undefined {
  const p: Path = ['vlinks', i];
  const o = v.mapping(item, p, VLINK_FIELDS);
  if (o === undefined) return undefined;

  let name = '';
  if (v.required(o, 'name', p, 'the TUN interface name')) {
    const n = v.pattern(o, 'name', p, IFNAME_RE, 'must be an interface name of 1..15 characters from A-Z a-z 0-9 _ . -', '');
    if (n === '.' || n === '..') v.err([...p, 'name'], `must be an interface name of 1..15 characters from A-Z a-z 0-9 _ . - (got ${describe(n)})`);
    else name = n;
  }

  let peer = '';
  let peerName: string | undefined;
  let peerDomain: string | undefined;
  if (v.present(o, 'peer_domain')) {
    // RFC 2230: the domain's KX records name the gateways; `peer` would contradict them.
    if (v.present(o, 'peer')) v.err([...p, 'peer_domain'], 'and peer exclude each other: peer_domain finds the peer through the domain\'s KX records');
    peerDomain = typeof o.peer_domain === 'string' ? hostName(o.peer_domain) : undefined;
    if (peerDomain === undefined) v.err([...p, 'peer_domain'], `must be a domain name of two labels or more, e.g. site-b.example (got ${describe(o.peer_domain)})`);
  } else if (v.required(o, 'peer', p, "the peer's underlay IPv4 or IPv6 address or host name (or peer_domain: a domain with KX records)")) {
    ({ peer, peerName } = readPeer(v, o.peer, [...p, 'peer']));
    if (peer !== '' && peer === underlayAddress) {
      v.err([...p, 'peer'], `must differ from underlay.address (${underlayAddress}); a vlink to this node itself would loop`);
    } else if (peer !== '' && underlayAddress !== '' && familyOf(peer) !== familyOf(underlayAddress)) {
      v.err([...p, 'peer'], `is an IPv${familyOf(peer)} address but underlay.address ${underlayAddress} is IPv${familyOf(underlayAddress)}; the outer header has one family, so a vlink's peer must have the underlay's`);
    }
  }
  // Named peers resolve A records only (dns/), so they need an IPv4 underlay.
  if ((peerName !== undefined || peerDomain !== undefined) && familyOf(underlayAddress) === 6) {
    v.err([...p, peerName !== undefined ? 'peer' : 'peer_domain'], `names its peer, and named peers are resolved to IPv4 addresses only, but underlay.address ${underlayAddress} is IPv6; give the peer's IPv6 address`);
  }
  const peerResolve = v.oneOf(o, 'peer_resolve', p, PEER_RESOLVE, 'dynamic');
  if (v.present(o, 'peer_resolve') && peerName === undefined && peerDomain === undefined && peer !== '') {
    v.err([...p, 'peer_resolve'], `applies only when peer is a host name (peer is the address ${peer})`);
  }

  const peerPort = v.integer(o, 'peer_port', p, 1, 65535, DEFAULT_UDP_PORT);
  const encapBefore = v.problems.length;
  let encap: VlinkConfig['encap'] | undefined = v.oneOf(o, 'encap', p, ENCAPS, 'udp');
  if (v.problems.length > encapBefore) encap = undefined;

  let address = '';
  let prefixLen = 0;
  if (v.required(o, 'address', p, 'local VN address with prefix, e.g. 10.255.0.0/31, or dhcp')) {
    // dhcp: the address comes from a lease over this vlink (config-dhcp.ts).
    if (looksIpv6(o.address)) {
      v.err([...p, 'address'], `is the vlink's IPv4 VN address; an IPv6 one goes in address6 (got ${describe(o.address)})`);
    } else {
      const a = o.address === DHCP ? { address: DHCP, prefixLen: 32 } : v.ipv4WithPrefix(o.address, [...p, 'address'], '10.255.0.0/31');
      if (a !== undefined) ({ address, prefixLen } = a);
    }
  }

  let peerAddress: string | undefined;
  if (v.present(o, 'peer_address') && o.peer_address !== DHCP) {
    peerAddress = v.ipv4(o.peer_address, [...p, 'peer_address'], 'must be an IPv4 address without prefix, e.g. 10.255.0.1');
    if (peerAddress !== undefined) {
      if (address !== '' && prefixLen !== 32) {
        v.err([...p, 'address'], `must have prefix /32 when peer_address is set (point-to-point), got /${prefixLen}`);
      }
      if (address !== '' && address.split('/')[0] === peerAddress) {
        v.err([...p, 'peer_address'], `must differ from the local address ${address}`);
      }
    }
  }

  let mtu: number | 'auto' = 'auto';
  if (v.present(o, 'mtu')) {
    const m = o.mtu;
    if (m === 'auto' || (typeof m === 'number' && Number.isInteger(m) && m >= 576 && m <= 65535)) mtu = m as number | 'auto';
    else v.err([...p, 'mtu'], `must be "auto" or an integer 576..65535 (got ${describe(m)})`);
  }

  const replayWindow = v.integer(o, 'replay_window', p, 1024, 65536, DEFAULT_REPLAY_WINDOW,
    (n) => (n % 32 === 0 ? undefined : `must be a multiple of 32 in 1024..65536 (got ${n})`));

  const liveness = readLiveness(v, o, p);

  let keying: Keying | undefined;
  if (v.required(o, 'keying', p, 'keying: mode manual (suite, spi_in, spi_out, key_in, key_out) or mode ikev2 (psk_file, ...)')) {
    const k = o.keying;
    const ike = k !== null && typeof k === 'object' && !Array.isArray(k) && (k as Obj).mode === 'ikev2';
    keying = ike ? ikeKeying(v, k as Obj, [...p, 'keying'], baseDir) : manualKeying(v, k, [...p, 'keying'], baseDir);
  }

  const dhcp = readVlinkDhcp(v, o, p, address, prefixLen, baseDir);
  const ip6 = readVlinkIpv6(v, o, p, address);
  return {
    index: i,
    vl: { name, peer, ...(peerName === undefined ? {} : { peerName }), ...(peerDomain === undefined ? {} : { peerDomain }), peerResolve, peerPort, encap, address, prefixLen, ...ip6, peerAddress, mtu, replayWindow, liveness, keying, ...(dhcp === undefined ? {} : { dhcp }) },
  };
}

/** `liveness: off`, or a mapping whose fields default individually. */
function readLiveness(v: SchemaValidator, o: Obj, p: Path): Liveness | null {
  if (!v.present(o, 'liveness')) return { ...DEFAULT_LIVENESS };
  const lp = [...p, 'liveness'];
  if (o.liveness === 'off' || o.liveness === false) return null;
  const m = v.mapping(o.liveness, lp, LIVENESS_FIELDS);
  if (m === undefined) return { ...DEFAULT_LIVENESS };
  const intervalMs = v.integer(m, 'interval_ms', lp, 50, 60000, DEFAULT_LIVENESS.intervalMs);
  const deadMs = v.integer(m, 'dead_ms', lp, 100, 600000, Math.max(DEFAULT_LIVENESS.deadMs, intervalMs * 3));
  if (deadMs < intervalMs * 2) {
    // One lost probe must not flap the link.
    v.err([...lp, 'dead_ms'], `must be at least twice interval_ms (${intervalMs * 2}), got ${deadMs}`);
  }
  return { intervalMs, deadMs };
}

/** Uniqueness across vlinks. Empty / zero / undefined values were already reported as invalid; skipped here. */
export function crossCheckVlinks(v: SchemaValidator, vlinks: PartialVlink[]): void {
  const names = new Map<string, number>();
  const spis = new Map<number, number>();
  const selectors = new Map<string, number>();
  const keyFiles = new Map<string, string>();
  const ikePeers = new Map<string, number>();
  const peerNames = new Map<string, number>();
  for (const { index: i, vl } of vlinks) {
    const here = `vlinks[${i}]`;
    if (vl.name !== '') {
      const seen = names.get(vl.name);
      if (seen !== undefined) {
        v.err(['vlinks', i, 'name'], `duplicate vlink name "${vl.name}" (also used by vlinks[${seen}]); names must be unique`);
      } else names.set(vl.name, i);
    }

    const manual = vl.keying?.mode === 'manual' ? vl.keying : undefined;
    if (vl.keying?.mode === 'ikev2' && vl.peer !== '') {
      const seen = ikePeers.get(vl.peer);
      if (seen !== undefined) {
        v.err(['vlinks', i, 'peer'], `vlinks[${seen}] already runs IKEv2 with peer ${vl.peer}; IKE finds a vlink by its peer's address, so only one ikev2 vlink per peer`);
      } else ikePeers.set(vl.peer, i);
    }

    // Two vlinks to one name would resolve to one address: the same ambiguity as two to one address.
    const named = vl.peerName ?? vl.peerDomain;
    if (named !== undefined) {
      const field = vl.peerName !== undefined ? 'peer' : 'peer_domain';
      const seen = peerNames.get(named);
      if (seen !== undefined) {
        v.err(['vlinks', i, field], `vlinks[${seen}] already names ${named}; one vlink per peer name or domain (both would resolve to one address)`);
      } else peerNames.set(named, i);
    }

    const spiIn = manual?.spiIn ?? 0;
    if (spiIn !== 0) {
      const seen = spis.get(spiIn);
      if (seen !== undefined) {
        v.err(['vlinks', i, 'keying', 'spi_in'], `duplicate spi_in ${hexShort(spiIn)} (also used by vlinks[${seen}]); inbound SAs are looked up by SPI, so spi_in must be unique on a node`);
      } else spis.set(spiIn, i);
    }

    if (vl.peer !== '' && vl.encap !== undefined) {
      const sel = `${vl.peer}/${vl.encap}`;
      const seen = selectors.get(sel);
      if (seen !== undefined) {
        v.err(['vlinks', i, 'peer'], `vlinks[${seen}] and ${here} both have peer ${vl.peer} with encap ${vl.encap}; the outer-header SPD selector (peer, encap) would be ambiguous`);
      } else selectors.set(sel, i);
    }

    // Manual SAs all start their sequence numbers, and so their AEAD nonces, at the same
    // value: one key behind two SAs repeats nonces, which breaks GCM and ChaCha20-Poly1305.
    for (const [field, file] of [['key_in', manual?.keyIn ?? ''], ['key_out', manual?.keyOut ?? '']] as const) {
      if (file === '') continue;
      const seen = keyFiles.get(file);
      if (seen !== undefined) {
        v.err(['vlinks', i, 'keying', field], `key file ${file} is already used by ${seen}; every SA needs its own key, because reusing one repeats AEAD nonces`);
      } else keyFiles.set(file, `${here}.keying.${field}`);
    }
  }
}
