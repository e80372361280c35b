// RFC 1071 internet checksum and the RFC 1624 incremental update. Both run per packet on the
// hot path, so they read the Buffer in place and never allocate.

/**
 * Ones' complement sum of buf[start..end) as 16-bit big-endian words, folded to 16 bits but
 * NOT complemented, so partial sums (pseudo-headers, split buffers) can be chained through
 * `initial`. An odd final byte is the high half of a zero-padded word (RFC 1071 §4.1); chaining
 * is therefore only exact when every range but the last has even length.
 */
export function onesSum(buf: Buffer, start = 0, end = buf.length, initial = 0): number {
  // Adding 32-bit words and folding later is congruent mod 0xffff (2^16 ≡ 1) and halves the
  // reads; a double stays exact far beyond any IP packet's worth of 2^32-sized addends.
  let sum = initial;
  let i = start;
  const end4 = start + ((end - start) & ~3);
  for (; i < end4; i += 4) sum += buf.readUInt32BE(i);
  if (i + 2 <= end) {
    sum += buf.readUInt16BE(i);
    i += 2;
  }
  if (i < end) sum += buf[i]! << 8;
  return fold(sum);
}

/** Folds any non-negative integer below 2^53 to its 16-bit ones' complement residue. */
export function fold(sum: number): number {
  // Bitwise operators truncate to 32 bits, so reduce with arithmetic first.
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Checksum field value for buf[start..end) (with the checksum field zeroed by the caller). */
export function internetChecksum(buf: Buffer, start = 0, end = buf.length, initial = 0): number {
  return ~onesSum(buf, start, end, initial) & 0xffff;
}

/**
 * True when the range, checksum field included, sums to 0xffff: the receiver-side test of
 * RFC 1071, which accepts both representations of zero without special-casing.
 */
export function checksumOk(buf: Buffer, start = 0, end = buf.length, initial = 0): boolean {
  return onesSum(buf, start, end, initial) === 0xffff;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Eqn. 2 of RFC 1141 could yield 0x0000 where a full
 * recomputation gives 0xffff; this form matches full recomputation for any header that is not
 * all zeros.
 */
export function checksumUpdate16(oldChecksum: number, oldWord: number, newWord: number): number {
  const sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}
