// Why a received DHCP message was refused. The bytes come off the network (a vlink, or the
// server's socket), so decoders return one of these instead of throwing; only encoders throw
// (CodecError), because a bad repr is our bug.

export type DhcpDecodeError =
  /** Shorter than the fixed BOOTP header plus the magic cookie (240 bytes). */
  | 'truncated'
  /** op is neither BOOTREQUEST (1) nor BOOTREPLY (2). */
  | 'bad-op'
  /** hlen above 16, the size of chaddr. */
  | 'bad-hlen'
  /** The four bytes after `file` are not 99.130.83.99: plain BOOTP, which we do not serve. */
  | 'bad-cookie'
  /** An option's length byte, or its data, reaches past the end of its field. */
  | 'option-overrun'
  /** The options field ends without an END (255) option. */
  | 'missing-end'
  /** An option we interpret has a length its definition forbids (e.g. option 53 not 1 byte). */
  | 'bad-option-length'
  /** Option 52 (overload) holds a value other than 1, 2 or 3, or sname/file do not parse as options. */
  | 'bad-overload'
  /** Option 82's sub-options overrun it. */
  | 'bad-relay-agent-info';

/** Non-throwing failure value; a class so a check is one instanceof, cheap in a fuzz loop. */
export class DhcpMalformed {
  constructor(
    readonly error: DhcpDecodeError,
    readonly detail: string,
  ) {}
}
