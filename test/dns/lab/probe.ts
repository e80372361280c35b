// Runs our validating resolver over the real UDP/TCP transport against a server, for a list
// of queries, and prints JSON: each verdict, and (with "record") every exchange's bytes.
// Started inside a namespace: `ip netns exec NS node dist/test/dns/lab/probe.js < request.json`.

import fs from 'node:fs';
import { parseTrustAnchors } from '../../../src/dns/anchors.js';
import { realClock } from '../../../src/clock.js';
import { pinnedClock } from '../../helpers/pinned-clock.js';
import { DnssecResolver } from '../../../src/dns/resolver.js';
import { StubResolver } from '../../../src/dns/stub.js';
import { nodeTransport, type DnsTransport } from '../../../src/dns/transport.js';
import { Message } from '../../../src/wire/dns/message.js';
import { nameToString } from '../../../src/wire/dns/name.js';
import { rrToString } from '../../../src/wire/dns/present.js';
import { encodeRdata } from '../../../src/wire/dns/rdata.js';
import { typeFromString } from '../../../src/wire/dns/types.js';
import { runKxDecisions, type KxDecisionSpec } from './kx-decisions.js';

export interface ProbeRequest {
  server: string;
  anchors: string;
  queries: { name: string; type: string }[];
  record?: boolean;
  /** Pin the clock (ms); default the system clock. */
  nowMs?: number;
  /** Also run these KX and IPSECA decisions over the same resolver. */
  kx?: KxDecisionSpec;
}

export interface ProbeVerdict {
  name: string;
  type: string;
  verdict: string;
  code: number | null;
  reason: string;
  status: string;
  rrset: string[];
  /** Each answer record's RDATA in hex, to compare with what other tools print. */
  rdata: string[];
}

export interface Exchange {
  qname: string;
  qtype: number;
  proto: 'udp' | 'tcp';
  response: string;
}

function recording(base: DnsTransport, out: Exchange[]): DnsTransport {
  const key = (q: Buffer) => {
    const m = Message.decode(q);
    return m.ok ? { qname: nameToString(m.message.questions[0]!.name).toLowerCase(), qtype: m.message.questions[0]!.type } : { qname: '?', qtype: 0 };
  };
  return {
    udp: (server, query, onDatagram, onError) =>
      base.udp(server, query, (b, from) => {
        out.push({ ...key(query), proto: 'udp', response: b.toString('hex') });
        onDatagram(b, from);
      }, onError),
    tcp: async (server, query, signal) => {
      const r = await base.tcp(server, query, signal);
      if (!(r instanceof Error)) out.push({ ...key(query), proto: 'tcp', response: r.toString('hex') });
      return r;
    },
  };
}

async function main(): Promise<void> {
  const req = JSON.parse(fs.readFileSync(0, 'utf8')) as ProbeRequest;
  const exchanges: Exchange[] = [];
  const clock = req.nowMs ? pinnedClock(req.nowMs) : realClock;
  const transport = req.record ? recording(nodeTransport, exchanges) : nodeTransport;
  const stub = new StubResolver({ servers: [{ address: req.server, port: 53 }], transport, clock, timeoutMs: 1000 });
  const resolver = new DnssecResolver({ fetcher: stub, clock, anchors: parseTrustAnchors(req.anchors) });
  const verdicts: ProbeVerdict[] = [];
  for (const q of req.queries) {
    const r = await resolver.lookup(q.name, typeFromString(q.type)!);
    verdicts.push({
      name: q.name, type: q.type, verdict: r.verdict, code: r.reason?.code ?? null, reason: r.reason ? `${r.reason.text}: ${r.reason.detail}` : '',
      status: r.status, rrset: r.rrset.map(rrToString), rdata: r.rrset.map((rr) => encodeRdata(rr.data).toString('hex')),
    });
  }
  const kx = req.kx ? await runKxDecisions((n, t) => resolver.lookup(n, t), clock, req.kx) : undefined;
  process.stdout.write(JSON.stringify({ verdicts, exchanges, counters: stub.counters, kx }) + '\n');
}

if (process.argv[1]?.endsWith('probe.js')) void main();
