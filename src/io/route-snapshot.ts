// Kernel routes through one interface, IPv4 and IPv6, saved before its TUN goes away and put
// back on the new one (control/reload.ts). Linux deletes every IPv4 route through a vanishing
// interface without a single RTM_DELROUTE, so nobody, a routing daemon included, is told they
// are gone; IPv6 routes through it go with it too.
// Pure conversions between rtnetlink messages and SavedRoute; netsys.ts does the I/O.

import os from 'node:os';
import type { rt } from 'netlink';
import { IiptranError } from '../errors.js';
import { parseMultipath } from './rta-multipath.js';
import { formatIpv6, parseIpv6 } from '../wire/ipv6-text.js';

export interface SavedHop {
  gateway: string | null;
  /** True for a hop through the interface being replaced: it moves to the new one. */
  onVlink: boolean;
  /** The hop's interface when it is another one (kept as it is); for logs and the fake. */
  ifindex: number;
  dev: string | null;
  /** ECMP weight, 1..256 (rtnh_hops + 1). */
  weight: number;
  onlink: boolean;
}

export interface SavedRoute {
  /** "a.b.c.d/len", or an IPv6 prefix. */
  dst: string;
  /** 6 for an IPv6 route (gateways and prefsrc IPv6 too); absent: IPv4. */
  family?: 6;
  table: number;
  /** As the netlink package names them (a string for known values, else the number). */
  protocol: string | number;
  scope: string | number;
  type: string | number;
  tos: number;
  metric: number | null;
  prefsrc: string | null;
  /** RTA_MULTIPATH: several hops, or one hop the kernel keeps in a multipath set. */
  multipath: boolean;
  hops: SavedHop[];
}

const RTA_GATEWAY = 5;
const AF_INET = 2;
const AF_INET6 = 10;
const RTNH_F_ONLINK = 4;
const RT_TABLE_LOCAL = 255;
const LE = os.endianness() === 'LE';

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address as text; null for anything else. */
function addrText(b: Uint8Array | undefined): string | null {
  if (b !== undefined && b.length === 16) return formatIpv6(b);
  if (b === undefined || b.length !== 4) return null;
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function addrBytes(a: string): Buffer {
  if (a.includes(':')) return Buffer.from(parseIpv6(a) ?? new Uint8Array(16));
  return Buffer.from(a.split('.').map(Number));
}

/** RTA_MULTIPATH for RTM_NEWROUTE: the inverse of rta-multipath.ts parseMultipath, flags reduced to onlink. */
export function encodeMultipath(hops: { gateway: string | null; ifindex: number; weight: number; onlink: boolean }[]): Buffer {
  const parts = hops.map((h) => {
    const gw = h.gateway === null ? null : addrBytes(h.gateway);
    const b = Buffer.alloc(gw === null ? 8 : 12 + gw.length);
    const w16 = (v: number, o: number) => (LE ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
    w16(b.length, 0);
    b[2] = h.onlink ? RTNH_F_ONLINK : 0;
    b[3] = Math.min(255, Math.max(0, h.weight - 1));
    if (LE) b.writeInt32LE(h.ifindex, 4);
    else b.writeInt32BE(h.ifindex, 4);
    if (gw !== null) {
      w16(4 + gw.length, 8);
      w16(RTA_GATEWAY, 10);
      gw.copy(b, 12);
    }
    return b;
  });
  return Buffer.concat(parts);
}

/**
 * The route as saved if one of its next hops leaves by `ifindex`; null otherwise, and for the
 * routes the kernel makes itself (the prefix route of the link's address comes back with the
 * address) and the local table.
 */
export function saveRoute(r: rt.RouteMessage, ifindex: number, names: Map<number, string>): SavedRoute | null {
  const table = r.attrs.table ?? r.data.table ?? 0;
  // KERNEL: an address's prefix route and IPv6's fe80::/64 come back with the addresses.
  if ((r.data.family !== AF_INET && r.data.family !== AF_INET6) || table === RT_TABLE_LOCAL || r.data.protocol === 'KERNEL') return null;
  const six = r.data.family === AF_INET6;
  const parsed = r.attrs.multipath === undefined ? null : parseMultipath(Buffer.from(r.attrs.multipath));
  if (typeof parsed === 'string') throw new IiptranError('IIPTRAN_ERR_NATIVE', `route with RTA_MULTIPATH the kernel sent unreadable: ${parsed}`);
  // Only onlink is configuration; linkdown, dead and the like are the kernel's state.
  const mp = parsed?.map((h) => ({ gateway: h.gateway, ifindex: h.ifindex, weight: h.weight, onlink: h.flags.includes('onlink') })) ?? null;
  const raw = mp ?? (r.attrs.oif === undefined ? [] : [{
    gateway: addrText(r.attrs.gateway),
    ifindex: r.attrs.oif,
    weight: 1,
    onlink: ((r.data.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0,
  }]);
  if (!raw.some((h) => h.ifindex === ifindex)) return null;
  return {
    dst: `${addrText(r.attrs.dst) ?? (six ? '::' : '0.0.0.0')}/${r.data.dstLen ?? 0}`,
    ...(six ? { family: 6 as const } : {}),
    table,
    protocol: r.data.protocol ?? 'BOOT',
    scope: r.data.scope ?? 'UNIVERSE',
    type: r.data.type ?? 'UNICAST',
    tos: r.data.tos ?? 0,
    metric: r.attrs.priority ?? null,
    prefsrc: addrText(r.attrs.prefsrc),
    multipath: mp !== null,
    hops: raw.map((h) => ({ ...h, onVlink: h.ifindex === ifindex, dev: names.get(h.ifindex) ?? null })),
  };
}

/** The RTM_NEWROUTE body that puts `r` back, its hops on the replaced interface now on `ifindex`. */
export function restoreRequest(r: SavedRoute, ifindex: number): { data: rt.Route; attrs: rt.RouteAttrs } {
  const slash = r.dst.lastIndexOf('/');
  const [addr, len] = [r.dst.slice(0, slash), r.dst.slice(slash + 1)];
  const hops = r.hops.map((h) => ({ ...h, ifindex: h.onVlink ? ifindex : h.ifindex }));
  const attrs: rt.RouteAttrs = { dst: addrBytes(addr), ...(r.table > 255 ? { table: r.table } : {}) };
  if (r.metric !== null) attrs.priority = r.metric;
  if (r.prefsrc !== null) attrs.prefsrc = addrBytes(r.prefsrc);
  let onlink = false;
  if (r.multipath) {
    attrs.multipath = encodeMultipath(hops);
  } else {
    const h = hops[0]!;
    attrs.oif = h.ifindex;
    if (h.gateway !== null) attrs.gateway = addrBytes(h.gateway);
    onlink = h.onlink;
  }
  const data: rt.Route = {
    family: r.family === 6 ? AF_INET6 : AF_INET,
    dstLen: Number(len),
    tos: r.tos,
    // Tables above 255 go in RTA_TABLE alone, with RT_TABLE_UNSPEC here, as iproute2 does.
    table: r.table > 255 ? 0 : r.table,
    protocol: r.protocol as rt.Route['protocol'],
    scope: r.scope as rt.Route['scope'],
    type: r.type as rt.Route['type'],
    ...(onlink ? { flags: { __unknown: RTNH_F_ONLINK } } : {}),
  };
  return { data, attrs };
}

/** "10.10.0.2/32 via 10.255.0.1 proto bird", for logs. */
export function routeText(r: SavedRoute): string {
  const hops = r.hops.map((h) => (h.gateway === null ? `dev ${h.dev ?? h.ifindex}` : `via ${h.gateway}`)).join(' + ');
  return `${r.dst} ${hops} proto ${String(r.protocol).toLowerCase()}${r.table === 254 ? '' : ` table ${r.table}`}`;
}
