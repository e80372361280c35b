// A minimal DHCP server for unit tests (the netns test uses the real Kea): answers DISCOVER
// with an OFFER and REQUEST with an ACK or NAK, from a pool, keyed by client-id, echoing option
// 82 and the client-id as Kea does (kea.md §5).

import {
  BOOTREPLY, Dhcp, DhcpMalformed, MessageType, Opt, messageType, optionData, u32Data, u32Option, type DhcpOption, type DhcpRepr,
} from '../../src/wire/dhcp/index.js';

export class FakeServer {
  readonly seen: string[] = [];
  readonly leases = new Map<string, number>();
  /** Answer nothing (server down). */
  silent = false;
  /** NAK every REQUEST. */
  nak = false;
  private next: number;

  constructor(readonly o: { serverId: number; poolStart: number; lease: number; t1?: number; t2?: number; giaddr?: number }) {
    this.next = o.poolStart;
  }

  answer(payload: Buffer): Buffer | null {
    const r = Dhcp.decode(payload);
    if (r instanceof DhcpMalformed) return null;
    const type = messageType(r)!;
    const name = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE'][type] ?? String(type);
    const key = optionData(r, Opt.CLIENT_ID)!.toString('hex');
    this.seen.push(`${name}${r.ciaddr ? ' ciaddr' : ''}${u32Option(r, Opt.REQUESTED_IP) !== undefined ? ' 50' : ''}${u32Option(r, Opt.SERVER_ID) !== undefined ? ' 54' : ''}`);
    if (this.silent) return null;
    if (type === MessageType.RELEASE || type === MessageType.DECLINE) {
      this.leases.delete(key);
      return null;
    }
    let addr = this.leases.get(key);
    if (type === MessageType.DISCOVER) {
      if (addr === undefined) addr = this.next++;
      this.leases.set(key, addr);
      return this.reply(r, MessageType.OFFER, addr);
    }
    const want = u32Option(r, Opt.REQUESTED_IP) ?? r.ciaddr;
    if (this.nak || addr === undefined || want !== addr) return this.reply(r, MessageType.NAK, 0);
    return this.reply(r, MessageType.ACK, addr);
  }

  private reply(r: DhcpRepr, type: number, yiaddr: number): Buffer {
    const o: DhcpOption[] = [{ code: Opt.MESSAGE_TYPE, data: Buffer.from([type]) }];
    if (type !== MessageType.NAK) {
      o.push({ code: Opt.SUBNET_MASK, data: u32Data(0xffff0000) }, { code: Opt.LEASE_TIME, data: u32Data(this.o.lease) });
    }
    o.push({ code: Opt.SERVER_ID, data: u32Data(this.o.serverId) });
    if (type !== MessageType.NAK && this.o.t1 !== undefined) o.push({ code: Opt.RENEWAL_TIME, data: u32Data(this.o.t1) });
    if (type !== MessageType.NAK && this.o.t2 !== undefined) o.push({ code: Opt.REBINDING_TIME, data: u32Data(this.o.t2) });
    o.push({ code: Opt.CLIENT_ID, data: optionData(r, Opt.CLIENT_ID)! });
    const ri = optionData(r, Opt.RELAY_AGENT_INFO);
    if (ri !== undefined) o.push({ code: Opt.RELAY_AGENT_INFO, data: ri });
    return Dhcp.encode({ ...r, op: BOOTREPLY, yiaddr, siaddr: 0, options: o, trailer: undefined, sname: undefined, file: undefined });
  }
}
