// Why received DNS bytes were refused. Input comes off the network, so decoders return one of
// these instead of throwing; only encoders and the presentation parser throw (CodecError),
// because a bad repr or a bad config line is ours to fix.

export type DnsDecodeError =
  /** Fewer bytes than a header, a name, a fixed field or an RDLENGTH needs. */
  | 'truncated'
  /** A field is inconsistent (label type, rdata shorter/longer than its fields, bitmap order). */
  | 'malformed'
  /** A compression pointer that does not point strictly backwards (could loop), or too many hops. */
  | 'compression-loop'
  /** A compression pointer past the end of the message. */
  | 'bad-pointer'
  /** A name longer than 255 octets in wire form. */
  | 'name-too-long'
  /** Bytes left over after the last RR the header counts announce. */
  | 'trailing-bytes';

/** Non-throwing failure value; a class so a check is one instanceof, cheap in a fuzz loop. */
export class DnsMalformed {
  constructor(
    readonly error: DnsDecodeError,
    readonly detail: string,
  ) {}
}
