// For lab-dns.test.ts: ask the independent validators (delv, unbound-host) from inside a lab
// node's namespace, anchored with that node's own trust anchor file, and read their verdicts.

import fs from 'node:fs';
import path from 'node:path';
import { nsExec } from '../../src/lab/netns.js';
import { delvAnchor, unboundConf } from '../../src/lab/dns-zone.js';
import { NODE_ANCHOR_FILE } from '../../src/lab/dns-model.js';
import type { LabState } from '../../src/lab/state.js';

export type Verdict = 'secure' | 'insecure' | 'bogus' | '?';

/** unbound-host -v tags every answer: (secure), (insecure) or (BOGUS (security failure)); dns.md pitfall 4. */
export function unboundVerdict(out: string): Verdict {
  if (/\(BOGUS/.test(out) || /validation failure/.test(out)) return 'bogus';
  if (/\(insecure\)/.test(out)) return 'insecure';
  if (/\(secure\)/.test(out)) return 'secure';
  return '?';
}

/** delv's verdict is its "; " line (";;" lines are diagnostics, pitfall 5); none after a failed resolution is bogus. */
export function delvVerdict(out: string): Verdict {
  const m = /^; (negative response, )?(fully validated|unsigned answer)/m.exec(out);
  if (m === null) return /^;; resolution failed/m.test(out) ? 'bogus' : '?';
  return m[2] === 'unsigned answer' ? 'insecure' : 'secure';
}

export interface Checked {
  delv: Verdict;
  unbound: Verdict;
  /** The address delv returned (validated or not), or null. */
  address: string | null;
  delvText: string;
  unboundText: string;
}

/**
 * Both validators, from `node`'s namespace, anchored only with the file in that node's
 * keys/ (the one its daemon reads): delv gets it rewritten as a trust-anchors clause,
 * unbound-host reads it as is.
 */
export async function validate(s: LabState, node: string, host: string): Promise<Checked> {
  const dns = s.model.dns!;
  const ns = s.model.nodes.find((n) => n.name === node)!.ns;
  const anchorFile = path.join(s.nodes[node]!.dir, NODE_ANCHOR_FILE);
  const dir = path.join(s.dir, `validators-${node}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'delv.conf'), delvAnchor(fs.readFileSync(anchorFile, 'utf8')));
  fs.writeFileSync(path.join(dir, 'unbound.conf'), unboundConf(dns));
  const d = await nsExec(ns, ['delv', '-a', path.join(dir, 'delv.conf'), `+root=${dns.parent}.`, `@${dns.address}`, host, 'A'], { allowFail: true, timeoutMs: 20000 });
  const u = await nsExec(ns, ['unbound-host', '-v', '-f', anchorFile, '-C', path.join(dir, 'unbound.conf'), '-t', 'A', host], { allowFail: true, timeoutMs: 20000 });
  const delvText = d.stdout + d.stderr;
  const addr = new RegExp(`^${host.replace(/\./g, '\\.')}\\.\\s+\\d+\\s+IN\\s+A\\s+(\\S+)`, 'm').exec(delvText);
  return { delv: delvVerdict(delvText), unbound: unboundVerdict(u.stdout + u.stderr), address: addr?.[1] ?? null, delvText, unboundText: u.stdout + u.stderr };
}
