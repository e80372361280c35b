// Presentation format (RFC 1035 §5.1 and each type's RFC) for logs, the inspector and tests:
// what dig, ldns and unbound print. Unknown types use the RFC 3597 generic form.

import { toBase32Hex } from './base32hex.js';
import { ednsOf } from './edns.js';
import { Ipseca } from './ipseca.js';
import type { DnsMessage } from './message.js';
import { nameToString } from './name.js';
import { encodeRdata, type Rdata } from './rdata.js';
import type { DnsRR } from './rr.js';
import { classToString, rcodeToString, typeToString } from './types.js';

export function ipv4ToString(b: Buffer): string {
  return [...b].join('.');
}

/** RFC 5952: lower case, leading zeros dropped, the longest run of two or more zero words as "::". */
export function ipv6ToString(b: Buffer): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push(b.readUInt16BE(i));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(w);
  return `${hex(w.slice(0, bestAt))}::${hex(w.slice(bestAt + bestLen))}`;
}

/** RRSIG timestamps as YYYYMMDDHHmmSS (RFC 4034 §3.2). */
export function sigTimeToString(t: number): string {
  return new Date(t * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function characterString(s: Buffer): string {
  let out = '"';
  for (const b of s) {
    if (b === 0x22 || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += '\\' + String(b).padStart(3, '0');
  }
  return out + '"';
}

const hexUpper = (b: Buffer) => b.toString('hex').toUpperCase();

export function rdataToString(type: number, d: Rdata): string {
  switch (d.kind) {
    case 'A': return ipv4ToString(d.address);
    case 'AAAA': return ipv6ToString(d.address);
    case 'NAME': return nameToString(d.target);
    case 'SOA': return `${nameToString(d.mname)} ${nameToString(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'PREF': return `${d.preference} ${nameToString(d.exchange)}`;
    case 'SRV': return `${d.priority} ${d.weight} ${d.port} ${nameToString(d.target)}`;
    case 'TXT': return d.strings.map(characterString).join(' ');
    case 'DS': return `${d.keyTag} ${d.algorithm} ${d.digestType} ${hexUpper(d.digest)}`;
    case 'DNSKEY': return `${d.flags} ${d.protocol} ${d.algorithm} ${d.publicKey.toString('base64')}`;
    case 'RRSIG':
      return `${typeToString(d.typeCovered)} ${d.algorithm} ${d.labels} ${d.originalTtl} ${sigTimeToString(d.expiration)} ` +
        `${sigTimeToString(d.inception)} ${d.keyTag} ${nameToString(d.signer)} ${d.signature.toString('base64')}`;
    case 'NSEC': return [nameToString(d.next), ...d.types.map(typeToString)].join(' ');
    case 'NSEC3':
      return [d.hashAlgorithm, d.flags, d.iterations, d.salt.length ? hexUpper(d.salt) : '-', toBase32Hex(d.nextHashed).toUpperCase(), ...d.types.map(typeToString)].join(' ');
    case 'NSEC3PARAM': return `${d.hashAlgorithm} ${d.flags} ${d.iterations} ${d.salt.length ? hexUpper(d.salt) : '-'}`;
    case 'OPT': return d.options.map((o) => `${o.code}:${o.data.toString('hex')}`).join(' ');
    case 'IPSECA': return Ipseca.toString(d);
    case 'UNKNOWN': return genericRdata(d.bytes);
  }
}

function genericRdata(b: Buffer): string {
  return b.length ? `\\# ${b.length} ${b.toString('hex')}` : '\\# 0';
}

/**
 * RFC 3597 §5 generic form of any RDATA, `\# len hex`: what servers that lack a type's mnemonic
 * read and print (NSD, ldns, Knot, unbound and delv all do so for IPSECA).
 */
export function rdataToGenericString(d: Rdata): string {
  return genericRdata(d.kind === 'UNKNOWN' ? d.bytes : encodeRdata(d));
}

/** One zone-file line in RFC 3597 form (TYPEnnn and `\# len hex`), for zone files fed to such servers. */
export function rrToGenericString(rr: DnsRR): string {
  return `${nameToString(rr.name)}\t${rr.ttl}\t${classToString(rr.class)}\tTYPE${rr.type}\t${rdataToGenericString(rr.data)}`;
}

/** One zone-file line: owner TTL CLASS TYPE RDATA. */
export function rrToString(rr: DnsRR): string {
  return `${nameToString(rr.name)}\t${rr.ttl}\t${classToString(rr.class)}\t${typeToString(rr.type)}\t${rdataToString(rr.type, rr.data)}`;
}

/** A dig-like dump of a whole message. */
export function messageToString(m: DnsMessage): string {
  const flags = (['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const).filter((f) => m[f]).join(' ');
  const lines = [`;; id ${m.id} opcode ${m.opcode} rcode ${rcodeToString(m.rcode)} flags: ${flags}`];
  const e = ednsOf(m);
  if (e === 'multiple') lines.push(';; EDNS: more than one OPT');
  else if (e) lines.push(`;; EDNS: version ${e.version}, udp ${e.udpSize}${e.do ? ', do' : ''}`);
  lines.push(';; QUESTION');
  for (const q of m.questions) lines.push(`;${nameToString(q.name)}\t${classToString(q.class)}\t${typeToString(q.type)}`);
  for (const [title, rrs] of [['ANSWER', m.answers], ['AUTHORITY', m.authority], ['ADDITIONAL', m.additional]] as const) {
    const shown = rrs.filter((r) => r.type !== 41);
    if (shown.length === 0) continue;
    lines.push(`;; ${title}`);
    for (const r of shown) lines.push(rrToString(r));
  }
  return lines.join('\n');
}
