// Notify payload body (RFC 7296 §3.10): Protocol ID(1) | SPI Size(1) | Notify Type(2) | SPI | data.
// Types below 16384 are errors, the rest status (RFC 7296 §3.10.1). Unknown types are not a
// decode error: a receiver ignores unknown status types and treats unknown error types in a
// response as a failed request, which is the exchange's business.

import { CodecError } from '../../errors.js';
import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export const NotifyType = {
  // Errors.
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  // Status.
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  MOBIKE_SUPPORTED: 16396,
  MULTIPLE_AUTH_SUPPORTED: 16404,
  ANOTHER_AUTH_FOLLOWS: 16405,
  REDIRECT_SUPPORTED: 16406,
  EAP_ONLY_AUTHENTICATION: 16417,
  CHILDLESS_IKEV2_SUPPORTED: 16418,
  IKEV2_MESSAGE_ID_SYNC_SUPPORTED: 16420,
  IKEV2_FRAGMENTATION_SUPPORTED: 16430,
  SIGNATURE_HASH_ALGORITHMS: 16431,
} as const;

export const NOTIFY_STATUS_MIN = 16384;

const NAMES = new Map<number, string>(Object.entries(NotifyType).map(([k, v]) => [v, k]));

/** For logs: the registry name, or the number for types we do not know. */
export function notifyName(type: number): string {
  return NAMES.get(type) ?? `NOTIFY_${type}`;
}

export function isErrorNotify(type: number): boolean {
  return type < NOTIFY_STATUS_MIN;
}

export interface NotifyPayload {
  type: typeof PayloadType.NOTIFY;
  critical?: boolean;
  /** 0 when the notify is about the IKE SA (RFC 7296 §3.10: the SPI field is then empty). */
  protocolId: number;
  spi: Buffer;
  notifyType: number;
  data: Buffer;
}

/** A notify about the IKE SA with no SPI: every status notify charon sends in IKE_SA_INIT. */
export function notify(notifyType: number, data: Buffer = Buffer.alloc(0)): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocolId: 0, spi: Buffer.alloc(0), notifyType, data };
}

export function notifyBodyLength(p: NotifyPayload): number {
  return 4 + p.spi.length + p.data.length;
}

export function encodeNotifyBody(p: NotifyPayload, buf: Buffer, offset: number): number {
  if (!Number.isInteger(p.protocolId) || p.protocolId < 0 || p.protocolId > 0xff) throw new CodecError(`Notify protocol ${p.protocolId} out of range`);
  if (p.spi.length > 0xff) throw new CodecError(`Notify SPI of ${p.spi.length} bytes`);
  if (!Number.isInteger(p.notifyType) || p.notifyType < 0 || p.notifyType > 0xffff) throw new CodecError(`Notify type ${p.notifyType} out of range`);
  buf[offset] = p.protocolId;
  buf[offset + 1] = p.spi.length;
  buf.writeUInt16BE(p.notifyType, offset + 2);
  p.spi.copy(buf, offset + 4);
  p.data.copy(buf, offset + 4 + p.spi.length);
  return 4 + p.spi.length + p.data.length;
}

/** `spi` and `data` are views into `body`. */
export function decodeNotifyBody(body: Buffer): NotifyPayload | Malformed {
  if (body.length < 4) return malformed(`Notify: body of ${body.length} bytes, need at least 4`);
  const spiSize = body[1]!;
  if (4 + spiSize > body.length) return malformed(`Notify: SPI size ${spiSize} overruns the payload`);
  return {
    type: PayloadType.NOTIFY,
    protocolId: body[0]!,
    spi: body.subarray(4, 4 + spiSize),
    notifyType: body.readUInt16BE(2),
    data: body.subarray(4 + spiSize),
  };
}

/** INVALID_KE_PAYLOAD carries the group the responder wants (RFC 7296 §1.3): 2 bytes. */
export function invalidKeGroup(p: NotifyPayload): number | null {
  return p.notifyType === NotifyType.INVALID_KE_PAYLOAD && p.data.length === 2 ? p.data.readUInt16BE(0) : null;
}

/** SIGNATURE_HASH_ALGORITHMS data is a list of 2-byte hash IDs (RFC 7427 §4). Null on odd length. */
export function signatureHashAlgorithms(p: NotifyPayload): number[] | null {
  if (p.notifyType !== NotifyType.SIGNATURE_HASH_ALGORITHMS || p.data.length % 2 !== 0) return null;
  const out: number[] = [];
  for (let i = 0; i < p.data.length; i += 2) out.push(p.data.readUInt16BE(i));
  return out;
}

/** Hash algorithm IDs for SIGNATURE_HASH_ALGORITHMS (RFC 7427 §7, RFC 8420 for Identity). */
export const HashAlgorithm = { SHA1: 1, SHA2_256: 2, SHA2_384: 3, SHA2_512: 4, IDENTITY: 5 } as const;
