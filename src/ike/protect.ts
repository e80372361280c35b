// Putting IKE messages on the wire and taking them off: plain ones (IKE_SA_INIT) and ones whose
// payloads travel inside SK (everything after). The cipher work is crypto/sk.ts; this file only
// lays the message out at its final size first, because the AAD (or the HMAC input) covers the
// header's Length field (RFC 7296 §3.14, RFC 5282 §5.1).

import { CodecError } from '../errors.js';
import {
  IkeMessageCodec, PayloadType, decodeChain, encodeChain, firstPayloadType, skLayout,
  type IkeDecodeError, type IkeMessageHeader, type PayloadRepr, type SkPayload,
} from '../wire/ike/index.js';
import { openSk, skKeysFor, SkSealer, type SkKeys } from './crypto/sk.js';
import type { IkeSaKeys } from './crypto/keys.js';
import type { IkeSuite } from './crypto/suites.js';

export type IkeRole = 'initiator' | 'responder';

/** The SK state of one IKE SA: keys both ways and our sealer (one per SA and direction). */
export class SkContext {
  private readonly sealer: SkSealer;
  private readonly peerKeys: SkKeys;
  readonly ivLen: number;
  readonly icvLen: number;

  constructor(
    readonly suite: IkeSuite,
    keys: IkeSaKeys,
    /** Our role in IKE_SA_INIT: it decides which of SK_ei/SK_er we send with (§2.14). */
    role: IkeRole,
  ) {
    this.sealer = new SkSealer(suite, skKeysFor(keys, role));
    this.peerKeys = skKeysFor(keys, role === 'initiator' ? 'responder' : 'initiator');
    this.ivLen = suite.encr.ivLen;
    this.icvLen = suite.encr.kind === 'aead' ? suite.encr.icvLen : suite.integ!.icvLen;
  }

  /** The whole message with `inner` encrypted in SK. */
  seal(header: IkeMessageHeader, inner: readonly PayloadRepr[]): Buffer {
    const plain = encodeChain(inner);
    const sk: SkPayload = { type: PayloadType.SK, innerFirst: firstPayloadType(inner), data: Buffer.alloc(this.sealer.bodyLength(plain.length)) };
    const msg = IkeMessageCodec.encode({ header, payloads: [sk] });
    const lay = skLayout(msg, this.ivLen, this.icvLen);
    // Our own layout: failing here is a bug, not input.
    if (!('skOffset' in lay)) throw new CodecError(`SK layout of our own message: ${lay.detail}`);
    this.sealer.seal(lay.associatedData, plain).copy(msg, lay.associatedData.length);
    return msg;
  }

  /**
   * The inner payloads of a received message whose outer layer already decoded. Failures say
   * whether the message was forged or damaged ('bad-icv', 'malformed': drop silently, RFC 7296
   * §2.21) or authentic but with a broken inner chain (a decode reason: answer it).
   */
  open(msg: Buffer, outer: readonly PayloadRepr[]): OpenResult {
    const sk = outer[outer.length - 1];
    if (sk === undefined || sk.type !== PayloadType.SK) return { ok: false, stage: 'outer', reason: 'no-sk', detail: 'no encrypted payload' };
    const lay = skLayout(msg, this.ivLen, this.icvLen);
    if (!('skOffset' in lay)) return { ok: false, stage: 'outer', reason: 'malformed', detail: lay.detail };
    const plain = openSk(this.suite, this.peerKeys, lay.associatedData, sk.data);
    if (plain === 'bad-icv' || plain === 'malformed') return { ok: false, stage: 'outer', reason: plain, detail: plain === 'bad-icv' ? 'integrity check failed' : 'encrypted payload is malformed' };
    const r = decodeChain(plain, sk.innerFirst);
    if (!r.ok) {
      const e: OpenResult = { ok: false, stage: 'inner', reason: r.error, detail: r.detail };
      if (r.payloadType !== undefined) e.payloadType = r.payloadType;
      return e;
    }
    return { ok: true, payloads: r.payloads };
  }
}

export type OpenResult =
  | { ok: true; payloads: PayloadRepr[] }
  | { ok: false; stage: 'outer'; reason: 'no-sk' | 'bad-icv' | 'malformed'; detail: string }
  | { ok: false; stage: 'inner'; reason: IkeDecodeError; detail: string; payloadType?: number };

export function encodePlain(header: IkeMessageHeader, payloads: readonly PayloadRepr[]): Buffer {
  return IkeMessageCodec.encode({ header, payloads: [...payloads] });
}
