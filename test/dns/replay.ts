// Replays the NSD replies captured in vectors.json: a fake transport answers each query with
// the captured reply for its name and type, with the ID rewritten to the query's. The clock
// is pinned at the capture time, inside every signature's validity window.

import fs from 'node:fs';
import path from 'node:path';
import { parseTrustAnchors, type TrustAnchor } from '../../src/dns/anchors.js';
import { pinnedClock } from '../helpers/pinned-clock.js';
import { DnssecResolver, type ResolverOptions } from '../../src/dns/resolver.js';
import { StubResolver } from '../../src/dns/stub.js';
import { FakeTransport } from '../../src/dns/transport-fake.js';
import { Message } from '../../src/wire/dns/message.js';
import { nameToString } from '../../src/wire/dns/name.js';
import type { Vectors } from './make-vectors.js';

export const vectors = JSON.parse(fs.readFileSync(path.resolve('test/dns/vectors.json'), 'utf8')) as Vectors;

export const SERVER = { address: '192.0.2.53', port: 53 };

/** Replies by "qname qtype"; from vectors.json unless another capture (kx-vectors.json) is given. */
export function replyMap(v: Pick<Vectors, 'exchanges'> = vectors): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const e of v.exchanges) m.set(`${e.qname} ${e.qtype}`, Buffer.from(e.response, 'hex'));
  return m;
}

/** A transport that answers from the capture; `edit` may alter or drop (null) a reply. */
export function replayTransport(edit?: (key: string, reply: Buffer) => Buffer | null, v: Pick<Vectors, 'exchanges'> = vectors): FakeTransport {
  const replies = replyMap(v);
  return new FakeTransport((q) => {
    const d = Message.decode(q);
    if (!d.ok) return null;
    const qq = d.message.questions[0]!;
    const key = `${nameToString(qq.name).toLowerCase()} ${qq.type}`;
    const r = replies.get(key);
    if (!r) return null;
    const out = Buffer.from(r);
    out.writeUInt16BE(d.message.id, 0);
    const e = edit ? edit(key, out) : out;
    return e ? [e] : null;
  });
}

export function replayResolver(o: { anchors?: TrustAnchor[]; nowMs?: number; transport?: FakeTransport; extra?: Partial<ResolverOptions>; stubTimeoutMs?: number } = {}) {
  const clock = pinnedClock(o.nowMs ?? vectors.capturedAtMs);
  const transport = o.transport ?? replayTransport();
  const stub = new StubResolver({ servers: [SERVER], transport, clock, timeoutMs: o.stubTimeoutMs ?? 200, rounds: 1 });
  const resolver = new DnssecResolver({ fetcher: stub, clock, anchors: o.anchors ?? parseTrustAnchors(vectors.anchorDs), ...o.extra });
  return { clock, transport, stub, resolver };
}
