// The node's IKE engine, built when the first ikev2 vlink starts: wired to the node's CHILD_SA
// table, its named-peer resolver, and two sockets: IKE's own on port 500, and on 4500 the ESP
// socket, where IKE messages carry the non-ESP marker (RFC 3948 §2.2).

import type { Logger } from 'pino';
import type { UnderlaySocket } from '../io/types.js';
import type { IkeUdpSocket } from '../io/ike-udp.js';
import { IiptranError } from '../errors.js';
import { addrFromString, formatAddr } from '../wire/addr.js';
import { NON_ESP_MARKER_LEN } from '../wire/ike/index.js';
import { IkeEngine } from '../ike/engine.js';
import type { IkeDatagram } from '../ike/types.js';
import type { Receiver } from '../dataplane/receive.js';
import type { NodeConfig } from './config-types.js';
import { IKE_PORT, ikeTunables } from './ike-peer-config.js';
import type { ChildSas } from './node-child-sa.js';
import type { NodeDns } from './node-dns.js';
import type { NodeIo } from './node.js';

/** RFC 3948 §2.3: one 0xff byte keeps a NAT mapping open. */
const NAT_KEEPALIVE = Buffer.from([0xff]);

/** What the engine needs of the node. */
export interface NodeIkeParts {
  cfg: NodeConfig;
  io: NodeIo;
  log: Logger;
  childSas: ChildSas;
  receiver: Receiver;
  dns(): NodeDns | null;
  /** The UDP 4500 ESP socket, once a udp vlink opened it. */
  udp(): UnderlaySocket | null;
  /** Runs a handler of network input so that a throw is counted and logged, never fatal. */
  guarded(what: string, sample: Buffer | undefined, fn: () => void): void;
}

export async function startNodeIke(n: NodeIkeParts): Promise<{ engine: IkeEngine; socket: IkeUdpSocket }> {
  if (n.io.openIkeUdp === undefined) throw new IiptranError('IIPTRAN_ERR_CONFIG', 'ikev2 keying needs an IKE socket, and this node was started without one');
  let socket: IkeUdpSocket | null = null;
  const send = (d: IkeDatagram): void => {
    if (d.localPort === IKE_PORT) {
      socket?.send(d.data, d.addr, d.port);
      return;
    }
    const marked = Buffer.concat([Buffer.alloc(NON_ESP_MARKER_LEN), d.data]);
    n.udp()?.send([{ data: marked, addr: addrFromString(d.addr), port: d.port, tos: 0 }]);
  };
  const c = n.childSas;
  const engine = new IkeEngine({
    log: n.log.child({ ike: true }),
    host: {
      send,
      installChild: (v, ch, o) => c.installChildSa(v, ch, o),
      removeChild: (v, ch) => c.removeChildSa(v, ch),
      activateChild: (v, ch) => c.activateChildSa(v, ch),
      childUsage: (v, ch) => c.childUsage(v, ch),
      allocSpi: () => c.allocSpi(),
      sendKeepalive: (addr, port) => n.udp()?.send([{ data: NAT_KEEPALIVE, addr: addrFromString(addr), port, tos: 0 }]),
      // Named peers (node-dns.ts); without a dns section no vlink names its peer.
      resolvePeer: (v, attempt) => n.dns()?.resolvePeer(v, attempt) ?? Promise.resolve({ error: 'the node has no dns section' }),
      checkPeerAddress: (v, addr) => n.dns()?.checkPeer(v, addr) ?? Promise.resolve('the node has no dns section'),
      peerRelocated: (v, addr) => n.dns()?.relocated(v, addr),
      peerAttempt: (v, addr, ok, why) => n.dns()?.attempt(v, addr, ok, why),
    },
    ...(n.io.ikeKeyLog === undefined ? {} : { keyLog: n.io.ikeKeyLog }),
    ...(n.io.ikeRetransmit === undefined ? {} : { retransmit: n.io.ikeRetransmit }),
    ...(n.io.ikeClock === undefined ? {} : { clock: n.io.ikeClock }),
    ...ikeTunables(n.cfg),
  });
  socket = await n.io.openIkeUdp(
    n.cfg.underlay.address,
    IKE_PORT,
    (data, from) => n.guarded('IKE message', data, () => engine.receive(data, from, IKE_PORT)),
    (e) => n.log.warn({ err: e.message }, 'IKE socket error'),
  );
  n.receiver.onNonEsp = (d) =>
    n.guarded('IKE message', d.data, () => engine.receive(d.data.subarray(NON_ESP_MARKER_LEN), { addr: formatAddr(d.addr), port: d.port }, 4500));
  if (n.io.ikeKeyLog !== undefined) n.log.warn('IKE key log enabled: every IKE and ESP secret is written out; never do this in production');
  return { engine, socket };
}
