// The OS of an OverlayNode, in memory, for tests without root: fake TUNs (collected in `tuns`),
// a fake ESP underlay, and an in-memory UDP 500 between nodes for IKE.

import type { NodeIo } from '../../src/control/node.js';
import type { IkeUdpReceive, IkeUdpSocket } from '../../src/io/ike-udp.js';
import { FakeNetSys } from '../../src/io/fake-netsys.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import type { FakeUnderlay } from '../../src/io/fake-underlay.js';

export function fakeNodeIo(u: FakeUnderlay, tuns: Map<string, FakeTun>, extra: Partial<NodeIo> = {}): NodeIo {
  const netsys = new FakeNetSys();
  let ifindex = 0;
  return {
    openTun: (name) => {
      const t = new FakeTun(name, ++ifindex, { poison: false });
      // Like the kernel: a closed TUN takes its link and every route through it along.
      const close = t.close.bind(t);
      t.close = () => {
        close();
        if (tuns.get(name) === t) netsys.linkGone(name);
      };
      tuns.set(name, t);
      return t;
    },
    openUdp: () => u,
    openRawEsp: () => {
      throw new Error('not used');
    },
    netsys,
    ...extra,
  };
}

/**
 * UDP 500 between nodes, delivered on a later loop turn like a network (after `delayMs` when
 * given, to widen races on purpose); setting `cut` drops everything, a dead path.
 */
export function ikeWire(delayMs = 0) {
  const ends = new Map<string, IkeUdpReceive>();
  const w = {
    cut: false,
    open: async (addr: string, _port: number, onMessage: IkeUdpReceive): Promise<IkeUdpSocket> => {
      ends.set(addr, onMessage);
      return {
        send: (data, to, port) => {
          if (w.cut) return;
          const copy = Buffer.from(data);
          const deliver = () => ends.get(to)?.(copy, { addr, port });
          if (delayMs > 0) setTimeout(deliver, delayMs);
          else setImmediate(deliver);
        },
        close: () => ends.delete(addr),
      };
    },
  };
  return w;
}
