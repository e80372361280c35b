// Public API of the IKEv2 wire codecs: pure byte <-> repr, no I/O, no crypto.

export type { IkeDecodeError } from './reason.js';
export { Malformed } from './reason.js';
export {
  Ike, IKE_HEADER_LEN, IKE_MAJOR_VERSION, ExchangeType, PayloadType, FLAG_INITIATOR, FLAG_RESPONSE, FLAG_VERSION,
  ikeHeaderCheck, peekIkeSpis,
} from './header.js';
export type { IkeHeader } from './header.js';
export {
  PAYLOAD_HEADER_LEN, CRITICAL_BIT, decodeChain, encodeChain, encodeChainInto, chainLength, payloadLength,
  firstPayloadType, decodePayloadHeader, encodePayloadHeader, isKnownPayloadType,
} from './payload.js';
export type { PayloadRepr, GenericPayloadHeader, ChainResult, ChainOk, ChainError, SkippedPayload } from './payload.js';
export {
  ProtocolId, TransformType, ATTR_KEY_LENGTH, findTransform,
  ENCR_AES_CBC, ENCR_AES_GCM_8, ENCR_AES_GCM_12, ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305,
  PRF_HMAC_SHA1, PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512,
  AUTH_NONE, AUTH_HMAC_SHA1_96, AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256,
  DH_MODP_2048, DH_ECP_256, DH_ECP_384, DH_CURVE25519, ESN_NO, ESN_YES,
} from './sa.js';
export type { SaPayload, Proposal, Transform, TransformAttribute } from './sa.js';
export type { KePayload } from './ke.js';
export { NONCE_MIN_LEN, NONCE_MAX_LEN } from './nonce.js';
export type { NoncePayload } from './nonce.js';
export { IdType, ipv4Id, fqdnId, idToString } from './id.js';
export type { IdPayload } from './id.js';
export { AuthMethod } from './auth.js';
export type { AuthPayload } from './auth.js';
export { CertEncoding } from './cert.js';
export type { CertPayload } from './cert.js';
export {
  NotifyType, NOTIFY_STATUS_MIN, HashAlgorithm, notify, notifyName, isErrorNotify, invalidKeGroup, signatureHashAlgorithms,
} from './notify.js';
export type { NotifyPayload } from './notify.js';
export type { DeletePayload } from './delete.js';
export { VENDOR_ID_STRONGSWAN } from './vendor.js';
export type { VendorPayload } from './vendor.js';
export { TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE } from './ts.js';
export type { TsPayload, TrafficSelector, Ipv4Selector, Ipv6Selector, OtherSelector } from './ts.js';
export { skSplit, skJoin, skPad, skUnpad, skPaddedLength } from './sk.js';
export type { SkPayload, SkfPayload, SkParts } from './sk.js';
export { CfgType } from './cp.js';
export type { CpPayload, CpAttribute } from './cp.js';
export type { EapPayload } from './eap.js';
export {
  IkeMessageCodec, skLayout, stripNonEspMarker, notifyForDecodeError, NON_ESP_MARKER_LEN, IKE_MAX_MESSAGE_LEN,
} from './message.js';
export type { IkeMessage, IkeMessageHeader, DecodedMessage, MessageError, MessageResult, SkLayout } from './message.js';
