// The `dhcp` section of a topology, and nodes whose `vn` is `dhcp`: those get their VN address
// from a real Kea DHCPv4 server in its own namespace behind the relay node, over their vlink to
// it (RFC 3456; README "DHCP over the overlay"). Syntax and checks here; the addresses, Kea's
// config and the node configs it implies are in lab-dhcp.ts.

import { inPrefix, parseCidr, parseIpv4, u32ToIpv4 } from '../wire/addr.js';
import type { Path } from '../control/yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from '../control/yaml-validator.js';

export const DHCP_VN = 'dhcp';
const FIELDS = ['relay', 'lease_s', 'pool', 'reservations'];
export const DEFAULT_LEASE_S = 600;

export interface TopoDhcp {
  /** The node whose daemon relays (dhcp_relay) and behind which Kea runs. */
  relay: string;
  leaseS: number;
  /** First and last address of Kea's dynamic pool. */
  pool: [string, string];
  /** Kea reservations by circuit-id (the relay's vlink to that node): node -> address. */
  reservations: Record<string, string>;
}

interface NodeLike {
  name: string;
  vn: string;
  routing: string;
}

/** Default pool: .10 - .250 of the last /24 of the VN pool. */
function defaultPool(vnPool: string): [string, string] | null {
  const c = parseCidr(vnPool)!;
  if (c.prefixLen > 24) return null;
  const last24 = (c.addr + 2 ** (32 - c.prefixLen) - 256) >>> 0;
  return [u32ToIpv4(last24 + 10), u32ToIpv4(last24 + 250)];
}

/**
 * Reads the section and checks it against the nodes, vlinks and VN pool. Undefined when the
 * topology has none (then no node may have `vn: dhcp`).
 */
export function parseTopoDhcp(v: SchemaValidator, top: Obj, nodes: NodeLike[], vlinks: { ends: [string, string] }[], vnPool: string): TopoDhcp | undefined {
  const clients = nodes.filter((n) => n.vn === DHCP_VN);
  if (!v.present(top, 'dhcp')) {
    for (const n of clients) v.err(['nodes', n.name, 'vn'], 'dhcp needs a top-level dhcp section (relay: NODE, the node that relays to the lab\'s Kea server)');
    return undefined;
  }
  const p: Path = ['dhcp'];
  const o = v.mapping(top.dhcp, p, FIELDS);
  if (o === undefined) return undefined;
  let relay = '';
  if (v.required(o, 'relay', p, 'the node that relays DHCP to the lab\'s Kea server')) {
    const r = nodes.find((n) => n.name === o.relay);
    if (r === undefined) v.err([...p, 'relay'], `must name a node (got ${describe(o.relay)})`);
    else if (r.vn === DHCP_VN) v.err([...p, 'relay'], `${r.name} has vn: dhcp itself; the relay needs a fixed VN address`);
    else relay = r.name;
  }
  if (clients.length === 0) v.err(['nodes'], 'the dhcp section is set but no node has vn: dhcp');
  for (const n of nodes) {
    if (n.routing !== 'bird') v.err(['nodes', n.name, 'routing'], 'must be bird in a lab with DHCP: static routes cannot name addresses a server hands out');
  }
  for (const n of clients) {
    if (relay !== '' && !vlinks.some((l) => l.ends.includes(n.name) && l.ends.includes(relay))) v.err(['nodes', n.name, 'vn'], `dhcp needs a vlink to the relay ${relay}: DHCP runs over it`);
  }
  const leaseS = v.integer(o, 'lease_s', p, 10, 86400, DEFAULT_LEASE_S);
  const vn = parseCidr(vnPool)!;
  const inVn = (a: number) => inPrefix(a, vn.addr, vn.prefixLen);
  let pool = defaultPool(vnPool);
  if (v.present(o, 'pool')) {
    const m = typeof o.pool === 'string' ? /^\s*(\S+)\s*-\s*(\S+)\s*$/.exec(o.pool) : null;
    const [a, b] = m === null ? [null, null] : [parseIpv4(m[1]!), parseIpv4(m[2]!)];
    if (a === null || b === null || a > b) v.err([...p, 'pool'], `must be FIRST - LAST, e.g. 10.10.5.10 - 10.10.5.200 (got ${describe(o.pool)})`);
    else if (!inVn(a) || !inVn(b)) v.err([...p, 'pool'], `must lie inside addressing.vn (${vnPool})`);
    else pool = [m![1]!, m![2]!];
  } else if (pool === null) v.err([...p, 'pool'], `is required when addressing.vn (${vnPool}) is smaller than a /24`);
  const [lo, hi] = pool === null ? [0, -1] : [parseIpv4(pool[0])!, parseIpv4(pool[1])!];
  for (const n of nodes) {
    const c = n.vn === DHCP_VN || n.vn === '' ? null : parseCidr(n.vn);
    if (c !== null && c.addr + 2 ** (32 - c.prefixLen) - 1 >= lo && c.addr <= hi) v.err(['nodes', n.name, 'vn'], `${n.vn} overlaps the DHCP pool ${pool![0]} - ${pool![1]}`);
  }
  const reservations: Record<string, string> = {};
  if (v.present(o, 'reservations')) {
    const r = v.mapping(o.reservations, [...p, 'reservations'], null) ?? {};
    const used = new Set<number>();
    for (const [n, raw] of Object.entries(r)) {
      const rp = [...p, 'reservations', n];
      const a = typeof raw === 'string' ? parseIpv4(raw) : null;
      if (!clients.some((x) => x.name === n)) v.err(rp, `${n} is not a node with vn: dhcp`);
      else if (a === null) v.err(rp, `must be an IPv4 address (got ${describe(raw)})`);
      else if (!inVn(a)) v.err(rp, `must lie inside addressing.vn (${vnPool})`);
      else if (a >= lo && a <= hi) v.err(rp, `${raw as string} is inside the dynamic pool; reserve an address outside it`);
      else if (used.has(a) || nodes.some((x) => x.vn === `${raw as string}/32`)) v.err(rp, `${raw as string} is already taken`);
      else {
        used.add(a);
        reservations[n] = raw as string;
      }
    }
  }
  return { relay, leaseS, pool: pool ?? ['', ''], reservations };
}
