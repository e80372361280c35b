// Which outside programs iiptran's daemon, labs, tests and benchmark run, and which Debian
// package brings each one: the one table that `iiptran doctor` and the tests' program checks
// (test/netns/helpers.ts) read, so a missing program is always reported with the package that
// fixes it. scripts/setup.sh installs every package named here.

import fs from 'node:fs';
import path from 'node:path';
import { IiptranError } from '../errors.js';

export interface ProgramInfo {
  /** Debian package that installs it. */
  pkg: string;
  /** Absolute path when it is not looked up in PATH (charon lives outside PATH). */
  path?: string;
  /** Arguments that print a version and exit; none for programs that only run as daemons. */
  version?: string[];
  /** Missing is a failure (daemon, lab, tests) or only a warning (benchmark, rebuilding the addon). */
  level: 'required' | 'optional';
  usedBy: string;
}

export const PROGRAMS: Readonly<Record<string, ProgramInfo>> = {
  ip: { pkg: 'iproute2', version: ['-V'], level: 'required', usedBy: 'daemon routes and the guard\'s unreachable routes (vn_prefixes), labs and tests: netns, veth, bridges' },
  ping: { pkg: 'iputils-ping', version: ['-V'], level: 'required', usedBy: 'tests, demo' },
  fping: { pkg: 'fping', version: ['--version'], level: 'required', usedBy: 'labs: the convergence check pings every VN address with it' },
  sysctl: { pkg: 'procps', version: ['--version'], level: 'required', usedBy: 'labs: forwarding in router namespaces' },
  unshare: { pkg: 'util-linux', version: ['--version'], level: 'required', usedBy: 'tests: a private /run per charon' },
  setpriv: { pkg: 'util-linux', version: ['--version'], level: 'required', usedBy: 'tests: runs a daemon with exactly the systemd unit\'s capabilities' },
  mount: { pkg: 'mount', version: ['--version'], level: 'required', usedBy: 'tests: a private /run per charon' },
  nft: { pkg: 'nftables', version: ['--version'], level: 'required', usedBy: 'daemon: the fail-closed guard (vn_prefixes); labs (NAT, link faults), tests (fault injection)' },
  tcpdump: { pkg: 'tcpdump', version: ['--version'], level: 'required', usedBy: 'tests and demo: underlay captures' },
  tshark: { pkg: 'tshark', version: ['--version'], level: 'required', usedBy: 'tests: independent ESP/IKE decoder' },
  text2pcap: { pkg: 'wireshark-common', version: ['--version'], level: 'required', usedBy: 'tests: IKE codec checked by tshark' },
  iperf3: { pkg: 'iperf3', version: ['--version'], level: 'required', usedBy: 'tests (TCP under rekey) and benchmark' },
  bird: { pkg: 'bird2', version: ['--version'], level: 'required', usedBy: 'labs with routing: bird (OSPF over vlinks)' },
  birdc: { pkg: 'bird2', level: 'required', usedBy: 'labs: BIRD readiness and status' },
  zebra: { pkg: 'frr', path: '/usr/lib/frr/zebra', version: ['--version'], level: 'required', usedBy: 'labs with routing: frr or bgp (FRR\'s kernel route installer)' },
  ospfd: { pkg: 'frr', path: '/usr/lib/frr/ospfd', version: ['--version'], level: 'required', usedBy: 'labs with routing: frr (OSPF over vlinks)' },
  ospf6d: { pkg: 'frr', path: '/usr/lib/frr/ospf6d', version: ['--version'], level: 'required', usedBy: 'dual-stack labs with routing: frr (OSPFv3 over vlinks)' },
  bfdd: { pkg: 'frr', path: '/usr/lib/frr/bfdd', version: ['--version'], level: 'required', usedBy: 'labs with routing: frr or bgp (BFD on vlinks)' },
  bgpd: { pkg: 'frr', path: '/usr/lib/frr/bgpd', version: ['--version'], level: 'required', usedBy: 'labs with routing: bgp by FRR' },
  vtysh: { pkg: 'frr', level: 'required', usedBy: 'tests: FRR\'s own view of a lab node, next to the lab\'s status' },
  charon: { pkg: 'strongswan-charon', path: '/usr/lib/ipsec/charon', level: 'required', usedBy: 'tests: IKEv2 interop peer' },
  swanctl: { pkg: 'strongswan-swanctl', level: 'required', usedBy: 'tests: drives charon over vici' },
  'kea-dhcp4': { pkg: 'kea-dhcp4-server', version: ['-v'], level: 'required', usedBy: 'labs with a dhcp section and tests: the DHCPv4 server behind the relay (RFC 3456), DHCP vector captures' },
  openssl: { pkg: 'openssl', version: ['version'], level: 'required', usedBy: 'tests (raw public keys against the openssl CLI), benchmark' },
  nsd: { pkg: 'nsd', version: ['-v'], level: 'required', usedBy: 'labs with dns: the lab DNS server; tests: authoritative DNS for the DNSSEC cross-check and vectors' },
  'ldns-keygen': { pkg: 'ldnsutils', level: 'required', usedBy: 'labs with dns and tests: DNSSEC keys for the zones' },
  'ldns-signzone': { pkg: 'ldnsutils', version: ['-v'], level: 'required', usedBy: 'labs with dns and tests: signs the zones (and their broken variants)' },
  'ldns-key2ds': { pkg: 'ldnsutils', level: 'required', usedBy: 'labs with dns and tests: DS records and trust anchors' },
  'unbound-host': { pkg: 'unbound-host', level: 'required', usedBy: 'tests: independent DNSSEC validator (cross-check)' },
  delv: { pkg: 'bind9-dnsutils', version: ['-v'], level: 'required', usedBy: 'tests: independent DNSSEC validator (cross-check)' },
  'nsd-control': { pkg: 'nsd', level: 'required', usedBy: 'labs with dns: reloads the lab DNS server after a change' },
  dig: { pkg: 'bind9-dnsutils', version: ['-v'], level: 'required', usedBy: 'labs with dns: checks which zone serial the lab DNS server answers' },
  'ldns-verify-zone': { pkg: 'ldnsutils', level: 'required', usedBy: 'tests: offline check of the lab DNS zones and their breaks' },
  'systemd-analyze': { pkg: 'systemd', version: ['--version'], level: 'required', usedBy: 'tests: systemd-analyze verify on the iiptran@.service unit' },
  podman: { pkg: 'podman', version: ['--version'], level: 'required', usedBy: 'tests: builds and runs the Dockerfile' },
  runc: { pkg: 'runc', version: ['--version'], level: 'required', usedBy: 'tests: podman\'s runtime (crun refuses this host\'s hybrid cgroups)' },
  mmdebstrap: { pkg: 'mmdebstrap', version: ['--version'], level: 'required', usedBy: 'tests: a Debian 12 base image without a registry' },
  openvpn: { pkg: 'openvpn', version: ['--version'], level: 'optional', usedBy: 'benchmark peer' },
  'wireguard-go': { pkg: 'wireguard-go', version: ['--version'], level: 'optional', usedBy: 'benchmark peer' },
  wg: { pkg: 'wireguard-tools', version: ['--version'], level: 'optional', usedBy: 'benchmark: configures wireguard-go' },
  'g++': { pkg: 'g++', version: ['--version'], level: 'optional', usedBy: 'rebuilding the native addon (node-gyp)' },
  make: { pkg: 'make', version: ['--version'], level: 'optional', usedBy: 'rebuilding the native addon (node-gyp)' },
  python3: { pkg: 'python3', version: ['--version'], level: 'optional', usedBy: 'rebuilding the native addon (node-gyp)' },
};

export const CHARON_PLUGIN_DIR = '/usr/lib/ipsec/plugins';

/**
 * Every charon plugin a test's strongswan.conf loads (test/netns/ike-charon-harness.ts, and
 * test/wire/ike/capture/ for regenerating captures), with its package. openssl and gcm are
 * only a Recommends of strongswan-charon: without them charon starts but cannot do AES-GCM.
 */
export const CHARON_PLUGINS: Readonly<Record<string, string>> = {
  random: 'libstrongswan',
  nonce: 'libstrongswan',
  aes: 'libstrongswan',
  sha1: 'libstrongswan',
  sha2: 'libstrongswan',
  hmac: 'libstrongswan',
  kdf: 'libstrongswan',
  pem: 'libstrongswan',
  pkcs1: 'libstrongswan',
  pkcs8: 'libstrongswan',
  x509: 'libstrongswan',
  pubkey: 'libstrongswan',
  'kernel-netlink': 'libstrongswan',
  openssl: 'libstrongswan-standard-plugins',
  gcm: 'libstrongswan-standard-plugins',
  chapoly: 'libstrongswan-extra-plugins',
  curve25519: 'libstrongswan-extra-plugins',
  'kernel-libipsec': 'libcharon-extra-plugins',
  'socket-default': 'strongswan-libcharon',
  vici: 'strongswan-swanctl',
};

export function charonPluginFile(name: string): string {
  return path.join(CHARON_PLUGIN_DIR, `libstrongswan-${name}.so`);
}

/** Where `spawn(name)` would find the program (PATH, or the table's fixed path), or null. */
export function locate(name: string, table: Readonly<Record<string, ProgramInfo>> = PROGRAMS, envPath = process.env.PATH ?? ''): string | null {
  const fixed = table[name]?.path;
  const candidates = fixed !== undefined ? [fixed] : envPath.split(':').filter((d) => d !== '').map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      /* not here */
    }
  }
  return null;
}

export interface Missing {
  /** A program, or `charon plugin NAME`. */
  what: string;
  pkg: string;
}

/**
 * What of `names` is not installed, each with its package. Naming charon also checks the
 * plugin files the tests load, the gap that once let charon start but fail every GCM proposal.
 * A name the table does not know is a programming error, reported as such.
 */
export function missingPrograms(names: readonly string[], table: Readonly<Record<string, ProgramInfo>> = PROGRAMS): Missing[] {
  const out: Missing[] = [];
  for (const n of names) {
    const info = table[n];
    if (info === undefined) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `no Debian package is known for program "${n}": add it to PROGRAMS in src/tools/doctor-programs.ts and to scripts/setup.sh`);
    if (locate(n, table) === null) out.push({ what: n, pkg: info.pkg });
  }
  if (names.includes('charon')) {
    for (const [p, pkg] of Object.entries(CHARON_PLUGINS)) if (!fs.existsSync(charonPluginFile(p))) out.push({ what: `charon plugin ${p}`, pkg });
  }
  return out;
}

/** One apt-get line that installs all of `pkgs` (deduplicated, in order). */
export function aptFix(pkgs: readonly string[]): string {
  return `apt-get install ${[...new Set(pkgs)].join(' ')}`;
}
