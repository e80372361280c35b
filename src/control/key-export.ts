// The control socket's `secrets` method: the keys of the SAs a node holds now, for Wireshark
// (`iiptran show sas|ike --wireshark DIR`). Never part of a `show` view, and refused on a
// socket shared with a group: reading these lets anyone decrypt the traffic of those SAs, and
// the IKE keys would let them forge the peer's IKE messages too.

import type { OverlayNode } from './node.js';
import type { InboundSa, OutboundSa } from '../dataplane/sa.js';
import { SUITES } from '../dataplane/aead.js';
import { formatAddr } from '../wire/addr.js';
import { hex32x, hex64 } from '../wire/hex.js';
import { IiptranError } from '../errors.js';
import type { IkeSuite } from '../ike/crypto/suites.js';

export interface EspSecret {
  vlink: string;
  dir: 'in' | 'out';
  spi: string;
  /** Outer source and destination: what Wireshark matches the SA on. */
  src: string;
  dst: string;
  suite: string;
  /** Cipher key followed by the 4-byte salt, hex (RFC 4106 §8.1 keying material). */
  key: string;
  /** Wireshark's name of the algorithm in its esp_sa table; null when Wireshark cannot decrypt it. */
  wireshark: string | null;
}

export interface IkeSecret {
  vlink: string;
  spiI: string;
  spiR: string;
  state: string;
  suite: string;
  skEi: string;
  skEr: string;
  skAi: string;
  skAr: string;
  /** Wireshark's names in its ikev2_decryption_table; encr null when Wireshark cannot decrypt it. */
  wiresharkEncr: string | null;
  wiresharkInteg: string;
}

/** Wireshark's IKEv2 encryption names (epan/dissectors/packet-isakmp.c) for the ciphers we negotiate. */
function wiresharkIkeEncr(s: IkeSuite): string | null {
  if (s.encr.cipher === 'aes-128-gcm') return 'AES-GCM-128 with 16 octet ICV [RFC5282]';
  if (s.encr.cipher === 'aes-256-gcm') return 'AES-GCM-256 with 16 octet ICV [RFC5282]';
  if (s.encr.cipher === 'aes-128-cbc') return 'AES-CBC-128 [RFC3602]';
  if (s.encr.cipher === 'aes-256-cbc') return 'AES-CBC-256 [RFC3602]';
  return null;
}

function wiresharkIkeInteg(s: IkeSuite): string {
  if (s.integ === null) return 'NONE [RFC4306]';
  return s.integ.hash === 'sha256' ? 'HMAC_SHA2_256_128 [RFC4868]' : 'HMAC_SHA2_384_192 [RFC4868]';
}

function esp(sa: OutboundSa | InboundSa, vlink: string): EspSecret {
  return {
    vlink,
    dir: sa.dir,
    spi: hex32x(sa.spi),
    src: formatAddr(sa.src),
    dst: formatAddr(sa.dst),
    suite: sa.suite,
    key: Buffer.concat([sa.key, sa.salt]).toString('hex'),
    wireshark: SUITES[sa.suite].tsharkName,
  };
}

export function secretsView(node: OverlayNode, what: unknown, socketShared: boolean) {
  if (socketShared) {
    throw new IiptranError('IIPTRAN_ERR_CONTROL', 'key export refused: control_socket_group lets a group use this socket, and SA keys are for root only; run it on a node whose socket is 0600');
  }
  if (what === 'esp') {
    const sas: EspSecret[] = [];
    for (const v of node.vlinks.values()) {
      if (v.policy.sa !== null) sas.push(esp(v.policy.sa, v.name));
      for (const s of v.inbound) sas.push(esp(s, v.name));
    }
    return { node: node.cfg.node, esp: sas };
  }
  if (what === 'ike') {
    const sas: IkeSecret[] = [];
    const e = node.ike;
    for (const v of node.vlinks.keys()) {
      const sa = e?.sa(v) ?? null;
      if (sa === null || sa.keys === null || sa.suite === null) continue;
      sas.push({
        vlink: v, spiI: hex64(sa.spiI), spiR: hex64(sa.spiR), state: sa.state, suite: sa.suite.encr.name,
        skEi: sa.keys.skEi.toString('hex'), skEr: sa.keys.skEr.toString('hex'), skAi: sa.keys.skAi.toString('hex'), skAr: sa.keys.skAr.toString('hex'),
        wiresharkEncr: wiresharkIkeEncr(sa.suite), wiresharkInteg: wiresharkIkeInteg(sa.suite),
      });
    }
    return { node: node.cfg.node, ike: sas };
  }
  throw new IiptranError('IIPTRAN_ERR_USAGE', `secrets: what must be "esp" or "ike" (got ${JSON.stringify(what)})`);
}
