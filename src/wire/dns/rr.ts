// One resource record (RFC 1035 §4.1.3): owner, type, class, TTL, RDATA. A decoded RR keeps its
// wire bytes and its uncompressed RDATA, which is what DNSSEC canonicalises and hashes.

import { CodecError } from '../../errors.js';
import { checkName, nameWireLength, readName, writeName, type DnsName } from './name.js';
import { decodeRdata, encodeRdata, rdataKind, type Rdata } from './rdata.js';
import { DnsMalformed } from './reason.js';

export interface DnsRR {
  name: DnsName;
  type: number;
  class: number;
  ttl: number;
  data: Rdata;
}

export interface DecodedRR extends DnsRR {
  /** The RR as it was on the wire (owner possibly a compression pointer); a view into the message. */
  wire: Buffer;
  /** Uncompressed RDATA (names expanded, case kept). */
  rdata: Buffer;
}

export interface RRRead {
  rr: DecodedRR;
  next: number;
}

export function decodeRR(msg: Buffer, offset: number, end = msg.length): RRRead | DnsMalformed {
  const owner = readName(msg, offset, end);
  if (owner instanceof DnsMalformed) return owner;
  const p = owner.next;
  if (p + 10 > end) return new DnsMalformed('truncated', `RR header at ${p} cut short`);
  const type = msg.readUInt16BE(p);
  const rdlen = msg.readUInt16BE(p + 8);
  const rdStart = p + 10;
  const rdEnd = rdStart + rdlen;
  if (rdEnd > end) return new DnsMalformed('truncated', `RDATA of ${rdlen} octets at ${rdStart} runs past the end`);
  const data = decodeRdata(type, msg, rdStart, rdEnd);
  if (data instanceof DnsMalformed) return data;
  let rdata: Buffer;
  if (data.kind === 'UNKNOWN') rdata = data.bytes;
  else {
    try {
      rdata = encodeRdata(data);
    } catch (e) {
      return new DnsMalformed('malformed', `RDATA at ${rdStart} cannot be re-encoded: ${(e as Error).message}`);
    }
  }
  const rr: DecodedRR = { name: owner.name, type, class: msg.readUInt16BE(p + 2), ttl: msg.readUInt32BE(p + 4), data, wire: msg.subarray(offset, rdEnd), rdata };
  return { rr, next: rdEnd };
}

function checkRR(rr: DnsRR): Buffer {
  checkName(rr.name, 'RR owner');
  if (!Number.isInteger(rr.type) || rr.type < 0 || rr.type > 0xffff) throw new CodecError(`RR type out of range: ${rr.type}`);
  if (!Number.isInteger(rr.class) || rr.class < 0 || rr.class > 0xffff) throw new CodecError(`RR class out of range: ${rr.class}`);
  if (!Number.isInteger(rr.ttl) || rr.ttl < 0 || rr.ttl > 0xffffffff) throw new CodecError(`RR TTL out of range: ${rr.ttl}`);
  const want = rdataKind(rr.type);
  if (rr.data.kind !== want && rr.data.kind !== 'UNKNOWN') throw new CodecError(`RR of type ${rr.type} with ${rr.data.kind} rdata`);
  const rd = encodeRdata(rr.data);
  if (rd.length > 0xffff) throw new CodecError(`RDATA of ${rd.length} octets`);
  return rd;
}

export function rrEncodingLength(rr: DnsRR): number {
  return nameWireLength(rr.name) + 10 + checkRR(rr).length;
}

/** Writes the RR uncompressed at buf[offset..]; returns the offset after it. */
export function encodeRRInto(rr: DnsRR, buf: Buffer, offset: number): number {
  const rd = checkRR(rr);
  let o = writeName(rr.name, buf, offset);
  buf.writeUInt16BE(rr.type, o);
  buf.writeUInt16BE(rr.class, o + 2);
  buf.writeUInt32BE(rr.ttl, o + 4);
  buf.writeUInt16BE(rd.length, o + 8);
  rd.copy(buf, o + 10);
  return o + 10 + rd.length;
}

export const RR = {
  decode: decodeRR,
  encodingLength: rrEncodingLength,
  encode(rr: DnsRR, buf?: Buffer, offset = 0): Buffer {
    const out = buf ?? Buffer.alloc(offset + rrEncodingLength(rr));
    encodeRRInto(rr, out, offset);
    return out;
  },
};
