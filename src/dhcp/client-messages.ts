// The messages an RFC 3456 client sends and the checks on what it receives. The client sets
// giaddr to 0 in everything it sends: the hub's relay sets it (RFC 3456 §4.2, RFC 2131 §4.1);
// replies arrive with giaddr = the hub and are accepted as such, never filtered on it.

import {
  BOOTREPLY, BOOTREQUEST, Dhcp, DhcpMalformed, FLAG_BROADCAST, HTYPE_IPSEC_TUNNEL, MessageType, Opt, ipListOption, messageType,
  optionData, u32Data, u32Option, type DhcpOption,
} from '../wire/dhcp/index.js';

export interface ClientIdentity {
  chaddr: Buffer;
  clientId: Buffer;
  hostname?: string;
}

/** The parameters the client asks for: mask, router, DNS, host name, lease, server id, T1, T2. */
export const PARAM_REQUEST_LIST = Buffer.from([Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.HOSTNAME, Opt.LEASE_TIME, Opt.SERVER_ID, Opt.RENEWAL_TIME, Opt.REBINDING_TIME]);

export interface RequestFields {
  xid: number;
  secs: number;
  ciaddr?: number;
  requested?: number;
  serverId?: number;
}

export function buildClientMessage(id: ClientIdentity, type: number, f: RequestFields): Buffer {
  const options: DhcpOption[] = [
    { code: Opt.MESSAGE_TYPE, data: Buffer.from([type]) },
    { code: Opt.CLIENT_ID, data: id.clientId },
  ];
  if (f.requested !== undefined) options.push({ code: Opt.REQUESTED_IP, data: u32Data(f.requested) });
  if (f.serverId !== undefined) options.push({ code: Opt.SERVER_ID, data: u32Data(f.serverId) });
  if (type === MessageType.DISCOVER || type === MessageType.REQUEST) {
    if (id.hostname !== undefined) options.push({ code: Opt.HOSTNAME, data: Buffer.from(id.hostname) });
    options.push({ code: Opt.PARAM_REQUEST_LIST, data: PARAM_REQUEST_LIST });
  }
  const ciaddr = f.ciaddr ?? 0;
  return Dhcp.encode({
    op: BOOTREQUEST, htype: HTYPE_IPSEC_TUNNEL, hops: 0, xid: f.xid, secs: Math.min(f.secs, 0xffff),
    // No address yet: ask for broadcast replies (RFC 2131 §4.1), which the vlink's TUN accepts.
    flags: ciaddr === 0 && (type === MessageType.DISCOVER || type === MessageType.REQUEST) ? FLAG_BROADCAST : 0,
    ciaddr, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: id.chaddr, options,
  });
}

export interface ReplyInfo {
  type: number;
  xid: number;
  yiaddr: number;
  serverId: number | undefined;
  mask: number | undefined;
  routers: number[];
  dns: number[];
  leaseTime: number | undefined;
  t1: number | undefined;
  t2: number | undefined;
}

/** Why the client ignored a datagram; counted per reason. */
export type ClientDropReason =
  | 'malformed'
  | 'not-reply'
  | 'not-for-us'
  | 'wrong-client-id'
  | 'unexpected-type'
  | 'wrong-xid'
  | 'bad-offer'
  | 'bad-ack';

/** Decodes and checks that a reply is a DHCP reply addressed to this client. Never throws. */
export function parseReply(buf: Buffer, id: ClientIdentity): ReplyInfo | ClientDropReason {
  const r = Dhcp.decode(buf);
  if (r instanceof DhcpMalformed) return 'malformed';
  if (r.op !== BOOTREPLY) return 'not-reply';
  if (r.htype !== HTYPE_IPSEC_TUNNEL || !r.chaddr.equals(id.chaddr)) return 'not-for-us';
  const cid = optionData(r, Opt.CLIENT_ID);
  // RFC 6842: a server that echoes the client-id must echo ours.
  if (cid !== undefined && !cid.equals(id.clientId)) return 'wrong-client-id';
  const type = messageType(r);
  if (type !== MessageType.OFFER && type !== MessageType.ACK && type !== MessageType.NAK) return 'unexpected-type';
  return {
    type, xid: r.xid, yiaddr: r.yiaddr, serverId: u32Option(r, Opt.SERVER_ID), mask: u32Option(r, Opt.SUBNET_MASK),
    routers: ipListOption(r, Opt.ROUTER), dns: ipListOption(r, Opt.DNS), leaseTime: u32Option(r, Opt.LEASE_TIME),
    t1: u32Option(r, Opt.RENEWAL_TIME), t2: u32Option(r, Opt.REBINDING_TIME),
  };
}

export const INFINITE_LEASE = 0xffffffff;

/** T1 and T2 as RFC 2131 §4.4.5 defaults them (0.5 and 0.875 of the lease) when absent or inconsistent. */
export function timers(leaseTime: number, t1?: number, t2?: number): { t1: number; t2: number } {
  if (leaseTime === INFINITE_LEASE) return { t1: INFINITE_LEASE, t2: INFINITE_LEASE };
  const d1 = Math.floor(leaseTime * 0.5);
  const d2 = Math.floor(leaseTime * 0.875);
  const T2 = t2 !== undefined && t2 > 0 && t2 < leaseTime ? t2 : d2;
  const T1 = t1 !== undefined && t1 > 0 && t1 < T2 ? t1 : Math.min(d1, T2);
  return { t1: T1, t2: T2 };
}
