// Link configuration and route reading through rtnetlink (the `netlink` package), so the
// daemon never shells out to `ip`. Kept behind the NetSys interface so control/ can be unit
// tested with the fake in fake-netsys.ts.

import { createRtNetlink } from 'netlink';
import { endianness } from 'node:os';
import { IiptranError, NativeError } from '../errors.js';
import { parseMultipath } from './rta-multipath.js';
import { restoreRequest, routeText, saveRoute, type SavedRoute } from './route-snapshot.js';
import { AF_INET6, addrBytesText, ipv6AddressMessages, setIpv6Enabled, type Ipv6LinkSetup } from './netsys-v6.js';

export type { Ipv6LinkSetup } from './netsys-v6.js';

export type { SavedRoute } from './route-snapshot.js';

export interface LinkSetup {
  name: string;
  mtu: number;
  /** '' for none (a vlink whose address comes from DHCP). */
  address: string;
  prefixLen: number;
  /** Point-to-point peer VN address ("ip addr add A peer B"). */
  peer: string | undefined;
  /** IPv6 on the vlink (netsys-v6.ts); absent: IPv6 off on the TUN. */
  ipv6?: Ipv6LinkSetup;
}

/** A link's own address: "ip addr add ADDRESS/PREFIXLEN [peer PEER]". */
export type LinkAddress = Pick<LinkSetup, 'address' | 'prefixLen' | 'peer'>;

export interface RestoreResult {
  /** Added again, or found already there (a routing daemon was quicker). */
  restored: string[];
  /** Refused by the kernel, with why (e.g. a gateway no longer on the link). */
  failed: { route: string; error: string }[];
}

/** One path of a multipath (ECMP) route. */
export interface KernelNextHop {
  gateway: string | null;
  dev: string | null;
  ifindex: number;
  weight: number;
  /** RTNH_F_* flag names, e.g. `linkdown`, `dead`, `onlink`. */
  flags: string[];
}

export interface KernelRoute {
  /** "a.b.c.d/len", or an IPv6 prefix in RFC 5952 form. */
  dst: string;
  /** The route's address family (absent in views of nodes built before IPv6: 4). */
  family?: 4 | 6;
  /** For a multipath route these three are null and `multipath` has every path. */
  gateway: string | null;
  dev: string | null;
  ifindex: number | null;
  /** Origin as the kernel names it: kernel, boot, static, bird, ospf, ... */
  protocol: string;
  metric: number | null;
  scope: string;
  table: number;
  /** Set for a route with RTA_MULTIPATH (e.g. `ip route add P nexthop dev a nexthop dev b`). */
  multipath?: KernelNextHop[];
  /** The kernel nexthop object the route uses (RTA_NH_ID, as FRR's zebra installs); its hops are resolved into the fields above. */
  nhid?: number;
}

/** A kernel nexthop object (RTM_NEWNEXTHOP): one hop, or a group of other objects with weights. */
export interface NextHopObject {
  id: number;
  gateway: string | null;
  ifindex: number | null;
  blackhole: boolean;
  /** RTNH_F_* names that are set, as in KernelNextHop. */
  flags: string[];
  /** For a group: member ids and weights (1-based, as `ip nexthop` prints them). */
  group: { id: number; weight: number }[] | null;
}

/** NHA_GROUP: struct nexthop_grp { u32 id; u8 weight (stored minus one); u8 resvd1; u16 resvd2 }, host order. */
export function parseNextHopGroup(b: Buffer): { id: number; weight: number }[] | string {
  if (b.length % 8 !== 0) return `NHA_GROUP of ${b.length} bytes is not a whole number of 8-byte entries`;
  const out = [];
  for (let o = 0; o < b.length; o += 8) out.push({ id: LE ? b.readUInt32LE(o) : b.readUInt32BE(o), weight: b[o + 4]! + 1 });
  return out;
}

/**
 * A route's hops from its nexthop object, for a route that carries only RTA_NH_ID (what the
 * kernel sends when net.ipv4.nexthop_compat_mode is 0): one hop, or one per group member.
 * A string says why it cannot be resolved (unknown id, a group inside a group).
 */
export function resolveNextHop(id: number, objects: Map<number, NextHopObject>): { single: NextHopObject } | { group: (NextHopObject & { weight: number })[] } | string {
  const nh = objects.get(id);
  if (nh === undefined) return `nexthop object ${id} is not in the kernel's nexthop table`;
  if (nh.group === null) return { single: nh };
  const members = [];
  for (const m of nh.group) {
    const x = objects.get(m.id);
    if (x === undefined || x.group !== null) return `nexthop group ${id}: member ${m.id} is ${x === undefined ? 'missing' : 'itself a group'}`;
    members.push({ ...x, weight: m.weight });
  }
  return { group: members };
}

export interface NetSys {
  /** Set MTU, address, disable IPv6 and bring the link up. */
  configureLink(s: LinkSetup): Promise<void>;
  /** IPv4 and IPv6 unicast routes of the main table. */
  routes(): Promise<KernelRoute[]>;
  /** A vlink's IPv6 addresses change (address6, link_local), or IPv6 goes on or off: old ones removed, new ones added. */
  setIpv6(name: string, from: Ipv6LinkSetup | undefined, to: Ipv6LinkSetup | undefined): Promise<void>;
  setMtu(name: string, mtu: number): Promise<void>;
  /** The link's address changes: the old one goes first, then the new one is added. */
  replaceAddress(name: string, from: LinkAddress, to: LinkAddress): Promise<void>;
  /** Every route (all tables but local, not the kernel's own) with a next hop through `name`. */
  routesVia(name: string): Promise<SavedRoute[]>;
  /**
   * Adds routes saved by routesVia, with the hops that used the old interface on `name`. A
   * route already there is left alone, unless `replace`: then it is overwritten, which moves a
   * route from a TUN that still exists to its successor in one step.
   */
  restoreRoutes(name: string, routes: SavedRoute[], opts?: { replace?: boolean }): Promise<RestoreResult>;
  close(): void;
}

function ipv4Bytes(a: string): Buffer {
  return Buffer.from(a.split('.').map((x) => Number(x)));
}

const AF_INET = 2;
const LE = endianness() === 'LE';
// rtnetlink NLM_F_CREATE | NLM_F_EXCL: add, and say so if it is already there; with
// NLM_F_REPLACE instead of EXCL: add or overwrite.
const NEW_EXCL = 0x400 | 0x200;
const NEW_REPLACE = 0x400 | 0x100;

function addressMessage(a: LinkAddress, index: number) {
  const local = ipv4Bytes(a.address);
  return {
    data: { family: AF_INET, prefixlen: a.peer === undefined ? a.prefixLen : 32, index },
    attrs: { local, address: a.peer === undefined ? local : ipv4Bytes(a.peer) },
  };
}

/**
 * The TUN's queue (its ring: a TUN drops what does not fit, never pushes back) is where packets
 * wait when the daemon is the bottleneck. 64 kept the RTT under an iperf3 load at 4.8 ms on the
 * old packet-at-a-time path, but a saturating flow's bursts then overflowed it, and the kernel
 * dropped whatever arrived, interactive packets included: 12-17% of pings beside iperf3 without
 * offloads. With 500 (the kernel's default) and the daemon dropping from the largest flow itself
 * when it falls behind (dataplane/fair-drop.ts), pings lost 0-0.8% without offloads (RTT under
 * load 7-8 ms, throughput up a third), and with offloads, where an entry is a super-packet and
 * TCP small queues bound a flow's share, 0-0.2% at an unchanged 3.3-3.6 ms.
 */
export const VLINK_TXQUEUELEN = 500;
const RT_TABLE_MAIN = 254;

export class RtNetSys implements NetSys {
  private readonly sock = createRtNetlink();

  async configureLink(s: LinkSetup): Promise<void> {
    const links = await this.sock.getLinks();
    const link = links.find((l) => l.attrs.ifname === s.name);
    if (link === undefined) throw new NativeError('configureLink', 19, `no such interface ${s.name}`);
    const index = link.data.index!;
    // Before the MTU: IPv6 needs 1280, and before any address: the kernel must not invent one.
    setIpv6Enabled(s.name, s.ipv6 !== undefined);
    await this.sock.setLink({ index }, { mtu: s.mtu, txqlen: VLINK_TXQUEUELEN });
    if (s.ipv6 !== undefined) await this.setIpv6(s.name, undefined, s.ipv6);
    // '' (a vlink whose address comes from DHCP): up without one until the lease.
    if (s.address !== '') {
      const a = addressMessage(s, index);
      await this.sock.newAddress(a.data, a.attrs, { flags: { create: true, replace: true } } as never);
    }
    await this.sock.setLink({ index, flags: { up: true }, change: { up: true } });
  }

  private async ifindex(name: string, op: string): Promise<number> {
    const link = (await this.sock.getLinks()).find((l) => l.attrs.ifname === name);
    if (link?.data.index === undefined) throw new NativeError(op, 19, `no such interface ${name}`);
    return link.data.index;
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    await this.sock.setLink({ index: await this.ifindex(name, 'setMtu') }, { mtu });
  }

  async replaceAddress(name: string, from: LinkAddress, to: LinkAddress): Promise<void> {
    const index = await this.ifindex(name, 'replaceAddress');
    // Old first: added first, a new address in the same prefix would be a secondary, and the
    // kernel deletes secondaries with their primary (promote_secondaries is off by default).
    const old = addressMessage(from, index);
    await this.sock.delAddress(old.data, old.attrs).catch((e: Error) => {
      if (!/EADDRNOTAVAIL/.test(e.message)) throw e;
    });
    const a = addressMessage(to, index);
    await this.sock.newAddress(a.data, a.attrs, { flags: NEW_REPLACE });
  }

  async setIpv6(name: string, from: Ipv6LinkSetup | undefined, to: Ipv6LinkSetup | undefined): Promise<void> {
    const index = await this.ifindex(name, 'setIpv6');
    if (to !== undefined) setIpv6Enabled(name, true);
    if (from !== undefined) {
      for (const m of ipv6AddressMessages(from, index)) {
        await this.sock.delAddress(m.data, m.attrs).catch((e: Error) => {
          if (!/EADDRNOTAVAIL/.test(e.message)) throw e;
        });
      }
    }
    if (to === undefined) {
      setIpv6Enabled(name, false);
      return;
    }
    for (const m of ipv6AddressMessages(to, index)) await this.sock.newAddress(m.data, m.attrs, { flags: NEW_REPLACE });
  }

  async routesVia(name: string): Promise<SavedRoute[]> {
    // Sequential on purpose: the netlink package mixes up concurrent multipart dumps.
    const links = await this.sock.getLinks();
    const names = new Map<number, string>();
    for (const l of links) if (l.data.index !== undefined && l.attrs.ifname) names.set(l.data.index, l.attrs.ifname);
    const index = [...names].find(([, n]) => n === name)?.[0];
    if (index === undefined) throw new NativeError('routesVia', 19, `no such interface ${name}`);
    // Both families: a vlink with IPv6 inside has IPv6 routes through it too.
    const routes = [...(await this.sock.getRoutes({ family: AF_INET })), ...(await this.sock.getRoutes({ family: AF_INET6 }))];
    return routes.map((r) => saveRoute(r, index, names)).filter((r): r is SavedRoute => r !== null);
  }

  async restoreRoutes(name: string, routes: SavedRoute[], opts: { replace?: boolean } = {}): Promise<RestoreResult> {
    const out: RestoreResult = { restored: [], failed: [] };
    if (routes.length === 0) return out;
    const index = await this.ifindex(name, 'restoreRoutes');
    for (const r of routes) {
      const { data, attrs } = restoreRequest(r, index);
      const text = routeText({ ...r, hops: r.hops.map((h) => (h.onVlink ? { ...h, dev: name } : h)) });
      try {
        await this.sock.newRoute(data, attrs, { flags: opts.replace === true ? NEW_REPLACE : NEW_EXCL });
        out.restored.push(text);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (/EEXIST/.test(msg)) out.restored.push(text);
        else out.failed.push({ route: text, error: msg });
      }
    }
    return out;
  }

  async routes(): Promise<KernelRoute[]> {
    // Sequential on purpose: the netlink package mixes up concurrent multipart dumps.
    const routes = [...(await this.sock.getRoutes({ family: AF_INET })), ...(await this.sock.getRoutes({ family: AF_INET6 }))];
    const links = await this.sock.getLinks();
    const names = new Map<number, string>();
    for (const l of links) if (l.data.index !== undefined && l.attrs.ifname) names.set(l.data.index, l.attrs.ifname);
    const objects = routes.some((r) => r.attrs.nhId !== undefined) ? await this.nextHopObjects() : new Map<number, NextHopObject>();
    const out: KernelRoute[] = [];
    for (const r of routes) {
      const table = r.attrs.table ?? r.data.table ?? 0;
      const family = r.data.family === AF_INET6 ? 6 : 4;
      if (table !== RT_TABLE_MAIN || (r.data.family !== AF_INET && r.data.family !== AF_INET6)) continue;
      if (r.data.type !== undefined && r.data.type !== 'UNICAST') continue;
      // The kernel's own IPv6 routes (fe80::/64 on every link) say nothing about the overlay.
      if (family === 6 && String(r.data.protocol ?? '').toUpperCase() === 'KERNEL' && (r.data.dstLen ?? 0) === 64 && addrBytesText(r.attrs.dst as Uint8Array | undefined)?.startsWith('fe80:')) continue;
      const dstBuf = r.attrs.dst as Uint8Array | undefined;
      const dst = dstBuf === undefined ? (family === 6 ? '::' : '0.0.0.0') : addrBytesText(Buffer.from(dstBuf));
      const gw = r.attrs.gateway === undefined ? null : addrBytesText(Buffer.from(r.attrs.gateway as Uint8Array));
      const oif = r.attrs.oif ?? null;
      const route: KernelRoute = {
        dst: `${dst}/${r.data.dstLen ?? 0}`,
        family,
        gateway: gw,
        dev: oif === null ? null : (names.get(oif) ?? null),
        ifindex: oif,
        protocol: String(r.data.protocol ?? 'unknown').toLowerCase(),
        metric: r.attrs.priority ?? null,
        scope: String(r.data.scope ?? 'universe').toLowerCase(),
        table,
      };
      if (r.attrs.multipath !== undefined) {
        const hops = parseMultipath(Buffer.from(r.attrs.multipath as Uint8Array));
        if (typeof hops === 'string') {
          throw new IiptranError('IIPTRAN_ERR_NATIVE', `route ${route.dst}: unreadable RTA_MULTIPATH from the kernel: ${hops}`);
        }
        route.multipath = hops.map((h) => ({
          gateway: h.gateway, dev: names.get(h.ifindex) ?? null, ifindex: h.ifindex, weight: h.weight, flags: h.flags,
        }));
      }
      if (r.attrs.nhId !== undefined) {
        const b = Buffer.from(r.attrs.nhId as Uint8Array);
        if (b.length !== 4) throw new IiptranError('IIPTRAN_ERR_NATIVE', `route ${route.dst}: RTA_NH_ID of ${b.length} bytes from the kernel`);
        route.nhid = LE ? b.readUInt32LE(0) : b.readUInt32BE(0);
        // With nexthop_compat_mode on (the default) the kernel repeats the hops in the route; without it, only the id.
        if (route.dev === null && route.gateway === null && route.multipath === undefined) fillFromNextHop(route, objects, names);
      }
      out.push(route);
    }
    return out;
  }

  private async nextHopObjects(): Promise<Map<number, NextHopObject>> {
    const out = new Map<number, NextHopObject>();
    for (const m of await this.sock.getNextHops({})) {
      const a = m.attrs;
      if (a.id === undefined) continue;
      const group = a.group === undefined ? null : parseNextHopGroup(Buffer.from(a.group as Uint8Array));
      if (typeof group === 'string') throw new IiptranError('IIPTRAN_ERR_NATIVE', `nexthop object ${a.id}: ${group}`);
      const gw = a.gateway === undefined ? null : Buffer.from(a.gateway as Uint8Array);
      out.set(a.id, { id: a.id, gateway: gw === null ? null : addrBytesText(gw), ifindex: a.oif ?? null, blackhole: a.blackhole === true, flags: setFlags(m.data.flags), group });
    }
    return out;
  }

  close(): void {
    this.sock.socket.close();
  }
}

function fillFromNextHop(route: KernelRoute, objects: Map<number, NextHopObject>, names: Map<number, string>): void {
  const r = resolveNextHop(route.nhid!, objects);
  // Replaced between the two dumps (a routing daemon moving the route): shown without its hop this once.
  if (typeof r === 'string') return;
  if ('single' in r) {
    route.gateway = r.single.gateway;
    route.ifindex = r.single.ifindex;
    route.dev = r.single.ifindex === null ? null : (names.get(r.single.ifindex) ?? null);
    return;
  }
  route.multipath = r.group.map((h) => ({ gateway: h.gateway, dev: h.ifindex === null ? null : (names.get(h.ifindex) ?? null), ifindex: h.ifindex ?? 0, weight: h.weight, flags: h.flags }));
}

/** The names of the flags that are set, lower case like rta-multipath's (the package parses RTNH_F_* into booleans). */
function setFlags(f: object | undefined): string[] {
  return Object.entries(f ?? {}).filter(([, v]) => v === true).map(([k]) => k.toLowerCase());
}
