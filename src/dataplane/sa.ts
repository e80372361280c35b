// Security Association records: plain data the engine mutates (sequence counters, stats, the
// replay window). Validation happens here, once, so the per-packet code can trust key and salt
// lengths and never has to throw.

import { randomBytes } from 'node:crypto';
import type { Suite } from './suite.js';
import { IiptranError } from '../errors.js';
import { formatAddr, parseAddr, type IpAddr } from '../wire/addr.js';
import { isSuite, SALT_LEN, SUITES } from './aead.js';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay-window.js';

export interface OutboundSaStats {
  packets: number;
  /** Payload (inner packet) bytes protected, not ESP bytes on the wire. */
  bytes: number;
}

export interface InboundSaStats {
  packets: number;
  /** Payload bytes delivered after all checks passed. */
  bytes: number;
  replayDrops: number;
  icvDrops: number;
}

/** Who made an SA: a key file, or an IKEv2 negotiation. Only the inspector cares. */
export type SaKeying = 'manual' | 'ikev2';

export interface OutboundSa {
  readonly dir: 'out';
  readonly keying: SaKeying;
  /** See SaParams.ipv6. */
  readonly ipv6: boolean;
  readonly spi: number;
  readonly suite: Suite;
  readonly key: Buffer;
  readonly salt: Buffer;
  readonly esn: boolean;
  /** Last sequence number used; 0 before the first packet, so the first one sent is 1. */
  seq: number;
  /** Set once the counter would wrap; the SA then refuses to seal (RFC 4303 §3.3.3). */
  exhausted: boolean;
  /**
   * Random 64-bit start of the IV counter, as two u32 halves: IV = ivBase + seq (mod 2^64).
   * Sequence numbers of a manual SA restart at 1 whenever the daemon restarts with the same key
   * file; with IV = seq that would reuse (key, nonce) pairs, which breaks GCM and ChaCha20-Poly1305
   * outright. A fresh random base per SA instance keeps the IV unique within one run and makes a
   * collision across runs need two 64-bit ranges to overlap.
   */
  readonly ivHi: number;
  readonly ivLo: number;
  /** Outer source/destination (underlay addresses) this SA protects traffic between; a named peer's move changes dst. */
  readonly src: IpAddr;
  dst: IpAddr;
  readonly stats: OutboundSaStats;
  /** Date.now() at creation. */
  readonly createdAt: number;
}

export interface InboundSa {
  readonly dir: 'in';
  readonly keying: SaKeying;
  /** See SaParams.ipv6. */
  readonly ipv6: boolean;
  readonly spi: number;
  readonly suite: Suite;
  readonly key: Buffer;
  readonly salt: Buffer;
  readonly esn: boolean;
  readonly replay: ReplayWindow;
  /** Selectors: the outer src/dst a packet decrypted with this SA must have arrived with; a named peer's move changes src. */
  src: IpAddr;
  readonly dst: IpAddr;
  readonly stats: InboundSaStats;
  readonly createdAt: number;
}

export type Sa = OutboundSa | InboundSa;

export interface SaParams {
  spi: number;
  suite: Suite;
  key: Buffer;
  salt: Buffer;
  /** Extended sequence numbers (RFC 4304); default false. */
  esn?: boolean;
  /** Text as config and key files write it, or an address already parsed (IKE, the node). */
  src: string | IpAddr;
  dst: string | IpAddr;
  /** Defaults to Date.now(). */
  createdAt?: number;
  /** Default 'manual'. */
  keying?: SaKeying;
  /**
   * Whether the SA carries IPv6 inner packets (ESP next header 41). Default true: manual keys
   * are the operator's word for both ends; an IKE CHILD_SA only when its traffic selectors
   * agreed on protocol 41 (a peer installing kernel policies from them drops anything else).
   */
  ipv6?: boolean;
}

export interface InboundSaParams extends SaParams {
  /** Anti-replay window in packets; default 1024. */
  replayWindow?: number;
}

/** SPIs 1..255 are reserved by IANA and 0 is never sent (RFC 4303 §2.1). */
export const MIN_SPI = 0x100;
export const MAX_SPI = 0xffffffff;

function configError(field: string, problem: string): IiptranError {
  return new IiptranError('IIPTRAN_ERR_CONFIG', `SA ${field}: ${problem}`, { field });
}

// Either family (an IPv6 underlay, issue #10); an unparsable selector is refused here, at
// setup, rather than matching nothing later.
function addrField(a: string | IpAddr, field: string): IpAddr {
  const v = typeof a === 'string' ? parseAddr(a) : a;
  if (v === null || typeof v !== 'object') throw configError(field, `${JSON.stringify(a)} is not an IPv4 or IPv6 address`);
  return v;
}

/** An SA's outer header has one family: src and dst must share it. */
function sameFamily(src: IpAddr, dst: IpAddr): IpAddr {
  if (src.family !== dst.family) throw configError('dst', `${formatAddr(dst)} is IPv${dst.family} but src ${formatAddr(src)} is IPv${src.family}`);
  return dst;
}

interface Common {
  spi: number;
  suite: Suite;
  key: Buffer;
  salt: Buffer;
  esn: boolean;
  src: IpAddr;
  dst: IpAddr;
  createdAt: number;
  keying: SaKeying;
  ipv6: boolean;
}

function validate(p: SaParams): Common {
  if (!Number.isInteger(p.spi) || p.spi < MIN_SPI || p.spi > MAX_SPI) {
    throw configError('spi', `${p.spi} is out of range 0x100..0xffffffff`);
  }
  if (!isSuite(p.suite)) throw configError('suite', `unknown suite ${JSON.stringify(p.suite)}`);
  const info = SUITES[p.suite];
  if (!Buffer.isBuffer(p.key) || p.key.length !== info.keyLen) {
    const got = Buffer.isBuffer(p.key) ? `${p.key.length} bytes` : 'not a Buffer';
    throw configError('key', `${p.suite} needs a ${info.keyLen}-byte key, got ${got}`);
  }
  if (!Buffer.isBuffer(p.salt) || p.salt.length !== SALT_LEN) {
    const got = Buffer.isBuffer(p.salt) ? `${p.salt.length} bytes` : 'not a Buffer';
    throw configError('salt', `${p.suite} needs a ${SALT_LEN}-byte salt, got ${got}`);
  }
  return {
    spi: p.spi,
    suite: p.suite,
    // Copies: the SA owns its key material, whatever the caller later does with its buffers.
    key: Buffer.from(p.key),
    salt: Buffer.from(p.salt),
    esn: p.esn ?? false,
    src: addrField(p.src, 'src'),
    dst: sameFamily(addrField(p.src, 'src'), addrField(p.dst, 'dst')),
    createdAt: p.createdAt ?? Date.now(),
    keying: p.keying ?? 'manual',
    ipv6: p.ipv6 ?? true,
  };
}

export function newOutboundSa(p: SaParams): OutboundSa {
  const c = validate(p);
  const iv = randomBytes(8);
  return { dir: 'out', ...c, seq: 0, exhausted: false, ivHi: iv.readUInt32BE(0), ivLo: iv.readUInt32BE(4), stats: { packets: 0, bytes: 0 } };
}

export function newInboundSa(p: InboundSaParams): InboundSa {
  const c = validate(p);
  const replay = new ReplayWindow(p.replayWindow ?? DEFAULT_REPLAY_WINDOW, c.esn);
  return { dir: 'in', ...c, replay, stats: { packets: 0, bytes: 0, replayDrops: 0, icvDrops: 0 } };
}

/**
 * Splits keying material as IKEv2 hands it out and as manual key files store it: cipher key
 * first, then the 4-byte salt (RFC 4106 §8.1, RFC 7634 §2).
 */
export function splitKeymat(suite: Suite, keymat: Buffer): { key: Buffer; salt: Buffer } {
  if (!isSuite(suite)) throw configError('suite', `unknown suite ${JSON.stringify(suite)}`);
  const keyLen = SUITES[suite].keyLen;
  if (!Buffer.isBuffer(keymat) || keymat.length !== keyLen + SALT_LEN) {
    const got = Buffer.isBuffer(keymat) ? `${keymat.length} bytes` : 'not a Buffer';
    throw configError('key', `${suite} needs ${keyLen + SALT_LEN} bytes of keying material (key + salt), got ${got}`);
  }
  return { key: Buffer.from(keymat.subarray(0, keyLen)), salt: Buffer.from(keymat.subarray(keyLen)) };
}
