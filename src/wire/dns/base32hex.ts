// Base 32 with the extended hex alphabet (RFC 4648 §7), no padding, as NSEC3 owner labels and
// the NSEC3 next hashed owner use it (RFC 5155 §3.3).

const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

export function toBase32Hex(b: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const x of b) {
    acc = (acc << 8) | x;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** Case-insensitive; null on a character outside the alphabet or non-zero padding bits. */
export function fromBase32Hex(s: string): Buffer | null {
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of s.toLowerCase()) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) return null;
  return Buffer.from(out);
}
