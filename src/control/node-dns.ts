// The node's DNS: one validating resolver for the `dns` section, the named peers kept by
// peer-names.ts, and what a named peer's move does to a vlink. The move is make-before-break:
//   manual keying  the SAs' outer addresses, the SPD selector and the destination move at once
//                  (there is nothing to negotiate, and the old address no longer answers);
//   IKEv2          the SPD selector and the engine's idea of the peer move; the old IKE SA and
//                  its CHILD_SA keep carrying traffic to the old address until an SA with the
//                  new one is up (peers.ts reconnect), whose CHILD_SA then takes the
//                  destination along (node-child-sa.ts) and retires the old one.

import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { DnssecResolver } from '../dns/resolver.js';
import { StubResolver } from '../dns/stub.js';
import { nodeTransport, serverToString, type DnsTransport } from '../dns/transport.js';
import { reasonToString } from '../dns/verdict.js';
import { rrToString } from '../wire/dns/present.js';
import { typeToString } from '../wire/dns/types.js';
import { nameToString } from '../wire/dns/name.js';
import { addrFromString, formatAddr } from '../wire/addr.js';
import type { Sad } from '../dataplane/sad.js';
import type { Spd } from '../dataplane/spd.js';
import type { Vlink } from '../dataplane/vlink.js';
import type { IkeEngine } from '../ike/engine.js';
import type { DnsConfig, NodeConfig } from './config-types.js';
import { resolveRole } from './ike-peer-config.js';
import type { PreparedVlink } from './node-vlinks.js';
import { PeerNames, type NamedPeerView } from './peer-names.js';
import { KxLinks } from './kx-links.js';
import { prefetchIpseca, verifyByIpseca } from './ipseca-verifier.js';
import type { DnsLookup } from '../dns/kx.js';
import type { KxView } from '../dns/kx-selector.js';
import type { PeerKeyDecision } from '../ike/auth-pubkey.js';

/** What of the node a move touches. */
export interface NodeDnsHost {
  readonly cfg: NodeConfig;
  readonly spd: Spd;
  readonly sad: Sad;
  readonly vlinks: Map<string, Vlink>;
  prepared(): Map<string, PreparedVlink>;
  ike(): IkeEngine | null;
}

export class NodeDns {
  readonly resolver: DnssecResolver;
  readonly stub: StubResolver;
  readonly names: PeerNames;
  readonly kx: KxLinks;
  private readonly lookup: DnsLookup;

  constructor(
    readonly dns: DnsConfig,
    private readonly host: NodeDnsHost,
    clock: Clock,
    private readonly log: Logger,
    transport: DnsTransport = nodeTransport,
  ) {
    this.stub = new StubResolver({ servers: dns.servers, transport, clock });
    this.resolver = new DnssecResolver({ fetcher: this.stub, clock, anchors: dns.trustAnchors, timeoutMs: dns.timeoutMs });
    this.names = new PeerNames(this.resolver, dns.dnssec, clock, log, {
      move: (vlink, addr) => this.move(vlink, addr),
      get underlay() {
        return host.cfg.underlay.address;
      },
      get vnPrefixes() {
        return host.cfg.vnPrefixes;
      },
    });
    this.lookup = (n, t) => this.resolver.lookup(n, t);
    this.kx = new KxLinks(this.lookup, clock, log, {
      move: (vlink, addr) => this.move(vlink, addr),
      saAddress: (vlink) => host.ike()?.sa(vlink)?.remote.addr ?? null,
    });
    if (dns.dnssec === 'off') {
      log.warn({ servers: dns.servers.map(serverToString) }, 'dns.dnssec is off: named peers are resolved WITHOUT validation, so whoever can answer DNS for them chooses where this node tunnels to; for labs only');
    }
  }

  /** The address a named vlink uses now (so a reload prepares its SAs for it); null if none. */
  addressOf(vlink: string, name: string): string | null {
    if (this.kx.domainOf(vlink) === name) {
      const v = this.host.vlinks.get(vlink);
      return v === undefined || (v.peer.family === 4 && v.peer.v4 === 0) ? null : formatAddr(v.peer);
    }
    const v = this.names.view(vlink);
    return v !== null && v.name === name ? v.address : null;
  }

  /**
   * A vlink with a named peer joined the node. IKE initiators resolve on their first attempt;
   * everything else (manual keying, responders) is resolved now, in the background.
   */
  addVlink(p: PreparedVlink): void {
    this.register(p);
    this.kick(p);
  }

  /** The vlink's name entry, new when its name or mode changed; before IKE may ask for it. */
  register(p: PreparedVlink): void {
    const c = p.cfg;
    if (c.peerDomain !== undefined) this.kx.add(c.name, c.peerDomain);
    else this.kx.remove(c.name);
    if (c.peerName === undefined) {
      this.names.remove(c.name);
      return;
    }
    const known = this.names.view(c.name);
    if (known !== null && known.name === c.peerName && known.resolve === c.peerResolve) return;
    this.names.add(c.name, c.peerName, c.peerResolve, p.ike === null || c.peerResolve === 'dynamic');
  }

  /** Resolve now, in the background, unless an IKE initiator's next attempt is about to. */
  kick(p: PreparedVlink): void {
    const c = p.cfg;
    if (c.peerName === undefined) return;
    if (p.ike?.role === 'initiator' && this.names.view(c.name)?.address == null) return;
    void this.names.resolve(c.name, 0, { force: true });
  }

  removeVlink(name: string): void {
    this.names.remove(name);
    this.kx.remove(name);
  }

  stop(): void {
    this.names.stop();
    this.kx.stop();
  }

  /**
   * IkeHost.resolvePeer: the address of the vlink's named peer or KX exchanger. With `auth: dns`
   * the gateway's IPSECA records are fetched ahead: bogus ones mean IKE is not started.
   */
  async resolvePeer(vlink: string, attempt: number): Promise<{ addr: string } | { error: string }> {
    let gateway: string;
    let r: { addr: string } | { error: string };
    if (this.kx.has(vlink)) {
      const k = await this.kx.resolve(vlink);
      if ('error' in k) return k;
      r = { addr: k.addr };
      gateway = k.gateway;
    } else {
      r = await this.names.resolve(vlink, attempt);
      if ('error' in r) return r;
      gateway = this.names.view(vlink)?.name ?? r.addr;
    }
    if (!this.usesIpseca(vlink)) return r;
    const set = await prefetchIpseca(this.lookup, gateway);
    if (set.state !== 'bogus') return r;
    const why = `not starting IKE: ${set.reason}`;
    this.kx.reject(vlink, gateway, why);
    return { error: why };
  }

  /** IkeHost.checkPeerAddress: KX delegation (RFC 2230 §2.1) for a peer_domain, else the name's A records. */
  checkPeer(vlink: string, addr: string): Promise<string | null> {
    if (!this.kx.has(vlink)) return this.names.check(vlink, addr);
    const id = this.host.prepared().get(vlink)?.ike?.remoteId;
    return id === undefined ? Promise.resolve(`no IKE settings for ${vlink}`) : this.kx.check(vlink, addr, id);
  }

  /** IkeHost.peerAttempt: KX failover keys on it. */
  attempt(vlink: string, addr: string, ok: boolean, why?: string): void {
    this.kx.attempt(vlink, addr, ok, why);
  }

  /** `auth: dns`: may `spki` speak for the gateway at `addr`? The IPSECA record decides. */
  verifyKey(vlink: string, spki: Buffer, addr: string): Promise<PeerKeyDecision> {
    const p = this.host.prepared().get(vlink);
    const gateway = this.kx.gatewayAt(vlink, addr) ?? p?.cfg.peerName ?? addr;
    return verifyByIpseca(this.lookup, gateway, spki, p?.ike?.pubkey?.peerSpki ?? null, this.log, vlink);
  }

  private usesIpseca(vlink: string): boolean {
    const k = this.host.prepared().get(vlink)?.cfg.keying;
    return k?.mode === 'ikev2' && k.auth === 'dns';
  }

  /** IKE proved a named peer at `addr`: the SPD selector follows, and the name is in use there. */
  relocated(vlink: string, addr: string): void {
    const v = this.host.vlinks.get(vlink);
    if (v === undefined) return;
    try {
      this.host.spd.move(v.policy, addrFromString(addr));
      v.peer = addrFromString(addr);
    } catch (e) {
      this.log.error({ vlink, addr, err: (e as Error).message }, 'named peer proven at an address another vlink uses');
    }
    this.names.inUse(vlink, addr);
  }

  private move(name: string, addr: string): string | null {
    const v = this.host.vlinks.get(name);
    const p = this.host.prepared().get(name);
    if (v === undefined || p === undefined) return `no vlink ${name}`;
    const a = addrFromString(addr);
    try {
      this.host.spd.move(v.policy, a);
    } catch (e) {
      return (e as Error).message;
    }
    const before = formatAddr(v.peer);
    v.peer = a;
    const k = p.cfg.keying;
    if (k.mode === 'ikev2') {
      const ike = this.host.ike();
      const why = ike?.relocatePeer(name, addr, resolveRole(k.role, this.host.cfg.underlay.address, addr)) ?? null;
      if (why !== null) return why;
      p.ike = p.ike === null ? null : { ...p.ike, peer: addr };
      // No SA yet: nothing to keep, so packets (still dropped as no-sa) already aim at the new address.
      if (v.policy.sa === null) v.peerDst = a;
      ike?.reconnectPeer(name);
      return null;
    }
    // Manual keying: same keys and counters, new outer addresses (an SA is bound to its peer).
    if (p.out !== null) p.out.dst = a;
    if (p.in !== null) p.in.src = a;
    v.peerDst = a;
    if (v.policy.sa === null && p.out !== null) v.policy.sa = p.out;
    this.log.info({ vlink: name, from: before, to: addr }, `manual SAs of ${name} now run with ${addr}`);
    return null;
  }

  /** `show links`: the named peer of a vlink, or null for an address. */
  linkView(vlink: string): NamedPeerView | null {
    return this.names.view(vlink);
  }

  /** `show links` / `show ike`: a peer_domain's exchangers, the one in use and why; null without one. */
  kxView(vlink: string): KxView | null {
    return this.kx.view(vlink);
  }

  /** `show dns`. */
  view(vlinks: Iterable<string>) {
    return {
      servers: this.dns.servers.map(serverToString),
      dnssec: this.dns.dnssec,
      trustAnchors: { from: this.dns.trustAnchorsFrom, zones: this.dns.trustAnchors.map((a) => nameToString(a.zone)) },
      peers: [...vlinks].flatMap((n) => {
        const v = this.names.view(n);
        return v === null ? [] : [{ vlink: n, ...v }];
      }),
      cache: this.resolver.cached().map(({ value: r, ttlLeft }) => ({
        name: r.name,
        type: typeToString(r.type),
        verdict: r.verdict,
        reason: r.reason === null ? null : reasonToString(r.reason),
        status: r.status,
        ttl: ttlLeft,
        answers: [...r.cnames, ...r.rrset].map(rrToString),
      })),
      counters: { ...this.stub.counters },
    };
  }
}
