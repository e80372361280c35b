// Named peers (`peer: b.overlay.test`): their addresses, resolved and DNSSEC-validated, kept
// fresh and handed to the node, which moves the vlink (node-peer-move.ts). Three ways in:
//   resolve  before every IKE initiation (Cisco's "set peer HOST dynamic"), and at start
//   refresh  in the background before the TTL runs out (dynamic IKE peers and manual keying)
//   check    whether the name really is at an address an SA came from (responder side)
// The rule that runs through all three: a lookup that fails or is not good enough for the
// node's `dnssec` policy is recorded and shown, and changes nothing that already works.

import type { Logger } from 'pino';
import type { Clock, ClockTimer } from '../clock.js';
import type { LookupResult } from '../dns/resolver.js';
import { reasonToString } from '../dns/verdict.js';
import { RRType } from '../wire/dns/types.js';
import { ipv4ToU32, u32ToIpv4 } from '../wire/addr.js';
import { coveredBy } from './vn-prefixes.js';
import type { DnsConfig } from './config-types.js';

export interface NameLookup {
  lookup(name: string, type: number, opts?: { fresh?: boolean }): Promise<LookupResult>;
}

export interface PeerNamesHost {
  /** Points the vlink at `addr`; null when done, else why it cannot (another vlink has it). */
  move(vlink: string, addr: string): string | null;
  readonly underlay: string;
  readonly vnPrefixes: readonly string[] | undefined;
}

/** What `show links` and `show dns` print per named peer. */
export interface NamedPeerView {
  name: string;
  resolve: 'dynamic' | 'once';
  addresses: string[];
  /** The address the vlink uses now; null until the name first resolved usably. */
  address: string | null;
  verdict: LookupResult['verdict'] | null;
  reason: string | null;
  usable: boolean;
  resolvedAt: string | null;
  ttl: number | null;
  lastError: string | null;
  nextRefreshInSeconds: number | null;
}

interface Entry {
  vlink: string;
  name: string;
  mode: 'dynamic' | 'once';
  refresh: boolean;
  addresses: string[];
  address: string | null;
  last: LookupResult | null;
  usable: boolean;
  resolvedAt: number | null;
  lastError: string | null;
  timer: ClockTimer | null;
  timerAt: number | null;
  failures: number;
  lastFresh: number;
}

type Outcome = { ok: true; addresses: string[]; warn: string | null } | { ok: false; why: string };

/** Refresh at this share of the TTL, so a new answer is in hand before the old one expires. */
const REFRESH_AT = 0.8;
const MIN_REFRESH_MS = 1000;
const MAX_REFRESH_MS = 3600_000;
const RETRY_BASE_MS = 2000;
const RETRY_MAX_MS = 60_000;
/** A responder asks past the cache at most this often per vlink (a claimed move costs one query). */
const FRESH_EVERY_MS = 2000;

/** Whether the node's `dnssec` policy lets it use this answer, and which addresses in it. */
export function judge(r: LookupResult, policy: DnsConfig['dnssec'], host: Pick<PeerNamesHost, 'underlay' | 'vnPrefixes'>): Outcome {
  const why = reasonToString(r.reason);
  if (r.verdict === 'bogus') return { ok: false, why: `bogus: never used (${why})` };
  if (r.verdict === 'indeterminate') return { ok: false, why: `indeterminate: no usable answer (${why})` };
  if (r.verdict === 'insecure' && policy === 'require') return { ok: false, why: `insecure: unusable under dnssec: require (${why})` };
  if (r.status !== 'answer') return { ok: false, why: `${r.status === 'nxdomain' ? 'no such name' : 'no A record'} (${r.verdict})` };
  const addrs = r.rrset.flatMap((rr) => (rr.type === RRType.A && rr.data.kind === 'A' ? [u32ToIpv4(rr.data.address.readUInt32BE(0))] : []));
  const bad: string[] = [];
  const good = addrs.filter((a) => {
    const u = ipv4ToU32(a);
    const problem = a === host.underlay ? 'our own underlay address'
      : u === 0 || u === 0xffffffff || u >>> 28 === 0xe || u >>> 24 === 127 ? 'not a unicast address'
      : host.vnPrefixes !== undefined && coveredBy(`${a}/32`, host.vnPrefixes) ? 'inside vn_prefixes (the guard would drop the tunnel)'
      : null;
    if (problem !== null) bad.push(`${a}: ${problem}`);
    return problem === null;
  });
  if (good.length === 0) return { ok: false, why: `no usable address (${bad.join('; ') || 'empty answer'})` };
  const warn = r.verdict === 'insecure' ? `insecure answer used (dnssec: ${policy}): ${why}` : null;
  return { ok: true, addresses: good, warn };
}

export class PeerNames {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    private readonly dns: NameLookup,
    private readonly policy: DnsConfig['dnssec'],
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly host: PeerNamesHost,
  ) {}

  has(vlink: string): boolean {
    return this.entries.has(vlink);
  }

  /** `refresh`: keep the address fresh in the background (dynamic IKE peers, manual keying). */
  add(vlink: string, name: string, mode: 'dynamic' | 'once', refresh: boolean): void {
    this.remove(vlink);
    this.entries.set(vlink, {
      vlink, name, mode, refresh, addresses: [], address: null, last: null, usable: false, resolvedAt: null,
      lastError: null, timer: null, timerAt: null, failures: 0, lastFresh: -Infinity,
    });
  }

  remove(vlink: string): void {
    const e = this.entries.get(vlink);
    if (e === undefined) return;
    this.clock.clearTimeout(e.timer);
    this.entries.delete(vlink);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.clock.clearTimeout(e.timer);
  }

  /**
   * The address to use now. `attempt` > 0 (earlier attempts failed) walks the answer's addresses
   * in order; otherwise the one in use stays while the name still has it. Never rejects.
   */
  async resolve(vlink: string, attempt = 0, opts?: { force?: boolean }): Promise<{ addr: string } | { error: string }> {
    const e = this.entries.get(vlink);
    if (e === undefined) return { error: `${vlink} has no named peer` };
    // `once`: the start-up (or reload: `force`) answer stands.
    if (e.mode === 'once' && e.address !== null && opts?.force !== true) return { addr: e.address };
    // Past the cache when forced (start, reload: a zone just changed) or after a failed attempt
    // (the cached address may be the one that stopped answering); the backoff paces these.
    const out = await this.lookup(e, opts?.force === true || attempt > 0);
    if (this.entries.get(vlink) !== e) return { error: `${vlink} was removed` };
    if (!out.ok) return { error: out.why };
    const keep = attempt === 0 && e.address !== null && out.addresses.includes(e.address);
    const addr = keep ? e.address! : out.addresses[attempt % out.addresses.length]!;
    const why = this.moveTo(e, addr);
    return why === null ? { addr } : { error: why };
  }

  /** Null when a validated (fresh, if the cache disagrees) answer for the vlink's name has `addr`. */
  async check(vlink: string, addr: string): Promise<string | null> {
    const e = this.entries.get(vlink);
    if (e === undefined) return `${vlink} has no named peer`;
    let out = await this.lookup(e, false);
    if ((!out.ok || !out.addresses.includes(addr)) && this.clock.now() - e.lastFresh >= FRESH_EVERY_MS) {
      e.lastFresh = this.clock.now();
      out = await this.lookup(e, true);
    }
    if (!out.ok) return `${e.name}: ${out.why}`;
    if (!out.addresses.includes(addr)) return `${e.name} resolves to ${out.addresses.join(', ')} (${e.last?.verdict}), not ${addr}`;
    return null;
  }

  /** IKE proved the peer at `addr` (an SA from there, vouched for by `check`): it is in use now. */
  inUse(vlink: string, addr: string): void {
    const e = this.entries.get(vlink);
    if (e !== undefined) e.address = addr;
  }

  /** One lookup, recorded for the inspector, refreshes scheduled. */
  private async lookup(e: Entry, fresh: boolean): Promise<Outcome> {
    const r = await this.dns.lookup(e.name, RRType.A, fresh ? { fresh } : undefined);
    if (this.entries.get(e.vlink) !== e) return { ok: false, why: 'vlink removed' };
    const out = judge(r, this.policy, this.host);
    e.last = r;
    e.resolvedAt = this.clock.now();
    e.usable = out.ok;
    if (out.ok) {
      e.addresses = out.addresses;
      e.lastError = null;
      e.failures = 0;
      if (out.warn !== null) this.log.warn({ vlink: e.vlink, peer: e.name }, `${e.name}: ${out.warn}`);
    } else {
      e.lastError = out.why;
      e.failures++;
      this.log.warn({ vlink: e.vlink, peer: e.name, verdict: r.verdict }, `cannot use ${e.name} ${e.address === null ? '' : `(still using ${e.address}) `}: ${out.why}`);
    }
    this.schedule(e, out.ok ? Math.max(r.ttl, 0) * 1000 * REFRESH_AT : Math.min(RETRY_BASE_MS * 2 ** (e.failures - 1), RETRY_MAX_MS));
    return out;
  }

  private moveTo(e: Entry, addr: string): string | null {
    if (e.address === addr) return null;
    const why = this.host.move(e.vlink, addr);
    if (why !== null) {
      e.lastError = `cannot move to ${addr}: ${why}`;
      this.log.error({ vlink: e.vlink, peer: e.name }, `${e.name} resolved to ${addr}, but ${e.lastError}`);
      return why;
    }
    this.log.info({ vlink: e.vlink, peer: e.name, from: e.address, to: addr, verdict: e.last?.verdict },
      e.address === null ? `${e.name} is ${addr} (${e.last?.verdict})` : `${e.name} moved from ${e.address} to ${addr} (${e.last?.verdict})`);
    e.address = addr;
    return null;
  }

  private schedule(e: Entry, inMs: number): void {
    if (!e.refresh || this.stopped) return;
    this.clock.clearTimeout(e.timer);
    const ms = Math.min(Math.max(inMs, MIN_REFRESH_MS), MAX_REFRESH_MS);
    e.timerAt = this.clock.now() + ms;
    e.timer = this.clock.setTimeout(() => void this.refresh(e), ms);
  }

  /** The background refresh: move when the name left the address in use; otherwise keep everything. */
  private async refresh(e: Entry): Promise<void> {
    e.timer = null;
    e.timerAt = null;
    if (this.stopped || this.entries.get(e.vlink) !== e) return;
    const out = await this.lookup(e, true);
    if (!out.ok || (e.address !== null && out.addresses.includes(e.address))) return;
    this.moveTo(e, out.addresses[0]!);
  }

  view(vlink: string): NamedPeerView | null {
    const e = this.entries.get(vlink);
    if (e === undefined) return null;
    const now = this.clock.now();
    return {
      name: e.name,
      resolve: e.mode,
      addresses: e.addresses,
      address: e.address,
      verdict: e.last?.verdict ?? null,
      reason: e.last?.reason ? reasonToString(e.last.reason) : null,
      usable: e.usable,
      resolvedAt: e.resolvedAt === null ? null : new Date(e.resolvedAt).toISOString(),
      ttl: e.last === null || e.resolvedAt === null ? null : Math.max(0, Math.round(e.last.ttl - (now - e.resolvedAt) / 1000)),
      lastError: e.lastError,
      nextRefreshInSeconds: e.timerAt === null ? null : Math.max(0, Math.ceil((e.timerAt - now) / 1000)),
    };
  }
}
