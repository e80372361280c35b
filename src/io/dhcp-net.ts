// What DHCP over the overlay changes in the kernel (control/node-dhcp.ts): the client's leased
// address on its vlink, the relay's /32 routes via a vlink (rtnetlink protocol 16, "dhcp" in
// iproute2's rt_protos, so a routing daemon can pick exactly these up), and the host's
// addresses for the DECLINE check. Through rtnetlink like netsys.ts, never by shelling out.

import { createRtNetlink } from 'netlink';
import { NativeError } from '../errors.js';

/** RTPROT_DHCP: `ip route show proto dhcp`, BIRD `krt_source = 16`. */
export const DHCP_ROUTE_PROTO = 16;

/** An address on a link: ADDRESS/32, or ADDRESS/32 peer PEER (point to point). */
export interface DhcpLinkAddress {
  address: string;
  peer: string | undefined;
}

export interface DhcpNet {
  addAddress(link: string, a: DhcpLinkAddress): Promise<void>;
  /** Absent already is not an error. */
  delAddress(link: string, a: DhcpLinkAddress): Promise<void>;
  /** `ip route replace ADDRESS/32 dev LINK proto dhcp metric M`. */
  addRoute(link: string, address: string, metric: number): Promise<void>;
  /** Absent already is not an error. */
  delRoute(link: string, address: string, metric: number): Promise<void>;
  /** Every IPv4 address of this host, with the link that holds it. */
  addresses(): Promise<{ link: string; address: string }[]>;
  close(): void;
}

const AF_INET = 2;
const NEW_REPLACE = 0x400 | 0x100;

function bytes(a: string): Buffer {
  return Buffer.from(a.split('.').map((x) => Number(x)));
}

function text(b: unknown): string | null {
  if (!(b instanceof Uint8Array) || b.length !== 4) return null;
  return [...b].join('.');
}

export class RtDhcpNet implements DhcpNet {
  private readonly sock = createRtNetlink();

  private async ifindex(name: string, op: string): Promise<number> {
    const link = (await this.sock.getLinks()).find((l) => l.attrs.ifname === name);
    if (link?.data.index === undefined) throw new NativeError(op, 19, `no such interface ${name}`);
    return link.data.index;
  }

  private addressMessage(a: DhcpLinkAddress, index: number) {
    const local = bytes(a.address);
    return { data: { family: AF_INET, prefixlen: 32, index }, attrs: { local, address: a.peer === undefined ? local : bytes(a.peer) } };
  }

  async addAddress(link: string, a: DhcpLinkAddress): Promise<void> {
    const m = this.addressMessage(a, await this.ifindex(link, 'dhcp addAddress'));
    await this.sock.newAddress(m.data, m.attrs, { flags: NEW_REPLACE });
  }

  async delAddress(link: string, a: DhcpLinkAddress): Promise<void> {
    const m = this.addressMessage(a, await this.ifindex(link, 'dhcp delAddress'));
    await this.sock.delAddress(m.data, m.attrs).catch((e: Error) => {
      if (!/EADDRNOTAVAIL/.test(e.message)) throw e;
    });
  }

  private route(address: string, index: number, metric: number) {
    return {
      data: { family: AF_INET, dstLen: 32, table: 254, protocol: DHCP_ROUTE_PROTO, scope: 'LINK' as const, type: 'UNICAST' as const },
      attrs: { dst: bytes(address), oif: index, priority: metric },
    };
  }

  async addRoute(link: string, address: string, metric: number): Promise<void> {
    const r = this.route(address, await this.ifindex(link, 'dhcp addRoute'), metric);
    await this.sock.newRoute(r.data as never, r.attrs, { flags: NEW_REPLACE });
  }

  async delRoute(link: string, address: string, metric: number): Promise<void> {
    let index: number;
    try {
      index = await this.ifindex(link, 'dhcp delRoute');
    } catch {
      return; // the link went, and its routes with it
    }
    const r = this.route(address, index, metric);
    await this.sock.delRoute(r.data as never, r.attrs).catch((e: Error) => {
      if (!/ESRCH|ENOENT/.test(e.message)) throw e;
    });
  }

  async addresses(): Promise<{ link: string; address: string }[]> {
    // Sequential on purpose: the netlink package mixes up concurrent multipart dumps.
    const links = await this.sock.getLinks();
    const names = new Map<number, string>();
    for (const l of links) if (l.data.index !== undefined && l.attrs.ifname) names.set(l.data.index, l.attrs.ifname);
    const out: { link: string; address: string }[] = [];
    for (const a of await this.sock.getAddresses({ family: AF_INET })) {
      const address = text(a.attrs.local) ?? text(a.attrs.address);
      if (address !== null) out.push({ link: names.get(a.data.index ?? -1) ?? '?', address });
    }
    return out;
  }

  close(): void {
    this.sock.socket.close();
  }
}
