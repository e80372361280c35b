// The `keying` block of a vlink: manual SAs (suite, SPIs, key files) or IKEv2 (credentials,
// proposals, identities, lifetimes). Each mode has its own field list, so unknown-field hints
// fit the mode.

import { isAbsolute, resolve } from 'node:path';
import type { IkeKeying, ManualKeying, Suite } from './config-types.js';
import { SUITES } from '../dataplane/suite.js';
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, parseEspProposal, parseIkeProposal } from '../ike/proposals.js';
import { DEFAULT_DPD_INTERVAL_S } from '../ike/dpd.js';
import { parseIdentity } from '../ike/identity.js';
import { hexShort } from '../wire/hex.js';
import type { Path } from './yaml-doc.js';
import { describe, type Obj, type SchemaValidator } from './yaml-validator.js';

export const SPI_MIN = 0x100;
export const SPI_MAX = 0xffffffff;
export const DEFAULT_IKE_LIFETIME_S = 14400;
export const DEFAULT_CHILD_LIFETIME_S = 3600;

const KEYING_FIELDS = ['mode', 'suite', 'spi_in', 'spi_out', 'key_in', 'key_out', 'esn'];
const IKE_KEYING_FIELDS = ['mode', 'auth', 'psk_file', 'private_key', 'peer_public_key', 'child_mode', 'role', 'ike_proposals', 'esp_proposals', 'local_id', 'remote_id', 'ike_lifetime_s', 'child_lifetime_s', 'child_lifetime_bytes', 'child_lifetime_packets', 'dpd_interval_s'];

/** Key files are named relative to the config file's directory. */
export function keyPath(v: SchemaValidator, raw: unknown, p: Path, baseDir: string): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    v.err(p, `must be a path to a key file, relative to the config file's directory or absolute (got ${describe(raw)})`);
    return '';
  }
  return isAbsolute(raw) ? resolve(raw) : resolve(baseDir, raw);
}

export function manualKeying(v: SchemaValidator, raw: unknown, p: Path, baseDir: string): ManualKeying | undefined {
  const k = v.mapping(raw, p, KEYING_FIELDS);
  if (k === undefined) return undefined;
  if (!v.required(k, 'mode', p, '"manual" or "ikev2"')) return undefined;
  if (k.mode !== 'manual') {
    // Without a working mode the remaining fields have no defined meaning, so stop here.
    v.err([...p, 'mode'], `must be "manual" or "ikev2" (got ${describe(k.mode)})`);
    return undefined;
  }
  let suite: Suite = 'aes-gcm-256';
  if (v.required(k, 'suite', p, SUITES.join(', '))) suite = v.oneOf(k, 'suite', p, SUITES, suite);
  const spiIn = v.required(k, 'spi_in', p, 'the SPI this node expects on inbound packets') ? spi(v, k.spi_in, [...p, 'spi_in']) : 0;
  const spiOut = v.required(k, 'spi_out', p, 'the SPI this node puts on outbound packets') ? spi(v, k.spi_out, [...p, 'spi_out']) : 0;
  const keyIn = v.required(k, 'key_in', p, 'path of the inbound key file') ? keyPath(v, k.key_in, [...p, 'key_in'], baseDir) : '';
  const keyOut = v.required(k, 'key_out', p, 'path of the outbound key file') ? keyPath(v, k.key_out, [...p, 'key_out'], baseDir) : '';
  const esn = v.boolean(k, 'esn', p, false);
  return { mode: 'manual', suite, spiIn, spiOut, keyIn, keyOut, esn };
}

/** `mode: ikev2`. */
export function ikeKeying(v: SchemaValidator, raw: Obj, p: Path, baseDir: string): IkeKeying | undefined {
  const k = v.mapping(raw, p, IKE_KEYING_FIELDS);
  if (k === undefined) return undefined;
  const auth = v.oneOf(k, 'auth', p, ['psk', 'pubkey', 'dns'] as const, 'psk');
  /** `forAuth`: the auth values that use the file; `optional`: with these, it may be left out. */
  const credential = (key: string, what: string, forAuth: readonly IkeKeying['auth'][], optional: readonly IkeKeying['auth'][] = []): string => {
    if (!forAuth.includes(auth)) {
      // A key file that is silently ignored would make the operator believe it is in use.
      if (v.present(k, key)) v.err([...p, key], `is only used with auth: ${forAuth.join(' or ')} (this vlink has auth: ${auth})`);
      return '';
    }
    if (optional.includes(auth) && !v.present(k, key)) return '';
    return v.required(k, key, p, what) ? keyPath(v, k[key], [...p, key], baseDir) : '';
  };
  const pskFile = credential('psk_file', 'path of the pre-shared key file', ['psk']);
  const privateKey = credential('private_key', 'our Ed25519 or ECDSA P-256 private key, PEM or DER; iiptran genauthkey makes one', ['pubkey', 'dns']);
  // auth: dns takes the peer's key from IPSECA; a configured one is only the fallback for an unusable answer.
  const peerPublicKey = credential('peer_public_key', "the peer's public key, PEM or DER SubjectPublicKeyInfo", ['pubkey', 'dns'], ['dns']);
  const childMode = v.oneOf(k, 'child_mode', p, ['transport', 'tunnel-any'] as const, 'transport');
  const role = v.oneOf(k, 'role', p, ['initiator', 'responder', 'auto'] as const, 'auto');
  const ikeProposals = proposals(v, k, 'ike_proposals', p, DEFAULT_IKE_PROPOSALS, parseIkeProposal);
  const espProposals = proposals(v, k, 'esp_proposals', p, DEFAULT_ESP_PROPOSALS, parseEspProposal);
  const localId = identity(v, k, 'local_id', p);
  const remoteId = identity(v, k, 'remote_id', p);
  // Minimums of seconds: short lifetimes cost rekeys, not safety, and let tests rekey under load.
  const ikeLifetimeS = v.integer(k, 'ike_lifetime_s', p, 10, 7 * 86400, DEFAULT_IKE_LIFETIME_S);
  const childLifetimeS = v.integer(k, 'child_lifetime_s', p, 2, 86400, DEFAULT_CHILD_LIFETIME_S);
  const childLifetimeBytes = v.integer(k, 'child_lifetime_bytes', p, 0, Number.MAX_SAFE_INTEGER, 0, (n) => (n !== 0 && n < 1048576 ? 'must be 0 (none) or at least 1048576 (1 MiB)' : undefined));
  const childLifetimePackets = v.integer(k, 'child_lifetime_packets', p, 0, Number.MAX_SAFE_INTEGER, 0, (n) => (n !== 0 && n < 1000 ? 'must be 0 (none) or at least 1000' : undefined));
  const dpdIntervalS = v.integer(k, 'dpd_interval_s', p, 0, 3600, DEFAULT_DPD_INTERVAL_S);
  return { mode: 'ikev2', auth, pskFile, privateKey, peerPublicKey, childMode, role, ikeProposals, espProposals, localId, remoteId, ikeLifetimeS, childLifetimeS, childLifetimeBytes, childLifetimePackets, dpdIntervalS };
}

function proposals(v: SchemaValidator, k: Obj, key: string, p: Path, dflt: readonly string[], parse: (s: string) => object | string): string[] {
  if (!v.present(k, key)) return [...dflt];
  const raw = k[key];
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string')) {
    v.err([...p, key], `must be a non-empty list of proposal strings such as ${JSON.stringify(dflt[0])} (got ${describe(raw)})`);
    return [...dflt];
  }
  list.forEach((x: string, i) => {
    const r = parse(x);
    if (typeof r === 'string') v.err([...p, key, i], `${JSON.stringify(x)} ${r}`);
  });
  return list as string[];
}

function identity(v: SchemaValidator, k: Obj, key: string, p: Path): string | undefined {
  if (!v.present(k, key)) return undefined;
  const raw = k[key];
  const r = typeof raw === 'string' ? parseIdentity(raw) : 'must be a string';
  if (typeof r === 'string') {
    v.err([...p, key], `${r}; an IPv4 address, an FQDN (vpn.example.org or @name) or user@domain (got ${describe(raw)})`);
    return undefined;
  }
  return raw as string;
}

function spi(v: SchemaValidator, raw: unknown, p: Path): number {
  let n = NaN;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(raw.trim())) n = Number(raw.trim());
  const allowed = `must be an integer ${hexShort(SPI_MIN)}..${hexShort(SPI_MAX)}`;
  if (!Number.isInteger(n)) {
    v.err(p, `${allowed} (got ${describe(raw)})`);
    return 0;
  }
  if (n < SPI_MIN) {
    v.err(p, `${allowed}; 0 is invalid and 1..255 are reserved by RFC 4303 (got ${n} = ${hexShort(n)})`);
    return 0;
  }
  if (n > SPI_MAX) {
    v.err(p, `${allowed}; an SPI is 32 bits (got ${n} = ${hexShort(n)})`);
    return 0;
  }
  return n;
}
