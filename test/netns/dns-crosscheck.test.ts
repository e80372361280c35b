// Independent cross-check of the DNSSEC validator (root): the zones of test/dns/lab/zones.ts,
// broken variants included, built live with ldns-signzone and served by NSD in a namespace.
// From a client namespace our resolver (test/dns/lab/probe.ts, real UDP/TCP), unbound-host
// and delv ask the same questions with the same trust anchor (test.'s DS); for every query our
// verdict must equal unbound-host's and delv's (one documented BIND difference, lab/queries.ts).
// Prints the verdict table.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { nsExec } from '../../src/lab/netns.js';
import { netnsSkip, uniquePrefix } from './helpers.js';
import { startDnsLab, type DnsLab } from '../dns/lab/nsd.js';
import { LAB_QUERIES } from '../dns/lab/queries.js';
import { SERVER_ADDR } from '../dns/lab/zones.js';
import { runProbe } from '../dns/make-vectors.js';

const PROGRAMS = ['ip', 'nsd', 'ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'unbound-host', 'delv'];
const skip = netnsSkip(PROGRAMS);
let lab: DnsLab | null = null;

after(async () => {
  await lab?.stop();
});

type V = 'secure' | 'insecure' | 'bogus' | 'indeterminate' | '?';

/** unbound-host -v tags every answer line: (secure), (insecure) or (BOGUS (security failure)). */
export function unboundVerdict(out: string): V {
  if (/\(BOGUS/.test(out) || /validation failure/.test(out)) return 'bogus';
  if (/\(insecure\)/.test(out)) return 'insecure';
  if (/\(secure\)/.test(out)) return 'secure';
  return '?';
}

/**
 * delv's own verdict lines start with "; " (the ";;" lines are diagnostics, dns.md pitfall 5;
 * a negative answer also prints ";; resolution failed: ncache nxdomain"). A CNAME chain gets a
 * line per step: the weakest wins. No verdict line at all after a failed resolution is bogus.
 */
export function delvVerdict(out: string): V {
  const lines = [...out.matchAll(/^; (negative response, )?(fully validated|unsigned answer)/gm)];
  if (lines.length === 0) return /^;; resolution failed/m.test(out) ? 'bogus' : '?';
  return lines.some((m) => m[2] === 'unsigned answer') ? 'insecure' : 'secure';
}

test('our verdicts equal unbound-host and delv on the live lab zones', { skip, timeout: 180_000 }, async () => {
  const t0 = Date.now();
  lab = await startDnsLab(uniquePrefix('dx'), Math.floor(Date.now() / 1000));
  const built = Date.now() - t0;
  const dir = lab.lab.dir;
  const [owner, , , , tag, alg, dt, digest] = lab.lab.anchorDs.split(/\s+/);
  fs.writeFileSync(path.join(dir, 'anchor.ds'), lab.lab.anchorDs + '\n');
  fs.writeFileSync(path.join(dir, 'delv.conf'), `trust-anchors {\n  ${owner} static-ds ${tag} ${alg} ${dt} "${digest}";\n};\n`);
  fs.writeFileSync(path.join(dir, 'unbound.conf'), `server:\n  local-zone: "test." nodefault\nstub-zone:\n  name: "test."\n  stub-addr: ${SERVER_ADDR}\n`);

  const cross = LAB_QUERIES;
  const ours = runProbe(lab.cliNs, { server: SERVER_ADDR, anchors: lab.lab.anchorDs, queries: cross.map((q) => ({ name: q.name, type: q.type })) });
  const rows: string[] = [];
  const mismatches: string[] = [];
  for (const [i, q] of cross.entries()) {
    const u = await nsExec(lab.cliNs, ['unbound-host', '-v', '-f', path.join(dir, 'anchor.ds'), '-C', path.join(dir, 'unbound.conf'), '-t', q.type, q.name], { allowFail: true, timeoutMs: 20000 });
    const d = await nsExec(lab.cliNs, ['delv', '-a', path.join(dir, 'delv.conf'), '+root=test.', `@${SERVER_ADDR}`, q.name, q.type], { allowFail: true, timeoutMs: 20000 });
    const uv = unboundVerdict(u.stdout + u.stderr);
    const dv = delvVerdict(d.stdout + d.stderr);
    const o = ours.verdicts[i]!;
    const compared = q.cross !== false;
    rows.push(`| ${q.name} ${q.type} | ${q.what} | ${o.verdict}${o.code !== null ? ` (${o.code} ${o.reason.split(':')[0]})` : ''} | ${uv} | ${dv}${q.delv ? ' (BIND differs)' : ''} |${compared ? '' : ' not compared'}`);
    if (compared && o.verdict !== uv) mismatches.push(`${q.name} ${q.type}: ours ${o.verdict}, unbound-host ${uv}\n${u.stdout}${u.stderr}`);
    if (compared && (q.delv ?? o.verdict) !== dv) mismatches.push(`${q.name} ${q.type}: ours ${o.verdict}, delv ${dv} (expected ${q.delv ?? o.verdict})\n${d.stdout}${d.stderr}`);
    assert.equal(o.verdict, q.verdict, `${q.name} ${q.type}: ours live differs from the expected verdict: ${o.reason}`);
  }
  console.log(`# lab built and NSD serving in ${built} ms\n# | query | case | ours | unbound-host | delv |\n# |---|---|---|---|---|\n${rows.map((r) => `# ${r}`).join('\n')}`);
  assert.deepEqual(mismatches, []);
});
