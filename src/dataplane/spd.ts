// Security Policy Database, keyed ONLY by the outer header (RFC 3884 §3): (local underlay,
// remote underlay, protocol 4). Inner VN addresses never appear here, which is what lets
// routing inside the overlay change without touching IPsec. A lookup miss means DISCARD:
// there is deliberately no BYPASS action, so a missing policy can never leak cleartext.

import { addrKey, formatAddr, type IpAddr } from '../wire/addr.js';
import type { OutboundSa } from './sa.js';
import { IiptranError } from '../errors.js';

export { IPPROTO_IPIP } from '../wire/ipv4.js';

export type SpdAction = 'protect' | 'discard';

export interface SpdEntry {
  /** Stable id for the inspector. */
  readonly id: number;
  readonly src: IpAddr;
  /** The peer's underlay address; 0.0.0.0 while a named peer is unresolved. Changed only by `move`. */
  dst: IpAddr;
  readonly proto: number;
  action: SpdAction;
  /** The vlink that owns this policy (one policy per vlink). */
  readonly vlink: string;
  /** SA to protect with; null while keying has not produced one (then packets drop as no-sa). */
  sa: OutboundSa | null;
}

function isUnspecified(a: IpAddr): boolean {
  return a.family === 4 && a.v4 === 0;
}

// Built once per batch by the send path, not per packet.
function key(src: IpAddr, dst: IpAddr, proto: number): string {
  return `${addrKey(src)}/${addrKey(dst)}/${proto}`;
}

export class Spd {
  private readonly byKey = new Map<string, SpdEntry>();
  // The last lookup's answer, by the identity of its address objects (a vlink's own, batch
  // after batch): no key string for the common case. Any change to the table forgets it.
  private lastSrc: IpAddr | null = null;
  private lastDst: IpAddr | null = null;
  private lastProto = -1;
  private lastEntry: SpdEntry | undefined = undefined;
  /** Policies of named peers not resolved yet: they select nothing until `move` gives them a peer. */
  private readonly unbound = new Set<SpdEntry>();
  private nextId = 1;
  /** Called on every change to the table, before it takes effect (the fast path turns off: fast-state.ts). */
  onChange: (() => void) | null = null;

  add(e: Omit<SpdEntry, 'id'>): SpdEntry {
    if (isUnspecified(e.dst)) {
      const entry: SpdEntry = { ...e, id: this.nextId++ };
      this.unbound.add(entry);
      return entry;
    }
    const k = key(e.src, e.dst, e.proto);
    if (this.byKey.has(k)) {
      // Two policies with the same selectors would make SA choice ambiguous; config
      // validation rejects this earlier, so reaching here is a programming error.
      throw new IiptranError('IIPTRAN_ERR_INTERNAL', `SPD already has a policy for ${formatAddr(e.src)} -> ${formatAddr(e.dst)} proto ${e.proto}`);
    }
    const entry: SpdEntry = { ...e, id: this.nextId++ };
    this.byKey.set(k, entry);
    this.forgetLast();
    return entry;
  }

  lookup(src: IpAddr, dst: IpAddr, proto: number): SpdEntry | undefined {
    if (src === this.lastSrc && dst === this.lastDst && proto === this.lastProto) return this.lastEntry;
    const e = this.byKey.get(key(src, dst, proto));
    this.lastSrc = src;
    this.lastDst = dst;
    this.lastProto = proto;
    this.lastEntry = e;
    return e;
  }

  private forgetLast(): void {
    this.onChange?.();
    this.lastSrc = this.lastDst = null;
    this.lastEntry = undefined;
  }

  /** A named peer resolved to `dst`: the policy's selector follows. Throws if another policy has it. */
  move(e: SpdEntry, dst: IpAddr): void {
    const k = key(e.src, dst, e.proto);
    const other = this.byKey.get(k);
    if (other !== undefined && other !== e) {
      throw new IiptranError('IIPTRAN_ERR_CONFIG', `${formatAddr(dst)} is already the peer of vlink ${other.vlink}`);
    }
    this.byKey.delete(key(e.src, e.dst, e.proto));
    this.unbound.delete(e);
    e.dst = dst;
    this.byKey.set(k, e);
    this.forgetLast();
  }

  removeVlink(vlink: string): void {
    this.forgetLast();
    for (const [k, e] of this.byKey) if (e.vlink === vlink) this.byKey.delete(k);
    for (const e of this.unbound) if (e.vlink === vlink) this.unbound.delete(e);
  }

  entries(): SpdEntry[] {
    return [...this.byKey.values(), ...this.unbound].sort((a, b) => a.id - b.id);
  }
}
