// Independent cross-check of KX and IPSECA (root): the lab zones of test/dns/lab/zones.ts, signed
// by ldns-signzone and served by NSD in a namespace, with good, wrong, certificate-only, unsigned
// and bogus KX/IPSECA records and a separately anchored reverse zone. From a client namespace our
// resolver (test/dns/lab/probe.ts, real UDP/TCP), unbound-host and delv ask every question of
// lab/kx-queries.ts with the same two anchors: verdict, status and records must agree. Then the
// KX and IPSECA decisions (lab/kx-decisions.ts) are made twice, once over our resolver inside the
// probe and once over unbound-host's answers, and must come out the same.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { realClock } from '../../src/clock.js';
import { netnsSkip, uniquePrefix } from './helpers.js';
import { startDnsLab, type DnsLab } from '../dns/lab/nsd.js';
import { askDelv, askUnbound, unboundLookup, type ToolFiles } from '../dns/lab/external.js';
import { KX_DECISIONS, runKxDecisions, summarise } from '../dns/lab/kx-decisions.js';
import { KX_QUERIES, kxAnchors } from '../dns/lab/kx-queries.js';
import { REVERSE_ZONE, SERVER_ADDR } from '../dns/lab/zones.js';
import { runProbe } from '../dns/make-vectors.js';

const PROGRAMS = ['ip', 'nsd', 'ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'unbound-host', 'delv'];
const skip = netnsSkip(PROGRAMS);
let lab: DnsLab | null = null;

after(async () => {
  await lab?.stop();
});

function toolFiles(l: DnsLab): ToolFiles {
  const dir = l.lab.dir;
  const f: ToolFiles = { anchors: path.join(dir, 'kx-anchors.ds'), unboundConf: path.join(dir, 'kx-unbound.conf'), delvConf: path.join(dir, 'kx-delv.conf') };
  fs.writeFileSync(f.anchors, kxAnchors(l.lab));
  // unbound's built-in empty zones for test. and 10.in-addr.arpa. would answer before the stubs.
  fs.writeFileSync(f.unboundConf, ['server:', '  local-zone: "test." nodefault', '  local-zone: "10.in-addr.arpa." nodefault',
    'stub-zone:', '  name: "test."', `  stub-addr: ${SERVER_ADDR}`, 'stub-zone:', `  name: "${REVERSE_ZONE}."`, `  stub-addr: ${SERVER_ADDR}`, ''].join('\n'));
  const ds = (line: string) => {
    const [owner, , , , tag, alg, dt, digest] = line.split(/\s+/);
    return `  ${owner} static-ds ${tag} ${alg} ${dt} "${digest}";`;
  };
  fs.writeFileSync(f.delvConf, `trust-anchors {\n${ds(l.lab.anchorDs)}\n${ds(l.lab.reverseDs)}\n};\n`);
  return f;
}

test('KX, IPSECA and PTR records and verdicts: ours equal unbound-host\'s and delv\'s, and so do the decisions made from them', { skip, timeout: 240_000 }, async () => {
  const t0 = Date.now();
  lab = await startDnsLab(uniquePrefix('kx'), Math.floor(Date.now() / 1000));
  const built = Date.now() - t0;
  const files = toolFiles(lab);
  const t1 = Date.now();
  const ours = runProbe(lab.cliNs, { server: SERVER_ADDR, anchors: kxAnchors(lab.lab), queries: KX_QUERIES.map((q) => ({ name: q.name, type: q.type })), kx: KX_DECISIONS });
  const oursMs = Date.now() - t1;
  const rows: string[] = [];
  const mismatches: string[] = [];
  for (const [i, q] of KX_QUERIES.entries()) {
    const o = ours.verdicts[i]!;
    assert.equal(o.verdict, q.verdict, `${q.name} ${q.type} (${q.what}): ours ${o.verdict}: ${o.reason}`);
    assert.equal(o.status, q.status, `${q.name} ${q.type}: ours ${o.status}`);
    const u = await askUnbound(lab.cliNs, files, q.name, q.type);
    const root = q.name.endsWith(REVERSE_ZONE) ? `${REVERSE_ZONE}.` : 'test.';
    const d = await askDelv(lab.cliNs, files, SERVER_ADDR, root, q.name, q.type);
    const ourRdata = [...o.rdata].sort();
    rows.push(`| ${q.name} ${q.type} | ${q.what} | ${o.verdict} ${o.status} ${o.rdata.length} | ${u.verdict} ${u.status} ${u.rdata.length} | ${d.verdict} ${d.status} ${d.rdata.length} |`);
    if (u.verdict !== o.verdict || u.status !== o.status) mismatches.push(`${q.name} ${q.type}: ours ${o.verdict} ${o.status}, unbound-host ${u.verdict} ${u.status}\n${u.raw}`);
    if (d.verdict !== o.verdict || (d.verdict !== 'bogus' && d.status !== o.status)) mismatches.push(`${q.name} ${q.type}: ours ${o.verdict} ${o.status}, delv ${d.verdict} ${d.status}\n${d.raw}`);
    // unbound-host prints the data of bogus answers too; delv does not.
    if (JSON.stringify(u.rdata) !== JSON.stringify(ourRdata)) mismatches.push(`${q.name} ${q.type}: records differ: ours ${ourRdata.join(' ')}, unbound-host ${u.rdata.join(' ')}`);
    if (d.verdict !== 'bogus' && JSON.stringify(d.rdata) !== JSON.stringify(ourRdata)) mismatches.push(`${q.name} ${q.type}: records differ: ours ${ourRdata.join(' ')}, delv ${d.rdata.join(' ')}`);
    if (q.count !== undefined) assert.equal(o.rdata.length, q.count, `${q.name} ${q.type} records`);
  }
  // The same decisions over unbound-host's answers.
  const t2 = Date.now();
  const lookup = unboundLookup(lab.cliNs, files);
  const theirs = summarise(await runKxDecisions(lookup, realClock, KX_DECISIONS));
  const theirsMs = Date.now() - t2;
  assert.ok(ours.kx, 'the probe made the decisions');
  const mine = summarise(ours.kx);
  console.log(`lab built and NSD serving in ${built} ms; our probe (${KX_QUERIES.length} questions + decisions) ${oursMs} ms; ` +
    `decisions over unbound-host (${lookup.asked} runs) ${theirsMs} ms\n| query | case | ours | unbound-host | delv |\n|---|---|---|---|---|\n` +
    `${rows.join('\n')}\n${mine.join('\n')}`);
  assert.deepEqual(mismatches, []);
  assert.deepEqual(theirs, mine);
  // The decisions are the ones the unit tests expect from the captured replies (kx.test.ts, ipseca-lab.test.ts).
  for (const want of [
    /^IPSECA _500\.a\.overlay\.test\. secure use match 3 1 1 [0-9A-F]{64} 1 0 1:false,3 1 1:true$/,
    /^IPSECA _500\.wrong\.overlay\.test\. secure auth-failed no-match /,
    /^IPSECA _500\.a\.plain\.test\. insecure unusable insecure /,
    /^IPSECA _500\.b\.badsig\.test\. bogus abort bogus /,
    /^IPSECA _500\.certonly\.overlay\.test\. secure unusable no-usable-record /,
    /^IPSECA _500\.1\.1\.200\.10\.in-addr\.arpa\. secure use match 3 1 1 /,
    /^KX site-a\.overlay\.test\. secure ok=true 10:a\.overlay\.test\.:secure:10\.200\.1\.1 20:a2\.overlay\.test\.:secure:10\.200\.1\.12 30:a\.plain\.test\.:insecure:-$/,
    /^KX site\.badsig\.test\. bogus ok=false $/,
    /^proof site-a\.overlay\.test fqdn proven=true bogus=false site-a\.overlay\.test\. 10:a\.overlay\.test\.$/,
    /^proof site-a\.overlay\.test fqdn proven=false bogus=false site-a\.overlay\.test\. -$/,
    /^proof 10\.200\.1\.1 ptr proven=true /,
    /^proof site\.badsig\.test fqdn proven=false bogus=true /,
  ]) assert.ok(mine.some((l) => want.test(l)), `no decision matches ${want}:\n${mine.join('\n')}`);
});
