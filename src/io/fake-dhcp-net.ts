// In-memory DhcpNet (dhcp-net.ts) for unit tests of control/node-dhcp.ts without root.

import { NativeError } from '../errors.js';
import type { DhcpLinkAddress, DhcpNet } from './dhcp-net.js';

export class FakeDhcpNet implements DhcpNet {
  readonly linkAddresses = new Map<string, DhcpLinkAddress[]>();
  readonly routes = new Map<string, { link: string; metric: number }>();
  /** Addresses on other links of the host (what the DECLINE check looks at). */
  readonly others: { link: string; address: string }[] = [];
  readonly calls: string[] = [];
  /** Set to make every call fail, as a vanished link would. */
  failing: string | null = null;

  private check(op: string): void {
    if (this.failing !== null) throw new NativeError(op, 19, this.failing);
  }

  async addAddress(link: string, a: DhcpLinkAddress): Promise<void> {
    this.check('addAddress');
    const l = (this.linkAddresses.get(link) ?? []).filter((x) => x.address !== a.address);
    this.linkAddresses.set(link, [...l, { ...a }]);
    this.calls.push(`addr add ${a.address}${a.peer ? ` peer ${a.peer}` : ''} dev ${link}`);
  }

  async delAddress(link: string, a: DhcpLinkAddress): Promise<void> {
    this.check('delAddress');
    this.linkAddresses.set(link, (this.linkAddresses.get(link) ?? []).filter((x) => x.address !== a.address));
    this.calls.push(`addr del ${a.address} dev ${link}`);
  }

  async addRoute(link: string, address: string, metric: number): Promise<void> {
    this.check('addRoute');
    this.routes.set(address, { link, metric });
    this.calls.push(`route add ${address}/32 dev ${link} metric ${metric}`);
  }

  async delRoute(link: string, address: string, metric: number): Promise<void> {
    this.check('delRoute');
    if (this.routes.get(address)?.link === link) this.routes.delete(address);
    this.calls.push(`route del ${address}/32 dev ${link} metric ${metric}`);
  }

  async addresses(): Promise<{ link: string; address: string }[]> {
    return [...this.others, ...[...this.linkAddresses].flatMap(([link, l]) => l.map((a) => ({ link, address: a.address })))];
  }

  close(): void {}
}
