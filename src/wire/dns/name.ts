// Domain names as arrays of label bytes (RFC 1035 §3.1), never as UTF-8 strings: a label is up
// to 63 arbitrary octets, and DNSSEC compares and hashes those octets. Decoding follows
// compression pointers (§4.1.4) only strictly backwards, so no pointer chain can loop, and
// caps the result at 255 octets. Presentation text uses the RFC 1035 §5.1 escapes.

import { CodecError } from '../../errors.js';
import { DnsMalformed } from './reason.js';
import { hexShort } from '../hex.js';

/** Labels from the leftmost to the one under the root; the root is []. */
export type DnsName = readonly Buffer[];

export const MAX_NAME_LEN = 255;
export const MAX_LABEL_LEN = 63;
/** Far more hops than any sane message needs; each must also point backwards. */
const MAX_POINTER_HOPS = 64;

export interface NameRead {
  name: DnsName;
  /** Offset just after the name where it started (after the first pointer, if any). */
  next: number;
}

/** Reads a possibly compressed name at `offset` in the message `msg` (offsets are message-relative). */
export function readName(msg: Buffer, offset: number, end = msg.length): NameRead | DnsMalformed {
  const labels: Buffer[] = [];
  let pos = offset;
  let next = -1;
  let wireLen = 1;
  let hops = 0;
  let limit = end;
  for (;;) {
    // After a pointer, running into the bytes at or past it means the name would re-enter itself.
    const overrun = hops > 0 ? 'compression-loop' : 'truncated';
    if (pos >= limit) return new DnsMalformed(overrun, `name at ${offset} runs past ${hops > 0 ? 'its pointer' : 'the end'}`);
    const len = msg[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name: labels, next };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= limit) return new DnsMalformed('truncated', `compression pointer at ${pos} cut short`);
      const target = ((len & 0x3f) << 8) | msg[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (target >= pos) return new DnsMalformed('compression-loop', `pointer at ${pos} to ${target} does not point backwards`);
      if (++hops > MAX_POINTER_HOPS) return new DnsMalformed('compression-loop', `more than ${MAX_POINTER_HOPS} pointers in name at ${offset}`);
      if (target >= end) return new DnsMalformed('bad-pointer', `pointer at ${pos} to ${target} past the message`);
      // Everything after a pointer lies before it: bytes from `pos` on can no longer belong to the name.
      limit = pos;
      pos = target;
      continue;
    }
    if (kind !== 0) return new DnsMalformed('malformed', `label type ${hexShort(kind)} at ${pos}`);
    if (pos + 1 + len > limit) return new DnsMalformed(overrun, `label at ${pos} runs past ${hops > 0 ? 'its pointer' : 'the end'}`);
    wireLen += len + 1;
    if (wireLen > MAX_NAME_LEN) return new DnsMalformed('name-too-long', `name at ${offset} exceeds ${MAX_NAME_LEN} octets`);
    labels.push(msg.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

export function nameWireLength(name: DnsName): number {
  let n = 1;
  for (const l of name) n += 1 + l.length;
  return n;
}

/** Checks a name we are about to emit; throws CodecError (our bug or bad config, not the network). */
export function checkName(name: DnsName, what = 'name'): void {
  for (const l of name) {
    if (l.length === 0 || l.length > MAX_LABEL_LEN) throw new CodecError(`${what}: label of ${l.length} octets`);
  }
  if (nameWireLength(name) > MAX_NAME_LEN) throw new CodecError(`${what}: longer than ${MAX_NAME_LEN} octets`);
}

/** Writes the uncompressed wire form; returns the offset after it. */
export function writeName(name: DnsName, buf: Buffer, offset: number): number {
  let o = offset;
  for (const l of name) {
    buf[o++] = l.length;
    l.copy(buf, o);
    o += l.length;
  }
  buf[o++] = 0;
  return o;
}

export function nameToWire(name: DnsName): Buffer {
  const b = Buffer.alloc(nameWireLength(name));
  writeName(name, b, 0);
  return b;
}

function lowerByte(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
}

/** RFC 4034 §6.2: ASCII upper case to lower case, other octets untouched. */
export function lowerName(name: DnsName): Buffer[] {
  return name.map((l) => Buffer.from(l.map(lowerByte)));
}

function compareLabel(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = lowerByte(a[i]!) - lowerByte(b[i]!);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** RFC 4034 §6.1 canonical order: by labels from the right, each as lower-cased octets. */
export function compareNames(a: DnsName, b: DnsName): number {
  let i = a.length - 1;
  let j = b.length - 1;
  for (; i >= 0 && j >= 0; i--, j--) {
    const d = compareLabel(a[i]!, b[j]!);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function nameEquals(a: DnsName, b: DnsName): boolean {
  return a.length === b.length && compareNames(a, b) === 0;
}

/** True when `name` equals `zone` or lies below it. */
export function isSubdomain(name: DnsName, zone: DnsName): boolean {
  if (zone.length > name.length) return false;
  const off = name.length - zone.length;
  for (let i = 0; i < zone.length; i++) if (compareLabel(name[off + i]!, zone[i]!) !== 0) return false;
  return true;
}

/** The name with its leftmost `n` labels removed. */
export function parentName(name: DnsName, n = 1): DnsName {
  return name.slice(n);
}

/** The `n` rightmost labels. */
export function suffixName(name: DnsName, n: number): DnsName {
  return n <= 0 ? [] : name.slice(Math.max(0, name.length - n));
}

export function isWildcard(name: DnsName): boolean {
  return name.length > 0 && name[0]!.length === 1 && name[0]![0] === 0x2a;
}

/** RRSIG Labels value for an owner (RFC 4034 §3.1.3): a leading "*" does not count. */
export function rrsigLabelCount(name: DnsName): number {
  return isWildcard(name) ? name.length - 1 : name.length;
}

export const WILDCARD_LABEL = Buffer.from('*');

const SPECIAL = new Set([0x2e, 0x5c, 0x22, 0x3b, 0x28, 0x29, 0x40, 0x24]); // . \ " ; ( ) @ $

/** One label in presentation form: printable ASCII as is, specials as \c, the rest as \DDD. */
export function labelToString(l: Buffer): string {
  let s = '';
  for (const b of l) {
    if (SPECIAL.has(b)) s += '\\' + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + String(b).padStart(3, '0');
  }
  return s;
}

/** Fully qualified presentation form with the trailing dot; the root is ".". */
export function nameToString(name: DnsName): string {
  return name.length === 0 ? '.' : name.map(labelToString).join('.') + '.';
}

/**
 * Parses presentation text (RFC 1035 §5.1 escapes). A name without a trailing dot is relative
 * to `origin`; "@" is the origin. Throws CodecError on bad text.
 */
export function parseName(text: string, origin: DnsName = []): DnsName {
  if (text === '@') return origin;
  if (text === '.') return [];
  if (text.length === 0) throw new CodecError('empty name');
  const labels: Buffer[] = [];
  let cur: number[] = [];
  let absolute = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      const d = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new CodecError(`name ${JSON.stringify(text)}: escape \\${d} above 255`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i) & 0xff);
      } else throw new CodecError(`name ${JSON.stringify(text)}: ends with a backslash`);
    } else if (c === 0x2e) {
      if (cur.length === 0) throw new CodecError(`name ${JSON.stringify(text)}: empty label`);
      labels.push(Buffer.from(cur));
      cur = [];
      if (i === text.length - 1) absolute = true;
    } else {
      if (c > 0x7e || c < 0x21) throw new CodecError(`name ${JSON.stringify(text)}: character ${c} must be escaped`);
      cur.push(c);
    }
  }
  if (cur.length > 0) labels.push(Buffer.from(cur));
  const name = absolute ? labels : [...labels, ...origin];
  checkName(name, `name ${JSON.stringify(text)}`);
  return name;
}
