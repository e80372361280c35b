// Replays the KX/IPSECA/PTR replies captured in kx-vectors.json (make-kx-vectors.ts) through
// our resolver, with the clock pinned at the capture time and both lab anchors (test. and the
// reverse zone), so the KX and IPSECA logic runs on real ldns-signed bytes.

import fs from 'node:fs';
import path from 'node:path';
import { parseTrustAnchors } from '../../src/dns/anchors.js';
import type { DnsLookup } from '../../src/dns/kx.js';
import { DnssecResolver } from '../../src/dns/resolver.js';
import { StubResolver } from '../../src/dns/stub.js';
import { pinnedClock, type PinnedClock } from '../helpers/pinned-clock.js';
import { kxAnchors } from './lab/kx-queries.js';
import type { KxVectors } from './make-kx-vectors.js';
import { SERVER, replayTransport } from './replay.js';

export const kxVectors = JSON.parse(fs.readFileSync(path.resolve('test/dns/kx-vectors.json'), 'utf8')) as KxVectors;

export interface KxReplay {
  clock: PinnedClock;
  resolver: DnssecResolver;
  lookup: DnsLookup;
  /** Every (name, type) asked of the lookup, in order. */
  asked: string[];
}

export function kxReplay(o: { anchors?: string; edit?: (key: string, reply: Buffer) => Buffer | null } = {}): KxReplay {
  const clock = pinnedClock(kxVectors.capturedAtMs);
  const transport = replayTransport(o.edit, kxVectors);
  const stub = new StubResolver({ servers: [SERVER], transport, clock, timeoutMs: 200, rounds: 1 });
  const resolver = new DnssecResolver({ fetcher: stub, clock, anchors: parseTrustAnchors(o.anchors ?? kxAnchors(kxVectors)) });
  const asked: string[] = [];
  const lookup: DnsLookup = (name, type) => {
    asked.push(`${name} ${type}`);
    return resolver.lookup(name, type);
  };
  return { clock, resolver, lookup, asked };
}
