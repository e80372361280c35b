// Traffic Selector payload body, TSi and TSr (RFC 7296 §3.13):
//   #TSs(1) | RESERVED(3) | selectors
//   selector: TS Type(1) | IP Protocol(1) | Length(2) | Start Port(2) | End Port(2) | start | end
// IPv4 addresses are u32 numbers like everywhere in the data plane; other selector types are
// kept whole so a peer that offers them can still be answered with TS_UNACCEPTABLE.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export const TS_IPV4_ADDR_RANGE = 7;
export const TS_IPV6_ADDR_RANGE = 8;

const IPV4_SELECTOR_LEN = 16;
const IPV6_SELECTOR_LEN = 40;

export interface Ipv4Selector {
  tsType: typeof TS_IPV4_ADDR_RANGE;
  /** 0 = any. */
  ipProtocol: number;
  startPort: number;
  endPort: number;
  startAddress: number;
  endAddress: number;
}

export interface Ipv6Selector {
  tsType: typeof TS_IPV6_ADDR_RANGE;
  ipProtocol: number;
  startPort: number;
  endPort: number;
  /** 16 bytes. */
  startAddress: Buffer;
  endAddress: Buffer;
}

/** Any other TS type: `data` is everything after the 4-byte selector header. */
export interface OtherSelector {
  tsType: number;
  ipProtocol: number;
  data: Buffer;
}

export type TrafficSelector = Ipv4Selector | Ipv6Selector | OtherSelector;

export interface TsPayload {
  type: typeof PayloadType.TSi | typeof PayloadType.TSr;
  critical?: boolean;
  selectors: TrafficSelector[];
}

function isIpv4(s: TrafficSelector): s is Ipv4Selector {
  return s.tsType === TS_IPV4_ADDR_RANGE;
}
function isIpv6(s: TrafficSelector): s is Ipv6Selector {
  return s.tsType === TS_IPV6_ADDR_RANGE;
}

function selectorLength(s: TrafficSelector): number {
  if (isIpv4(s)) return IPV4_SELECTOR_LEN;
  if (isIpv6(s)) return IPV6_SELECTOR_LEN;
  return 4 + (s as OtherSelector).data.length;
}

export function tsBodyLength(p: TsPayload): number {
  let n = 4;
  for (const s of p.selectors) n += selectorLength(s);
  return n;
}

function checkU(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError(`TS ${what} out of range 0..${max}: ${v}`);
}

export function encodeTsBody(p: TsPayload, buf: Buffer, offset: number): number {
  checkU(p.selectors.length, 0xff, 'selector count');
  buf[offset] = p.selectors.length;
  buf.fill(0, offset + 1, offset + 4);
  let o = offset + 4;
  for (const s of p.selectors) {
    const len = selectorLength(s);
    checkU(s.tsType, 0xff, 'type');
    checkU(s.ipProtocol, 0xff, 'IP protocol');
    checkU(len, 0xffff, 'selector length');
    buf[o] = s.tsType;
    buf[o + 1] = s.ipProtocol;
    buf.writeUInt16BE(len, o + 2);
    if (isIpv4(s) || isIpv6(s)) {
      checkU(s.startPort, 0xffff, 'start port');
      checkU(s.endPort, 0xffff, 'end port');
      buf.writeUInt16BE(s.startPort, o + 4);
      buf.writeUInt16BE(s.endPort, o + 6);
      if (isIpv4(s)) {
        checkU(s.startAddress, 0xffffffff, 'start address');
        checkU(s.endAddress, 0xffffffff, 'end address');
        buf.writeUInt32BE(s.startAddress, o + 8);
        buf.writeUInt32BE(s.endAddress, o + 12);
      } else {
        if (s.startAddress.length !== 16 || s.endAddress.length !== 16) throw new CodecError('TS IPv6 addresses must be 16 bytes');
        s.startAddress.copy(buf, o + 8);
        s.endAddress.copy(buf, o + 24);
      }
    } else {
      (s as OtherSelector).data.copy(buf, o + 4);
    }
    o += len;
  }
  return o - offset;
}

/** IPv6 addresses and unknown selectors' data are views into `body`. */
export function decodeTsBody(body: Buffer, type: typeof PayloadType.TSi | typeof PayloadType.TSr): TsPayload | Malformed {
  if (body.length < 4) return malformed(`TS: body of ${body.length} bytes, need at least 4`);
  const count = body[0]!;
  const selectors: TrafficSelector[] = [];
  let o = 4;
  while (o < body.length) {
    const where = `TS selector ${selectors.length + 1}`;
    if (body.length - o < 4) return malformed(`${where}: header truncated`);
    const tsType = body[o]!;
    const ipProtocol = body[o + 1]!;
    const len = body.readUInt16BE(o + 2);
    if (len < 4 || len > body.length - o) return malformed(`${where}: length ${len} out of bounds`);
    if (tsType === TS_IPV4_ADDR_RANGE) {
      if (len !== IPV4_SELECTOR_LEN) return malformed(`${where}: TS_IPV4_ADDR_RANGE of length ${len}`);
      selectors.push({
        tsType,
        ipProtocol,
        startPort: body.readUInt16BE(o + 4),
        endPort: body.readUInt16BE(o + 6),
        startAddress: body.readUInt32BE(o + 8),
        endAddress: body.readUInt32BE(o + 12),
      });
    } else if (tsType === TS_IPV6_ADDR_RANGE) {
      if (len !== IPV6_SELECTOR_LEN) return malformed(`${where}: TS_IPV6_ADDR_RANGE of length ${len}`);
      selectors.push({
        tsType,
        ipProtocol,
        startPort: body.readUInt16BE(o + 4),
        endPort: body.readUInt16BE(o + 6),
        startAddress: body.subarray(o + 8, o + 24),
        endAddress: body.subarray(o + 24, o + 40),
      });
    } else {
      selectors.push({ tsType, ipProtocol, data: body.subarray(o + 4, o + len) });
    }
    o += len;
  }
  if (selectors.length !== count) return malformed(`TS: says ${count} selectors, holds ${selectors.length}`);
  if (count === 0) return malformed('TS: no selectors');
  return { type, selectors };
}
