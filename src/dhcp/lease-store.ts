// What the client keeps across restarts: the RFC 3456 chaddr octet (chosen once, kept forever)
// and the current lease (for INIT-REBOOT, RFC 2131 §3.2). A small JSON file written atomically
// (temp file + rename), so a crash leaves the old file or the new one, never half of one. A file
// that does not parse is treated as absent, and says so through `problem`.

import fs from 'node:fs';
import path from 'node:path';
import { parseIpv4, u32ToIpv4 } from '../wire/addr.js';

export interface PersistedLease {
  address: number;
  mask: number;
  server: number;
  /** Seconds, as the server sent them. */
  leaseTime: number;
  t1: number;
  t2: number;
  /** Wall-clock ms when the REQUEST that got the ACK was sent: the lease runs from then. */
  startedAt: number;
}

export interface StoredClientState {
  octet: number;
  lease: PersistedLease | null;
}

export interface LeaseStore {
  load(): StoredClientState | null;
  save(s: StoredClientState): void;
}

export class MemoryLeaseStore implements LeaseStore {
  state: StoredClientState | null = null;
  saves = 0;
  load(): StoredClientState | null {
    return this.state === null ? null : { octet: this.state.octet, lease: this.state.lease && { ...this.state.lease } };
  }
  save(s: StoredClientState): void {
    this.saves++;
    this.state = { octet: s.octet, lease: s.lease && { ...s.lease } };
  }
}

function num(v: unknown, max: number): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max ? v : null;
}

function ip(v: unknown): number | null {
  return typeof v === 'string' ? parseIpv4(v) : null;
}

/** Strict reading of the file's JSON; null when any field is missing or out of range. */
export function parseStored(text: string): StoredClientState | null {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof j !== 'object' || j === null) return null;
  const o = j as Record<string, unknown>;
  const octet = num(o.octet, 255);
  if (octet === null) return null;
  if (o.lease === null || o.lease === undefined) return { octet, lease: null };
  if (typeof o.lease !== 'object') return null;
  const l = o.lease as Record<string, unknown>;
  const lease = {
    address: ip(l.address), mask: ip(l.mask), server: ip(l.server), leaseTime: num(l.lease_time, 0xffffffff),
    t1: num(l.t1, 0xffffffff), t2: num(l.t2, 0xffffffff), startedAt: num(l.started_at, Number.MAX_SAFE_INTEGER),
  };
  for (const v of Object.values(lease)) if (v === null) return null;
  return { octet, lease: lease as PersistedLease };
}

export function renderStored(s: StoredClientState): string {
  const l = s.lease;
  return `${JSON.stringify({
    octet: s.octet,
    lease: l === null ? null : {
      address: u32ToIpv4(l.address), mask: u32ToIpv4(l.mask), server: u32ToIpv4(l.server),
      lease_time: l.leaseTime, t1: l.t1, t2: l.t2, started_at: l.startedAt,
    },
  }, null, 2)}\n`;
}

export class JsonLeaseStore implements LeaseStore {
  /** Why the last load found nothing usable, when the file existed. */
  problem: string | null = null;
  constructor(readonly file: string) {}

  load(): StoredClientState | null {
    this.problem = null;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.problem = `cannot read ${this.file}: ${(e as Error).message}`;
      return null;
    }
    const s = parseStored(text);
    if (s === null) this.problem = `${this.file} is not a valid DHCP lease file; starting without it`;
    return s;
  }

  save(s: StoredClientState): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, renderStored(s), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}
