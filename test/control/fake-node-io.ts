// The OS of an OverlayNode, in memory, for tests without root: fake TUNs (collected in `tuns`),
// a fake ESP underlay, and an in-memory UDP 500 between nodes for IKE.

import path from 'node:path';
import { generateKeyHex, writeKeyFile } from '../../src/control/keyfile.js';
import type { Suite } from '../../src/dataplane/suite.js';
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

export interface PairYamlOpts {
  name?: string;
  peer?: string;
  address?: string;
  liveness?: string;
  /** More vlink fields, one `key: value` per entry (encap, mtu, replay_window). */
  extra?: string[];
}

/**
 * One end of the two-node overlay the node tests build: a = 192.0.2.1 and b = 192.0.2.2 on the
 * underlay, vlink vl-<other> on 10.255.0.0/31. `keying` is the block under `keying:`, indented
 * six spaces (see manualKeying).
 */
export function pairYaml(dir: string, me: 'a' | 'b', keying: string, o: PairYamlOpts = {}): string {
  const other = me === 'a' ? 'b' : 'a';
  const extra = (o.extra ?? []).map((l) => `    ${l}\n`).join('');
  return `
node: ${me}
control_socket: ${dir}/${me}.sock
underlay: { address: 192.0.2.${me === 'a' ? 1 : 2} }
vlinks:
  - name: ${o.name ?? `vl-${other}`}
    peer: ${o.peer ?? `192.0.2.${me === 'a' ? 2 : 1}`}
    address: ${o.address ?? `10.255.0.${me === 'a' ? 0 : 1}/31`}
    liveness: ${o.liveness ?? 'off'}
${extra}    keying:
${keying}
`;
}

/** The manual keying block of pairYaml: a sends with SPI 0x1001 and b with 0x2001. */
export function manualKeying(me: 'a' | 'b', suite: string, keyOut = `${me}-out.key`, keyIn = `${me}-in.key`): string {
  return `      mode: manual
      suite: ${suite}
      spi_out: ${me === 'a' ? '0x1001' : '0x2001'}
      spi_in: ${me === 'a' ? '0x2001' : '0x1001'}
      key_out: ${keyOut}
      key_in: ${keyIn}`;
}

/** The four key files manualKeying names, in `dir`: a's out is b's in and b's out is a's in. */
export function writePairKeys(dir: string, suite: Suite): void {
  const k1 = generateKeyHex(suite);
  const k2 = generateKeyHex(suite);
  writeKeyFile(path.join(dir, 'a-out.key'), suite, { hex: k1 });
  writeKeyFile(path.join(dir, 'b-in.key'), suite, { hex: k1 });
  writeKeyFile(path.join(dir, 'b-out.key'), suite, { hex: k2 });
  writeKeyFile(path.join(dir, 'a-in.key'), suite, { hex: k2 });
}
