// Two IkeEngines joined by an in-memory wire, for exchange tests without root or sockets.
// Delivery is asynchronous (setImmediate), like a network; a filter can drop, duplicate or
// inspect datagrams in flight. Both engines run on one FakeClock (virtual-time.ts): `until` and
// `advance` move it, so timeouts and retransmissions cost no real time.

import pino from 'pino';
import { IkeEngine, type IkeEngineOptions } from '../../src/ike/engine.js';
import { parseEspProposals, parseIkeProposals } from '../../src/ike/proposals.js';
import { parseIdentity, type IkeIdentity } from '../../src/ike/identity.js';
import type { ChildSaInstall, ChildUsage, IkeDatagram, IkeHost, IkePeerConfig } from '../../src/ike/types.js';
import { VirtualTime } from './virtual-time.js';

export const A = '192.0.2.1';
export const B = '192.0.2.2';

export interface Side {
  name: 'a' | 'b';
  addr: string;
  engine: IkeEngine;
  installed: ChildSaInstall[];
  removed: { spiIn: number; spiOut: number }[];
  /** Outbound SPIs installed with `outbound: false` (a rekey responder), and those activated since. */
  deferred: number[];
  activated: { spiIn: number; spiOut: number }[];
  /** What childUsage answers, by inbound SPI; absent: null. */
  usage: Map<number, ChildUsage>;
  /** The outbound SPI the data plane would send on now. */
  outSpi: number | null;
  logs: { level: number; msg: string }[];
  keyLog: Record<string, string | number>[];
}

export interface InFlight {
  from: 'a' | 'b';
  d: IkeDatagram;
}

export interface PairOptions {
  pskA?: string;
  pskB?: string;
  ikeA?: string[];
  ikeB?: string[];
  espA?: string[];
  espB?: string[];
  roleA?: 'initiator' | 'responder';
  roleB?: 'initiator' | 'responder';
  engine?: Partial<IkeEngineOptions>;
  /** Fields of each side's IkePeerConfig to override (pubkey, childMode, ...). */
  cfgA?: Partial<IkePeerConfig>;
  cfgB?: Partial<IkePeerConfig>;
  /** The two underlay addresses (default A and B); IPv6 ones run IKE over IPv6. */
  addrs?: [string, string];
  /** Return 'drop' to lose a datagram, 'dup' to deliver it twice. */
  filter?: (f: InFlight, seq: number) => 'pass' | 'drop' | 'dup';
}

function id(s: string): IkeIdentity {
  const r = parseIdentity(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

export class EnginePair {
  /** Replaced by restart(). */
  a: Side;
  b: Side;
  /** Engines of killed daemons: whatever they still try to send is lost. */
  private readonly dead = new Set<IkeEngine>();
  readonly wire: InFlight[] = [];
  readonly time = new VirtualTime();
  private seq = 0;
  private nextSpi = 0x10000;

  constructor(private readonly o: PairOptions = {}) {
    this.a = this.side('a', o.addrs?.[0] ?? A);
    this.b = this.side('b', o.addrs?.[1] ?? B);
  }

  private side(name: 'a' | 'b', addr: string): Side {
    const logs: Side['logs'] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => { const j = JSON.parse(s); logs.push({ level: j.level, msg: j.msg }); } });
    const s = { name, addr, installed: [], removed: [], deferred: [], activated: [], usage: new Map(), outSpi: null, logs, keyLog: [] } as unknown as Side;
    const host: IkeHost = {
      send: (d) => { if (!this.dead.has(s.engine)) this.transmit(name, d); },
      installChild: (_v, c, o) => { s.installed.push(c); if (o?.outbound === false) s.deferred.push(c.spiOut); else s.outSpi = c.spiOut; },
      activateChild: (_v, c) => { s.activated.push(c); s.outSpi = c.spiOut; },
      childUsage: (_v, c) => s.usage.get(c.spiIn) ?? null,
      removeChild: (_v, c) => { s.removed.push(c); if (s.outSpi === c.spiOut) s.outSpi = null; },
      allocSpi: () => this.nextSpi++,
    };
    s.engine = new IkeEngine({
      log, host, keyLog: (r) => s.keyLog.push(r), clock: this.time.clock,
      retransmit: { initialMs: 40, tries: 4, maxMs: 1000 },
      reinitMs: 60000,
      ...this.o.engine,
    });
    return s;
  }

  private transmit(from: 'a' | 'b', d: IkeDatagram): void {
    const f: InFlight = { from, d: { ...d, data: Buffer.from(d.data) } };
    this.wire.push(f);
    const verdict = this.o.filter?.(f, this.seq++) ?? 'pass';
    if (verdict === 'drop') return;
    const to = from === 'a' ? this.b : this.a;
    const src = from === 'a' ? this.a.addr : this.b.addr;
    const times = verdict === 'dup' ? 2 : 1;
    for (let i = 0; i < times; i++) this.time.deliver(() => to.engine.receive(f.d.data, { addr: src, port: 500 }, f.d.localPort));
  }

  peerConfig(side: 'a' | 'b'): IkePeerConfig {
    const [ea, eb] = this.o.addrs ?? [A, B];
    const me = side === 'a' ? ea : eb;
    const peer = side === 'a' ? eb : ea;
    const o = this.o;
    return {
      vlink: side === 'a' ? 'vl-b' : 'vl-a',
      local: me,
      peer,
      peerPort: 500,
      role: (side === 'a' ? o.roleA : o.roleB) ?? (side === 'a' ? 'initiator' : 'responder'),
      psk: Buffer.from((side === 'a' ? o.pskA : o.pskB) ?? 'correct horse battery staple 42'),
      ike: parseIkeProposals((side === 'a' ? o.ikeA : o.ikeB) ?? ['aes256gcm16-prfsha256-x25519']),
      esp: parseEspProposals((side === 'a' ? o.espA : o.espB) ?? ['aes256gcm16']),
      localId: id(me),
      remoteId: id(peer),
      ikeLifetimeS: 14400,
      childLifetimeS: 3600,
      ...(side === 'a' ? o.cfgA : o.cfgB),
    };
  }

  /** Responder first, so the initiator's first message finds it listening. */
  start(): void {
    this.b.engine.addPeer(this.peerConfig('b'));
    this.a.engine.addPeer(this.peerConfig('a'));
  }

  stop(): void {
    this.a.engine.stop();
    this.b.engine.stop();
  }

  /**
   * SIGKILL and start again: the old engine falls silent without a word (no Delete), and a new
   * one with no memory of any SA takes the same address. Its peer is added as the daemon would.
   */
  restart(name: 'a' | 'b'): Side {
    const old = name === 'a' ? this.a : this.b;
    this.dead.add(old.engine);
    old.engine.stop();
    const s = this.side(name, old.addr);
    if (name === 'a') this.a = s;
    else this.b = s;
    s.engine.addPeer(this.peerConfig(name));
    return s;
  }

  get clock() {
    return this.time.clock;
  }

  /** Waits until `cond` holds, or fails after `ms` of clock time. */
  until(cond: () => boolean, ms = 3000): Promise<void> {
    return this.time.until(cond, ms);
  }

  /** Lets `ms` of clock time pass. */
  advance(ms: number): Promise<void> {
    return this.time.advance(ms);
  }

  state(s: Side): string {
    return s.engine.view()[0]?.state ?? 'none';
  }

  lastError(s: Side): string {
    return s.engine.view()[0]?.lastError ?? '';
  }

  /** Datagrams of one exchange type from one side. */
  sent(from: 'a' | 'b', exchangeType: number, response?: boolean): InFlight[] {
    return this.wire.filter((f) => f.from === from && f.d.data[18] === exchangeType && (response === undefined || ((f.d.data[19]! & 0x20) !== 0) === response));
  }
}
