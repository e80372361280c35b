// The hub's DHCP relay agent (RFC 3456 §4.2, RFC 2131 §4.1, RFC 3046). Transport-agnostic:
// payloads in, payloads out with the addresses the node must use.
//
// From a vlink (fromVlink), in order:
//   rate limit per vlink -> decode -> must be a BOOTREQUEST with a message type, hops < 16,
//   giaddr 0 and no option 82 of its own (a client is not a relay) -> hops + 1, giaddr = the
//   hub's relay address, option 82 = circuit-id (the vlink), remote-id (the peer's
//   authenticated IKE identity, given by the caller, never read from the packet) -> unicast to
//   every configured server. RELEASE / DECLINE of an address routed to this vlink remove its
//   route.
// From a server (fromServer), in order:
//   source must be a configured server -> decode -> BOOTREPLY, giaddr = ours -> option 82 must
//   name a known vlink and its current identity -> OFFER, ACK or NAK only -> strip 82, put the
//   hub in option 54 of a NAK (Kea keeps its own address there, kea.md §5) -> snoop: ACK
//   installs a /32 route for yiaddr via the vlink (removed on expiry, RELEASE, NAK) -> deliver
//   into the vlink the circuit-id names.
//
// Renewals pass through the relay because clients unicast them to the server identifier, and
// the server must put the hub's address there (Kea: option-data dhcp-server-identifier = the
// relay address). With serverIdMode 'rfc5107' the relay instead adds sub-option 11 and
// rewrites option 54 itself. Every dropped message is counted under a named reason.

import {
  BOOTREPLY, BOOTREQUEST, Dhcp, DhcpMalformed, FLAG_BROADCAST, MessageType, Opt, RelaySub, encodeRelayAgentInfo,
  messageType, optionData, relayAgentInfo, subOption, u32Data, u32Option, withOption, withoutOption, type DhcpRepr, type RelaySubOption,
} from '../wire/dhcp/index.js';
import { realClock, type Clock, type ClockTimer } from '../clock.js';
import { TokenBucket } from '../rate-limit.js';

// Lease and retry timers never keep the process alive on their own: the socket does that.
const UNREF = { unref: true } as const;

export type RelayDropReason =
  | 'rate-limited'
  | `malformed:${DhcpMalformed['error']}`
  | 'not-request'
  | 'no-message-type'
  | 'too-many-hops'
  | 'giaddr-set'
  | 'client-option-82'
  | 'too-big'
  | 'unknown-server'
  | 'not-reply'
  | 'wrong-giaddr'
  | 'no-relay-info'
  | 'unknown-circuit'
  | 'remote-id-mismatch'
  | 'unexpected-type'
  | 'server-id-not-hub';

export interface RouteEvent {
  action: 'install' | 'remove';
  vlink: string;
  address: number;
  reason: 'ack' | 'expired' | 'release' | 'decline' | 'nak' | 'moved';
}

export interface RelayOutput {
  /** From the hub's relay address:67 to server:67. */
  toServer(payload: Buffer, server: number): void;
  /** Into the vlink, from the relay address:67 to dst:68. */
  toVlink(vlink: string, payload: Buffer, dst: number): void;
  route(e: RouteEvent): void;
}

export interface RelayOptions {
  relayAddr: number;
  servers: number[];
  output: RelayOutput;
  clock?: Clock;
  /** Per-vlink token bucket for requests from clients. */
  rate?: { burst: number; perSecond: number };
  serverIdMode?: 'server-configured' | 'rfc5107';
}

interface Binding {
  vlink: string;
  chaddr: Buffer;
  clientId: Buffer | undefined;
  expiresAt: number;
  timer: ClockTimer | null;
}

interface VlinkState {
  identity: string;
  bucket: TokenBucket;
  relayed: number;
  delivered: number;
  rateLimited: number;
}

const MAX_HOPS = 16;
/** Relayed requests stay within the IPv4 minimum datagram a server must accept (RFC 2131 §2). */
const MAX_RELAYED = 576 - 28;

export class DhcpRelay {
  readonly drops = new Map<RelayDropReason, number>();
  private readonly vlinks = new Map<string, VlinkState>();
  private readonly bindings = new Map<number, Binding>();
  private readonly clock: Clock;
  private readonly rate: { burst: number; perSecond: number };
  private readonly mode: 'server-configured' | 'rfc5107';

  constructor(private readonly o: RelayOptions) {
    this.clock = o.clock ?? realClock;
    this.rate = o.rate ?? { burst: 10, perSecond: 2 };
    this.mode = o.serverIdMode ?? 'server-configured';
  }

  /**
   * A client message that arrived on `vlink`, whose peer authenticated as `peerIdentity` in IKE.
   * Never throws.
   */
  fromVlink(vlink: string, peerIdentity: string, payload: Buffer): void {
    let v = this.vlinks.get(vlink);
    if (v === undefined) {
      v = { identity: peerIdentity, bucket: TokenBucket.rate(this.rate.burst, this.rate.perSecond, this.clock), relayed: 0, delivered: 0, rateLimited: 0 };
      this.vlinks.set(vlink, v);
    }
    v.identity = peerIdentity;
    if (!v.bucket.take()) {
      v.rateLimited++;
      return this.drop('rate-limited');
    }
    const r = Dhcp.decode(payload);
    if (r instanceof DhcpMalformed) return this.drop(`malformed:${r.error}`);
    if (r.op !== BOOTREQUEST) return this.drop('not-request');
    const type = messageType(r);
    if (type === undefined) return this.drop('no-message-type');
    if (r.hops >= MAX_HOPS) return this.drop('too-many-hops');
    if (r.giaddr !== 0) return this.drop('giaddr-set');
    // RFC 3046 §2.1: option 82 from a client (giaddr 0) is untrusted; drop it.
    if (optionData(r, Opt.RELAY_AGENT_INFO) !== undefined) return this.drop('client-option-82');
    const subs: RelaySubOption[] = [
      { code: RelaySub.CIRCUIT_ID, data: Buffer.from(vlink) },
      { code: RelaySub.REMOTE_ID, data: Buffer.from(peerIdentity) },
    ];
    if (this.mode === 'rfc5107') subs.push({ code: RelaySub.SERVER_ID_OVERRIDE, data: u32Data(this.o.relayAddr) });
    let out: Buffer;
    try {
      const relayed: DhcpRepr = { ...r, hops: r.hops + 1, giaddr: this.o.relayAddr, trailer: undefined, options: [...r.options, { code: Opt.RELAY_AGENT_INFO, data: encodeRelayAgentInfo(subs) }] };
      if (Dhcp.encodingLength(relayed) > MAX_RELAYED) return this.drop('too-big');
      out = Dhcp.encode(relayed);
    } catch {
      // A vlink name or identity too long for option 82 is a configuration matter, not the client's.
      return this.drop('too-big');
    }
    if (type === MessageType.RELEASE) this.unbindFrom(vlink, r.ciaddr, 'release');
    if (type === MessageType.DECLINE) this.unbindFrom(vlink, u32Option(r, Opt.REQUESTED_IP) ?? 0, 'decline');
    v.relayed++;
    for (const s of this.o.servers) this.o.output.toServer(out, s);
  }

  /** A server's reply that arrived at the relay address:67 from `src`. Never throws. */
  fromServer(payload: Buffer, src: number): void {
    if (!this.o.servers.includes(src >>> 0)) return this.drop('unknown-server');
    const r = Dhcp.decode(payload);
    if (r instanceof DhcpMalformed) return this.drop(`malformed:${r.error}`);
    if (r.op !== BOOTREPLY) return this.drop('not-reply');
    if (r.giaddr !== this.o.relayAddr) return this.drop('wrong-giaddr');
    const ri = relayAgentInfo(r);
    const circuit = subOption(ri, RelaySub.CIRCUIT_ID);
    if (circuit === undefined) return this.drop('no-relay-info');
    const vlink = circuit.toString('utf8');
    const v = this.vlinks.get(vlink);
    if (v === undefined) return this.drop('unknown-circuit');
    if (subOption(ri, RelaySub.REMOTE_ID)?.toString('utf8') !== v.identity) return this.drop('remote-id-mismatch');
    const type = messageType(r);
    if (type !== MessageType.OFFER && type !== MessageType.ACK && type !== MessageType.NAK) return this.drop('unexpected-type');
    let options = withoutOption(r.options, Opt.RELAY_AGENT_INFO);
    const sid = u32Option(r, Opt.SERVER_ID);
    if (type === MessageType.NAK || this.mode === 'rfc5107') {
      options = withOption(options, Opt.SERVER_ID, u32Data(this.o.relayAddr));
    } else if (sid !== this.o.relayAddr) {
      // Renewals would bypass the relay (and its routes): the server lacks the override.
      return this.drop('server-id-not-hub');
    }
    const out = Dhcp.encode({ ...r, options });
    if (type === MessageType.ACK) this.snoopAck(vlink, r);
    if (type === MessageType.NAK) this.unbindClient(vlink, r);
    v.delivered++;
    this.o.output.toVlink(vlink, out, this.replyDst(r, type));
  }

  /** The relay's view for the inspector: routes it installed, counters. */
  view(): object {
    const now = this.clock.now();
    return {
      bindings: [...this.bindings].map(([a, b]) => ({ address: ip(a), vlink: b.vlink, chaddr: b.chaddr.toString('hex'), expires_in_s: Math.round((b.expiresAt - now) / 1000) })),
      vlinks: Object.fromEntries([...this.vlinks].map(([n, v]) => [n, { identity: v.identity, relayed: v.relayed, delivered: v.delivered, rate_limited: v.rateLimited }])),
      drops: Object.fromEntries(this.drops),
    };
  }

  /** The /32 routes currently installed: address -> vlink. */
  routes(): Map<number, string> {
    return new Map([...this.bindings].map(([a, b]) => [a, b.vlink]));
  }

  /** Removes every route (the hub is stopping). */
  close(): void {
    for (const [addr, b] of this.bindings) {
      this.clock.clearTimeout(b.timer);
      this.o.output.route({ action: 'remove', vlink: b.vlink, address: addr, reason: 'expired' });
    }
    this.bindings.clear();
  }

  /** RFC 2131 §4.1 for a relay: NAK and broadcast-flagged replies broadcast; else ciaddr, else yiaddr. */
  private replyDst(r: DhcpRepr, type: number): number {
    if (type === MessageType.NAK || (r.flags & FLAG_BROADCAST) !== 0) return 0xffffffff;
    if (r.ciaddr !== 0) return r.ciaddr;
    return r.yiaddr !== 0 ? r.yiaddr : 0xffffffff;
  }

  private snoopAck(vlink: string, r: DhcpRepr): void {
    const lease = u32Option(r, Opt.LEASE_TIME);
    if (r.yiaddr === 0 || lease === undefined) return;
    const old = this.bindings.get(r.yiaddr);
    if (old !== undefined) {
      this.clock.clearTimeout(old.timer);
      if (old.vlink !== vlink) this.o.output.route({ action: 'remove', vlink: old.vlink, address: r.yiaddr, reason: 'moved' });
    }
    const b: Binding = { vlink, chaddr: Buffer.from(r.chaddr), clientId: copy(optionData(r, Opt.CLIENT_ID)), expiresAt: Number.POSITIVE_INFINITY, timer: null };
    if (lease !== 0xffffffff) {
      b.expiresAt = this.clock.now() + lease * 1000;
      b.timer = this.clock.setTimeout(() => this.unbind(r.yiaddr, b, 'expired'), lease * 1000, UNREF);
    }
    this.bindings.set(r.yiaddr, b);
    if (old === undefined || old.vlink !== vlink) this.o.output.route({ action: 'install', vlink, address: r.yiaddr, reason: 'ack' });
  }

  /** A NAK ends whatever this client held on this vlink. */
  private unbindClient(vlink: string, r: DhcpRepr): void {
    const cid = optionData(r, Opt.CLIENT_ID);
    for (const [addr, b] of [...this.bindings]) {
      if (b.vlink !== vlink) continue;
      const same = cid !== undefined && b.clientId !== undefined ? cid.equals(b.clientId) : r.chaddr.equals(b.chaddr);
      if (same) this.unbind(addr, b, 'nak');
    }
  }

  /** Only the vlink that holds an address may give it up: another spoke cannot pull its route. */
  private unbindFrom(vlink: string, addr: number, reason: RouteEvent['reason']): void {
    const b = this.bindings.get(addr);
    if (b !== undefined && b.vlink === vlink) this.unbind(addr, b, reason);
  }

  private unbind(addr: number, b: Binding, reason: RouteEvent['reason']): void {
    if (this.bindings.get(addr) !== b) return;
    this.clock.clearTimeout(b.timer);
    this.bindings.delete(addr);
    this.o.output.route({ action: 'remove', vlink: b.vlink, address: addr, reason });
  }

  private drop(r: RelayDropReason): void {
    this.drops.set(r, (this.drops.get(r) ?? 0) + 1);
  }
}

function copy(b: Buffer | undefined): Buffer | undefined {
  return b === undefined ? undefined : Buffer.from(b);
}

function ip(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

