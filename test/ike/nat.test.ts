// NAT traversal (RFC 7296 §2.23, RFC 3948): the NAT_DETECTION hashes against an independent
// computation and against charon's own IKE_SA_INIT, then two engines across a simulated
// masquerading NAT: detection on both sides, the move to 4500, keepalives from the inside,
// the responder answering the mapped port, CHILD_SAs aimed at the NAT's address and port,
// and an initiator found by its identity when no vlink names the NAT's address.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pino from 'pino';
import { EnginePair } from './engine-harness.js';
import { VirtualTime } from './virtual-time.js';
import { run1 } from '../wire/ike/charon-vectors.js';
import { ExchangeType, IkeMessageCodec, NotifyType, PayloadType, type NotifyPayload } from '../../src/wire/ike/index.js';
import { detectNat, natHash } from '../../src/ike/nat.js';
import { IkeEngine } from '../../src/ike/engine.js';
import { parseIdentity } from '../../src/ike/identity.js';
import type { ChildSaInstall, IkeDatagram, IkeHost, IkePeerConfig } from '../../src/ike/types.js';

const unhex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('natHash is SHA-1 over SPIi | SPIr | IPv4 | port', () => {
  const spiI = 0x0102030405060708n;
  const spiR = 0xa1a2a3a4a5a6a7a8n;
  const manual = createHash('sha1').update(Buffer.from('0102030405060708' + 'a1a2a3a4a5a6a7a8' + 'c0000201' + '01f4', 'hex')).digest();
  assert.deepEqual(natHash(spiI, spiR, { addr: '192.0.2.1', port: 500 }), manual);
  assert.notDeepEqual(natHash(spiI, spiR, { addr: '192.0.2.1', port: 4500 }), manual, 'the port is covered');
  assert.notDeepEqual(natHash(spiI, 0n, { addr: '192.0.2.1', port: 500 }), manual, 'SPIr is covered');
});

function natNotifies(hex: string): { spiI: bigint; spiR: bigint; src: Buffer; dst: Buffer; payloads: NotifyPayload[] } {
  const m = IkeMessageCodec.decode(unhex(hex));
  assert.ok(m.ok);
  const ns = m.payloads.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
  const one = (t: number) => ns.filter((n) => n.notifyType === t).map((n) => n.data);
  assert.equal(one(NotifyType.NAT_DETECTION_SOURCE_IP).length, 1);
  assert.equal(one(NotifyType.NAT_DETECTION_DESTINATION_IP).length, 1);
  return { spiI: m.header.spiI, spiR: m.header.spiR, src: one(NotifyType.NAT_DETECTION_SOURCE_IP)[0]!, dst: one(NotifyType.NAT_DETECTION_DESTINATION_IP)[0]!, payloads: ns };
}

// regen.sh: charon 10.77.0.1 initiates to charon 10.77.0.2, both on UDP 500, no NAT.
test('our hashes reproduce charon\'s NAT_DETECTION payloads (run1 IKE_SA_INIT request and response)', () => {
  const I = { addr: '10.77.0.1', port: 500 };
  const R = { addr: '10.77.0.2', port: 500 };
  const req = natNotifies(run1.messages['initReq']!.hex);
  assert.equal(req.spiR, 0n, 'the request hashes use a zero SPIr');
  assert.deepEqual(natHash(req.spiI, 0n, I), req.src);
  assert.deepEqual(natHash(req.spiI, 0n, R), req.dst);
  const resp = natNotifies(run1.messages['initResp']!.hex);
  assert.equal(resp.spiI, req.spiI);
  assert.notEqual(resp.spiR, 0n);
  assert.deepEqual(natHash(resp.spiI, resp.spiR, R), resp.src);
  assert.deepEqual(natHash(resp.spiI, resp.spiR, I), resp.dst);
  // Detection over charon's message: no NAT as captured, a NAT once an address or port is rewritten.
  assert.deepEqual(detectNat(req.payloads, req.spiI, 0n, I, R), { supported: true, local: false, remote: false, unbound: false });
  assert.equal(detectNat(req.payloads, req.spiI, 0n, { addr: '198.51.100.7', port: 500 }, R)!.remote, true);
  assert.equal(detectNat(req.payloads, req.spiI, 0n, { addr: I.addr, port: 1025 }, R)!.remote, true);
  assert.equal(detectNat(req.payloads, req.spiI, 0n, I, { addr: '10.77.0.9', port: 500 })!.local, true);
  assert.equal(detectNat([], req.spiI, 0n, I, R), null, 'no notifies: the peer does not do NAT-T');
});

// A masquerading NAT between an inside initiator and an outside responder.
const INSIDE = '10.0.0.2';
const NAT = '198.51.100.1';
const OUTSIDE = '192.0.2.1';
const MAP: Record<number, number> = { 500: 30500, 4500: 34500 };

function id(s: string) {
  const r = parseIdentity(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

interface End {
  engine: IkeEngine;
  installed: ChildSaInstall[];
  keepalives: { addr: string; port: number }[];
  logs: string[];
}

class NatWire {
  readonly wire: { from: 'in' | 'out'; d: IkeDatagram; seenFrom: { addr: string; port: number } }[] = [];
  readonly inside: End;
  readonly outside: End;
  readonly time = new VirtualTime();

  constructor(engineOpts: { natKeepaliveMs?: number } = {}) {
    this.inside = this.end('in', engineOpts);
    this.outside = this.end('out', engineOpts);
  }

  private end(which: 'in' | 'out', o: { natKeepaliveMs?: number }): End {
    const e = { installed: [], keepalives: [], logs: [] } as unknown as End;
    const log = pino({ level: 'debug' }, { write: (s: string) => e.logs.push(JSON.parse(s).msg) });
    e.engine = new IkeEngine({
      log,
      host: {
        send: (d) => this.carry(which, d),
        installChild: (_v, c) => { e.installed.push(c); },
        removeChild: () => {},
        allocSpi: () => 0x1000 + e.installed.length + (which === 'in' ? 0 : 0x100),
        sendKeepalive: (addr, port) => { e.keepalives.push({ addr, port }); },
      } satisfies IkeHost as IkeHost,
      retransmit: { initialMs: 40, tries: 4, maxMs: 1000 },
      reinitMs: 60000,
      clock: this.time.clock,
      ...o,
    });
    return e;
  }

  /** Inside -> outside gets the NAT's address and a mapped port; the reverse needs a mapping. */
  private carry(from: 'in' | 'out', d: IkeDatagram): void {
    if (from === 'in') {
      const seenFrom = { addr: NAT, port: MAP[d.localPort]! };
      this.wire.push({ from, d, seenFrom });
      this.time.deliver(() => this.outside.engine.receive(d.data, seenFrom, d.port === 4500 ? 4500 : 500));
      return;
    }
    const back = Object.entries(MAP).find(([, v]) => v === d.port);
    if (d.addr !== NAT || back === undefined) return; // no mapping: the NAT drops it
    const seenFrom = { addr: OUTSIDE, port: d.localPort };
    this.wire.push({ from, d, seenFrom });
    this.time.deliver(() => this.inside.engine.receive(d.data, seenFrom, Number(back[0]) as 500 | 4500));
  }

  stop(): void {
    this.inside.engine.stop();
    this.outside.engine.stop();
  }

  until(cond: () => boolean, ms = 3000): Promise<void> {
    return this.time.until(cond, ms, () => '\n' + this.inside.logs.join('\n') + '\n---\n' + this.outside.logs.join('\n'));
  }
}

function cfgs(outsidePeer: string): { inside: IkePeerConfig; outside: IkePeerConfig } {
  const base = new EnginePair().peerConfig('a');
  const inside: IkePeerConfig = { ...base, vlink: 'vl-out', local: INSIDE, peer: OUTSIDE, role: 'initiator', localId: id('@inside.example'), remoteId: id('@outside.example') };
  const outside: IkePeerConfig = { ...base, vlink: 'vl-in', local: OUTSIDE, peer: outsidePeer, role: 'responder', localId: id('@outside.example'), remoteId: id('@inside.example') };
  return { inside, outside };
}

let w: NatWire | null = null;
afterEach(() => {
  w?.stop();
  w = null;
});

const established = (e: End) => e.engine.view().some((p) => p.state === 'ESTABLISHED');

test('across a NAT: both detect it, IKE_AUTH and everything after run on 4500, CHILD_SAs follow the mapping', async () => {
  w = new NatWire({ natKeepaliveMs: 30 });
  const c = cfgs(NAT);
  w.outside.engine.addPeer(c.outside);
  w.inside.engine.addPeer(c.inside);
  await w.until(() => established(w!.inside) && established(w!.outside) && w!.inside.installed.length > 0 && w!.outside.installed.length > 0);
  const si = w.inside.engine.sa('vl-out')!;
  const so = w.outside.engine.sa('vl-in')!;
  assert.deepEqual({ ...si.nat }, { supported: true, local: true, remote: false, unbound: false });
  assert.deepEqual({ ...so.nat }, { supported: true, local: false, remote: true, unbound: false });
  // IKE_SA_INIT on 500, every later message on 4500 in both directions, marker-framed by the node.
  for (const f of w.wire) {
    const xt = f.d.data[18];
    assert.equal(f.d.localPort, xt === ExchangeType.IKE_SA_INIT ? 500 : 4500, `exchange ${xt} from ${f.from}`);
  }
  assert.ok(w.wire.some((f) => f.from === 'out' && f.d.data[18] === ExchangeType.IKE_AUTH && f.d.port === MAP[4500]), 'the responder answered the mapped 4500 port');
  assert.deepEqual(so.remote, { addr: NAT, port: MAP[4500], localPort: 4500 });
  assert.deepEqual(si.remote, { addr: OUTSIDE, port: 4500, localPort: 4500 });
  // ESP goes where IKE saw the peer: the outside end to the NAT's mapped port.
  assert.equal(w.outside.installed[0]!.peerAddr, NAT);
  assert.equal(w.outside.installed[0]!.peerPort, MAP[4500]);
  assert.equal(w.inside.installed[0]!.peerAddr, OUTSIDE);
  assert.equal(w.inside.installed[0]!.peerPort, 4500);
  // Keepalives only from the end behind the NAT, to the peer's 4500.
  await w.until(() => w!.inside.keepalives.length >= 2, 2000);
  assert.deepEqual(w.inside.keepalives[0], { addr: OUTSIDE, port: 4500 });
  assert.equal(w.outside.keepalives.length, 0);
  const view = w.outside.engine.view()[0]!.sas[0]!;
  assert.deepEqual(view.nat, { detected: true, local: false, remote: true });
  assert.ok(w.outside.logs.some((l) => /NAT detected with @inside\.example \(the peer is behind a NAT\)/.test(l)));
  assert.ok(w.outside.engine.stats.natKeepalives === 0 && w.inside.engine.stats.natKeepalives >= 2);
});

test('without a NAT nothing moves: IKE stays on 500, no keepalives', async () => {
  const p = new EnginePair({ engine: { natKeepaliveMs: 20 } });
  try {
    p.start();
    await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED');
    const sa = p.a.engine.sa('vl-b')!;
    assert.deepEqual({ ...sa.nat }, { supported: true, local: false, remote: false, unbound: false });
    assert.ok(p.wire.every((f) => f.d.localPort === 500));
    assert.equal(p.a.installed[0]!.peerPort, undefined, 'ESP keeps the configured peer_port');
    await p.advance(80);
    assert.equal(p.a.engine.stats.natKeepalives + p.b.engine.stats.natKeepalives, 0);
  } finally {
    p.stop();
  }
});

test('an initiator behind a NAT whose address no vlink names is matched by its IDi', async () => {
  w = new NatWire();
  const c = cfgs('203.0.113.9'); // what the operator wrote; the NAT's address is unknown to it
  // A decoy vlink first in order with another identity: the SA starts on it and must move.
  const decoy: IkePeerConfig = { ...c.outside, vlink: 'vl-decoy', peer: '203.0.113.10', remoteId: id('@decoy.example') };
  w.outside.engine.addPeer(decoy);
  w.outside.engine.addPeer(c.outside);
  w.inside.engine.addPeer(c.inside);
  await w.until(() => established(w!.inside) && w!.outside.installed.length > 0);
  assert.equal(w.outside.engine.sa('vl-in')?.remote.addr, NAT);
  assert.equal(w.outside.engine.sa('vl-decoy'), null);
  assert.equal(w.outside.installed[0]!.peerAddr, NAT, 'the inbound SA must accept the NAT address, not the configured one');
  assert.ok(w.outside.logs.some((l) => /behind a NAT\) is for vl-in, by its identity @inside\.example/.test(l)));
});

test('an unknown address without a NAT in front of it is still refused', async () => {
  const p = new EnginePair();
  try {
    // b knows a only as 203.0.113.5; a's hashes show it is not behind a NAT.
    p.b.engine.addPeer({ ...p.peerConfig('b'), peer: '203.0.113.5' });
    p.a.engine.addPeer(p.peerConfig('a'));
    await p.until(() => (p.b.engine.stats.dropped['unknown-peer'] ?? 0) > 0);
    assert.equal(p.sent('b', ExchangeType.IKE_SA_INIT, true).length, 0, 'no answer, no state');
  } finally {
    p.stop();
  }
});
