// Why a received IKE message was refused. Input comes off the network, so decoders return one
// of these instead of throwing; only encoders throw (CodecError), because a bad repr is our bug.

export type IkeDecodeError =
  /** Fewer bytes than a fixed-size header or field needs. */
  | 'truncated'
  /** The IKE header's Length disagrees with the datagram. */
  | 'length-mismatch'
  /** Major version is not 2: answer INVALID_MAJOR_VERSION (RFC 7296 §2.5). */
  | 'unsupported-major-version'
  /** A payload's Length is below its generic header (4) or the minimum for its type. */
  | 'bad-payload-length'
  /** A payload's Length reaches past the end of the message. */
  | 'payload-overrun'
  /** A Next Payload announces another payload after the last byte. */
  | 'chain-overrun'
  /** Bytes remain after a payload whose Next Payload is NONE. */
  | 'trailing-bytes'
  /** SK or SKF is not the last payload (RFC 7296 §3.14, RFC 7383 §2.5). */
  | 'sk-not-last'
  /** Unknown payload type with the critical bit set: answer UNSUPPORTED_CRITICAL_PAYLOAD. */
  | 'unsupported-critical-payload'
  /** A payload body is inconsistent (counts, substructure lengths, sizes); `detail` says where. */
  | 'malformed-payload';

/** Non-throwing failure value. A class so that a check is one instanceof, cheap in a fuzz loop. */
export class Malformed {
  constructor(
    readonly error: IkeDecodeError,
    readonly detail: string,
  ) {}
}

export function malformed(detail: string): Malformed {
  return new Malformed('malformed-payload', detail);
}
