// Vlinks with `peer_domain` (RFC 2230 KX delegation): which exchanger of the domain the vlink
// keys with, failover to the next when it dies, and the way back when a more preferred one
// returns. The DNS half (secure KX and A lookups, the selector's backoff) is src/dns/kx*.ts;
// this is the node's half:
//   resolve   before each IKE initiation: the exchanger to try, the vlink moved to its address
//   attempt   how an attempt ended: success clears the exchanger's record, failure puts it in
//             backoff and, while an SA to another exchanger still carries traffic, points the
//             vlink back at that one
//   tick      at the list's TTL or the next retry time: re-read the records and, while a less
//             preferred exchanger is in use, try the better one make-before-break
//   check     the responder's proof (§2.1) that the initiator's address is an exchanger of the
//             name it claims

import type { Logger } from 'pino';
import type { Clock, ClockTimer } from '../clock.js';
import { KxPeer, type KxView } from '../dns/kx-selector.js';
import { proveKxDelegation, type DnsLookup, type Exchanger, type KxIdentity } from '../dns/kx.js';
import type { IkeIdentity } from '../ike/identity.js';
import { IdType } from '../wire/ike/index.js';
import { u32ToIpv4 } from '../wire/addr.js';

export interface KxLinksHost {
  /** Points the vlink at `addr` (and, with IKE, negotiates there make-before-break); null or why not. */
  move(vlink: string, addr: string): string | null;
  /** Where the vlink's current IKE SA runs, if it has one. */
  saAddress(vlink: string): string | null;
}

interface Link {
  vlink: string;
  domain: string;
  peer: KxPeer;
  inUse: Exchanger | null;
  /** Exchangers the responder proved, by initiator address (IPSECA needs the gateway's name). */
  proven: Map<string, string>;
  lastError: string | null;
  timer: ClockTimer | null;
}

const MIN_TICK_MS = 1000;

export class KxLinks {
  private readonly links = new Map<string, Link>();
  private stopped = false;

  constructor(
    private readonly lookup: DnsLookup,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly host: KxLinksHost,
  ) {}

  has(vlink: string): boolean {
    return this.links.has(vlink);
  }

  domainOf(vlink: string): string | null {
    return this.links.get(vlink)?.domain ?? null;
  }

  add(vlink: string, domain: string): void {
    if (this.links.get(vlink)?.domain === domain) return;
    this.remove(vlink);
    this.links.set(vlink, { vlink, domain, peer: new KxPeer({ domain, lookup: this.lookup, clock: this.clock }), inUse: null, proven: new Map(), lastError: null, timer: null });
  }

  remove(vlink: string): void {
    const l = this.links.get(vlink);
    if (l === undefined) return;
    this.clock.clearTimeout(l.timer);
    this.links.delete(vlink);
  }

  stop(): void {
    this.stopped = true;
    for (const l of this.links.values()) this.clock.clearTimeout(l.timer);
  }

  /** The exchanger to negotiate with now, the vlink moved to it; or why there is none. Never rejects. */
  async resolve(vlink: string): Promise<{ addr: string; gateway: string } | { error: string }> {
    const l = this.links.get(vlink);
    if (l === undefined) return { error: `${vlink} has no peer_domain` };
    const gw = await l.peer.target();
    if (this.links.get(vlink) !== l) return { error: `${vlink} was removed` };
    this.schedule(l);
    if (gw === null) {
      l.lastError = `KX for ${l.domain}: ${l.peer.view(null).why}`;
      return { error: l.lastError };
    }
    const addr = gw.addresses[0]!;
    const why = this.host.move(vlink, addr);
    if (why !== null) return { error: `exchanger ${gw.name} at ${addr}: ${why}` };
    if (l.inUse?.name !== gw.name) this.log.info({ vlink, domain: l.domain, exchanger: gw.name, addr }, `${l.domain}: keying with exchanger ${gw.name} (preference ${gw.preference}) at ${addr}`);
    l.inUse = gw;
    l.lastError = null;
    return { addr, gateway: gw.name };
  }

  /** An exchanger is unusable for a reason found outside IKE (e.g. its IPSECA record is bogus). */
  reject(vlink: string, gateway: string, why: string): void {
    this.links.get(vlink)?.peer.selector.failed(gateway, why);
  }

  attempt(vlink: string, addr: string, ok: boolean, why?: string): void {
    const l = this.links.get(vlink);
    if (l === undefined) return;
    const gw = this.exchangerAt(l, addr);
    if (gw === null) return;
    if (ok) {
      l.peer.selector.succeeded(gw.name);
      l.inUse = gw;
      l.lastError = null;
      return;
    }
    l.peer.selector.failed(gw.name, why ?? 'IKE failed');
    this.log.warn({ vlink, domain: l.domain, exchanger: gw.name, addr }, `${l.domain}: exchanger ${gw.name} at ${addr} failed (${why}); it is skipped until its retry time`);
    // A better exchanger we tried while another one's SA kept working: back to that one.
    const live = this.host.saAddress(vlink);
    if (live !== null && live !== addr) {
      const back = this.exchangerAt(l, live);
      if (this.host.move(vlink, live) === null && back !== null) l.inUse = back;
    }
    this.schedule(l);
  }

  /** The gateway name for the IPSECA owner: the exchanger at `addr`, as selected or as proven. */
  gatewayAt(vlink: string, addr: string): string | null {
    const l = this.links.get(vlink);
    if (l === undefined) return null;
    return this.exchangerAt(l, addr)?.name ?? l.proven.get(addr) ?? null;
  }

  /** RFC 2230 §2.1 for the identity the initiator proved: null when delegation is proven. */
  async check(vlink: string, addr: string, id: IkeIdentity): Promise<string | null> {
    const l = this.links.get(vlink);
    if (l === undefined) return `${vlink} has no peer_domain`;
    const claim: KxIdentity | null = id.idType === IdType.FQDN ? { kind: 'fqdn', name: id.data.toString('latin1') }
      : id.idType === IdType.IPV4_ADDR && id.data.length === 4 ? { kind: 'ipv4', address: u32ToIpv4(id.data.readUInt32BE(0)) }
      : null;
    if (claim === null) return `KX delegation for ${id.text} not proven: only an FQDN or IPv4 identity can be (RFC 2230 §2.1)`;
    const p = await proveKxDelegation(this.lookup, claim, addr);
    if (!p.proven) return p.reason;
    if (p.exchanger !== null) l.proven.set(addr, p.exchanger.name);
    this.log.info({ vlink, addr }, p.reason);
    return null;
  }

  view(vlink: string): KxView | null {
    const l = this.links.get(vlink);
    return l === undefined ? null : l.peer.view(l.inUse?.name ?? null);
  }

  private exchangerAt(l: Link, addr: string): Exchanger | null {
    return l.peer.list?.exchangers.find((x) => x.addresses.includes(addr)) ?? null;
  }

  private schedule(l: Link): void {
    if (this.stopped) return;
    const at = l.peer.nextWakeAtMs();
    if (at === null) return;
    this.clock.clearTimeout(l.timer);
    l.timer = this.clock.setTimeout(() => void this.tick(l), Math.max(at - this.clock.now(), MIN_TICK_MS));
  }

  private async tick(l: Link): Promise<void> {
    l.timer = null;
    if (this.stopped || this.links.get(l.vlink) !== l) return;
    await l.peer.refresh();
    if (this.links.get(l.vlink) !== l) return;
    const inUse = l.inUse;
    if (inUse !== null) {
      const better = l.peer.selector.better(inUse.name);
      if (better !== null && better.addresses.length > 0) {
        this.log.info({ vlink: l.vlink, domain: l.domain, from: inUse.name, to: better.name },
          `${l.domain}: trying the more preferred exchanger ${better.name} (preference ${better.preference}); ${inUse.name} keeps the traffic until it answers`);
        this.host.move(l.vlink, better.addresses[0]!);
      }
    }
    this.schedule(l);
  }
}
