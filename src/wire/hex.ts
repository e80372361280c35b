// Hex display of numbers for messages and logs (SPIs, flags): one helper, so every message
// shows a value the same way.

/** `0x` and the shortest hex form: 256 -> `0x100`. */
export function hexNum(n: number): string {
  return '0x' + n.toString(16);
}

/** `0x` and eight hex digits, the fixed width of a 32-bit SPI: 256 -> `0x00000100`. */
export function hex8(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
