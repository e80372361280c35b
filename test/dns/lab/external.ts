// unbound-host and delv as the node's resolver would be asked: one question, one answer, parsed
// into a verdict, a status and records. unboundLookup() is a DnsLookup over unbound-host, so the
// KX/IPSECA code can run over an independent validator's answers (kx-decisions.ts).

import { nsExec } from '../../../src/lab/netns.js';
import type { DnsLookup } from '../../../src/dns/kx.js';
import type { LookupResult } from '../../../src/dns/resolver.js';
import { reason } from '../../../src/dns/verdict.js';
import { parseRR } from '../../../src/wire/dns/parse-text.js';
import { encodeRdata } from '../../../src/wire/dns/rdata.js';
import type { DnsRR } from '../../../src/wire/dns/rr.js';
import { typeFromString, typeToString } from '../../../src/wire/dns/types.js';

export type Verdict = 'secure' | 'insecure' | 'bogus' | '?';

export interface ExternalAnswer {
  verdict: Verdict;
  status: 'answer' | 'nodata' | 'nxdomain' | '?';
  rrs: DnsRR[];
  /** RDATA of each record in hex, sorted. */
  rdata: string[];
  raw: string;
}

/** The spelling external tools know: TYPE65347 for IPSECA. */
export function toolType(type: string): string {
  return typeFromString(type) === 65347 ? 'TYPE65347' : type;
}

const hexOf = (rrs: DnsRR[]) => rrs.map((r) => encodeRdata(r.data).toString('hex')).sort();

/**
 * unbound-host -v lines: "<name> has <T> record <rdata> (<tag>)", "has address", "domain name
 * pointer", "has no <T> record" (NODATA), "Host <name> not found: 3(NXDOMAIN)". The tag is
 * (secure), (insecure) or (BOGUS (security failure)), which also prints the data.
 */
export function parseUnboundHost(out: string, name: string, type: string): ExternalAnswer {
  const verdict: Verdict = /\(BOGUS/.test(out) || /validation failure/.test(out) ? 'bogus' : /\(insecure\)/.test(out) ? 'insecure' : /\(secure\)/.test(out) ? 'secure' : '?';
  const t = typeToString(typeFromString(type)!);
  const rrs: DnsRR[] = [];
  let status: ExternalAnswer['status'] = '?';
  for (const line of out.split('\n')) {
    const m = /^\S+ (?:has \S+ record (.*)|has address (\S+)|domain name pointer (\S+)) \((?:secure|insecure|BOGUS.*)\)$/.exec(line);
    if (m) {
      rrs.push(parseRR(`${name}. 300 IN ${t} ${m[1] ?? m[2] ?? m[3]}`));
      status = 'answer';
    } else if (/ has no \S+ record /.test(line)) status = 'nodata';
    else if (/not found: 3\(NXDOMAIN\)/.test(line)) status = 'nxdomain';
  }
  return { verdict, status, rrs, rdata: hexOf(rrs), raw: out };
}

/** delv: the "; fully validated" / "; unsigned answer" line, then the records in zone-file form. */
export function parseDelv(out: string, type: string): ExternalAnswer {
  const lines = [...out.matchAll(/^; (negative response, )?(fully validated|unsigned answer)/gm)];
  const verdict: Verdict = lines.length === 0 ? (/^;; resolution failed/m.test(out) ? 'bogus' : '?') : lines.some((m) => m[2] === 'unsigned answer') ? 'insecure' : 'secure';
  const want = typeFromString(type)!;
  const rrs = out.split('\n').filter((l) => l !== '' && !l.startsWith(';')).map((l) => parseRR(l)).filter((r) => r.type === want);
  const status = /ncache nxdomain/.test(out) ? 'nxdomain' : /ncache nxrrset/.test(out) ? 'nodata' : rrs.length > 0 ? 'answer' : '?';
  return { verdict, status, rrs, rdata: hexOf(rrs), raw: out };
}

export interface ToolFiles {
  /** DS lines of every anchor (unbound-host -f). */
  anchors: string;
  unboundConf: string;
  delvConf: string;
}

export async function askUnbound(ns: string, f: ToolFiles, name: string, type: string): Promise<ExternalAnswer> {
  const r = await nsExec(ns, ['unbound-host', '-v', '-f', f.anchors, '-C', f.unboundConf, '-t', toolType(type), name], { allowFail: true, timeoutMs: 20000 });
  return parseUnboundHost(r.stdout + r.stderr, name.replace(/\.$/, ''), type);
}

export async function askDelv(ns: string, f: ToolFiles, server: string, root: string, name: string, type: string): Promise<ExternalAnswer> {
  const r = await nsExec(ns, ['delv', '-a', f.delvConf, `+root=${root}`, `@${server}`, name, toolType(type)], { allowFail: true, timeoutMs: 20000 });
  return parseDelv(r.stdout + r.stderr, type);
}

/** A DnsLookup answered by unbound-host, each question asked once. */
export function unboundLookup(ns: string, f: ToolFiles): DnsLookup & { asked: number } {
  const seen = new Map<string, Promise<LookupResult>>();
  const fn = ((name: string, type: number) => {
    const key = `${name.toLowerCase().replace(/\.$/, '')} ${type}`;
    let p = seen.get(key);
    if (!p) {
      fn.asked++;
      p = askUnbound(ns, f, name, typeToString(type)).then((a): LookupResult => ({
        name, type, verdict: a.verdict === '?' ? 'indeterminate' : a.verdict,
        reason: a.verdict === 'secure' ? null : reason(a.verdict === 'bogus' ? 'DNSSEC_BOGUS' : 'OTHER', `unbound-host: ${a.raw.trim()}`),
        status: a.status === '?' ? 'error' : a.status, rrset: a.rrs, cnames: [], ttl: 300, cached: false,
      }));
      seen.set(key, p);
    }
    return p;
  }) as DnsLookup & { asked: number };
  fn.asked = 0;
  return fn;
}
