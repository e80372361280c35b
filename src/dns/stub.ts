// The stub: one question to the configured servers and one checked reply back.
//   1. build the query: a random ID, RD, CD (we validate ourselves), EDNS0 with DO and a
//      1232-octet buffer;
//   2. UDP to a server; every datagram that is not our reply is dropped and counted under a
//      named reason (wrong source, undecodable, not a response, ID or question mismatch);
//   3. TC=1: ask the same server again over TCP;
//   4. SERVFAIL, REFUSED, NOTIMP, FORMERR or a timeout: the next server; all servers, `rounds` times.
// It never rejects: failure is a value with an RFC 8914 reason.

import crypto from 'node:crypto';
import { Message, emptyMessage, type DecodedMessage } from '../wire/dns/message.js';
import { nameEquals, nameToString, type DnsName } from '../wire/dns/name.js';
import { optRR } from '../wire/dns/edns.js';
import { DnsClass, Rcode, rcodeToString, typeToString } from '../wire/dns/types.js';
import type { DnsDecodeError } from '../wire/dns/reason.js';
import type { Clock } from '../clock.js';
import { serverToString, type DnsServer, type DnsTransport } from './transport.js';
import { reason, type Reason } from './verdict.js';

export type StubDropReason =
  | DnsDecodeError
  | 'wrong-source'
  | 'not-a-response'
  | 'id-mismatch'
  | 'question-mismatch'
  | 'bad-opcode';

export type StubEvent = StubDropReason | 'timeout' | 'udp-error' | 'tcp-fallback' | 'tcp-error' | 'servfail' | 'refused' | 'notimp' | 'formerr' | 'rcode-other';

export type FetchResult =
  | { ok: true; message: DecodedMessage; server: DnsServer; tcp: boolean }
  | { ok: false; reason: Reason };

/** What the validator asks of a stub; tests can hand it anything that answers. */
export interface Fetcher {
  query(name: DnsName, type: number): Promise<FetchResult>;
}

export interface StubOptions {
  servers: DnsServer[];
  transport: DnsTransport;
  clock: Clock;
  /** Per attempt (one server, one protocol). */
  timeoutMs?: number;
  /** How many times to go through the server list. */
  rounds?: number;
  /** For tests: a fixed ID source. */
  nextId?: () => number;
}

type Attempt = { kind: 'reply'; message: DecodedMessage; tcp: boolean } | { kind: 'fail'; event: StubEvent; detail: string };

export class StubResolver implements Fetcher {
  /** Dropped datagrams and failed attempts by reason; `show dns` prints them. */
  readonly counters: Record<string, number> = {};
  private readonly timeoutMs: number;
  private readonly rounds: number;
  private readonly nextId: () => number;

  constructor(private readonly o: StubOptions) {
    this.timeoutMs = o.timeoutMs ?? 1500;
    this.rounds = o.rounds ?? 2;
    this.nextId = o.nextId ?? (() => crypto.randomInt(0, 0x10000));
  }

  private count(e: StubEvent): void {
    this.counters[e] = (this.counters[e] ?? 0) + 1;
  }

  async query(name: DnsName, type: number): Promise<FetchResult> {
    const what = `${nameToString(name)} ${typeToString(type)}`;
    if (this.o.servers.length === 0) return { ok: false, reason: reason('NO_REACHABLE_AUTHORITY', `no DNS servers configured for ${what}`) };
    let last = '';
    let sawTimeout = false;
    for (let round = 0; round < this.rounds; round++) {
      for (const server of this.o.servers) {
        const r = await this.ask(server, name, type);
        if (r.kind === 'reply') return { ok: true, message: r.message, server, tcp: r.tcp };
        this.count(r.event);
        if (r.event === 'timeout') sawTimeout = true;
        last = `${serverToString(server)}: ${r.detail}`;
      }
    }
    const attempts = this.rounds * this.o.servers.length;
    return {
      ok: false,
      reason: reason(sawTimeout ? 'NO_REACHABLE_AUTHORITY' : 'NETWORK_ERROR', `no usable answer for ${what} after ${attempts} attempt(s); last ${last}`),
    };
  }

  private buildQuery(id: number, name: DnsName, type: number): Buffer {
    const m = emptyMessage(id);
    m.rd = true;
    m.cd = true;
    m.questions = [{ name, type, class: DnsClass.IN }];
    m.additional = [optRR({ do: true })];
    return Message.encode(m);
  }

  /** Checks a reply against our query; null when it is ours, else the drop reason. */
  private check(buf: Buffer, id: number, name: DnsName, type: number): { message: DecodedMessage } | StubDropReason {
    const r = Message.decode(buf);
    if (!r.ok) return r.id !== undefined && r.id !== id ? 'id-mismatch' : r.error;
    const m = r.message;
    if (m.id !== id) return 'id-mismatch';
    if (!m.qr) return 'not-a-response';
    if (m.opcode !== 0) return 'bad-opcode';
    const q = m.questions;
    if (q.length !== 1 || q[0]!.type !== type || q[0]!.class !== DnsClass.IN || !nameEquals(q[0]!.name, name)) return 'question-mismatch';
    return { message: m };
  }

  private judgeRcode(m: DecodedMessage, tcp: boolean): Attempt {
    switch (m.rcode) {
      case Rcode.NOERROR:
      case Rcode.NXDOMAIN:
        return { kind: 'reply', message: m, tcp };
      case Rcode.SERVFAIL: return { kind: 'fail', event: 'servfail', detail: 'SERVFAIL' };
      case Rcode.REFUSED: return { kind: 'fail', event: 'refused', detail: 'REFUSED' };
      case Rcode.NOTIMP: return { kind: 'fail', event: 'notimp', detail: 'NOTIMP' };
      case Rcode.FORMERR: return { kind: 'fail', event: 'formerr', detail: 'FORMERR' };
      default: return { kind: 'fail', event: 'rcode-other', detail: rcodeToString(m.rcode) };
    }
  }

  private ask(server: DnsServer, name: DnsName, type: number): Promise<Attempt> {
    const id = this.nextId() & 0xffff;
    const query = this.buildQuery(id, name, type);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (a: Attempt | Promise<Attempt>) => {
        if (settled) return;
        settled = true;
        cancel();
        ex.close();
        resolve(a);
      };
      const ex = this.o.transport.udp(
        server,
        query,
        (buf, from) => {
          if (settled) return;
          if (from.address !== server.address || from.port !== server.port) return this.count('wrong-source');
          const c = this.check(buf, id, name, type);
          if (typeof c === 'string') return this.count(c);
          if (c.message.tc) {
            this.count('tcp-fallback');
            return settle(this.askTcp(server, query, id, name, type));
          }
          settle(this.judgeRcode(c.message, false));
        },
        (e) => settle({ kind: 'fail', event: 'udp-error', detail: `UDP error: ${e.message}` }),
      );
      const timer = this.o.clock.setTimeout(() => settle({ kind: 'fail', event: 'timeout', detail: `no reply within ${this.timeoutMs} ms` }), this.timeoutMs);
      const cancel = () => this.o.clock.clearTimeout(timer);
    });
  }

  private async askTcp(server: DnsServer, query: Buffer, id: number, name: DnsName, type: number): Promise<Attempt> {
    const ac = new AbortController();
    const timer = this.o.clock.setTimeout(() => ac.abort(), this.timeoutMs);
    const cancel = () => this.o.clock.clearTimeout(timer);
    try {
      const buf = await this.o.transport.tcp(server, query, ac.signal);
      if (buf instanceof Error) return { kind: 'fail', event: 'tcp-error', detail: `TCP: ${buf.message}` };
      const c = this.check(buf, id, name, type);
      if (typeof c === 'string') {
        this.count(c);
        return { kind: 'fail', event: 'tcp-error', detail: `TCP reply dropped: ${c}` };
      }
      return this.judgeRcode(c.message, true);
    } finally {
      cancel();
    }
  }
}
