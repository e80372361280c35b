// The data plane's native ESP crypto: the addon's batch seal and open over OpenSSL's EVP AEAD
// (the OpenSSL Node itself is linked with), one cipher context per SA. The contract is
// dataplane/esp-batch.ts's; its JS engine is the reference the tests hold this one to.

import { loadNative } from '../native/index.js';
import type { EspCrypto } from './types.js';

export function loadEspCrypto(opts: { fastPath?: boolean } = {}): EspCrypto {
  const n = loadNative();
  return { newSa: n.espSaNew, seal: n.espSeal, open: n.espOpen, fastPath: opts.fastPath !== false };
}
