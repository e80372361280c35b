import { generateKeyHex, writeKeyFile } from '../control/keyfile.js';
import type { Suite } from '../control/config-types.js';

export async function genkeyCommand(o: { suite: Suite; out?: string | undefined }): Promise<void> {
  if (o.out === undefined) {
    process.stdout.write(`# iiptran ${o.suite} key||salt\n${generateKeyHex(o.suite)}\n`);
    return;
  }
  writeKeyFile(o.out, o.suite);
  process.stderr.write(`wrote ${o.suite} key to ${o.out} (mode 0600)\n`);
}
