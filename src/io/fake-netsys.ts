// In-memory NetSys for unit tests of control/ without root. `fib` stands in for the kernel's
// routes through each link; linkGone() is what the kernel does to them when a TUN closes.

import { NativeError } from '../errors.js';
import type { Ipv6LinkSetup, KernelRoute, LinkAddress, LinkSetup, NetSys, RestoreResult, SavedRoute } from './netsys.js';
import { routeText } from './route-snapshot.js';

export class FakeNetSys implements NetSys {
  readonly links = new Map<string, LinkSetup>();
  kernelRoutes: KernelRoute[] = [];
  /** Routes by the link their (first) hop leaves on. */
  readonly fib = new Map<string, SavedRoute[]>();
  /** Every call that changed a link, in order, for tests that must see nothing was recreated. */
  readonly calls: string[] = [];
  closed = false;

  async configureLink(s: LinkSetup): Promise<void> {
    this.links.set(s.name, { ...s });
    this.calls.push(`configure ${s.name}`);
  }

  async routes(): Promise<KernelRoute[]> {
    return this.kernelRoutes.map((r) => ({ ...r }));
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    this.link(name).mtu = mtu;
    this.calls.push(`mtu ${name} ${mtu}`);
  }

  async replaceAddress(name: string, _from: LinkAddress, to: LinkAddress): Promise<void> {
    Object.assign(this.link(name), { address: to.address, prefixLen: to.prefixLen, peer: to.peer });
    this.calls.push(`address ${name} ${to.address}/${to.prefixLen}`);
  }

  async setIpv6(name: string, _from: Ipv6LinkSetup | undefined, to: Ipv6LinkSetup | undefined): Promise<void> {
    const l = this.link(name);
    if (to === undefined) delete l.ipv6;
    else l.ipv6 = { ...to };
    this.calls.push(`ipv6 ${name} ${to === undefined ? 'off' : [to.linkLocal, to.address6].filter((x) => x !== undefined).join(' ')}`);
  }

  async routesVia(name: string): Promise<SavedRoute[]> {
    return structuredClone(this.fib.get(name) ?? []);
  }

  async restoreRoutes(name: string, routes: SavedRoute[], opts: { replace?: boolean } = {}): Promise<RestoreResult> {
    this.link(name);
    const moved = routes.map((r) => ({ ...r, hops: r.hops.map((h) => (h.onVlink ? { ...h, dev: name } : h)) }));
    // A route is keyed by its destination and table, whatever link it uses: replace moves it.
    const key = (r: SavedRoute) => `${r.dst} ${r.table}`;
    const keys = new Set(moved.map(key));
    if (opts.replace === true) for (const [dev, list] of this.fib) this.fib.set(dev, list.filter((r) => !keys.has(key(r))));
    this.fib.set(name, [...(this.fib.get(name) ?? []), ...moved]);
    this.calls.push(`restore${opts.replace === true ? ' (replace)' : ''} ${name} ${routes.length}`);
    return { restored: moved.map(routeText), failed: [] };
  }

  /** The kernel's part when a link disappears: the link and every route through it go, silently. */
  linkGone(name: string): void {
    this.links.delete(name);
    this.fib.delete(name);
  }

  private link(name: string): LinkSetup {
    const l = this.links.get(name);
    if (l === undefined) throw new NativeError('fake netsys', 19, `no such interface ${name}`);
    return l;
  }

  close(): void {
    this.closed = true;
  }
}
