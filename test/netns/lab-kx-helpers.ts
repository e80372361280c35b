// For lab-kx.test.ts: a site lab's nodes seen through the real CLI (`lab show NODE ike --json`),
// the independent validators (delv, unbound-host) asked from a node's namespace with that node's
// own anchor file, daemon restarts that start from empty DNS caches and fresh IKE SAs (done in
// this process on one state object: concurrent `lab restart` commands would race on state.json),
// and an underlay capture per case that must hold no VN cleartext.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { capture } from './helpers.js';
import { readPcap, type CapturedIp } from './pcap.js';
import { PATTERN, cli, node, vnPing } from './lab-harness.js';
import { askDelv, askUnbound, type ExternalAnswer, type ToolFiles } from '../dns/lab/external.js';
import { delvAnchor } from '../../src/lab/dns-zone.js';
import { NODE_ANCHOR_FILE } from '../../src/lab/dns-model.js';
import { startNodeDaemon, stopNodeDaemon } from '../../src/lab/node-restart.js';
import { readState, type LabState } from '../../src/lab/state.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class KxLab {
  constructor(readonly name: string) {}

  get s(): LabState {
    return readState(this.name)!;
  }

  addr(n: string): string {
    return node(this.s, n).underlayAddr;
  }

  async json(args: string[]): Promise<Obj> {
    const r = await cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout) as Obj;
  }

  /** `lab dns NAME ...` with --json. */
  dns(...args: string[]): Promise<Obj> {
    return this.json(['lab', 'dns', this.name, ...args, '--json']);
  }

  /** The IKE peer of `vlink` on `n` (show ike --json peers[]). */
  async peer(n: string, vlink: string): Promise<Obj> {
    const ike = await this.json(['lab', 'show', n, 'ike', '--json', '--lab', this.name]);
    const p = (ike.peers as Obj[]).find((x) => x.vlink === vlink);
    assert.ok(p, `${n} has no IKE peer ${vlink}: ${JSON.stringify(ike.peers.map((x: Obj) => x.vlink))}`);
    return p!;
  }

  /** The established SA of a peer, or null. */
  static established(p: Obj): Obj | null {
    return (p.sas as Obj[]).find((x) => x.state === 'ESTABLISHED') ?? null;
  }

  static exchanger(p: Obj, name: string): Obj {
    const e = (p.kx?.exchangers as Obj[] | undefined)?.find((x) => x.name === `${name}.`);
    assert.ok(e, `no exchanger ${name} in ${JSON.stringify(p.kx)}`);
    return e!;
  }

  /** Both validators from `from`'s namespace, anchored with its own keys/trust-anchor.ds. */
  async validate(from: string, name: string, type: string): Promise<{ delv: ExternalAnswer; unbound: ExternalAnswer }> {
    const s = this.s;
    const anchors = path.join(s.nodes[from]!.dir, NODE_ANCHOR_FILE);
    const dir = path.join(s.dir, `validators-${from}`);
    fs.mkdirSync(dir, { recursive: true });
    const f: ToolFiles = { anchors, unboundConf: path.join(s.dns!.dir, 'unbound.conf'), delvConf: path.join(dir, 'delv.conf') };
    fs.writeFileSync(f.delvConf, delvAnchor(fs.readFileSync(anchors, 'utf8')));
    const ns = node(s, from).ns;
    const [delv, unbound] = await Promise.all([askDelv(ns, f, s.model.dns!.address, `${s.model.dns!.parent}.`, name, type), askUnbound(ns, f, name, type)]);
    return { delv, unbound };
  }

  /** Asserts both validators' verdict; returns unbound-host's answer. */
  async expectVerdict(from: string, name: string, type: string, verdict: string): Promise<ExternalAnswer> {
    const v = await this.validate(from, name, type);
    assert.deepEqual([v.delv.verdict, v.unbound.verdict], [verdict, verdict], `${name} ${type} from ${from}:\n${v.delv.raw}\n${v.unbound.raw}`);
    return v.unbound;
  }

  /**
   * Restarts the daemons of `nodes` (empty DNS caches, no SAs), with an underlay capture
   * running from after they stopped (so their Deletes are not in it) until `stop()`.
   */
  async restartCaptured(nodes: string[], tag: string): Promise<{ stop: () => Promise<CapturedIp[]>; startedMs: number }> {
    const s = this.s;
    await Promise.all(nodes.map((n) => stopNodeDaemon(s, n)));
    const file = path.join(s.dir, `${tag}.pcap`);
    const cap = await capture(`${s.model.nsPrefix}lan`, 'br0', file);
    const t0 = Date.now();
    await Promise.all(nodes.map((n) => startNodeDaemon(s, n)));
    const startedMs = Date.now() - t0;
    return {
      startedMs,
      stop: async () => {
        await cap.stop();
        assert.ok(!fs.readFileSync(file).toString('hex').includes(PATTERN), `${tag}: VN cleartext on the underlay (${file})`);
        return readPcap(file);
      },
    };
  }

  /** VN pings carrying PATTERN between each pair (answered or not): what a leak would show. */
  async probe(pairs: [string, string][]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [a, b] of pairs) out[`${a}->${b}`] = await vnPing(this.s, a, b, 2);
    return out;
  }
}

/** IKE (UDP to 500, or to 4500 with the non-ESP marker) from one address to another. */
export function ikeFrom(pkts: CapturedIp[], src: string, dst: string): number {
  return pkts.filter((p) => p.src === src && p.dst === dst && p.proto === 17 && (p.dport === 500 || (p.dport === 4500 && p.payload.length >= 4 && p.payload.readUInt32BE(0) === 0))).length;
}

/** The digest of an IPSECA 3 1 1 record: `3 1 1 HEX` (show ike), `\# 35 030101hex` (zone), or RDATA hex (validators). */
export function ipsecaDigest(record: string): string {
  const r = record.replace(/\s+/g, ' ').trim();
  const m = /^3 1 1 ([0-9A-Fa-f]{64})$/.exec(r) ?? /^(?:\\# 35 )?030101([0-9A-Fa-f]{64})$/.exec(r);
  assert.ok(m, `not an IPSECA 3 1 1 record: ${record}`);
  return m![1]!.toLowerCase();
}
