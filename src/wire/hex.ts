// The one place numbers become hex text. SPIs must print the same way in logs, `iiptran show`,
// key logs and error messages, because users grep one against the other (and against tshark and
// charon, which print fixed-width lowercase digits).

/** A 32-bit value (an ESP SPI) as 8 lowercase hex digits, no prefix. */
export function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** A 32-bit value as `0x` and 8 lowercase hex digits: how logs and the CLI show an ESP SPI. */
export function hex32x(n: number): string {
  return '0x' + hex32(n);
}

/** A 64-bit value (an IKE SPI) as 16 lowercase hex digits, as tshark and charon print it. */
export function hex64(n: bigint): string {
  return n.toString(16).padStart(16, '0');
}

/** A number as `0x` and its shortest lowercase hex digits (a code point or flag in a message). */
export function hexShort(n: number): string {
  return '0x' + n.toString(16);
}

/** Hex text (an even number of digits) to bytes; null when it is not that. */
export function parseHex(text: string): Buffer | null {
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) return null;
  return Buffer.from(text, 'hex');
}
