// In-memory NetSys for unit tests of control/ without root.

import type { KernelRoute, LinkSetup, NetSys } from './netsys.js';

export class FakeNetSys implements NetSys {
  readonly links = new Map<string, LinkSetup>();
  kernelRoutes: KernelRoute[] = [];
  closed = false;

  async configureLink(s: LinkSetup): Promise<void> {
    this.links.set(s.name, { ...s });
  }

  async routes(): Promise<KernelRoute[]> {
    return this.kernelRoutes.map((r) => ({ ...r }));
  }

  close(): void {
    this.closed = true;
  }
}
