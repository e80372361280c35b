// Zone-file lines to RRs: for trust anchors in config (DS or DNSKEY lines, as unbound-host -f
// takes them) and for tests built from published examples (RFC 5155 appendices). Covers the
// types rdata.ts decodes plus RFC 3597 "\# len hex", which for a known type (IPSECA as servers
// print it) gives the typed record. Throws CodecError naming what is wrong.

import { CodecError } from '../../errors.js';
import { parseHex } from '../hex.js';
import { fromBase32Hex } from './base32hex.js';
import { parseName, type DnsName } from './name.js';
import { decodeRdata, rdataKind, type Rdata } from './rdata.js';
import { DnsMalformed } from './reason.js';
import type { DnsRR } from './rr.js';
import { DnsClass, RRType, typeFromString } from './types.js';

export interface ParseOptions {
  origin?: DnsName;
  defaultTtl?: number;
}

/** Splits into tokens: quotes kept as one token (marked by a leading "), comments and parentheses dropped. */
function tokenize(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (/\s|\(|\)/.test(c)) {
      i++;
    } else if (c === '"') {
      let s = '"';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) s += text[i++];
        s += text[i++];
      }
      if (i >= text.length) throw new CodecError(`unterminated quoted string in ${JSON.stringify(text)}`);
      i++;
      out.push(s);
    } else {
      let s = '';
      while (i < text.length && !/[\s();]/.test(text[i]!)) s += text[i++];
      out.push(s);
    }
  }
  return out;
}

function num(tok: string | undefined, max: number, what: string): number {
  if (tok === undefined || !/^\d+$/.test(tok)) throw new CodecError(`${what}: expected a number, got ${JSON.stringify(tok)}`);
  const v = Number(tok);
  if (v > max) throw new CodecError(`${what}: ${v} above ${max}`);
  return v;
}

function hex(tok: string, what: string): Buffer {
  if (tok === '-') return Buffer.alloc(0);
  const b = parseHex(tok);
  if (b === null) throw new CodecError(`${what}: not hex: ${JSON.stringify(tok)}`);
  return b;
}

function base64(toks: string[], what: string): Buffer {
  const s = toks.join('');
  if (s.length === 0 || !/^[A-Za-z0-9+/]+=*$/.test(s)) throw new CodecError(`${what}: not base64`);
  return Buffer.from(s, 'base64');
}

function sigTime(tok: string | undefined, what: string): number {
  if (tok !== undefined && /^\d{14}$/.test(tok)) {
    const t = Date.UTC(+tok.slice(0, 4), +tok.slice(4, 6) - 1, +tok.slice(6, 8), +tok.slice(8, 10), +tok.slice(10, 12), +tok.slice(12, 14)) / 1000;
    return t >>> 0;
  }
  return num(tok, 0xffffffff, what);
}

function types(toks: string[]): number[] {
  return toks.map((t) => {
    const v = typeFromString(t);
    if (v === null) throw new CodecError(`unknown type ${JSON.stringify(t)} in a type bitmap`);
    return v;
  });
}

function ipv4(tok: string | undefined): Buffer {
  const m = tok === undefined ? null : /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(tok);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new CodecError(`A: bad address ${JSON.stringify(tok)}`);
  return Buffer.from(m.slice(1).map(Number));
}

function ipv6(tok: string | undefined): Buffer {
  if (tok === undefined || !/^[0-9a-fA-F:]+$/.test(tok) || tok.split('::').length > 2) throw new CodecError(`AAAA: bad address ${JSON.stringify(tok)}`);
  const [head, tail] = tok.split('::') as [string, string | undefined];
  const words = (s: string) => (s === '' ? [] : s.split(':'));
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const fill = 8 - h.length - t.length;
  if ((tail === undefined && fill !== 0) || (tail !== undefined && fill < 1)) throw new CodecError(`AAAA: bad address ${JSON.stringify(tok)}`);
  const all = [...h, ...Array(tail === undefined ? 0 : fill).fill('0'), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new CodecError(`AAAA: bad address ${JSON.stringify(tok)}`);
    b.writeUInt16BE(parseInt(w, 16), i * 2);
  });
  return b;
}

function unquote(tok: string): Buffer {
  const s = tok.startsWith('"') ? tok.slice(1) : tok;
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^\d{3}/.test(s.slice(i + 1))) {
      out.push(Number(s.slice(i + 1, i + 4)) & 0xff);
      i += 3;
    } else if (s[i] === '\\') out.push(s.charCodeAt(++i) & 0xff);
    else out.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

function rdata(type: number, t: string[], origin: DnsName): Rdata {
  if (t[0] === '\\#') {
    const len = num(t[1], 0xffff, 'generic rdata length');
    const bytes = hex(t.slice(2).join('') || '', 'generic rdata');
    if (bytes.length !== len) throw new CodecError(`generic rdata: ${bytes.length} octets, length says ${len}`);
    const kind = rdataKind(type);
    if (kind === 'UNKNOWN' || kind === 'OPT') return { kind: 'UNKNOWN', bytes };
    // RFC 3597 §5: a known type in generic form means the same record as its own syntax would.
    const d = decodeRdata(type, bytes, 0, bytes.length);
    if (d instanceof DnsMalformed) throw new CodecError(`generic rdata for type ${type}: ${d.detail}`);
    return d;
  }
  const name = (tok: string | undefined) => {
    if (tok === undefined) throw new CodecError('missing name');
    return parseName(tok, origin);
  };
  switch (rdataKind(type)) {
    case 'A': return { kind: 'A', address: ipv4(t[0]) };
    case 'AAAA': return { kind: 'AAAA', address: ipv6(t[0]) };
    case 'NAME': return { kind: 'NAME', target: name(t[0]) };
    case 'SOA':
      return { kind: 'SOA', mname: name(t[0]), rname: name(t[1]), serial: num(t[2], 0xffffffff, 'SOA serial'), refresh: num(t[3], 0xffffffff, 'SOA refresh'),
        retry: num(t[4], 0xffffffff, 'SOA retry'), expire: num(t[5], 0xffffffff, 'SOA expire'), minimum: num(t[6], 0xffffffff, 'SOA minimum') };
    case 'PREF': return { kind: 'PREF', preference: num(t[0], 0xffff, 'preference'), exchange: name(t[1]) };
    case 'SRV': return { kind: 'SRV', priority: num(t[0], 0xffff, 'SRV priority'), weight: num(t[1], 0xffff, 'SRV weight'), port: num(t[2], 0xffff, 'SRV port'), target: name(t[3]) };
    case 'TXT': return { kind: 'TXT', strings: t.map(unquote) };
    case 'DS':
      return { kind: 'DS', keyTag: num(t[0], 0xffff, 'DS key tag'), algorithm: num(t[1], 255, 'DS algorithm'), digestType: num(t[2], 255, 'DS digest type'), digest: hex(t.slice(3).join(''), 'DS digest') };
    case 'DNSKEY':
      return { kind: 'DNSKEY', flags: num(t[0], 0xffff, 'DNSKEY flags'), protocol: num(t[1], 255, 'DNSKEY protocol'), algorithm: num(t[2], 255, 'DNSKEY algorithm'), publicKey: base64(t.slice(3), 'DNSKEY key') };
    case 'RRSIG': {
      const covered = typeFromString(t[0] ?? '');
      if (covered === null) throw new CodecError(`RRSIG: unknown type covered ${JSON.stringify(t[0])}`);
      return { kind: 'RRSIG', typeCovered: covered, algorithm: num(t[1], 255, 'RRSIG algorithm'), labels: num(t[2], 255, 'RRSIG labels'),
        originalTtl: num(t[3], 0xffffffff, 'RRSIG original TTL'), expiration: sigTime(t[4], 'RRSIG expiration'), inception: sigTime(t[5], 'RRSIG inception'),
        keyTag: num(t[6], 0xffff, 'RRSIG key tag'), signer: name(t[7]), signature: base64(t.slice(8), 'RRSIG signature') };
    }
    case 'NSEC': return { kind: 'NSEC', next: name(t[0]), types: types(t.slice(1)) };
    case 'NSEC3': {
      const next = fromBase32Hex(t[4] ?? '');
      if (!next || next.length === 0) throw new CodecError(`NSEC3: bad next hashed owner ${JSON.stringify(t[4])}`);
      return { kind: 'NSEC3', hashAlgorithm: num(t[0], 255, 'NSEC3 hash algorithm'), flags: num(t[1], 255, 'NSEC3 flags'), iterations: num(t[2], 0xffff, 'NSEC3 iterations'),
        salt: hex(t[3] ?? '', 'NSEC3 salt'), nextHashed: next, types: types(t.slice(5)) };
    }
    case 'NSEC3PARAM':
      return { kind: 'NSEC3PARAM', hashAlgorithm: num(t[0], 255, 'NSEC3PARAM hash algorithm'), flags: num(t[1], 255, 'NSEC3PARAM flags'), iterations: num(t[2], 0xffff, 'NSEC3PARAM iterations'), salt: hex(t[3] ?? '', 'NSEC3PARAM salt') };
    case 'IPSECA': {
      const data = t.length > 3 ? hex(t.slice(3).join(''), 'IPSECA association data') : Buffer.alloc(0);
      return { kind: 'IPSECA', usage: num(t[0], 255, 'IPSECA usage'), selector: num(t[1], 255, 'IPSECA selector'),
        matchingType: num(t[2], 255, 'IPSECA matching type'), data };
    }
    case 'OPT':
    case 'UNKNOWN':
      throw new CodecError(`type ${type} needs the generic \\# form`);
  }
}

/** Parses one RR: `owner [ttl] [class] type rdata`, TTL and class in either order. */
export function parseRR(line: string, o: ParseOptions = {}): DnsRR {
  const t = tokenize(line);
  if (t.length < 2) throw new CodecError(`not an RR line: ${JSON.stringify(line)}`);
  const origin = o.origin ?? [];
  const name = parseName(t[0]!, origin);
  let i = 1;
  let ttl = o.defaultTtl ?? 3600;
  let cls: number = DnsClass.IN;
  for (let k = 0; k < 2; k++) {
    if (/^\d+$/.test(t[i] ?? '')) ttl = num(t[i++], 0x7fffffff, 'TTL');
    else if (t[i]?.toUpperCase() === 'IN') { cls = DnsClass.IN; i++; }
  }
  const type = typeFromString(t[i] ?? '');
  if (type === null) throw new CodecError(`unknown type ${JSON.stringify(t[i])} in ${JSON.stringify(line)}`);
  if (type === RRType.OPT) throw new CodecError('OPT is not a zone-file record');
  return { name, type, class: cls, ttl, data: rdata(type, t.slice(i + 1), origin) };
}

/** Parses zone-file text with one RR per line (parentheses may span lines); $ORIGIN and $TTL honoured. */
export function parseZoneText(text: string, o: ParseOptions = {}): DnsRR[] {
  let origin = o.origin ?? [];
  let defaultTtl = o.defaultTtl ?? 3600;
  const out: DnsRR[] = [];
  let pending = '';
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/;.*$/, '');
    pending += ' ' + line;
    depth += (line.match(/\(/g)?.length ?? 0) - (line.match(/\)/g)?.length ?? 0);
    if (depth > 0) continue;
    const s = pending.trim();
    pending = '';
    depth = 0;
    if (s === '') continue;
    const dir = /^\$(ORIGIN|TTL)\s+(\S+)/.exec(s);
    if (dir) {
      if (dir[1] === 'ORIGIN') origin = parseName(dir[2]!, origin);
      else defaultTtl = num(dir[2], 0x7fffffff, '$TTL');
      continue;
    }
    out.push(parseRR(s, { origin, defaultTtl }));
  }
  return out;
}
