// EAP payload body (RFC 7296 §3.16): one EAP message (RFC 3748 §4), kept whole. Only the EAP
// Length is checked, because a message that disagrees with its payload cannot be handed on.

import { PayloadType } from './header.js';
import { Malformed, malformed } from './reason.js';

export interface EapPayload {
  type: typeof PayloadType.EAP;
  critical?: boolean;
  /** Code | Identifier | Length | [Type | data]. */
  message: Buffer;
}

export function eapBodyLength(p: EapPayload): number {
  return p.message.length;
}

export function encodeEapBody(p: EapPayload, buf: Buffer, offset: number): number {
  p.message.copy(buf, offset);
  return p.message.length;
}

/** `message` is a view into `body`. */
export function decodeEapBody(body: Buffer): EapPayload | Malformed {
  if (body.length < 4) return malformed(`EAP: message of ${body.length} bytes, need at least 4`);
  if (body.readUInt16BE(2) !== body.length) return malformed(`EAP: Length ${body.readUInt16BE(2)} in a ${body.length}-byte payload`);
  return { type: PayloadType.EAP, message: body };
}
