// The one validation path shared by `iiptran node` (start and SIGHUP reload) and
// `iiptran check-config`: the config file itself (every field, cross-field rules, vlink MTUs),
// then the content of every file it names (manual key files, PSK files, raw public keys) and
// the control socket's group.
// Nothing here touches the system beyond reading those files, so check-config can promise that
// a file it calls "ok" is one the daemon accepts.

import { loadNodeConfig } from './config.js';
import type { NodeConfig, VlinkConfig } from './config-types.js';
import { loadKeyFile } from './keyfile.js';
import { loadAuthPrivateKey, loadPeerPublicKey, loadPskFile } from './credentials.js';
import { vlinkMtu } from '../dataplane/mtu.js';
import { familyOf } from './config-ipv6.js';
import { IiptranError } from '../errors.js';
import { resolveGroup } from './unix-group.js';

export interface CheckedVlink {
  name: string;
  peer: string;
  encap: 'udp' | 'esp';
  /** The suite (manual) or `ikev2: <esp proposals>`. */
  suite: string;
  mtu: number;
  maxMtu: number;
}

export interface CheckedConfig {
  cfg: NodeConfig;
  vlinks: CheckedVlink[];
  /** control_socket_group resolved; undefined when the field is absent. */
  controlSocketGid: number | undefined;
}

/** A problem found outside the config file itself, with the config field it concerns. */
interface FileProblem {
  field: string;
  message: string;
  /** IIPTRAN_ERR_KEYFILE for a key file; a system lookup (the group) is a config problem. */
  key: boolean;
}

/**
 * Loads and validates `path` and every file it refers to. Throws the config's ConfigErrors
 * (IIPTRAN_ERR_CONFIG) when the file itself is invalid, else one IIPTRAN_ERR_KEYFILE error that
 * lists every unusable key file with the field that names it.
 */
export function checkNodeConfig(path: string): CheckedConfig {
  const cfg = loadNodeConfig(path);
  const problems: FileProblem[] = [];
  let controlSocketGid: number | undefined;
  if (cfg.controlSocketGroup !== undefined) {
    const g = resolveGroup(cfg.controlSocketGroup);
    if (typeof g === 'number') controlSocketGid = g;
    else problems.push({ field: 'control_socket_group', message: g, key: false });
  }
  const vlinks = cfg.vlinks.map((v, i) => checkVlinkFiles(cfg, v, `vlinks[${i}].keying`, problems));
  if (problems.length > 0) {
    const lines = problems.map((p) => `${p.field}: ${p.message}`);
    const message = lines.length === 1 ? `${path}: ${lines[0]}` : `${path}: ${lines.length} problems:\n` + lines.map((l) => '  ' + l).join('\n');
    const code = problems.every((p) => p.key) ? 'IIPTRAN_ERR_KEYFILE' : 'IIPTRAN_ERR_CONFIG';
    throw new IiptranError(code, message, { field: problems[0]!.field });
  }
  return { cfg, vlinks, controlSocketGid };
}

function checkVlinkFiles(cfg: NodeConfig, v: VlinkConfig, at: string, problems: FileProblem[]): CheckedVlink {
  const attempt = (field: string, load: () => void) => {
    try {
      load();
    } catch (e) {
      if (!(e instanceof IiptranError)) throw e;
      problems.push({ field: `${at}.${field}`, message: e.message, key: true });
    }
  };
  const k = v.keying;
  let suite: string;
  if (k.mode === 'manual') {
    attempt('key_in', () => wipe(loadKeyFile(k.keyIn, k.suite)));
    attempt('key_out', () => wipe(loadKeyFile(k.keyOut, k.suite)));
    suite = k.suite;
  } else {
    if (k.auth === 'pubkey' || k.auth === 'dns') {
      attempt('private_key', () => loadAuthPrivateKey(k.privateKey));
      // auth: dns takes the peer's key from IPSECA; a configured one is an optional fallback.
      if (k.auth === 'pubkey' || k.peerPublicKey !== '') attempt('peer_public_key', () => loadPeerPublicKey(k.peerPublicKey));
    } else attempt('psk_file', () => loadPskFile(k.pskFile).fill(0));
    suite = `ikev2: ${k.espProposals.join(',')}`;
  }
  const maxMtu = vlinkMtu(cfg.underlay.mtu, v.encap, familyOf(cfg.underlay.address));
  return { name: v.name, peer: v.peer, encap: v.encap, suite, mtu: v.mtu === 'auto' ? maxMtu : v.mtu, maxMtu };
}

/** Key material read only to check it is not left in memory longer than needed. */
function wipe(m: { key: Buffer; salt: Buffer }): void {
  m.key.fill(0);
  m.salt.fill(0);
}
