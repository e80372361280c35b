// IIPTRAN_IKE_KEYLOG=<file>: one JSON line per derived IKE or CHILD_SA secret set, appended to a
// file only we can read. It exists so tests can compare our keys with a peer's key log, and so a
// capture can be decrypted with tshark; it defeats all of IPsec for anyone who can read it.

import { appendFileSync, chmodSync, closeSync, openSync } from 'node:fs';

export function ikeKeyLogFile(path: string): (rec: Record<string, string | number>) => void {
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  return (rec) => appendFileSync(path, JSON.stringify({ t: Date.now(), ...rec }) + '\n');
}
