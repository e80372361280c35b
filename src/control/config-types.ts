// The validated, defaults-filled shape of a node config. The YAML on disk uses snake_case
// (documented in README.md "Node config reference"); config.ts maps it to these types.

export type { Suite } from '../dataplane/suite.js';
import type { Suite } from '../dataplane/suite.js';
import type { TrustAnchor } from '../dns/anchors.js';

/** The one list of log levels (pino's), for config, topologies and the CLI. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface NodeConfig {
  /** node: node name, [a-z0-9][a-z0-9-]{0,31}. */
  node: string;
  /** control_socket: default /run/iiptran/<node>.sock. */
  controlSocket: string;
  /** control_socket_group: group name or gid allowed to use the socket (mode 0660); absent: root only (0600). */
  controlSocketGroup?: string | number;
  /** log_level: default info. */
  logLevel: LogLevel;
  underlay: UnderlayConfig;
  vlinks: VlinkConfig[];
  /** ike_cookie_threshold: half-open IKE SAs at which IKE_SA_INIT needs a COOKIE, 0..1024 (0: always); absent: 10. */
  ikeCookieThreshold?: number;
  /** ike_nat_keepalive_s: NAT keepalive interval from behind a NAT, 0..3600 (0: off); absent: 20. */
  ikeNatKeepaliveS?: number;
  /** ike_retry_max_s: cap on the initiator's wait between IKE attempts after a failure (reinit.ts), 1..3600; absent: 60. */
  ikeRetryMaxS?: number;
  /** vn_prefixes: canonical IPv4 and IPv6 prefixes of the VN address space, guarded fail-closed (io/guard.ts); absent: no guard. */
  vnPrefixes?: string[];
  /** dns: resolver and DNSSEC policy for named peers; absent when no vlink names its peer. */
  dns?: DnsConfig;
  /** dhcp_relay: the hub's RFC 3456 relay (config-dhcp.ts, node-dhcp.ts); absent: none. */
  dhcpRelay?: DhcpRelayConfig;
  /** metrics_listen: where the Prometheus endpoint listens (metrics-server.ts); absent: none. */
  metricsListen?: { host: string; port: number };
}

export interface UnderlayConfig {
  /** underlay.address: this node's underlay IPv4 or IPv6 address (outer source); IPv6 in RFC 5952 form. */
  address: string;
  /** underlay.mtu: underlay path MTU, default 1500, range 576..65535. */
  mtu: number;
  /** underlay.port: local UDP port for RFC 3948 encapsulation, default 4500. */
  port: number;
}

export interface ManualKeying {
  mode: 'manual';
  suite: Suite;
  /** SPI we expect on inbound packets (0x100..0xffffffff). */
  spiIn: number;
  /** SPI we put on outbound packets. */
  spiOut: number;
  /** Absolute path of the inbound key file (resolved relative to the config file). */
  keyIn: string;
  /** Absolute path of the outbound key file. */
  keyOut: string;
  /** Extended sequence numbers (RFC 4304), default false. */
  esn: boolean;
}

export interface IkeKeying {
  mode: 'ikev2';
  /** auth: 'psk' (default), 'pubkey' (raw public keys, RFC 7670) or 'dns' (raw public keys vouched for by IPSECA). */
  auth: 'psk' | 'pubkey' | 'dns';
  /** Absolute path of the PSK file (resolved relative to the config file); '' with auth pubkey. */
  pskFile: string;
  /** private_key / peer_public_key: absolute paths (PEM or DER); '' with auth psk, and peer_public_key '' when auth dns has no fallback. */
  privateKey: string;
  peerPublicKey: string;
  /** child_mode: 'transport' (IIPtran, default) or 'tunnel-any' (tunnel mode, 0.0.0.0/0 selectors). */
  childMode: 'transport' | 'tunnel-any';
  /** role: who starts IKE_SA_INIT. 'auto' (default): the end with the lower underlay address. */
  role: 'initiator' | 'responder' | 'auto';
  /** ike_proposals: strongSwan-style strings, e.g. aes256gcm16-prfsha256-x25519; validated. */
  ikeProposals: string[];
  /** esp_proposals: e.g. aes256gcm16, chacha20poly1305-esn; validated. */
  espProposals: string[];
  /** local_id / remote_id: IKE identities; undefined = the underlay addresses (ID_IPV4_ADDR). */
  localId: string | undefined;
  remoteId: string | undefined;
  /** ike_lifetime_s / child_lifetime_s: hard lifetimes; rekeyed at a random 85-95 % of them. */
  ikeLifetimeS: number;
  childLifetimeS: number;
  /** child_lifetime_bytes / child_lifetime_packets: CHILD_SA volume limits (either direction); 0 = none. Default 0. */
  childLifetimeBytes?: number;
  childLifetimePackets?: number;
  /** dpd_interval_s: silence (no authentic IKE or ESP) before a DPD liveness check; 0 = off. Default 10. */
  dpdIntervalS?: number;
}

export type Keying = ManualKeying | IkeKeying;

export interface VlinkConfig {
  /** name: the TUN interface name, 1..15 chars of [A-Za-z0-9_.-]. */
  name: string;
  /** peer: peer's underlay address (outer destination), the family of underlay.address, IPv6 in RFC 5952 form; '' when `peer` is a host name (peerName). */
  peer: string;
  /** peer as a host name (lower case, no trailing dot), resolved through `dns`; undefined for an address. */
  peerName?: string;
  /** peer_domain: a domain whose KX records name the gateways to key with (RFC 2230); lower case, no trailing dot. */
  peerDomain?: string;
  /** peer_resolve: 'dynamic' (default: before every IKE initiation, and on TTL expiry) or 'once' (start and reload). */
  peerResolve: 'dynamic' | 'once';
  /** peer_port: peer's UDP encapsulation port, default 4500. Ignored for encap esp. */
  peerPort: number;
  /** encap: 'udp' (RFC 3948, default) or 'esp' (raw IP protocol 50). */
  encap: 'udp' | 'esp';
  /** address: local VN address with prefix, e.g. 10.255.0.0/31. */
  address: string;
  /** Parsed from address. */
  prefixLen: number;
  /** address6 / link_local (config-ipv6.ts): the vlink's IPv6 VN addresses; linkLocal present iff it carries IPv6. */
  address6?: string;
  prefixLen6?: number;
  linkLocal?: string;
  /** peer_address: optional VN peer address for a /32 point-to-point setup ("ip addr add A peer B"). */
  peerAddress: string | undefined;
  /** mtu: 'auto' (default: underlay.mtu minus exact overhead) or a number no larger than that. */
  mtu: number | 'auto';
  /** replay_window: anti-replay window in packets, default 1024, 1024..65536, multiple of 32. */
  replayWindow: number;
  /** liveness: probes and dead-peer detection; null when `liveness: off`. */
  liveness: Liveness | null;
  keying: Keying;
  /** `address: dhcp` (with `address` 'dhcp', prefixLen 32) or `peer_address: dhcp` (config-dhcp.ts); absent: neither. */
  dhcp?: VlinkDhcp;
}

/** This end is a DHCP client over the vlink, or (`peer`) the hub end whose peer address comes from the relay. */
export type VlinkDhcp =
  | { role: 'client'; clientId: string; hostname: string; leaseFile: string; release: boolean }
  | { role: 'peer' };

export interface DhcpRelayConfig {
  /** address: giaddr, and where UDP 67 is bound for the servers' replies. */
  address: string;
  servers: string[];
  /** vlinks: the vlinks it serves; default every vlink whose own address is not dhcp. */
  vlinks: string[];
  rate: { burst: number; perSecond: number };
  /** server_id: 'server' (the server names the hub in option 54) or 'rfc5107' (sub-option 11, the relay rewrites 54). */
  serverId: 'server' | 'rfc5107';
  /** route_metric: of the /32 routes via a vlink (protocol dhcp). */
  routeMetric: number;
}

export interface Liveness {
  /** liveness.interval_ms: send an authenticated ESP dummy packet this often, default 1000, 50..60000. */
  intervalMs: number;
  /** liveness.dead_ms: carrier off after this long without an authentic packet, default 4000 (≥ 2 × interval). */
  deadMs: number;
}

/** `dns`: how named peers are resolved and validated (config-dns.ts). */
export interface DnsConfig {
  /** dns.servers: IPv4 addresses with optional :port (default 53), tried in order. */
  servers: { address: string; port: number }[];
  /** dns.trust_anchors: DS/DNSKEY lines from a file or inline, parsed; empty only with dnssec off. */
  trustAnchors: TrustAnchor[];
  /** Where the anchors came from, for logs: the file's absolute path, or 'inline'. */
  trustAnchorsFrom: string | null;
  /** dns.dnssec: 'require' (default: only secure answers), 'prefer' (insecure used with a warning), 'off'. */
  dnssec: 'require' | 'prefer' | 'off';
  /** dns.timeout_ms: bound on one validated lookup, default 5000, 500..60000. */
  timeoutMs: number;
}
