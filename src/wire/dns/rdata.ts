// RDATA reprs per type, and their decode/encode. Decoding reads names through compression
// (pointers are message-relative, so it takes the whole message); encoding never compresses,
// so encode(decode(x)) is the uncompressed RDATA that DNSSEC signs. Unknown types stay bytes
// (RFC 3597).

import { CodecError } from '../../errors.js';
import { decodeTypeBitmap, encodeTypeBitmap } from './bitmap.js';
import { checkName, nameToWire, readName, type DnsName } from './name.js';
import { Ipseca, type IpsecaRdata } from './ipseca.js';
import { DnsMalformed } from './reason.js';
import { RRType } from './types.js';

export type Rdata =
  | { kind: 'A'; address: Buffer }
  | { kind: 'AAAA'; address: Buffer }
  | { kind: 'NAME'; target: DnsName } // NS, CNAME, PTR, DNAME
  | { kind: 'SOA'; mname: DnsName; rname: DnsName; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { kind: 'PREF'; preference: number; exchange: DnsName } // MX, KX
  | { kind: 'SRV'; priority: number; weight: number; port: number; target: DnsName }
  | { kind: 'TXT'; strings: Buffer[] }
  | { kind: 'DS'; keyTag: number; algorithm: number; digestType: number; digest: Buffer }
  | { kind: 'DNSKEY'; flags: number; protocol: number; algorithm: number; publicKey: Buffer }
  | {
      kind: 'RRSIG';
      typeCovered: number;
      algorithm: number;
      labels: number;
      originalTtl: number;
      expiration: number;
      inception: number;
      keyTag: number;
      signer: DnsName;
      signature: Buffer;
    }
  | { kind: 'NSEC'; next: DnsName; types: number[] }
  | { kind: 'NSEC3'; hashAlgorithm: number; flags: number; iterations: number; salt: Buffer; nextHashed: Buffer; types: number[] }
  | { kind: 'NSEC3PARAM'; hashAlgorithm: number; flags: number; iterations: number; salt: Buffer }
  | { kind: 'OPT'; options: { code: number; data: Buffer }[] }
  | ({ kind: 'IPSECA' } & IpsecaRdata)
  | { kind: 'UNKNOWN'; bytes: Buffer };

export type RdataKind = Rdata['kind'];

/** Which repr a type uses; everything else is UNKNOWN. */
export function rdataKind(type: number): RdataKind {
  switch (type) {
    case RRType.A: return 'A';
    case RRType.AAAA: return 'AAAA';
    case RRType.NS: case RRType.CNAME: case RRType.PTR: case RRType.DNAME: return 'NAME';
    case RRType.SOA: return 'SOA';
    case RRType.MX: case RRType.KX: return 'PREF';
    case RRType.SRV: return 'SRV';
    case RRType.TXT: return 'TXT';
    case RRType.DS: return 'DS';
    case RRType.DNSKEY: return 'DNSKEY';
    case RRType.RRSIG: return 'RRSIG';
    case RRType.NSEC: return 'NSEC';
    case RRType.NSEC3: return 'NSEC3';
    case RRType.NSEC3PARAM: return 'NSEC3PARAM';
    case RRType.OPT: return 'OPT';
    case RRType.IPSECA: return 'IPSECA';
    default: return 'UNKNOWN';
  }
}

const bad = (detail: string) => new DnsMalformed('malformed', detail);

/** Decodes RDATA at msg[start..end) for `type`. */
export function decodeRdata(type: number, msg: Buffer, start: number, end: number): Rdata | DnsMalformed {
  const len = end - start;
  const u16 = (o: number) => msg.readUInt16BE(start + o);
  const u32 = (o: number) => msg.readUInt32BE(start + o);
  const name = (o: number): { name: DnsName; next: number } | DnsMalformed => {
    const r = readName(msg, start + o, end);
    if (r instanceof DnsMalformed) return r;
    return { name: r.name, next: r.next - start };
  };
  switch (rdataKind(type)) {
    case 'A':
      return len === 4 ? { kind: 'A', address: Buffer.from(msg.subarray(start, end)) } : bad(`A rdata of ${len} octets`);
    case 'AAAA':
      return len === 16 ? { kind: 'AAAA', address: Buffer.from(msg.subarray(start, end)) } : bad(`AAAA rdata of ${len} octets`);
    case 'NAME': {
      const n = name(0);
      if (n instanceof DnsMalformed) return n;
      return n.next === len ? { kind: 'NAME', target: n.name } : bad('bytes after the name in rdata');
    }
    case 'SOA': {
      const m = name(0);
      if (m instanceof DnsMalformed) return m;
      const r = name(m.next);
      if (r instanceof DnsMalformed) return r;
      if (len - r.next !== 20) return bad(`SOA rdata has ${len - r.next} octets after the names, not 20`);
      const o = r.next;
      return { kind: 'SOA', mname: m.name, rname: r.name, serial: u32(o), refresh: u32(o + 4), retry: u32(o + 8), expire: u32(o + 12), minimum: u32(o + 16) };
    }
    case 'PREF': {
      if (len < 3) return bad('MX/KX rdata too short');
      const n = name(2);
      if (n instanceof DnsMalformed) return n;
      return n.next === len ? { kind: 'PREF', preference: u16(0), exchange: n.name } : bad('bytes after the exchanger');
    }
    case 'SRV': {
      if (len < 7) return bad('SRV rdata too short');
      const n = name(6);
      if (n instanceof DnsMalformed) return n;
      return n.next === len ? { kind: 'SRV', priority: u16(0), weight: u16(2), port: u16(4), target: n.name } : bad('bytes after the SRV target');
    }
    case 'TXT': {
      const strings: Buffer[] = [];
      let o = start;
      while (o < end) {
        const l = msg[o]!;
        if (o + 1 + l > end) return new DnsMalformed('truncated', 'TXT string cut short');
        strings.push(Buffer.from(msg.subarray(o + 1, o + 1 + l)));
        o += 1 + l;
      }
      return strings.length > 0 ? { kind: 'TXT', strings } : bad('TXT without a string');
    }
    case 'DS':
      if (len < 5) return bad('DS rdata too short');
      return { kind: 'DS', keyTag: u16(0), algorithm: msg[start + 2]!, digestType: msg[start + 3]!, digest: Buffer.from(msg.subarray(start + 4, end)) };
    case 'DNSKEY':
      if (len < 5) return bad('DNSKEY rdata too short');
      return { kind: 'DNSKEY', flags: u16(0), protocol: msg[start + 2]!, algorithm: msg[start + 3]!, publicKey: Buffer.from(msg.subarray(start + 4, end)) };
    case 'RRSIG': {
      if (len < 19) return bad('RRSIG rdata too short');
      const n = name(18);
      if (n instanceof DnsMalformed) return n;
      if (n.next >= len) return bad('RRSIG without a signature');
      return {
        kind: 'RRSIG', typeCovered: u16(0), algorithm: msg[start + 2]!, labels: msg[start + 3]!, originalTtl: u32(4),
        expiration: u32(8), inception: u32(12), keyTag: u16(16), signer: n.name, signature: Buffer.from(msg.subarray(start + n.next, end)),
      };
    }
    case 'NSEC': {
      const n = name(0);
      if (n instanceof DnsMalformed) return n;
      const types = decodeTypeBitmap(msg, start + n.next, end);
      if (types instanceof DnsMalformed) return types;
      return { kind: 'NSEC', next: n.name, types };
    }
    case 'NSEC3': {
      if (len < 5) return bad('NSEC3 rdata too short');
      const saltLen = msg[start + 4]!;
      const hashAt = 5 + saltLen;
      if (hashAt >= len) return new DnsMalformed('truncated', 'NSEC3 salt cut short');
      const hashLen = msg[start + hashAt]!;
      if (hashLen === 0) return bad('NSEC3 with an empty next hashed owner');
      if (hashAt + 1 + hashLen > len) return new DnsMalformed('truncated', 'NSEC3 next hashed owner cut short');
      const types = decodeTypeBitmap(msg, start + hashAt + 1 + hashLen, end);
      if (types instanceof DnsMalformed) return types;
      return {
        kind: 'NSEC3', hashAlgorithm: msg[start]!, flags: msg[start + 1]!, iterations: u16(2),
        salt: Buffer.from(msg.subarray(start + 5, start + hashAt)), nextHashed: Buffer.from(msg.subarray(start + hashAt + 1, start + hashAt + 1 + hashLen)), types,
      };
    }
    case 'NSEC3PARAM': {
      if (len < 5) return bad('NSEC3PARAM rdata too short');
      const saltLen = msg[start + 4]!;
      if (5 + saltLen !== len) return bad('NSEC3PARAM salt length disagrees with RDLENGTH');
      return { kind: 'NSEC3PARAM', hashAlgorithm: msg[start]!, flags: msg[start + 1]!, iterations: u16(2), salt: Buffer.from(msg.subarray(start + 5, end)) };
    }
    case 'OPT': {
      const options: { code: number; data: Buffer }[] = [];
      let o = start;
      while (o < end) {
        if (o + 4 > end) return new DnsMalformed('truncated', 'EDNS option header cut short');
        const l = msg.readUInt16BE(o + 2);
        if (o + 4 + l > end) return new DnsMalformed('truncated', 'EDNS option cut short');
        options.push({ code: msg.readUInt16BE(o), data: Buffer.from(msg.subarray(o + 4, o + 4 + l)) });
        o += 4 + l;
      }
      return { kind: 'OPT', options };
    }
    case 'IPSECA': {
      const r = Ipseca.decode(msg, start, end);
      return r instanceof DnsMalformed ? r : { kind: 'IPSECA', ...r };
    }
    case 'UNKNOWN':
      return { kind: 'UNKNOWN', bytes: Buffer.from(msg.subarray(start, end)) };
  }
}

function u8(v: number, what: string): Buffer {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new CodecError(`${what} out of range: ${v}`);
  return Buffer.from([v]);
}
function u16b(v: number, what: string): Buffer {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new CodecError(`${what} out of range: ${v}`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
function u32b(v: number, what: string): Buffer {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new CodecError(`${what} out of range: ${v}`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}
function wname(n: DnsName, what: string): Buffer {
  checkName(n, what);
  return nameToWire(n);
}
function sized(b: Buffer, what: string): Buffer {
  if (b.length > 255) throw new CodecError(`${what} longer than 255 octets`);
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** Uncompressed RDATA. Throws CodecError on a repr that cannot be put on the wire. */
export function encodeRdata(r: Rdata): Buffer {
  switch (r.kind) {
    case 'A':
    case 'AAAA': {
      const want = r.kind === 'A' ? 4 : 16;
      if (r.address.length !== want) throw new CodecError(`${r.kind} address of ${r.address.length} octets`);
      return Buffer.from(r.address);
    }
    case 'NAME': return wname(r.target, 'rdata name');
    case 'SOA':
      return Buffer.concat([wname(r.mname, 'SOA mname'), wname(r.rname, 'SOA rname'), u32b(r.serial, 'SOA serial'), u32b(r.refresh, 'SOA refresh'),
        u32b(r.retry, 'SOA retry'), u32b(r.expire, 'SOA expire'), u32b(r.minimum, 'SOA minimum')]);
    case 'PREF': return Buffer.concat([u16b(r.preference, 'preference'), wname(r.exchange, 'exchanger')]);
    case 'SRV': return Buffer.concat([u16b(r.priority, 'SRV priority'), u16b(r.weight, 'SRV weight'), u16b(r.port, 'SRV port'), wname(r.target, 'SRV target')]);
    case 'TXT':
      if (r.strings.length === 0) throw new CodecError('TXT needs at least one string');
      return Buffer.concat(r.strings.map((s) => sized(s, 'TXT string')));
    case 'DS': return Buffer.concat([u16b(r.keyTag, 'DS key tag'), u8(r.algorithm, 'DS algorithm'), u8(r.digestType, 'DS digest type'), r.digest]);
    case 'DNSKEY': return Buffer.concat([u16b(r.flags, 'DNSKEY flags'), u8(r.protocol, 'DNSKEY protocol'), u8(r.algorithm, 'DNSKEY algorithm'), r.publicKey]);
    case 'RRSIG':
      if (r.signature.length === 0) throw new CodecError('RRSIG without a signature');
      return Buffer.concat([u16b(r.typeCovered, 'RRSIG type covered'), u8(r.algorithm, 'RRSIG algorithm'), u8(r.labels, 'RRSIG labels'),
        u32b(r.originalTtl, 'RRSIG original TTL'), u32b(r.expiration, 'RRSIG expiration'), u32b(r.inception, 'RRSIG inception'),
        u16b(r.keyTag, 'RRSIG key tag'), wname(r.signer, 'RRSIG signer'), r.signature]);
    case 'NSEC': return Buffer.concat([wname(r.next, 'NSEC next'), encodeTypeBitmap(r.types)]);
    case 'NSEC3':
      if (r.nextHashed.length === 0) throw new CodecError('NSEC3 with an empty next hashed owner');
      return Buffer.concat([u8(r.hashAlgorithm, 'NSEC3 hash algorithm'), u8(r.flags, 'NSEC3 flags'), u16b(r.iterations, 'NSEC3 iterations'),
        sized(r.salt, 'NSEC3 salt'), sized(r.nextHashed, 'NSEC3 next hashed owner'), encodeTypeBitmap(r.types)]);
    case 'NSEC3PARAM':
      return Buffer.concat([u8(r.hashAlgorithm, 'NSEC3PARAM hash algorithm'), u8(r.flags, 'NSEC3PARAM flags'), u16b(r.iterations, 'NSEC3PARAM iterations'), sized(r.salt, 'NSEC3PARAM salt')]);
    case 'OPT':
      return Buffer.concat(r.options.flatMap((o) => [u16b(o.code, 'EDNS option code'), u16b(o.data.length, 'EDNS option length'), o.data]));
    case 'IPSECA': return Ipseca.encode(r);
    case 'UNKNOWN': return Buffer.from(r.bytes);
  }
}
