// IPSECA RDATA (draft-osterweil-dane-ipsec, TYPE65347): the TLSA layout of RFC 6698 §2.1,
//   usage (1 octet) | selector (1 octet) | matching type (1 octet) | association data
// with TLSA's code points (usage 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE; selector 0 full
// certificate, 1 SubjectPublicKeyInfo; matching 0 exact, 1 SHA2-256, 2 SHA2-512). The codec
// keeps every value as it came: judging which records are usable is src/dns/ipseca.ts's job,
// so a record with an unknown usage still decodes and prints.

import { CodecError } from '../../errors.js';
import { DnsMalformed } from './reason.js';

export interface IpsecaRdata {
  usage: number;
  selector: number;
  matchingType: number;
  /** Certificate association data: the SPKI itself (matching 0) or its digest. */
  data: Buffer;
}

export const IpsecaUsage = { PKIX_TA: 0, PKIX_EE: 1, DANE_TA: 2, DANE_EE: 3 } as const;
export const IpsecaSelector = { CERT: 0, SPKI: 1 } as const;
export const IpsecaMatching = { FULL: 0, SHA256: 1, SHA512: 2 } as const;

const HEADER = 3;

function checkField(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new CodecError(`IPSECA ${what} out of range: ${v}`);
}

export const Ipseca = {
  /** Decodes buf[offset..end); never throws. */
  decode(buf: Buffer, offset = 0, end = buf.length): IpsecaRdata | DnsMalformed {
    if (offset < 0 || end > buf.length || end - offset < HEADER) {
      return new DnsMalformed('malformed', `IPSECA rdata of ${Math.max(0, end - offset)} octets, at least ${HEADER} needed`);
    }
    return { usage: buf[offset]!, selector: buf[offset + 1]!, matchingType: buf[offset + 2]!, data: Buffer.from(buf.subarray(offset + HEADER, end)) };
  },

  encodingLength(r: IpsecaRdata): number {
    return HEADER + r.data.length;
  },

  /** Writes into buf at offset (a new buffer without one); throws CodecError on a value that does not fit. */
  encode(r: IpsecaRdata, buf?: Buffer, offset = 0): Buffer {
    checkField(r.usage, 'usage');
    checkField(r.selector, 'selector');
    checkField(r.matchingType, 'matching type');
    const len = Ipseca.encodingLength(r);
    if (len > 0xffff) throw new CodecError(`IPSECA rdata of ${len} octets`);
    const out = buf ?? Buffer.alloc(offset + len);
    if (out.length < offset + len) throw new CodecError(`IPSECA needs ${len} octets at ${offset}, buffer has ${out.length}`);
    out[offset] = r.usage;
    out[offset + 1] = r.selector;
    out[offset + 2] = r.matchingType;
    r.data.copy(out, offset + HEADER);
    return out;
  },

  /** Presentation form as TLSA's (RFC 6698 §2.2): `3 1 1 0A1B...`, the data in hex. */
  toString(r: IpsecaRdata): string {
    const head = `${r.usage} ${r.selector} ${r.matchingType}`;
    return r.data.length > 0 ? `${head} ${r.data.toString('hex').toUpperCase()}` : head;
  },
};

/** What a usage, selector or matching type number means, for logs and reasons. */
export function ipsecaFieldName(field: 'usage' | 'selector' | 'matchingType', v: number): string {
  const names: Record<typeof field, string[]> = {
    usage: ['PKIX-TA', 'PKIX-EE', 'DANE-TA', 'DANE-EE'],
    selector: ['full certificate', 'SubjectPublicKeyInfo'],
    matchingType: ['exact', 'SHA2-256', 'SHA2-512'],
  };
  return names[field][v] ?? 'unassigned';
}
