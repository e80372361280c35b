import { writeAuthKeyPair } from '../control/credentials.js';
import type { AuthKeyType } from '../ike/crypto/auth.js';

export const AUTH_KEY_TYPES: readonly AuthKeyType[] = ['ed25519', 'ecdsa-p256'];

export async function genauthkeyCommand(o: { type: AuthKeyType; out: string; pub?: string | undefined }): Promise<void> {
  const f = writeAuthKeyPair(o.out, o.type, o.pub);
  process.stderr.write(`wrote ${o.type} private key to ${f.privatePath} (mode 0600) and its public key to ${f.publicPath}\n`);
  process.stdout.write(`${f.publicPath} SHA-256 ${f.sha256}\n`);
}
