import { readFileSync } from 'node:fs';
import { loadAuthPrivateKey, loadPeerPublicKey, writeAuthKeyPair } from '../control/credentials.js';
import { ipsecaPublication, type IpsecaPublication } from '../dns/ipseca.js';
import { IiptranError } from '../errors.js';
import { exportSpki, type AuthKeyType } from '../ike/crypto/auth.js';
import { spkiSha256 } from '../ike/auth-pubkey.js';
import { ipsecaFieldName } from '../wire/dns/ipseca.js';

export const AUTH_KEY_TYPES: readonly AuthKeyType[] = ['ed25519', 'ecdsa-p256'];
export const IPSECA_MATCHING = [0, 1, 2] as const;

export interface GenauthkeyOptions {
  type: AuthKeyType;
  out?: string | undefined;
  pub?: string | undefined;
  /** An existing key (private or public) instead of a new one. */
  from?: string | undefined;
  /** Gateway FQDN or IPv4 address whose IPSECA record to print. */
  ipseca?: string | undefined;
  ipsecaMatching?: number | undefined;
  json?: boolean | undefined;
}

const usage = (m: string) => new IiptranError('IIPTRAN_ERR_USAGE', m);

/** The DER SPKI of an existing key file: a public key (PEM or DER), or a private key (which must pass the key-file checks). */
function spkiOf(path: string): Buffer {
  let raw: Buffer | null = null;
  try {
    raw = readFileSync(path);
  } catch {
    // the loaders below say why the file cannot be read
  }
  if (raw !== null && !raw.includes('PRIVATE KEY')) {
    try {
      return loadPeerPublicKey(path);
    } catch (e) {
      if (raw.includes('-----BEGIN')) throw e;
      // DER: a private key in PKCS#8 is also possible
    }
  }
  return exportSpki(loadAuthPrivateKey(path));
}

function recordText(p: IpsecaPublication, gateway: string): string {
  const r = p.rdata;
  return [
    `; IPSECA for gateway ${gateway} (draft-osterweil-dane-ipsec): usage ${r.usage} (${ipsecaFieldName('usage', r.usage)}), ` +
      `selector ${r.selector} (${ipsecaFieldName('selector', r.selector)}), matching type ${r.matchingType} (${ipsecaFieldName('matchingType', r.matchingType)})`,
    `; ${p.presentation}`,
    p.generic,
  ].join('\n');
}

export async function genauthkeyCommand(o: GenauthkeyOptions): Promise<void> {
  if (o.from !== undefined && (o.out !== undefined || o.pub !== undefined)) throw usage('--from reads an existing key; it cannot be combined with --out or --pub');
  if (o.from === undefined && o.out === undefined) throw usage('give --out FILE for a new key pair, or --from FILE for an existing key');
  if (o.ipsecaMatching !== undefined && o.ipseca === undefined) throw usage('--ipseca-matching needs --ipseca NAME');
  let spki: Buffer;
  let files: { privateKey: string; publicKey: string } | null = null;
  if (o.from !== undefined) {
    spki = spkiOf(o.from);
  } else {
    const f = writeAuthKeyPair(o.out!, o.type, o.pub);
    process.stderr.write(`wrote ${o.type} private key to ${f.privatePath} (mode 0600) and its public key to ${f.publicPath}\n`);
    spki = loadPeerPublicKey(f.publicPath);
    files = { privateKey: f.privatePath, publicKey: f.publicPath };
  }
  let pub: IpsecaPublication | null = null;
  if (o.ipseca !== undefined) {
    try {
      pub = ipsecaPublication(o.ipseca, spki, o.ipsecaMatching ?? 1);
    } catch (e) {
      throw usage(`--ipseca: ${JSON.stringify(o.ipseca)} is not a gateway name or address: ${(e as Error).message}`);
    }
  }
  const sha256 = spkiSha256(spki);
  if (o.json) {
    const ipseca = pub && { owner: pub.owner, usage: pub.rdata.usage, selector: pub.rdata.selector, matchingType: pub.rdata.matchingType,
      data: pub.rdata.data.toString('hex'), presentation: pub.presentation, generic: pub.generic };
    process.stdout.write(JSON.stringify({ ...(files ?? { from: o.from }), sha256, ipseca }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${files?.publicKey ?? o.from} SHA-256 ${sha256}\n`);
  if (pub) process.stdout.write(recordText(pub, o.ipseca!) + '\n');
}
