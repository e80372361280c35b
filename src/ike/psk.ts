// Pre-shared key files for IKEv2 PSK authentication. The file gets exactly the checks key files
// get (keyfile.ts: regular file, mode 0600/0400, our own or root's). Content:
//   - text: the PSK is the file's bytes, minus trailing line breaks and spaces (what an editor
//     adds); the same string goes in a strongSwan `secret = "..."`;
//   - 0x followed by hex digits: the PSK is those bytes (strongSwan `secret = 0x...`).
// A PSK shorter than 16 bytes is refused: IKE_AUTH with a PSK can be attacked offline by anyone
// who sees one exchange, so a guessable PSK is a published one.

import { KeyFileError } from '../errors.js';
import { parseHex } from '../wire/hex.js';

export const PSK_MIN_LEN = 16;
const PSK_MAX_LEN = 1024;

export function parsePsk(raw: Buffer, path = '(inline)'): Buffer {
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d || raw[end - 1] === 0x20 || raw[end - 1] === 0x09)) end--;
  const text = raw.subarray(0, end);
  let psk: Buffer;
  if (text.length >= 2 && text[0] === 0x30 && (text[1] === 0x78 || text[1] === 0x58)) {
    const digits = text.subarray(2).toString('latin1');
    const bytes = digits.length > 0 ? parseHex(digits) : null;
    if (bytes === null) throw new KeyFileError(path, 'starts with 0x but is not an even number of hex digits after it');
    psk = bytes;
  } else {
    psk = Buffer.from(text);
  }
  if (psk.length < PSK_MIN_LEN) {
    psk.fill(0);
    throw new KeyFileError(path, `PSK of ${text.length === 0 ? 0 : psk.length} bytes is too short; use at least ${PSK_MIN_LEN} random bytes, e.g. "0x" followed by the output of: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`);
  }
  if (psk.length > PSK_MAX_LEN) throw new KeyFileError(path, `PSK of ${psk.length} bytes is longer than ${PSK_MAX_LEN}`);
  return psk;
}

//END
