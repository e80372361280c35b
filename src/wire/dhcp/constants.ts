// BOOTP/DHCPv4 numbers (RFC 951, RFC 2131, RFC 2132, RFC 3046, RFC 3456, RFC 5107, RFC 8357).

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

/** op, htype, hlen, hops, xid(4), secs(2), flags(2), 4 addresses, chaddr(16), sname(64), file(128). */
export const BOOTP_FIXED_LEN = 236;
/** The fixed header plus the magic cookie: the smallest DHCP message (an END still has to follow). */
export const DHCP_MIN_LEN = BOOTP_FIXED_LEN + 4;
export const MAGIC_COOKIE = 0x63825363;
export const CHADDR_FIELD_LEN = 16;
export const SNAME_LEN = 64;
export const FILE_LEN = 128;
export const OFF_CHADDR = 28;
export const OFF_SNAME = 44;
export const OFF_FILE = 108;
export const OFF_COOKIE = 236;
export const OFF_OPTIONS = 240;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

/** RFC 3456 §4.1: "IPsec tunnel mode" hardware type. */
export const HTYPE_IPSEC_TUNNEL = 31;
export const HTYPE_ETHERNET = 1;
/** Broadcast bit of `flags` (RFC 2131 §2). */
export const FLAG_BROADCAST = 0x8000;

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

const MESSAGE_NAMES: Record<number, string> = {
  1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM',
};
export function messageTypeName(t: number | undefined): string {
  return t === undefined ? 'BOOTP' : MESSAGE_NAMES[t] ?? `type-${t}`;
}

export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  RELAY_AGENT_INFO: 82,
  END: 255,
} as const;

/** Sub-options of option 82. */
export const RelaySub = {
  CIRCUIT_ID: 1,
  REMOTE_ID: 2,
  /** RFC 5107 server identifier override. */
  SERVER_ID_OVERRIDE: 11,
  /** RFC 8357 relay source port. */
  RELAY_SOURCE_PORT: 19,
} as const;
