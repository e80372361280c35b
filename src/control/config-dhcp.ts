// The DHCP parts of a node config (RFC 3456 over the overlay, node-dhcp.ts): a vlink whose
// `address` is `dhcp` (this node is a client over that vlink, with its optional `dhcp`
// settings), a hub vlink whose `peer_address` is `dhcp` (the peer end follows the lease the
// relay sees), and the hub's top-level `dhcp_relay`. Then the checks across them, and what a
// reload may not change.

import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { DhcpRelayConfig, NodeConfig, VlinkDhcp } from './config-types.js';
import type { Path } from './yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from './yaml-validator.js';
import type { PartialVlink } from './config-vlink.js';
import { coveredBy } from './vn-prefixes.js';

export const DHCP = 'dhcp';
export const DHCP_LEASE_DIR = '/var/lib/iiptran/dhcp';
export const DHCP_RELAY_DEFAULTS = { burst: 10, perSecond: 2, routeMetric: 64 } as const;

const CLIENT_FIELDS = ['client_id', 'hostname', 'lease_file', 'release'];
const RELAY_FIELDS = ['address', 'servers', 'vlinks', 'rate', 'server_id', 'route_metric'];
const MAX_SERVERS = 8;
// Option 12: a host name or FQDN of letters, digits, "-" and ".".
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/;

/**
 * A vlink's own DHCP role, from `address: dhcp` (and its `dhcp` settings) or `peer_address:
 * dhcp`. `address` and `prefixLen` are what readVlink made of the address field.
 */
export function readVlinkDhcp(v: SchemaValidator, o: Obj, p: Path, address: string, prefixLen: number, baseDir: string): VlinkDhcp | undefined {
  const peerDhcp = o.peer_address === DHCP;
  if (address !== DHCP) {
    if (v.present(o, 'dhcp')) v.err([...p, 'dhcp'], 'is only used with address: dhcp (the settings of this node\'s DHCP client on the vlink)');
    if (!peerDhcp) return undefined;
    if (address !== '' && prefixLen !== 32) {
      v.err([...p, 'address'], `must have prefix /32 when peer_address is dhcp (point-to-point to the leased address), got /${prefixLen}`);
    }
    return { role: 'peer' };
  }
  if (peerDhcp) {
    v.err([...p, 'peer_address'], 'cannot be dhcp when address is dhcp too; peer_address: dhcp belongs on the relay\'s end of the vlink');
    return undefined;
  }
  const c: VlinkDhcp = { role: 'client', clientId: '', hostname: '', leaseFile: '', release: true };
  if (!v.present(o, 'dhcp')) return c;
  const dp = [...p, 'dhcp'];
  const d = v.mapping(o.dhcp, dp, CLIENT_FIELDS, true);
  if (d === undefined) return c;
  if (v.present(d, 'client_id')) {
    const id = d.client_id;
    if (typeof id !== 'string' || Buffer.byteLength(id) < 1 || Buffer.byteLength(id) > 254) v.err([...dp, 'client_id'], `must be a string of 1..254 bytes (got ${describe(id)})`);
    else c.clientId = id;
  }
  c.hostname = v.pattern(d, 'hostname', dp, HOSTNAME_RE, 'must be a host name of 1..63 letters, digits, "-" and ".", starting with a letter or digit', '');
  if (v.present(d, 'lease_file')) {
    if (typeof d.lease_file !== 'string' || d.lease_file === '') v.err([...dp, 'lease_file'], `must be a non-empty path (got ${describe(d.lease_file)})`);
    else c.leaseFile = path.resolve(baseDir, d.lease_file);
  }
  c.release = v.boolean(d, 'release', dp, true);
  return c;
}

function ipList(v: SchemaValidator, raw: unknown, p: Path): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_SERVERS) {
    v.err(p, `must be a list of 1..${MAX_SERVERS} DHCP server IPv4 addresses, e.g. [10.200.9.2] (got ${Array.isArray(raw) ? `${raw.length} entries` : describe(raw)})`);
    return [];
  }
  const out: string[] = [];
  raw.forEach((s, i) => {
    const a = v.ipv4Unicast(s, [...p, i]);
    if (a === undefined) return;
    if (out.includes(a)) v.err([...p, i], `${a} is listed twice`);
    else out.push(a);
  });
  return out;
}

function readRelay(v: SchemaValidator, raw: unknown, names: string[], clients: string[]): DhcpRelayConfig | undefined {
  const p: Path = ['dhcp_relay'];
  const o = v.mapping(raw, p, RELAY_FIELDS);
  if (o === undefined) return undefined;
  let address = '';
  if (v.required(o, 'address', p, "the hub's relay address: giaddr, where UDP 67 is bound for the servers' replies")) address = v.ipv4Unicast(o.address, [...p, 'address']) ?? '';
  let servers: string[] = [];
  if (v.required(o, 'servers', p, 'a list of DHCP server addresses')) servers = ipList(v, o.servers, [...p, 'servers']);
  if (servers.includes(address)) v.err([...p, 'servers', (o.servers as unknown[]).indexOf(address)], `must differ from dhcp_relay.address (${address}): the relay would send to itself`);
  let vlinks = names.filter((n) => !clients.includes(n));
  if (v.present(o, 'vlinks')) {
    if (!Array.isArray(o.vlinks) || o.vlinks.length === 0) v.err([...p, 'vlinks'], `must be a non-empty list of vlink names (got ${describe(o.vlinks)})`);
    else {
      vlinks = [];
      (o.vlinks as unknown[]).forEach((n, i) => {
        const vp = [...p, 'vlinks', i];
        if (typeof n !== 'string' || !names.includes(n)) v.err(vp, `must name a vlink of this node (${names.join(', ')}) (got ${describe(n)})`);
        else if (clients.includes(n)) v.err(vp, `${n} has address: dhcp; a vlink where this node is a client cannot also be relayed`);
        else if (vlinks.includes(n)) v.err(vp, `${n} is listed twice`);
        else vlinks.push(n);
      });
    }
  }
  const rate: DhcpRelayConfig['rate'] = { burst: DHCP_RELAY_DEFAULTS.burst, perSecond: DHCP_RELAY_DEFAULTS.perSecond };
  if (v.present(o, 'rate')) {
    const r = v.mapping(o.rate, [...p, 'rate'], ['burst', 'per_second']);
    if (r !== undefined) {
      rate.burst = v.integer(r, 'burst', [...p, 'rate'], 1, 10000, rate.burst);
      rate.perSecond = v.integer(r, 'per_second', [...p, 'rate'], 1, 10000, rate.perSecond);
    }
  }
  const serverId = v.oneOf(o, 'server_id', p, ['server', 'rfc5107'] as const, 'server');
  // Not 0: a vlink with peer_address dhcp has the kernel's own /32 there at metric 0.
  const routeMetric = v.integer(o, 'route_metric', p, 1, 0xffffffff, DHCP_RELAY_DEFAULTS.routeMetric);
  return { address, servers, vlinks, rate, serverId, routeMetric };
}

/**
 * Reads `dhcp_relay` and checks DHCP across the config; fills the client defaults that need the
 * node name. Returns the relay config, undefined when there is none.
 */
export function checkDhcp(v: SchemaValidator, top: Obj, node: string, vlinks: PartialVlink[], vnPrefixes: string[] | undefined): DhcpRelayConfig | undefined {
  const names = vlinks.map(({ vl }) => vl.name).filter((n) => n !== '');
  const clients = vlinks.filter(({ vl }) => vl.dhcp?.role === 'client').map(({ vl }) => vl.name);
  for (const { vl } of vlinks) {
    const d = vl.dhcp;
    if (d?.role !== 'client') continue;
    if (d.clientId === '') d.clientId = node || vl.name;
    if (d.hostname === '') d.hostname = node || vl.name;
    if (d.leaseFile === '') d.leaseFile = path.join(DHCP_LEASE_DIR, `${node || 'node'}-${vl.name}.json`);
  }
  const relay = v.present(top, 'dhcp_relay') ? readRelay(v, top.dhcp_relay, names, clients) : undefined;
  for (const { index, vl } of vlinks) {
    if (vl.dhcp?.role !== 'peer') continue;
    if (relay === undefined) v.err(['vlinks', index, 'peer_address'], 'dhcp needs dhcp_relay: the peer end is the address the relay sees acknowledged on this vlink');
    else if (!relay.vlinks.includes(vl.name)) v.err(['vlinks', index, 'peer_address'], `dhcp needs this vlink in dhcp_relay.vlinks (${relay.vlinks.join(', ')})`);
  }
  if (relay !== undefined && vnPrefixes !== undefined) {
    // The guard lets VN traffic leave by a vlink only, so a server inside the VN could never be reached.
    if (relay.address !== '' && coveredBy(`${relay.address}/32`, vnPrefixes)) v.err(['dhcp_relay', 'address'], `${relay.address} is inside vn_prefixes; the relay talks to its servers outside the overlay`);
    // Reported at the entry as written (the list read skips invalid ones).
    const raw = (top.dhcp_relay as Obj).servers as unknown[];
    for (const s of relay.servers) {
      if (coveredBy(`${s}/32`, vnPrefixes)) v.err(['dhcp_relay', 'servers', raw.indexOf(s)], `${s} is inside vn_prefixes; the guard would drop what the relay sends it`);
    }
  }
  return relay;
}

/** What a reload may not change (the daemon must restart), or undefined. */
export function dhcpReloadProblem(cur: NodeConfig, next: NodeConfig): ConfigError | undefined {
  if (JSON.stringify(cur.dhcpRelay ?? null) !== JSON.stringify(next.dhcpRelay ?? null)) return new ConfigError('dhcp_relay', 'cannot change on reload; restart the daemon');
  const key = (x: NodeConfig['vlinks'][number] | undefined) => JSON.stringify(x === undefined ? null : { dhcp: x.dhcp ?? null, address: x.address, peer: x.peerAddress ?? null });
  for (const [i, n] of next.vlinks.entries()) {
    const c = cur.vlinks.find((x) => x.name === n.name);
    if (n.dhcp === undefined && c?.dhcp === undefined) continue;
    if (c === undefined || key(c) !== key(n)) return new ConfigError(`vlinks[${i}]`, `${n.name}: a vlink with address or peer_address dhcp cannot be added or changed on reload; restart the daemon`);
  }
  for (const c of cur.vlinks) {
    if (c.dhcp !== undefined && !next.vlinks.some((n) => n.name === c.name)) return new ConfigError('vlinks', `${c.name}: a vlink with address or peer_address dhcp cannot be removed on reload; restart the daemon`);
  }
  return undefined;
}
