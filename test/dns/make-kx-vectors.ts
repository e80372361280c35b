// Regenerates test/dns/kx-vectors.json (run as root from the repository root):
//   npm run build && node dist/test/dns/make-kx-vectors.js
// As make-vectors.ts, for the KX, IPSECA and PTR questions of lab/kx-queries.ts: the zones of
// lab/zones.ts signed by ldns-signzone and served by NSD in a namespace, our resolver asking
// over real UDP/TCP with test.'s and the reverse zone's DS as anchors, every reply's bytes kept.
// A file of its own, so vectors.json (the validator's) does not change with the KX zones.

import fs from 'node:fs';
import path from 'node:path';
import { startDnsLab } from './lab/nsd.js';
import type { Exchange, ProbeVerdict } from './lab/probe.js';
import { KX_QUERIES, kxAnchors } from './lab/kx-queries.js';
import { SERVER_ADDR } from './lab/zones.js';
import { runProbe } from './make-vectors.js';

export interface KxVectors {
  capturedAtMs: number;
  anchorDs: string;
  reverseDs: string;
  exchanges: Exchange[];
  verdicts: ProbeVerdict[];
}

export const KX_VECTORS_FILE = 'test/dns/kx-vectors.json';

async function main(): Promise<void> {
  const now = Date.now();
  const lab = await startDnsLab(`iitkv${process.pid % 10000}`, Math.floor(now / 1000));
  try {
    const anchors = kxAnchors(lab.lab);
    const out = runProbe(lab.cliNs, { server: SERVER_ADDR, anchors, queries: KX_QUERIES.map((q) => ({ name: q.name, type: q.type })), record: true, nowMs: now });
    const v: KxVectors = { capturedAtMs: now, anchorDs: lab.lab.anchorDs, reverseDs: lab.lab.reverseDs, exchanges: out.exchanges, verdicts: out.verdicts };
    const file = path.resolve(KX_VECTORS_FILE);
    fs.writeFileSync(file, JSON.stringify(v, null, 1) + '\n');
    for (const x of out.verdicts) console.log(`${x.name} ${x.type}: ${x.verdict} ${x.status} ${x.code ?? ''} ${x.reason} ${x.rrset.length}`);
    console.log(`${out.exchanges.length} exchanges written to ${file}; counters ${JSON.stringify(out.counters)}`);
  } finally {
    await lab.stop();
  }
}

if (process.argv[1]?.endsWith('make-kx-vectors.js')) void main();
