// Keys and signatures for the lab DNS service, with ldns (ldns-keygen, ldns-signzone,
// ldns-key2ds, as in ../shared/interop/dns.md): each zone gets a KSK and a ZSK once, kept in
// <lab>/dns/keys, so re-signing after a change keeps the DS and the nodes' trust anchor.
// buildZoneFiles turns a ZoneSpec into the files NSD serves, broken ones included.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { IiptranError } from '../errors.js';
import type { ModelDns } from './dns-model.js';
import { corruptRrsig, dropNsec, hostZoneSource, labZoneSource, parentZoneSource, servedZones, spliceRrsig, type ZoneSpec } from './dns-zone.js';
import { breakSiteRrsigs, siteSubzones } from './kx-zone.js';

const pexec = promisify(execFile);
export const DNSSEC_ALGORITHM = 'ECDSAP256SHA256';
const DAY = 86400;
/** Valid from an hour ago (clock skew) for 30 days: longer than any lab lives. */
export const SIGN_WINDOW: [number, number] = [-3600, 30 * DAY];
/** `break expired`: a window that ended a week ago, beyond any validator's skew allowance (unbound: 10% of the validity period, at most a day by default, yet accepted one that ended a day ago). */
export const EXPIRED_WINDOW: [number, number] = [-30 * DAY, -7 * DAY];

export interface ZoneKeys {
  zsk: string;
  ksk: string;
}

async function ldns(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    return (await pexec(cmd, args, { cwd, timeout: 30000 })).stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string; code?: string };
    const hint = err.code === 'ENOENT' ? ' (install ldnsutils: scripts/setup.sh)' : '';
    throw new IiptranError('IIPTRAN_ERR_LAB', `${cmd} ${args.join(' ')} failed${hint}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** The zone's keys, made on first use and recorded in keys.json beside them. */
export async function zoneKeys(dir: string, zone: string): Promise<ZoneKeys> {
  const keysDir = path.join(dir, 'keys');
  const index = path.join(keysDir, 'keys.json');
  fs.mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const known = fs.existsSync(index) ? (JSON.parse(fs.readFileSync(index, 'utf8')) as Record<string, ZoneKeys>) : {};
  if (known[zone] !== undefined) return known[zone]!;
  const zsk = await ldns('ldns-keygen', ['-a', DNSSEC_ALGORITHM, `${zone}.`], keysDir);
  const ksk = await ldns('ldns-keygen', ['-a', DNSSEC_ALGORITHM, '-k', `${zone}.`], keysDir);
  known[zone] = { zsk, ksk };
  fs.writeFileSync(index, JSON.stringify(known, null, 2) + '\n', { mode: 0o600 });
  return known[zone]!;
}

/** The DS (SHA-256) of the zone's KSK, one zone-file line. */
export async function dsOf(dir: string, k: ZoneKeys): Promise<string> {
  return ldns('ldns-key2ds', ['-n', '-2', path.join(dir, 'keys', `${k.ksk}.key`)], dir);
}

async function sign(dir: string, src: string, out: string, k: ZoneKeys, win: [number, number], nowSec: number): Promise<string> {
  await ldns('ldns-signzone', ['-i', String(nowSec + win[0]), '-e', String(nowSec + win[1]), '-f', out, src, path.join(dir, 'keys', k.zsk), path.join(dir, 'keys', k.ksk)], dir);
  return fs.readFileSync(out, 'utf8');
}

function need(r: { text: string; changed: number }, what: string): string {
  if (r.changed === 0) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `lab DNS: ${what} found nothing to change in the signed zone`);
  return r.text;
}

/**
 * Writes <dir>/live/<zone>.zone for every zone of `spec` (sources in <dir>/src) and returns
 * the zones in the order served. Files are written to a temporary name and renamed, so NSD
 * never reads half a zone.
 */
export async function buildZoneFiles(dir: string, dns: ModelDns, spec: ZoneSpec, nowSec: number): Promise<string[]> {
  const src = path.join(dir, 'src');
  const live = path.join(dir, 'live');
  fs.mkdirSync(src, { recursive: true });
  fs.mkdirSync(live, { recursive: true });
  const put = (zone: string, text: string) => {
    fs.writeFileSync(path.join(live, `${zone}.zone.tmp`), text);
    fs.renameSync(path.join(live, `${zone}.zone.tmp`), path.join(live, `${zone}.zone`));
  };
  const srcFile = (zone: string, text: string) => {
    const f = path.join(src, `${zone}.zone`);
    fs.writeFileSync(f, text);
    return f;
  };

  const labSrc = srcFile(dns.zone, labZoneSource(dns, spec));
  let ds: string | null = null;
  if (!spec.signed) put(dns.zone, fs.readFileSync(labSrc, 'utf8'));
  else {
    const k = await zoneKeys(dir, dns.zone);
    ds = await dsOf(dir, k);
    const signedFile = path.join(src, `${dns.zone}.signed`);
    let text = await sign(dir, labSrc, signedFile, k, SIGN_WINDOW, nowSec);
    const expired = Object.keys(spec.breaks).filter((n) => spec.breaks[n] === 'expired');
    if (expired.length > 0) {
      const donor = await sign(dir, labSrc, path.join(src, `${dns.zone}.expired`), k, EXPIRED_WINDOW, nowSec);
      for (const n of expired) text = need(spliceRrsig(text, donor, `${n}.${dns.zone}`, 'A'), `break ${n} expired`);
    }
    for (const [n, mode] of Object.entries(spec.breaks)) {
      if (mode === 'badsig') text = need(corruptRrsig(text, `${n}.${dns.zone}`, 'A'), `break ${n} badsig`);
      if (mode !== 'nods') continue;
      text = need(dropNsec(text, `${n}.${dns.zone}`), `break ${n} nods`);
      const host = `${n}.${dns.zone}`;
      const hk = await zoneKeys(dir, host);
      put(host, await sign(dir, srcFile(host, hostZoneSource(dns, n, spec.records[n]!, spec.serial)), path.join(src, `${host}.signed`), hk, SIGN_WINDOW, nowSec));
    }
    if (spec.sites !== undefined) {
      const b = breakSiteRrsigs(text, spec.sites);
      if (b.missing.length > 0) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `lab DNS: no RRSIG to corrupt over ${b.missing.join(', ')} in the signed zone`);
      text = b.text;
    }
    put(dns.zone, text);
  }
  // Unsigned subzones of a site lab (a site, or a gateway's _500 name): served as written.
  for (const z of spec.sites === undefined ? [] : siteSubzones(dns, spec.sites, spec.serial)) put(z.zone, fs.readFileSync(srcFile(z.zone, z.text), 'utf8'));
  const pk = await zoneKeys(dir, dns.parent);
  const parentSrc = srcFile(dns.parent, parentZoneSource(dns, spec.serial, ds));
  put(dns.parent, await sign(dir, parentSrc, path.join(src, `${dns.parent}.signed`), pk, SIGN_WINDOW, nowSec));
  return servedZones(dns, spec);
}

/** The trust anchor every node gets: the parent's DS, the one key the lab's chain of trust starts from. */
export async function parentAnchor(dir: string, dns: ModelDns): Promise<string> {
  return dsOf(dir, await zoneKeys(dir, dns.parent));
}
