// A whole DNS message (RFC 1035 §4.1): header, question, answer, authority and additional
// sections. decode never throws: it returns the message or a named reason. encode writes
// names uncompressed; messages we send are small queries.

import { CodecError } from '../../errors.js';
import { checkName, nameWireLength, readName, writeName, type DnsName } from './name.js';
import { DnsMalformed, type DnsDecodeError } from './reason.js';
import { decodeRR, encodeRRInto, rrEncodingLength, type DecodedRR, type DnsRR } from './rr.js';

export const DNS_HEADER_LEN = 12;

export interface DnsQuestion {
  name: DnsName;
  type: number;
  class: number;
}

export interface DnsMessage<R extends DnsRR = DnsRR> {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The reserved bit; kept so decode → encode is exact. */
  z: boolean;
  ad: boolean;
  cd: boolean;
  /** The 4-bit header RCODE; EDNS extends it (see edns.ts). */
  rcode: number;
  questions: DnsQuestion[];
  answers: R[];
  authority: R[];
  additional: R[];
}

export type DecodedMessage = DnsMessage<DecodedRR>;

export type MessageResult =
  | { ok: true; message: DecodedMessage }
  | { ok: false; error: DnsDecodeError; detail: string; /** When the 12 header bytes were there. */ id?: number };

/** Decodes exactly one message in buf (a UDP payload, or a TCP frame without its length). */
function decode(buf: Buffer): MessageResult {
  if (buf.length < DNS_HEADER_LEN) return { ok: false, error: 'truncated', detail: `message of ${buf.length} octets` };
  const id = buf.readUInt16BE(0);
  const f = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  const fail = (m: DnsMalformed, where: string): MessageResult => ({ ok: false, error: m.error, detail: `${where}: ${m.detail}`, id });
  const questions: DnsQuestion[] = [];
  let pos = DNS_HEADER_LEN;
  for (let i = 0; i < counts[0]; i++) {
    const n = readName(buf, pos);
    if (n instanceof DnsMalformed) return fail(n, `question ${i}`);
    if (n.next + 4 > buf.length) return { ok: false, error: 'truncated', detail: `question ${i} cut short`, id };
    questions.push({ name: n.name, type: buf.readUInt16BE(n.next), class: buf.readUInt16BE(n.next + 2) });
    pos = n.next + 4;
  }
  const sections: DecodedRR[][] = [[], [], []];
  const names = ['answer', 'authority', 'additional'];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const r = decodeRR(buf, pos);
      if (r instanceof DnsMalformed) return fail(r, `${names[s]} RR ${i}`);
      sections[s]!.push(r.rr);
      pos = r.next;
    }
  }
  if (pos !== buf.length) return { ok: false, error: 'trailing-bytes', detail: `${buf.length - pos} octets after the last RR`, id };
  return {
    ok: true,
    message: {
      id, qr: (f & 0x8000) !== 0, opcode: (f >> 11) & 0xf, aa: (f & 0x400) !== 0, tc: (f & 0x200) !== 0, rd: (f & 0x100) !== 0,
      ra: (f & 0x80) !== 0, z: (f & 0x40) !== 0, ad: (f & 0x20) !== 0, cd: (f & 0x10) !== 0, rcode: f & 0xf,
      questions, answers: sections[0]!, authority: sections[1]!, additional: sections[2]!,
    },
  };
}

function checkHeader(m: DnsMessage): void {
  if (!Number.isInteger(m.id) || m.id < 0 || m.id > 0xffff) throw new CodecError(`DNS id out of range: ${m.id}`);
  if (!Number.isInteger(m.opcode) || m.opcode < 0 || m.opcode > 15) throw new CodecError(`DNS opcode out of range: ${m.opcode}`);
  if (!Number.isInteger(m.rcode) || m.rcode < 0 || m.rcode > 15) throw new CodecError(`DNS rcode out of range: ${m.rcode}`);
  for (const [k, v] of [['questions', m.questions], ['answers', m.answers], ['authority', m.authority], ['additional', m.additional]] as const) {
    if (v.length > 0xffff) throw new CodecError(`too many ${k}: ${v.length}`);
  }
}

function encodingLength(m: DnsMessage): number {
  checkHeader(m);
  let n = DNS_HEADER_LEN;
  for (const q of m.questions) {
    checkName(q.name, 'question name');
    n += nameWireLength(q.name) + 4;
  }
  for (const r of [...m.answers, ...m.authority, ...m.additional]) n += rrEncodingLength(r);
  return n;
}

/** Throws CodecError on a repr that cannot be put on the wire. */
function encode(m: DnsMessage, buf?: Buffer, offset = 0): Buffer {
  const len = encodingLength(m);
  const out = buf ?? Buffer.alloc(offset + len);
  if (!Number.isInteger(offset) || offset < 0 || out.length - offset < len) {
    throw new CodecError(`DNS message needs ${len} bytes at offset ${offset}, buffer has ${out.length}`);
  }
  out.writeUInt16BE(m.id, offset);
  const f = (m.qr ? 0x8000 : 0) | (m.opcode << 11) | (m.aa ? 0x400 : 0) | (m.tc ? 0x200 : 0) | (m.rd ? 0x100 : 0) |
    (m.ra ? 0x80 : 0) | (m.z ? 0x40 : 0) | (m.ad ? 0x20 : 0) | (m.cd ? 0x10 : 0) | m.rcode;
  out.writeUInt16BE(f, offset + 2);
  out.writeUInt16BE(m.questions.length, offset + 4);
  out.writeUInt16BE(m.answers.length, offset + 6);
  out.writeUInt16BE(m.authority.length, offset + 8);
  out.writeUInt16BE(m.additional.length, offset + 10);
  let o = offset + DNS_HEADER_LEN;
  for (const q of m.questions) {
    o = writeName(q.name, out, o);
    out.writeUInt16BE(q.type, o);
    out.writeUInt16BE(q.class, o + 2);
    o += 4;
  }
  for (const r of [...m.answers, ...m.authority, ...m.additional]) o = encodeRRInto(r, out, o);
  return out;
}

export const Message = { decode, encode, encodingLength };

/** A fresh message with no sections, for building queries and test responses. */
export function emptyMessage(id: number): DnsMessage {
  return { id, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0, questions: [], answers: [], authority: [], additional: [] };
}
