// A rogue DHCP client for the netns tests, run inside a spoke's namespace: crafted client
// messages sent by an ordinary process there. Bound to the spoke's leased address, a limited
// broadcast leaves by the interface holding that address (the vlink), so the spoke's daemon
// reads it from its TUN and carries it to the hub like any other VN packet.
//
//   node dhcp-send.js JSON   where JSON = { bind, count, chaddr?, clientId?, type?, requested?, serverId?, xid?, paceMs? }
//   chaddr / clientId: hex; absent: a fresh RFC 3456 chaddr and client-id per message (a flood).
// Prints one JSON line: { sent, xids }.

import dgram from 'node:dgram';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { MessageType, clientIdFromName, rfc3456Chaddr } from '../../src/wire/dhcp/index.js';
import { buildClientMessage } from '../../src/dhcp/client-messages.js';

interface Args {
  bind: string;
  count: number;
  chaddr?: string;
  clientId?: string;
  type?: 'DISCOVER' | 'REQUEST';
  requested?: string;
  serverId?: string;
  xid?: number;
  /** Wait between messages; default: a short pause every 16. */
  paceMs?: number;
}

const a = JSON.parse(process.argv[2]!) as Args;
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((r) => sock.bind(68, a.bind, r));
sock.setBroadcast(true);
const xids: string[] = [];
for (let i = 0; i < a.count; i++) {
  const xid = (a.xid ?? 0x5f000000 + Math.floor(Math.random() * 0xffffff)) + i;
  const chaddr = a.chaddr !== undefined ? Buffer.from(a.chaddr, 'hex') : rfc3456Chaddr(0x0ac8fe00 + (i & 0xff), (i >> 8) & 0xff);
  const clientId = a.clientId !== undefined ? Buffer.from(a.clientId, 'hex') : clientIdFromName(`flood-${process.pid}-${i}`);
  const type = a.type === 'REQUEST' ? MessageType.REQUEST : MessageType.DISCOVER;
  const msg = buildClientMessage({ chaddr, clientId }, type, {
    xid: xid >>> 0, secs: 0,
    ...(a.requested === undefined ? {} : { requested: ipv4ToU32(a.requested) }),
    ...(a.serverId === undefined ? {} : { serverId: ipv4ToU32(a.serverId) }),
  });
  await new Promise<void>((r, j) => sock.send(msg, 67, '255.255.255.255', (e) => (e ? j(e) : r())));
  // Paced a little, or the TUN's queue (txqueuelen 64) overflows before the daemon reads it.
  if (a.paceMs !== undefined) await new Promise((r) => setTimeout(r, a.paceMs));
  else if (i % 16 === 15) await new Promise((r) => setTimeout(r, 2));
  xids.push(`0x${(xid >>> 0).toString(16)}`);
}
sock.close();
process.stdout.write(`${JSON.stringify({ sent: a.count, xids })}\n`);
