// Builds the DNSSEC test zones with ldns (as ../../../../shared/interop/dns.md, section 4):
// test. signed and anchored, a child per case (algorithms, NSEC3, opt-out, unsigned, missing
// DS with and without proof, expired, not yet valid, broken signatures, wrong DS key tag), and
// their NSD config. Used both to capture the unit test vectors and live by the netns cross-check.
// KX and IPSECA records (kx-queries.ts says what each is for) sit in the secure overlay.test, in
// the unsigned plain.test and in badsig.test with broken signatures; a separately anchored
// reverse zone, 200.10.in-addr.arpa, holds PTR records for address identities.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ipsecaGeneric, labKey } from './keys.js';

export const SERVER_ADDR = '192.0.2.53';
const DAY = 86400;

interface Child {
  name: string;
  alg?: 'RSASHA256' | 'ECDSAP256SHA256' | 'ECDSAP384SHA384' | 'ED25519' | 'ED448';
  nsec3?: { salt: string; iterations: number; optOut: boolean };
  /** Seconds relative to now. */
  window?: [number, number];
  /** No DS in the parent. */
  noDs?: boolean;
  body: string;
}

const A = (n: string, a: string) => `${n} A ${a}\n`;
const KX = (n: string, pref: number, x: string) => `${n} KX ${pref} ${x}\n`;
const IPSECA = (n: string, u: number, s: number, m: number, key: string) => {
  const k = labKey(key);
  return `${n} ${ipsecaGeneric(u, s, m, m === 0 ? k.spki : m === 2 ? k.sha512 : k.sha256)}\n`;
};

/** Reverse zone with its own anchor: PTR for the address identities of the KX tests. */
export const REVERSE_ZONE = '200.10.in-addr.arpa';
const REVERSE_BODY = '1.1 PTR site-a.overlay.test.\n12.1 PTR site-a.overlay.test.\n2.1 PTR b.overlay.test.\n9.1 PTR site-a.overlay.test.\n' + IPSECA('_500.1.1', 3, 1, 1, 'a');

/** KX, exchangers and IPSECA in the secure zone (see kx-queries.ts). */
const OVERLAY_KX = A('a2', '10.200.1.12') + A('c', '10.200.1.3') + A('wrong', '10.200.1.4') +
  KX('site-a', 10, 'a.overlay.test.') + KX('site-a', 20, 'a2.overlay.test.') + KX('site-a', 30, 'a.plain.test.') +
  KX('site-bx', 10, 'a.badsig.test.') + KX('site-tie', 10, 'b.overlay.test.') + KX('site-tie', 10, 'a.overlay.test.') +
  KX('site-gone', 10, 'gone.overlay.test.') +
  IPSECA('_500.a', 3, 1, 1, 'a') + IPSECA('_500.a', 1, 0, 1, 'a') + IPSECA('_500.a2', 3, 1, 2, 'a2') + IPSECA('_500.c', 3, 1, 0, 'c') +
  IPSECA('_500.wrong', 3, 1, 1, 'not-wrong') + IPSECA('_500.certonly', 3, 0, 1, 'a') + IPSECA('_500.certonly', 2, 1, 1, 'a');

export const CHILDREN: Child[] = [
  {
    name: 'overlay', alg: 'ECDSAP256SHA256',
    body: A('a', '10.200.1.1') + A('b', '10.200.1.2') + A('*.wild', '10.200.1.9') + 'www CNAME alias\nalias CNAME a.alg8.test.\n' +
      'toplain CNAME a.plain.test.\nsite-b KX 10 b.overlay.test.\n_500.b TYPE65347 \\# 35 0301015ed57bfb59aa45b067c32087a96c4146ed6260a3dc889f6904767c2649627d82\n' +
      'v6 AAAA 2001:db8::1\ntxt TXT "hello" "world"\n' + OVERLAY_KX,
  },
  { name: 'alg8', alg: 'RSASHA256', body: A('a', '10.200.8.1') },
  { name: 'alg14', alg: 'ECDSAP384SHA384', body: A('a', '10.200.14.1') },
  { name: 'alg15', alg: 'ED25519', body: A('a', '10.200.15.1') },
  { name: 'alg16', alg: 'ED448', body: A('a', '10.200.16.1') },
  { name: 'n3', alg: 'ECDSAP256SHA256', nsec3: { salt: '5ca1ab1e', iterations: 0, optOut: true }, body: A('a', '10.200.3.1') + A('*.w', '10.200.3.9') + 'sub NS ns.test.\n' },
  { name: 'n3iter', alg: 'ECDSAP256SHA256', nsec3: { salt: 'aabbccdd', iterations: 200, optOut: false }, body: A('a', '10.200.4.1') },
  { name: 'plain', body: A('a', '10.200.2.1') + KX('site', 10, 'a.plain.test.') + IPSECA('_500.a', 3, 1, 1, 'a') },
  { name: 'nods', alg: 'ECDSAP256SHA256', noDs: true, body: A('a', '10.200.5.1') },
  { name: 'nodsbad', alg: 'ECDSAP256SHA256', noDs: true, body: A('a', '10.200.6.1') },
  { name: 'expired', alg: 'ECDSAP256SHA256', window: [-30 * DAY, -DAY], body: A('a', '10.200.7.1') },
  { name: 'future', alg: 'ECDSAP256SHA256', window: [3 * DAY, 30 * DAY], body: A('a', '10.200.9.1') },
  {
    name: 'badsig', alg: 'ECDSAP256SHA256',
    body: A('a', '10.200.10.1') + A('b', '10.200.10.2') + A('bare', '10.200.10.3') + A('tag', '10.200.10.4') + KX('site', 10, 'b.badsig.test.') + IPSECA('_500.b', 3, 1, 1, 'a'),
  },
  { name: 'wrongtag', alg: 'ECDSAP256SHA256', body: A('a', '10.200.11.1') },
];

/** Extra unsigned zones served beside the signed ones. */
const UNSIGNED = [{ zone: 'sub.n3.test', body: A('a', '10.200.3.33') }];

export interface ZoneLab {
  dir: string;
  /** test.'s KSK DS line (zone-file syntax), the trust anchor. */
  anchorDs: string;
  /** test.'s KSK DNSKEY line. */
  anchorKey: string;
  /** overlay.test.'s KSK DS line, for nested-anchor tests. */
  overlayDs: string;
  /** The reverse zone's KSK DS line: its own anchor, as in-addr.arpa cannot chain to test. */
  reverseDs: string;
  zones: string[];
  nowSec: number;
  nsdConf: string;
}

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function soa(zone: string): string {
  return `$ORIGIN ${zone}.\n$TTL 300\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ NS ns.test.\n`;
}

function keygen(keys: string, zone: string, alg: string): { zsk: string; ksk: string } {
  return { zsk: run('ldns-keygen', ['-a', alg, `${zone}.`], keys), ksk: run('ldns-keygen', ['-a', alg, '-k', `${zone}.`], keys) };
}

function sign(dir: string, zone: string, src: string, k: { zsk: string; ksk: string }, win: [number, number], nowSec: number, nsec3?: Child['nsec3']): string {
  const out = path.join(dir, 'live', `${zone}.signed`);
  const args = ['-i', String(nowSec + win[0]), '-e', String(nowSec + win[1]), '-f', out];
  if (nsec3) args.push('-n', '-a', '1', '-t', String(nsec3.iterations), '-s', nsec3.salt, ...(nsec3.optOut ? ['-p'] : []));
  args.push(src, path.join(dir, 'keys', k.zsk), path.join(dir, 'keys', k.ksk));
  run('ldns-signzone', args, dir);
  return out;
}

/** Rewrites lines of a signed zone file: fn gets the whitespace-split fields, returns the new line or null to drop it. */
function edit(file: string, fn: (f: string[], line: string) => string | null): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: string[] = [];
  for (const l of lines) {
    const f = l.split(/\s+/);
    const r = l.trim() === '' || l.startsWith(';') ? l : fn(f, l);
    if (r !== null) out.push(r);
  }
  fs.writeFileSync(file, out.join('\n'));
}

/** Breaks badsig.test on purpose: corrupted signatures (a A, site KX, _500.b IPSECA), a stripped RRSIG, a wrong RRSIG key tag, a forged NSEC. */
function breakBadsig(file: string): void {
  edit(file, (f, l) => {
    const [owner, , , type, covered] = f;
    if (type !== 'RRSIG' && type !== 'NSEC') return l;
    const corrupt = (owner === 'a.badsig.test.' && covered === 'A') || (owner === 'site.badsig.test.' && covered === 'KX') ||
      (owner === '_500.b.badsig.test.' && (covered === 'TYPE65347' || covered === 'IPSECA'));
    if (corrupt) {
      const sig = f[f.length - 1]!;
      const c = sig[10] === 'A' ? 'B' : 'A';
      f[f.length - 1] = sig.slice(0, 10) + c + sig.slice(11);
      return f.join('\t');
    }
    if (owner === 'bare.badsig.test.' && covered === 'A') return null;
    if (owner === 'tag.badsig.test.' && covered === 'A') {
      f[10] = String((Number(f[10]) + 1) & 0xffff);
      return f.join('\t');
    }
    // b's NSEC claims b has no A record; the RRSIG over the real NSEC is kept.
    if (owner === 'b.badsig.test.' && type === 'NSEC') return f.filter((x, i) => !(i >= 5 && x === 'A')).join('\t');
    return l;
  });
}

export function buildZones(dir: string, nowSec: number): ZoneLab {
  for (const d of ['keys', 'src', 'live', 'run']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const keys = path.join(dir, 'keys');
  const src = (zone: string) => path.join(dir, 'src', `${zone}.zone`);
  let parent = soa('test') + `ns A ${SERVER_ADDR}\n`;
  let overlayDs = '';
  const zones = ['test'];
  for (const c of CHILDREN) {
    const zone = `${c.name}.test`;
    zones.push(zone);
    parent += `${c.name} NS ns.test.\n`;
    fs.writeFileSync(src(zone), soa(zone) + c.body);
    if (!c.alg) {
      fs.copyFileSync(src(zone), path.join(dir, 'live', `${zone}.signed`));
      continue;
    }
    const k = keygen(keys, zone, c.alg);
    const signed = sign(dir, zone, src(zone), k, c.window ?? [-3600, 30 * DAY], nowSec, c.nsec3);
    if (c.name === 'badsig') breakBadsig(signed);
    if (c.noDs) continue;
    let ds = run('ldns-key2ds', ['-n', ...(c.alg === 'ECDSAP384SHA384' ? [] : ['-2']), path.join(keys, `${k.ksk}.key`)], dir);
    if (c.name === 'wrongtag') ds = ds.replace(/(\tDS\t)(\d+)/, (_, p, t) => `${p}${(Number(t) + 1) & 0xffff}`);
    if (c.name === 'overlay') overlayDs = ds;
    parent += ds + '\n';
  }
  for (const u of UNSIGNED) {
    zones.push(u.zone);
    fs.writeFileSync(path.join(dir, 'live', `${u.zone}.signed`), soa(u.zone) + u.body);
  }
  fs.writeFileSync(src('test'), parent);
  const tk = keygen(keys, 'test', 'ECDSAP256SHA256');
  const testSigned = sign(dir, 'test', src('test'), tk, [-3600, 30 * DAY], nowSec);
  // nodsbad.test: delegated without DS, and the NSEC that would prove it removed.
  edit(testSigned, (f, l) => (f[0] === 'nodsbad.test.' && (f[3] === 'NSEC' || (f[3] === 'RRSIG' && f[4] === 'NSEC')) ? null : l));
  const anchorDs = run('ldns-key2ds', ['-n', '-2', path.join(keys, `${tk.ksk}.key`)], dir);
  zones.push(REVERSE_ZONE);
  fs.writeFileSync(src(REVERSE_ZONE), soa(REVERSE_ZONE) + REVERSE_BODY);
  const rk = keygen(keys, REVERSE_ZONE, 'ECDSAP256SHA256');
  sign(dir, REVERSE_ZONE, src(REVERSE_ZONE), rk, [-3600, 30 * DAY], nowSec);
  const reverseDs = run('ldns-key2ds', ['-n', '-2', path.join(keys, `${rk.ksk}.key`)], dir);
  const anchorKey = fs.readFileSync(path.join(keys, `${tk.ksk}.key`), 'utf8').split('\n').find((l) => /\tDNSKEY\t/.test(l))!.trim();
  const nsdConf = path.join(dir, 'nsd.conf');
  fs.writeFileSync(nsdConf, [
    'server:', `  ip-address: ${SERVER_ADDR}`, '  username: ""', '  chroot: ""', '  database: ""', `  zonesdir: "${dir}/live"`,
    `  pidfile: "${dir}/run/nsd.pid"`, `  zonelistfile: "${dir}/run/zone.list"`, `  xfrdfile: "${dir}/run/xfrd.state"`, `  xfrdir: "${dir}/run"`,
    '  server-count: 1', '  verbosity: 1',
    ...zones.flatMap((z) => ['zone:', `  name: "${z}."`, `  zonefile: "${z}.signed"`]), '',
  ].join('\n'));
  return { dir, anchorDs, anchorKey, overlayDs, reverseDs, zones, nowSec, nsdConf };
}
