// The lab DNS service at run time: NSD in its own namespace on an underlay segment, serving the
// zones of dns-zone.ts signed by dns-sign.ts. `prepareDns` (lab up, keys step) makes keys,
// zones and every node's trust anchor; `startNsd` (daemons step, before the nodes) starts NSD
// and waits until it serves; `publish` applies a change (readdress, break, unsign, restore):
// re-sign, reload, and wait until every zone's new serial is what NSD answers.

import fs from 'node:fs';
import path from 'node:path';
import { IiptranError } from '../errors.js';
import { nsExec, run } from './netns.js';
import { NODE_ANCHOR_FILE, publishedAddress, type ModelDns } from './dns-model.js';
import { buildZoneFiles, parentAnchor } from './dns-sign.js';
import { delvAnchor, nsdConf, unboundConf, type BreakMode, type ZoneSpec } from './dns-zone.js';
import { logTail, spawnDetached } from './detached.js';
import { saveState, type LabState } from './state.js';
import { DNS_RESERVED_NAME } from './topology-dns.js';
import { initialKxState, sitesSpec, type KxDnsState } from './kx-dns-state.js';

export interface LabDnsState {
  dir: string;
  serial: number;
  signed: boolean;
  breaks: Record<string, BreakMode>;
  /** The parent's DS line: every node's trust anchor. */
  anchor: string;
  /** Zones NSD is configured with, parent first. */
  zones: string[];
  /** When the current serial was first seen served by NSD (ISO). */
  servedAt: string | null;
  /** lab up: NSD's spawn until it served every zone, ms. */
  startMs?: number;
  /** A site lab: KX and IPSECA records and their changes (kx-dns-state.ts). */
  kx?: KxDnsState;
}

/** How long NSD may take to serve a new serial (a reload takes tens of ms; starting, about 100 ms). */
const SERVE_DEADLINE_MS = 15000;

export function dnsFiles(dir: string): { conf: string; log: string; anchor: string; delv: string; unbound: string } {
  return {
    conf: path.join(dir, 'nsd.conf'),
    log: path.join(dir, 'nsd.log'),
    anchor: path.join(dir, 'trust-anchor.ds'),
    delv: path.join(dir, 'delv.conf'),
    unbound: path.join(dir, 'unbound.conf'),
  };
}

export function requireDns(s: LabState): { dns: ModelDns; st: LabDnsState } {
  if (s.model.dns === undefined || s.dns === undefined) {
    throw new IiptranError('IIPTRAN_ERR_USAGE', `lab ${s.name} has no DNS service (its topology has no dns: section)`);
  }
  return { dns: s.model.dns, st: s.dns };
}

export function zoneSpec(s: LabState, st: LabDnsState): ZoneSpec {
  const records = Object.fromEntries(s.model.nodes.map((n) => [n.name, publishedAddress(s.model, n)]));
  return { serial: st.serial, signed: st.signed, records, breaks: st.breaks, ...(st.kx === undefined ? {} : { sites: sitesSpec(s.model, st.kx) }) };
}

/** lab up: keys, signed zones, NSD's config, and the trust anchor in every node's keys/ (plus delv's and unbound's forms). */
export async function prepareDns(s: LabState): Promise<void> {
  const dns = s.model.dns!;
  const dir = path.join(s.dir, DNS_RESERVED_NAME);
  fs.mkdirSync(path.join(dir, 'run'), { recursive: true, mode: 0o700 });
  const st: LabDnsState = { dir, serial: 1, signed: true, breaks: {}, anchor: '', zones: [], servedAt: null };
  // The keys step has made every node's key pair: sites publish the public halves as IPSECA.
  if (s.model.sites !== undefined) st.kx = initialKxState(s.model, (n) => s.nodes[n]!.dir);
  st.zones = await buildZoneFiles(dir, dns, zoneSpec(s, st), Math.floor(Date.now() / 1000));
  st.anchor = await parentAnchor(dir, dns);
  const f = dnsFiles(dir);
  fs.writeFileSync(f.conf, nsdConf(dir, dns.address, st.zones));
  fs.writeFileSync(f.anchor, st.anchor + '\n');
  fs.writeFileSync(f.delv, delvAnchor(st.anchor));
  fs.writeFileSync(f.unbound, unboundConf(dns));
  for (const n of s.model.nodes) fs.writeFileSync(path.join(s.nodes[n.name]!.dir, NODE_ANCHOR_FILE), st.anchor + '\n', { mode: 0o644 });
  s.dns = st;
  saveState(s);
}

/** Every zone's SOA serial as NSD answers it now (null where it does not answer). */
export async function servedSerials(dns: ModelDns, zones: string[]): Promise<(number | null)[]> {
  const args = ['dig', '+norec', '+tcp', '+time=1', '+tries=1', '+short', `@${dns.address}`, ...zones.flatMap((z) => [`${z}.`, 'SOA'])];
  const r = await nsExec(dns.ns, args, { allowFail: true, timeoutMs: 5000 });
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  return zones.map((_, i) => {
    const f = (lines[i] ?? '').split(/\s+/);
    return f.length >= 7 && /^\d+$/.test(f[2]!) ? Number(f[2]) : null;
  });
}

/**
 * Until every zone answers with `serial` three polls in a row: while NSD reloads, the old and
 * the new server process both answer for a few tens of ms (dns.md, pitfall 6).
 */
async function waitServed(s: LabState, st: LabDnsState, exited: () => boolean = () => false): Promise<number> {
  const dns = s.model.dns!;
  const t0 = Date.now();
  let streak = 0;
  let last: (number | null)[] = [];
  for (;;) {
    if (exited()) throw new IiptranError('IIPTRAN_ERR_LAB', `NSD exited during start-up; ${dnsFiles(st.dir).log}:\n${logTail(dnsFiles(st.dir).log)}`);
    last = await servedSerials(dns, st.zones);
    streak = last.every((x) => x === st.serial) ? streak + 1 : 0;
    if (streak >= 3) {
      st.servedAt = new Date().toISOString();
      return Date.now() - t0;
    }
    if (Date.now() - t0 > SERVE_DEADLINE_MS) {
      const seen = st.zones.map((z, i) => `${z}: ${last[i] ?? 'no answer'}`).join(', ');
      throw new IiptranError('IIPTRAN_ERR_LAB', `NSD did not serve serial ${st.serial} within ${SERVE_DEADLINE_MS / 1000} s (${seen}); ${dnsFiles(st.dir).log}:\n${logTail(dnsFiles(st.dir).log)}`);
    }
    await new Promise((r) => setTimeout(r, streak > 0 ? 10 : 20));
  }
}

/** lab up, daemons step: NSD started detached in the DNS namespace; returns once it serves every zone. */
export async function startNsd(s: LabState): Promise<number> {
  const { dns, st } = requireDns(s);
  const f = dnsFiles(st.dir);
  const child = spawnDetached(dns.ns, ['nsd', '-d', '-c', f.conf], f.log);
  s.processes.push({ pid: child.pid, role: 'nsd', node: DNS_RESERVED_NAME, ns: dns.ns, log: f.log });
  saveState(s);
  const ms = await waitServed(s, st, () => child.exitCode !== null || child.signalCode !== null);
  st.startMs = ms;
  saveState(s);
  return ms;
}

export interface PublishResult {
  serial: number;
  /** Re-signing (ldns) and writing the zone files. */
  signMs: number;
  /** nsd-control reload until the new serial was served three polls in a row. */
  serveMs: number;
  zones: string[];
}

async function nsdControl(conf: string, cmd: string): Promise<void> {
  const r = await run('nsd-control', ['-c', conf, cmd], { allowFail: true, timeoutMs: 10000 });
  if (r.code !== 0 || !/ok/.test(r.stdout)) throw new IiptranError('IIPTRAN_ERR_LAB', `nsd-control ${cmd} failed (${r.code}): ${(r.stdout + r.stderr).trim()}`);
}

/** Applies `change` to the DNS state, re-signs with a new serial, reloads NSD and waits until it serves the result. */
export async function publish(s: LabState, change: (st: LabDnsState) => void): Promise<PublishResult> {
  const { dns, st } = requireDns(s);
  change(st);
  st.serial++;
  const t0 = Date.now();
  const zones = await buildZoneFiles(st.dir, dns, zoneSpec(s, st), Math.floor(Date.now() / 1000));
  const f = dnsFiles(st.dir);
  const zonesChanged = zones.join(' ') !== st.zones.join(' ');
  st.zones = zones;
  saveState(s);
  const signMs = Date.now() - t0;
  const t1 = Date.now();
  if (zonesChanged) {
    fs.writeFileSync(f.conf, nsdConf(st.dir, dns.address, zones));
    await nsdControl(f.conf, 'reconfig');
  }
  await nsdControl(f.conf, 'reload');
  await waitServed(s, st);
  saveState(s);
  return { serial: st.serial, signMs, serveMs: Date.now() - t1, zones };
}
