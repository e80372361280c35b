// The NSEC / NSEC3 type bitmap (RFC 4034 §4.1.2): windows of up to 32 octets, in increasing
// window order, each without trailing zero octets.

import { DnsMalformed } from './reason.js';

/** Decodes to a sorted list of types; strict on window order and lengths. */
export function decodeTypeBitmap(buf: Buffer, start: number, end: number): number[] | DnsMalformed {
  const types: number[] = [];
  let pos = start;
  let lastWindow = -1;
  while (pos < end) {
    if (pos + 2 > end) return new DnsMalformed('truncated', 'type bitmap window header cut short');
    const win = buf[pos]!;
    const len = buf[pos + 1]!;
    if (win <= lastWindow) return new DnsMalformed('malformed', `type bitmap window ${win} out of order`);
    if (len < 1 || len > 32) return new DnsMalformed('malformed', `type bitmap window length ${len}`);
    if (pos + 2 + len > end) return new DnsMalformed('truncated', 'type bitmap window cut short');
    // Trailing zero octets must be omitted (RFC 4034 §4.1.2): refusing them keeps encode(decode(x)) = x.
    if (buf[pos + 1 + len] === 0) return new DnsMalformed('malformed', `type bitmap window ${win} ends with a zero octet`);
    for (let i = 0; i < len; i++) {
      const octet = buf[pos + 2 + i]!;
      for (let bit = 0; bit < 8; bit++) if (octet & (0x80 >> bit)) types.push(win * 256 + i * 8 + bit);
    }
    lastWindow = win;
    pos += 2 + len;
  }
  return types;
}

export function encodeTypeBitmap(types: readonly number[]): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let i = 0;
  while (i < sorted.length) {
    const win = sorted[i]! >> 8;
    const octets = Buffer.alloc(32);
    let maxOctet = 0;
    while (i < sorted.length && sorted[i]! >> 8 === win) {
      const low = sorted[i]! & 0xff;
      octets[low >> 3]! |= 0x80 >> (low & 7);
      maxOctet = low >> 3;
      i++;
    }
    parts.push(Buffer.from([win, maxOctet + 1]), octets.subarray(0, maxOctet + 1));
  }
  return Buffer.concat(parts);
}
