// Link configuration and route reading through rtnetlink (the `netlink` package), so the
// daemon never shells out to `ip`. Kept behind the NetSys interface so control/ can be unit
// tested with the fake in fake-netsys.ts.

import { createRtNetlink } from 'netlink';
import { writeFileSync } from 'node:fs';
import { IiptranError, NativeError } from '../errors.js';
import { parseMultipath } from './rta-multipath.js';
import { restoreRequest, routeText, saveRoute, type SavedRoute } from './route-snapshot.js';

export type { SavedRoute } from './route-snapshot.js';

export interface LinkSetup {
  name: string;
  mtu: number;
  address: string;
  prefixLen: number;
  /** Point-to-point peer VN address ("ip addr add A peer B"). */
  peer: string | undefined;
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
  /** "a.b.c.d/len". */
  dst: string;
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
}

export interface NetSys {
  /** Set MTU, address, disable IPv6 and bring the link up. */
  configureLink(s: LinkSetup): Promise<void>;
  /** IPv4 unicast routes of the main table. */
  routes(): Promise<KernelRoute[]>;
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

function hexToIpv4(h: unknown): string | null {
  if (typeof h !== 'string' || h.length !== 8) return null;
  const n = parseInt(h, 16);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function ipv4Bytes(a: string): Buffer {
  return Buffer.from(a.split('.').map((x) => Number(x)));
}

const AF_INET = 2;
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
    // A vlink carries IPv4 only; without this the kernel would send IPv6 router
    // solicitations into it, which we would only count and drop.
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${s.name}/disable_ipv6`, '1');
    } catch {
      /* IPv6 disabled system-wide: nothing to do */
    }
    await this.sock.setLink({ index }, { mtu: s.mtu, txqlen: VLINK_TXQUEUELEN });
    const a = addressMessage(s, index);
    await this.sock.newAddress(a.data, a.attrs, { flags: { create: true, replace: true } } as never);
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

  async routesVia(name: string): Promise<SavedRoute[]> {
    // Sequential on purpose: the netlink package mixes up concurrent multipart dumps.
    const links = await this.sock.getLinks();
    const names = new Map<number, string>();
    for (const l of links) if (l.data.index !== undefined && l.attrs.ifname) names.set(l.data.index, l.attrs.ifname);
    const index = [...names].find(([, n]) => n === name)?.[0];
    if (index === undefined) throw new NativeError('routesVia', 19, `no such interface ${name}`);
    const routes = await this.sock.getRoutes({ family: AF_INET });
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
    const routes = await this.sock.getRoutes({ family: AF_INET });
    const links = await this.sock.getLinks();
    const names = new Map<number, string>();
    for (const l of links) if (l.data.index !== undefined && l.attrs.ifname) names.set(l.data.index, l.attrs.ifname);
    const out: KernelRoute[] = [];
    for (const r of routes) {
      const table = r.attrs.table ?? r.data.table ?? 0;
      if (table !== RT_TABLE_MAIN || r.data.family !== AF_INET) continue;
      if (r.data.type !== undefined && r.data.type !== 'UNICAST') continue;
      const dstBuf = r.attrs.dst as unknown;
      const dst = dstBuf === undefined ? '0.0.0.0' : hexToIpv4(Buffer.from(dstBuf as Uint8Array).toString('hex'));
      const gw = r.attrs.gateway === undefined ? null : hexToIpv4(Buffer.from(r.attrs.gateway as Uint8Array).toString('hex'));
      const oif = r.attrs.oif ?? null;
      const route: KernelRoute = {
        dst: `${dst}/${r.data.dstLen ?? 0}`,
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
      out.push(route);
    }
    return out;
  }

  close(): void {
    this.sock.socket.close();
  }
}
