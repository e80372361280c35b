// Regenerates test/dns/vectors.json (run as root from the repository root):
//   npm run build && node dist/test/dns/make-vectors.js
// Builds the zones of lab/zones.ts with ldns, serves them with NSD in a namespace, runs our
// resolver there over real UDP/TCP for every query in lab/queries.ts, and stores every reply's
// bytes with the capture time, so the unit tests replay real signed bytes with a clock pinned
// inside the signatures' validity window.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startDnsLab } from './lab/nsd.js';
import type { Exchange, ProbeRequest, ProbeVerdict } from './lab/probe.js';
import type { KxDecisions } from './lab/kx-decisions.js';
import { LAB_QUERIES } from './lab/queries.js';
import { SERVER_ADDR } from './lab/zones.js';

export interface Vectors {
  capturedAtMs: number;
  anchorDs: string;
  anchorKey: string;
  overlayDs: string;
  exchanges: Exchange[];
  verdicts: ProbeVerdict[];
}

export function runProbe(ns: string, req: ProbeRequest): { verdicts: ProbeVerdict[]; exchanges: Exchange[]; counters: Record<string, number>; kx?: KxDecisions } {
  const probe = path.resolve(path.dirname(new URL(import.meta.url).pathname), 'lab', 'probe.js');
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, probe], { input: JSON.stringify(req), encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function main(): Promise<void> {
  const now = Date.now();
  const lab = await startDnsLab(`iitdv${process.pid % 10000}`, Math.floor(now / 1000));
  try {
    const req: ProbeRequest = { server: SERVER_ADDR, anchors: lab.lab.anchorDs, queries: LAB_QUERIES.map((q) => ({ name: q.name, type: q.type })), record: true, nowMs: now };
    const out = runProbe(lab.cliNs, req);
    const v: Vectors = { capturedAtMs: now, anchorDs: lab.lab.anchorDs, anchorKey: lab.lab.anchorKey, overlayDs: lab.lab.overlayDs, exchanges: out.exchanges, verdicts: out.verdicts };
    const file = path.resolve('test/dns/vectors.json');
    fs.writeFileSync(file, JSON.stringify(v, null, 1) + '\n');
    for (const x of out.verdicts) console.log(`${x.name} ${x.type}: ${x.verdict} ${x.status} ${x.code ?? ''} ${x.reason}`);
    console.log(`${out.exchanges.length} exchanges written to ${file}; counters ${JSON.stringify(out.counters)}`);
  } finally {
    await lab.stop();
  }
}

if (process.argv[1]?.endsWith('make-vectors.js')) void main();
